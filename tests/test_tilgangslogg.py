"""The read-access log (issue 13 item 2, decision 0023): one entry per view, kept as written."""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from orchestrator.services import tilgangslogg
from orchestrator.services.access import Actor
from orchestrator.store.models import AccessLogEntry

KARI = Actor("kari", frozenset({"koordinerende_enhet"}))


def entries(orc) -> list[AccessLogEntry]:
    with orc.db.read() as session:
        return list(session.scalars(select(AccessLogEntry).order_by(AccessLogEntry.id)))


# --- the database keeps it as written ---------------------------------------------------------------
def test_an_update_by_sql_is_refused_by_the_database(orc, clock):
    tilgangslogg.record(orc, KARI, tilgangslogg.SAK, "9999/0001", 1)
    with pytest.raises(DBAPIError, match="tilgangsloggen kan ikke endres"):
        with orc.db.write() as session:
            session.execute(text("UPDATE access_log SET username = 'noen_andre'"))
    assert [e.username for e in entries(orc)] == ["kari"]


def test_a_delete_by_sql_is_refused_by_the_database_even_of_old_rows(orc, clock):
    tilgangslogg.record(orc, KARI, tilgangslogg.SAK, "9999/0001", 1)
    clock.advance(timedelta(days=10 * 365))
    with pytest.raises(DBAPIError, match="tilgangsloggen kan ikke endres"):
        with orc.db.write() as session:
            session.execute(text("DELETE FROM access_log"))
    assert len(entries(orc)) == 1


def test_retention_deletes_only_rows_older_than_its_cutoff_and_leaves_no_permit_behind(orc, clock):
    tilgangslogg.record(orc, KARI, tilgangslogg.SAK, "9999/0001", 1)
    clock.advance(timedelta(days=400))
    tilgangslogg.record(orc, KARI, tilgangslogg.OPPGAVE, "9999/0001", 1)
    with orc.db.write() as session:
        deleted = tilgangslogg.delete_expired(session, clock.now() - timedelta(days=365))
    assert deleted == 1
    assert [e.view for e in entries(orc)] == [tilgangslogg.OPPGAVE]
    with orc.db.read() as session:
        assert session.execute(text("SELECT count(*) FROM access_log_purge")).scalar_one() == 0
    with pytest.raises(DBAPIError, match="tilgangsloggen kan ikke endres"):  # the permit is gone again
        with orc.db.write() as session:
            session.execute(text("DELETE FROM access_log"))


def test_retention_may_spare_rows_it_must_keep_by_naming_the_ones_to_delete(orc, clock):
    tilgangslogg.record(orc, KARI, tilgangslogg.SAK, "9999/0001", 1)
    tilgangslogg.record(orc, KARI, tilgangslogg.SAK, "9999/0002", 2)  # say, a case under a slettesperre
    clock.advance(timedelta(days=400))
    [first, _] = entries(orc)
    with orc.db.write() as session:
        assert tilgangslogg.delete_expired(session, clock.now() - timedelta(days=365), ids=[first.id]) == 1
    assert [e.business_key for e in entries(orc)] == ["9999/0002"]


def test_no_application_code_but_the_log_itself_touches_its_tables():
    """The only writer is services/tilgangslogg.py (insert, and retention's delete below a cutoff)."""
    source = Path(tilgangslogg.__file__).parents[1]
    touching = sorted(str(path.relative_to(source)) for path in source.rglob("*.py")
                      if re.search(r"\bAccessLog(Entry|Purge)\b|\baccess_log(_purge)?\b", path.read_text(encoding="utf-8")))
    # innsyn names the table among its sources and reads it only through tilgangslogg.for_case
    assert touching == ["services/innsyn.py", "services/tilgangslogg.py",
                        "store/migrations/versions/0013_access_log.py", "store/models.py"], touching
    assert "AccessLog" not in (source / "services" / "innsyn.py").read_text(encoding="utf-8")


def test_a_permit_does_not_let_newer_rows_go(orc, clock):
    tilgangslogg.record(orc, KARI, tilgangslogg.SAK, "9999/0001", 1)
    with pytest.raises(DBAPIError, match="tilgangsloggen kan ikke endres"):
        with orc.db.write() as session:
            session.execute(text("INSERT INTO access_log_purge (cutoff) VALUES ('2000-01-01 00:00:00')"))
            session.execute(text("DELETE FROM access_log"))
    assert len(entries(orc)) == 1


# --- every view of a case's personal data is one entry --------------------------------------------------
from click.testing import CliRunner  # noqa: E402

