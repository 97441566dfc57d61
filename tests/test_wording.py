"""Plain Norwegian on every page (issue 14 item 1, decision 0018): each demo user reads every page
they can reach after `orchestrator demo` without meeting a variable name, a role key, an English
status word, a message id or raw JSON; and the two modules that make it so, tested on their own."""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from html.parser import HTMLParser

import pytest

pytest.register_assert_rewrite("webtools")  # also this module's plugin (pytest_plugins below)
from orchestrator.forms.model import parse_form
from orchestrator.services import casedata, demo, users, wording
from orchestrator.services.access import ALL_ROLES
from routines import ROOT, seeded  # noqa: F401  (fixture: processes/ and forms/ deployed)
from webtools import ROLE_USERS

pytest_plugins = ["webtools"]

DEMO_USERS = sorted(ROLE_USERS.values())


# --- the words --------------------------------------------------------------------------------------
def test_every_role_has_a_norwegian_name_and_several_read_as_one_line():
    assert set(wording.ROLE_NAMES) == set(ALL_ROLES)
    assert wording.role_name("process_owner") == "Prosesseier"
    assert wording.role_name("koordinerende_enhet") == "Koordinerende enhet"
    assert wording.roles_text({"manager", "koordinerende_enhet"}) == "Koordinerende enhet, Virksomhetsleder (innsyn)"
    assert wording.role_name(None) == "–" and wording.roles_text([]) == "–"


def test_one_word_per_case_status_everywhere():
    from orchestrator.services import instances

    assert set(wording.STATUS_NAMES) == set(instances.STATUSES) == set(wording.STATUS_SENTENCES)
    assert [wording.status_name(s) for s in instances.STATUSES] == ["Pågår", "Fullført", "Avbrutt", "Stoppet på feil"]
    for status, word in wording.STATUS_NAMES.items():  # the sentence uses the badge's word
        sentence = wording.status_sentence(status).lower()
        assert word.split()[0].lower() in sentence or status == "error" and "stoppet" in sentence
    assert wording.status_sentence("completed") == "Saken er fullført."


# --- case data ----------------------------------------------------------------------------------------
def _form(name: str):
    return parse_form(name, (ROOT / "forms" / f"{name}.form").read_bytes())


def test_case_data_reads_as_the_questions_and_answers_of_the_forms():
    vocabulary = casedata.Vocabulary.of([_form("samarbeid_steg2"), _form("samarbeid_barnekoordinator")],
                                        {"rett_til_barnekoordinator": "Rett til barnekoordinator"})
    items = casedata.describe({"saksnummer": "2027/1", "samarbeid_nodvendig": "ja", "vilkar_barn": "nei",
                               "rett_til_barnekoordinator": False, "begrunnelse_steg2": ""}, vocabulary)
    assert [(i.label, i.text) for i in items] == [
        ("Er det behov for at tjenestene samarbeider?", "Ja"),  # the option's label, not the value «ja»
        ("1. Venter familien barn, eller har familien barn under 18 år?", "Nei"),
        ("Rett til barnekoordinator", "Nei"),  # a decision table's output, by its label
    ]  # the case number (no form asked for it) and the empty answer are left out


def test_a_list_reads_one_line_per_row_and_a_group_one_line_per_answer():
    vocabulary = casedata.Vocabulary.of([_form("ansvarsgruppe_opprettelse"), _form("ansvarsgruppe_start")])
    members = [{"tittel": "Kontaktlærer", "tjeneste": "skole", "navn": "Demo Lærer", "adresse": "l@skole.example"}]
    consent = {"kilde": "gis_naa", "dato": "2027-01-05", "omfatter": ["ansvarsgruppe"]}
    items = {i.key: i for i in casedata.describe(
        {"faste_medlemmer": members, "samtykke": consent, "moetetid": "2027-03-15T09:00:00+00:00"}, vocabulary)}
    assert items["faste_medlemmer"].lines == ("Kontaktlærer, Skole, Demo Lærer, l@skole.example",)
    assert items["samtykke"].lines == ("Samtykke til ansvarsgruppe: Personen gir samtykke nå",
                                       "Dato samtykket ble gitt: 05.01.2027",
                                       "Samtykket omfatter: Ansvarsgruppe (møter, innkalling og referat)")
    assert items["moetetid"].text == "15.03.2027 kl. 10:00"  # Norwegian time


