"""A case starts with a saksnummer (issue 14 item 5): required on the page, in the API and on the command
line, in the installation's format (by default the municipality's «2027/1234»), refused in plain Norwegian."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

import diagrams
from routines import people, seeded  # noqa: F401
from orchestrator.config import SAKSNUMMER_PATTERN, Settings
from orchestrator.services import demo, instances, messages, users
from orchestrator.services.access import SYSTEM
from orchestrator.services.errors import Invalid

pytest_plugins = ["webtools"]


@pytest.fixture
def municipality(orc):
    """This installation with the default format, as a fresh one has it."""
    orc.settings.saksnummer_pattern = SAKSNUMMER_PATTERN
    orc.settings.saksnummer_hint = Settings.saksnummer_hint
    return orc


def test_the_default_format_is_the_municipalitys_year_and_serial_number(monkeypatch, tmp_path):
    for name in ("ORCHESTRATOR_SAKSNUMMER_PATTERN", "ORCHESTRATOR_SAKSNUMMER_HINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ORCHESTRATOR_HOME", str(tmp_path))
    settings = Settings.from_env()
    assert settings.saksnummer_pattern == r"^\d{4}/\d{1,6}$"
    assert "2027/1234" in settings.saksnummer_hint
    monkeypatch.setenv("ORCHESTRATOR_SAKSNUMMER_PATTERN", r"^\d{2}/\d{5}$")
    assert Settings.from_env().saksnummer_pattern == r"^\d{2}/\d{5}$"


@pytest.mark.parametrize("key,accepted", [
    ("2027/1234", True), ("2027/1", True), ("9999/0001", True), ("2027/1234567", False), ("27/1234", False),
    ("SAK-1", False), ("2027-1234", False), (" 2027/12 ", True),
])
def test_a_start_takes_only_the_installations_format(municipality, deploy, key, accepted):
    deploy(*diagrams.user_task_with_gateway())
    if accepted:
        assert instances.start(municipality, "test_gateway", SYSTEM, key).business_key == key.strip()
        return
    with pytest.raises(Invalid) as refused:
        instances.start(municipality, "test_gateway", SYSTEM, key)
    [message] = refused.value.fields["business_key"]
    assert "har ikke kommunens format for saksnummer" in message and "2027/1234" in message


@pytest.mark.parametrize("key", [None, "", "   "])
def test_a_case_without_a_saksnummer_is_refused_in_norwegian(municipality, deploy, key):
    deploy(*diagrams.user_task_with_gateway())
    with pytest.raises(Invalid) as refused:
        instances.start(municipality, "test_gateway", SYSTEM, key)
    assert refused.value.message == "Saken må ha et saksnummer"
    assert refused.value.fields["business_key"] == [
        "Skriv sakens saksnummer fra fagsystemet (årstall, skråstrek og løpenummer, for eksempel 2027/1234)."]


def test_a_national_identity_number_is_never_a_saksnummer(orc, deploy):
    deploy(*diagrams.user_task_with_gateway())
    orc.settings.saksnummer_pattern = r"^\d+$"  # even where the format would let it through
    with pytest.raises(Invalid) as refused:
        instances.start(orc, "test_gateway", SYSTEM, "01017012345")
    assert "fødselsnummer" in refused.value.message


def test_the_api_refuses_a_start_without_one_with_the_field_error(municipality, deploy, web, make_user):
    deploy(*diagrams.user_task_with_gateway())
    make_user("tina", "tjenesteyter")
    token = users.create_token(municipality, "tina")
    missing = web.api("POST", "/api/v1/instances", token, json={"process_key": "test_gateway"})
    assert missing.status_code == 422 and missing.get_json()["errors"] == {"business_key": ["Feltet må fylles ut."]}
    wrong = web.api("POST", "/api/v1/instances", token, json={"process_key": "test_gateway", "business_key": "SAK-1"})
    assert wrong.status_code == 422 and "2027/1234" in wrong.get_json()["errors"]["business_key"][0]
    right = web.api("POST", "/api/v1/instances", token, json={"process_key": "test_gateway", "business_key": "2027/7"})
    assert right.status_code == 201 and right.get_json()["business_key"] == "2027/7"


def test_the_start_page_asks_for_it_says_the_format_and_shows_the_error_at_the_field(
        municipality, deploy, web, make_user):
    deploy(*diagrams.user_task_with_gateway())
    make_user("tina", "tjenesteyter")
    client = web.login("tina")
    form = client.get("/instances/new/test_gateway").get_data(as_text=True)
    assert 'id="f-saksnummer"' in form and "for eksempel 2027/1234" in form and "aria-required" in form
    refused = client.post("/instances/new/test_gateway", {"__saksnummer": ""})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert 'id="f-saksnummer-feil">Skriv sakens saksnummer fra fagsystemet' in html
    started = client.post("/instances/new/test_gateway", {"__saksnummer": "2027/42"})
    assert started.status_code == 302
    [case] = instances.list_instances(municipality, SYSTEM, business_key="2027/42").items
    page = client.get(f"/instances/{case.id}").get_data(as_text=True)
    assert "Sak 2027/42" in page and "uten saksnummer" not in page


def test_a_case_page_never_says_it_has_no_saksnummer(orc, deploy, make_user, web):
    """An instance from before the rule (no key) is named by its process instead."""
    from sqlalchemy import update
    from orchestrator.store.models import Instance

    deploy(*diagrams.user_task_with_gateway())
    started = instances.start(orc, "test_gateway", SYSTEM, "SAK-1")
    with orc.write() as session:
        session.execute(update(Instance).where(Instance.id == started.id).values(business_key=None))
    make_user("mona", "manager")
    html = web.login("mona").get(f"/instances/{started.id}").get_data(as_text=True)
    assert "uten saksnummer" not in html and f"#{started.id}" in html


def test_the_command_line_refuses_a_start_without_one(tmp_path, database_url, deploy):
    deploy(*diagrams.user_task_with_gateway())
    env = {**os.environ, "ORCHESTRATOR_HOME": str(tmp_path), "ORCHESTRATOR_DATABASE_URL": database_url}
    for name in ("ORCHESTRATOR_SAKSNUMMER_PATTERN", "ORCHESTRATOR_SAKSNUMMER_HINT"):
        env.pop(name, None)
    run = [sys.executable, "-m", "orchestrator.cli", "instances", "start", "test_gateway"]
    missing = subprocess.run(run, capture_output=True, text=True, env=env, timeout=120)
    assert missing.returncode == 1 and "Feil: Saken må ha et saksnummer" in missing.stderr
    wrong = subprocess.run(run + ["--business-key", "SAK-1"], capture_output=True, text=True, env=env, timeout=120)
    assert wrong.returncode == 1 and "har ikke kommunens format for saksnummer" in wrong.stderr
    right = subprocess.run(run + ["--business-key", "2027/15", "--json"], capture_output=True, text=True, env=env,
                           timeout=120)
    assert right.returncode == 0, right.stderr


def test_a_message_that_starts_a_new_case_needs_a_saksnummer_in_the_format(municipality, deploy, make_user):
    deploy(*diagrams.messages())
    kari = make_user("kari", "koordinerende_enhet")
    starts = [k for k, v in _message_starts(municipality).items() if v]
    name = starts[0]
    with pytest.raises(Invalid) as refused:
        messages.send(municipality, name, "SAK-1", {}, kari)
    assert "har ikke kommunens format" in refused.value.fields["business_key"][0]


def _message_starts(orc) -> dict:
    from orchestrator.services.specs import SpecCache

    with orc.db.read() as session:
        return {name: row.key for row in SpecCache.latest_rows(session, kind="bpmn") for name in row.message_starts or []}


def test_messages_between_a_cases_processes_carry_its_saksnummer(municipality, seeded, people):
    """The samarbeid check's melding to KE starts the oppstart routine for the same case."""
    from routines import do, instance_of
    from test_routine_samarbeid import ADULT_LONG_TERM, STEG3, TJENESTER, contacts

    check = instances.start(municipality, "samarbeid", people.tina, business_key="2027/310")
    do(municipality, check.id, "steg1", people.tina, {"gjelder": "Emma S.", "andre_tjenester": "ja",
                                                      "tjenester": TJENESTER, "konklusjon_steg1": "To."})
    do(municipality, check.id, "steg2", people.tina, {"samarbeid_nodvendig": "ja", "begrunnelse_steg2": "Felles."})
    for contact in contacts(people):  # each in the contacted service's queue (decision 0022)
        do(municipality, check.id, "steg3", contact, STEG3)
    do(municipality, check.id, "barnekoordinator_vurdering", people.tina, ADULT_LONG_TERM)
    do(municipality, check.id, "samordning", people.tina, {"enige": "ja", "samordnende_tjeneste": "NAV"})
    assert instance_of(municipality, "oppstart", "2027/310").business_key == "2027/310"


def test_the_demo_cases_are_made_on_an_installation_with_the_default_format(municipality, seeded, clock, tmp_path):
    users.bootstrap(municipality, tmp_path / "demo-brukere.txt")
    made = demo.seed(municipality, if_empty=True)
    assert made and all(re.fullmatch(SAKSNUMMER_PATTERN, m.business_key) for m in made)


def test_a_missing_saksnummer_comes_back_with_the_start_forms_errors_at_once(municipality, seeded, people):
    with pytest.raises(Invalid) as refused:
        instances.start(municipality, "oppstart", people.kari, "", {"gjelder": "Ola N."})
    assert sorted(refused.value.fields) == ["behov", "business_key", "meldt_av"]