from orchestrator import cli  # noqa: E402
from types import SimpleNamespace  # noqa: E402

from orchestrator.services import demo, samtykke, tasks, users  # noqa: E402
from orchestrator.services.access import SYSTEM  # noqa: E402
from orchestrator.services.notices import queries  # noqa: E402
from routines import instance_of, seeded  # noqa: E402,F401

pytest_plugins = ["webtools"]
BROWSER = {"REMOTE_ADDR": "10.1.2.3", "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) " + "x" * 300}


@pytest.fixture
def demo_cases(orc, seeded, clock, tmp_path):
    users.bootstrap(orc, tmp_path / "demo-brukere.txt")
    demo.seed(orc, if_empty=True)
    return orc


def _new_entries(orc, before: int) -> list[AccessLogEntry]:
    return entries(orc)[before:]


def _one_read(orc, before, **expected) -> AccessLogEntry:
    new = _new_entries(orc, before)
    assert len(new) == 1, [(e.username, e.view, e.channel) for e in new]
    for name, value in expected.items():
        assert getattr(new[0], name) == value, (name, getattr(new[0], name), value)
    return new[0]


def test_each_view_of_a_case_is_one_entry_with_who_when_which_case_what_and_from_where(demo_cases, web, clock):
    orc = demo_cases
    case = instance_of(orc, "ansvarsgruppe", "9999/0007").id
    mona = web.login("mona")
    token = users.create_token(orc, "mona")
    api = {"Authorization": f"Bearer {token}"}
    task = tasks.list_tasks(orc, SYSTEM, "all", instance_id=case, per_page=5).items[0]
    notice = queries.list_notices(orc, SYSTEM, business_key="9999/0007").items[0]
    where = {"address": "10.1.2.3", "agent": BROWSER["HTTP_USER_AGENT"][:120]}
    reads = [
        (lambda: mona.get(f"/instances/{case}", environ_base=BROWSER),
         dict(view="sak", channel="side", instance_id=case, **where)),
        (lambda: mona.api("GET", f"/api/v1/instances/{case}", headers=api, environ_base=BROWSER),
         dict(view="sak", channel="api", instance_id=case, **where)),
        (lambda: mona.get(f"/tasks/{task.id}", environ_base=BROWSER),
         dict(view="oppgave", channel="side", instance_id=case, **where)),
        (lambda: mona.api("GET", f"/api/v1/tasks/{task.id}", headers=api, environ_base=BROWSER),
         dict(view="oppgave", channel="api", instance_id=case, **where)),
        (lambda: _consent_through_the_api(orc, "mona", "9999/0007"),  # (main's route takes no slash in a case number)
         dict(view="samtykke", channel="api", instance_id=None, **where)),
        (lambda: mona.get(f"/utsendinger/{notice.id}", environ_base=BROWSER),
         dict(view="utsending", channel="side", instance_id=notice.instance_id, **where)),
        (lambda: mona.get(f"/utsendinger/{notice.id}/html", environ_base=BROWSER),
         dict(view="utsending", channel="side", instance_id=notice.instance_id, **where)),
        (lambda: mona.get("/innsyn/dokument?sak=9999/0007", environ_base=BROWSER),
         dict(view="innsyn", channel="side", instance_id=None, **where)),
        (lambda: mona.get("/innsyn/data.json?sak=9999/0007", environ_base=BROWSER),
         dict(view="innsyn", channel="side", instance_id=None, **where)),
    ]
    for read, expected in reads:
        clock.advance(timedelta(minutes=1))
        before = len(entries(orc))
        assert read().status_code == 200, expected
        entry = _one_read(orc, before, username="mona", system=False, business_key="9999/0007", **expected)
        assert entry.at == clock.now()


def _consent_through_the_api(orc, username, business_key):
    with tilgangslogg.requested_from(tilgangslogg.API, BROWSER["REMOTE_ADDR"], BROWSER["HTTP_USER_AGENT"]):
        samtykke.view(orc, business_key, users.actor_for(orc, username))
    return SimpleNamespace(status_code=200)


def test_lists_and_the_forms_visibility_check_show_no_case_data_and_are_not_logged(demo_cases, web, clock):
    orc = demo_cases
    case = instance_of(orc, "samarbeid", "9999/0001").id
    task = tasks.list_tasks(orc, SYSTEM, "all", instance_id=case, per_page=5).items[0]
    tina = web.login("tina")
    before = len(entries(orc))
    assert tina.get("/tasks").status_code == 200 and tina.get("/instances").status_code == 200
    assert tina.post(f"/tasks/{task.id}/visibility", {}).status_code == 200
    assert _new_entries(orc, before) == []