def test_the_label_is_that_of_the_form_the_case_last_answered_it_in():
    vocabulary = casedata.Vocabulary.of([_form("ansvarsgruppe_opprettelse"), _form("ansvarsgruppe_nytt_moete")])
    data = {"moetetid": "2027-03-15T09:00:00+00:00"}
    assert casedata.describe(data, vocabulary)[0].label == "Tid for første møte"
    history = [{"action": "task_completed", "element_id": "opprettelse", "data": {"moetetid": "…"}},
               {"action": "task_completed", "element_id": "nytt_moete", "data": {"moetetid": "…"}}]
    collected = casedata.last_forms(history, {"opprettelse": "ansvarsgruppe_opprettelse",
                                              "nytt_moete": "ansvarsgruppe_nytt_moete"})
    assert casedata.describe(data, vocabulary, collected)[0].label == "Nytt møtetidspunkt"


def test_the_history_reads_a_task_by_its_form_and_the_products_records_by_its_glossary():
    vocabulary = casedata.Vocabulary.of([_form("samarbeid_steg2")])
    task = {"action": "task_completed", "element_id": "steg2", "data": {"samarbeid_nodvendig": "nei"}}
    assert casedata.history_lines(task, vocabulary, {"steg2": "samarbeid_steg2"}, wording.RECORD_FIELDS) == [
        "Er det behov for at tjenestene samarbeider? Nei"]
    notice = {"action": "notice_failed", "data": {"utsending_id": 3, "type": "innkalling", "moete_id": "m1",
                                                  "feil": "Adressen finnes ikke"}}
    assert casedata.history_lines(notice, vocabulary, {}, wording.RECORD_FIELDS) == [
        "Feil: Adressen finnes ikke", "Utsending: innkalling"]  # the ids are left out
    consent = {"omfatter": ["individuell_plan"], "deles_med": ["helse_omsorg"], "gitt_av": "foresatte"}
    values = {"omfatter": {"individuell_plan": "Individuell plan"}, "deles_med": {"helse_omsorg": "Helse og omsorg"},
              "gitt_av": {"foresatte": "Foresatte"}}
    assert casedata.record_lines(consent, wording.RECORD_FIELDS, values) == [
        "Gitt av: Foresatte", "Omfatter: Individuell plan", "Kan deles med: Helse og omsorg"]


def test_values_read_the_norwegian_way():
    assert casedata.value_text(True) == "Ja" and casedata.value_text(False) == "Nei"
    assert casedata.value_text("2027-01-05") == "05.01.2027"
    assert casedata.value_text(date(2027, 1, 5)) == "05.01.2027"
    assert casedata.value_text(datetime(2027, 7, 1, 8, 0, tzinfo=timezone.utc)) == "01.07.2027 kl. 10:00"
    assert casedata.value_text(2.5) == "2,5" and casedata.value_text(None) == ""
    assert casedata.value_text(["a", "b"]) == "a, b"


# --- every page, as every demo user -------------------------------------------------------------------
INTERNAL = [
    ("a variable name", re.compile(r"\b[a-zæøå]+(?:_[a-zæøå0-9]+)+\b")),
    ("a role key", re.compile(r"\b(?:process_owner|manager|koordinerende_enhet)\b")),
    ("an English status word", re.compile(r"\b(?:running|completed|terminated|error|waiting|failed|queued)\b")),
    ("raw JSON", re.compile(r"[{}]|\[\s*[\"'{\[]|[\"'}\]]\s*\]")),
]
SKIP = re.compile(r"^/(?:api/|static/|logout)|/(?:xml|last-ned|download)\b|[?&]download=")
TECHNICAL = {"code", "script", "style", "template", "textarea"}  # shown as what they are: source, ids