def test_a_read_from_the_command_line_names_the_command_and_who_ran_it(demo_cases, clock, monkeypatch, settings):
    orc = demo_cases
    monkeypatch.setenv("ORCHESTRATOR_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ORCHESTRATOR_HOME", str(settings.home))
    case = instance_of(orc, "samarbeid", "9999/0001").id
    before = len(entries(orc))
    result = CliRunner().invoke(cli.main, ["instances", "show", str(case), "--as", "kari"])
    assert result.exit_code == 0, result.output
    entry = _one_read(orc, before, username="kari", system=False, view="sak", channel="kommandolinje",
                      business_key="9999/0001", instance_id=case, address="lokal")
    assert entry.agent.endswith(")") and "instances show (bruker " in entry.agent


def test_the_workers_reads_are_marked_as_the_systems(demo_cases):
    orc = demo_cases  # the demo's notices were delivered by the worker's delivery pass
    sent = [e for e in entries(orc) if e.view == tilgangslogg.UTSENDING_SENDT]
    with orc.db.read() as session:
        from orchestrator.store.models import Notice
        delivered = session.scalar(select(func.count(Notice.id)).where(Notice.status.in_(("sent", "sink"))))
    assert delivered and len(sent) == delivered
    assert {(e.username, e.system, e.channel, e.address) for e in sent} == {("utsender", True, "system", None)}


# --- shown to managers only ------------------------------------------------------------------------------
def test_managers_see_who_read_a_case_on_its_page_and_search_the_log_by_user_case_and_date(demo_cases, web, clock):
    orc = demo_cases
    case = instance_of(orc, "samarbeid", "9999/0001").id
    web.login("tina").get(f"/instances/{case}")
    mona = web.login("mona")
    page = mona.get(f"/instances/{case}").get_data(as_text=True)
    panel = page.split('id="hvem-har-lest"')[1].split("</section>")[0]
    assert "Hvem har lest saken" in panel and 'href="/tilgangslogg?bruker=tina"' in panel
    assert panel.count("Saken (data, oppgaver, historikk)") == 2  # tina's read and mona's own, newest first
    listing = mona.get("/tilgangslogg?bruker=tina").get_data(as_text=True)
    assert "9999/0001" in listing and "Saken (data, oppgaver, historikk)" in listing
    today = clock.now().astimezone(tilgangslogg_oslo()).strftime("%d.%m.%Y")
    assert "9999/0001" in mona.get(f"/tilgangslogg?sak=9999/0001&fra={today}&til={today}").get_data(as_text=True)
    assert "Ingen oppslag" in mona.get("/tilgangslogg?sak=9999/0001&fra=01.01.1990&til=02.01.1990").get_data(as_text=True)
    found = tilgangslogg.search(orc, SYSTEM, username="tina", business_key="9999/0001")
    assert [e.view for e in found.items] == ["sak"]


def test_the_api_searches_the_log_by_user_case_and_time(demo_cases, web, clock):
    orc = demo_cases
    case = instance_of(orc, "samarbeid", "9999/0001").id
    web.login("tina").get(f"/instances/{case}")
    token = users.create_token(orc, "mona")
    since = (clock.now() - timedelta(minutes=1)).isoformat()
    answer = web.api("GET", "/api/v1/tilgangslogg", token, query_string={"bruker": "tina", "sak": "9999/0001",
                                                                          "fra": since})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    [entry] = answer.get_json()["items"]
    assert (entry["username"], entry["view"], entry["channel"], entry["instance_id"]) == ("tina", "sak", "side", case)
    later = (clock.now() + timedelta(minutes=1)).isoformat()
    assert web.api("GET", "/api/v1/tilgangslogg", token, query_string={"fra": later}).get_json()["total"] == 0
    assert web.api("GET", "/api/v1/tilgangslogg", users.create_token(orc, "tina")).status_code == 403


def test_a_tjenesteyter_cannot_see_the_log(demo_cases, web):
    orc = demo_cases
    case = instance_of(orc, "samarbeid", "9999/0001").id
    tina = web.login("tina")
    assert tina.get("/tilgangslogg").status_code == 403
    assert "Hvem har lest saken" not in tina.get(f"/instances/{case}").get_data(as_text=True)
    assert tina.get("/innsyn/dokument?sak=9999/0001").status_code == 403
    with pytest.raises(Exception, match="krever rollen"):
        tilgangslogg.search(orc, users.actor_for(orc, "tina"))


def tilgangslogg_oslo():
    from orchestrator.clock import OSLO
    return OSLO