class _Text(HTMLParser):
    """The text a person reads on a page (and its tooltips), without what is marked as technical:
    <code>, source listings and folded «Teknisk» details (class="technical")."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.links, self._stack = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        technical = tag in TECHNICAL or "technical" in classes or (tag == "pre" and "source" in classes)
        if tag not in ("br", "img", "input", "meta", "link", "hr", "source", "wbr"):
            self._stack.append(technical)
        if any(self._stack):
            return
        for name in ("title", "aria-label", "placeholder", "alt"):
            if attrs.get(name):
                self.parts.append(attrs[name])
        if tag == "a" and (attrs.get("href") or "").startswith("/"):
            self.links.append(attrs["href"].split("#")[0])

    def handle_endtag(self, tag):
        if tag not in ("br", "img", "input", "meta", "link", "hr", "source", "wbr") and self._stack:
            self._stack.pop()

    def handle_data(self, data):
        if not any(self._stack) and data.strip():
            self.parts.append(data.strip())


def _crawl(web, start="/", limit=400):
    """Every page reachable by links from the start page: url -> (status, visible text)."""
    seen, todo, pages = set(), [start], {}
    while todo and len(seen) < limit:
        url = todo.pop(0)
        if url in seen or SKIP.search(url):
            continue
        seen.add(url)
        response = web.get(url)
        if response.status_code in (301, 302, 303):
            todo.append(response.headers["Location"])
            continue
        if "html" not in response.content_type:
            continue
        parser = _Text()
        parser.feed(response.get_data(as_text=True))
        pages[url] = (response.status_code, " | ".join(parser.parts))
        todo += [link for link in parser.links if link not in seen]
    return pages


@pytest.fixture
def demo_installation(orc, seeded, clock, tmp_path):
    users.bootstrap(orc, tmp_path / "demo-brukere.txt")
    demo.seed(orc, if_empty=True)
    return orc


@pytest.mark.parametrize("username", DEMO_USERS)
def test_every_page_a_demo_user_reaches_reads_in_plain_norwegian(demo_installation, web, username):
    pages = _crawl(web.login(username))
    assert len(pages) > 5, pages.keys()  # the crawl reached the user's pages, not just a sign-in page
    found = {}
    for url, (status, text) in pages.items():
        assert status < 500, f"{url} failed as {username}"
        for what, pattern in INTERNAL:
            for match in pattern.finditer(text):
                context = text[max(0, match.start() - 60):match.end() + 40].replace("\n", " ")
                found.setdefault((what, match.group(0)), f"{url}: …{context}…")
    report = [f"{what} «{word}» on {where}" for (what, word), where in found.items()]
    assert not report, f"{len(report)} internal names as {username}:\n" + "\n".join(report)


# --- the command line ---------------------------------------------------------------------------------
@pytest.fixture
def cli(tmp_path, database_url):
    import os
    import subprocess
    import sys

    env = {**os.environ, "ORCHESTRATOR_HOME": str(tmp_path), "ORCHESTRATOR_DATABASE_URL": database_url}

    def _run(*args, expect=0):
        done = subprocess.run([sys.executable, "-m", "orchestrator.cli", *args], capture_output=True, text=True,
                              env=env, timeout=300, cwd=ROOT)
        assert done.returncode == expect, (args, done.stdout, done.stderr)
        return done

    return _run


def test_the_command_line_speaks_the_same_words(cli, tmp_path):
    broken = tmp_path / "avkortet.bpmn"
    broken.write_bytes((ROOT / "processes" / "samarbeid.bpmn").read_bytes()[:3000])
    refused = cli("deploy", str(broken), expect=1).stderr
    assert "filen kan ikke leses som et diagram" in refused  # what to do, for a process owner
    assert "\n      Teknisk: ugyldig XML" in refused  # the parser's words, on their own indented line

    cli("deploy", "processes/", "forms/")
    cli("users", "bootstrap")
    cli("demo")
    shown = {
        "users list": cli("users", "list").stdout,
        "instances list": cli("instances", "list").stdout,
        "instances show": cli("instances", "show", "5").stdout,
        "tasks list": cli("tasks", "list", "--as", "kari").stdout,
    }
    assert "Prosesseier" in shown["users list"] and "Virksomhetsleder (innsyn)" in shown["users list"]
    assert "Pågår" in shown["instances list"]
    assert "Tjenestemottaker ønsker ikke lenger gruppen" in shown["instances show"]  # a message wait, by name
    assert "Tid for første møte: " in shown["instances show"]  # the form's label
    assert "[Koordinerende enhet]" in shown["tasks list"]
    for command, text in shown.items():
        for what, pattern in INTERNAL:
            assert not pattern.search(text), f"{what} in `orchestrator {command}`: {pattern.search(text).group(0)}\n{text}"
