"""Innsyn (issue 13 item 4, decision 0023): everything stored about the person of a case, as a document and JSON."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from orchestrator import cli
from orchestrator.services import demo, innsyn, slettesperre, users
from orchestrator.services.errors import Forbidden, NotFound
from orchestrator.store.models import Base, Instance
from routines import seeded  # noqa: F401

pytest_plugins = ["webtools"]
CASE = "9999/0007"  # the demo's ansvarsgruppe: innkalling sent, one notice failed, escalated to the leader


@pytest.fixture
def demo_cases(orc, seeded, clock, tmp_path):
    users.bootstrap(orc, tmp_path / "demo-brukere.txt")
    demo.seed(orc, if_empty=True)
    return orc


def case_tables():
    """Every table that holds rows of a case: it has a business key or an instance id column."""
    return [t for t in Base.metadata.sorted_tables if {"business_key", "instance_id"} & set(t.c.keys())]


def rows_of_the_case(orc, business_key: str) -> dict[str, int]:
    with orc.db.read() as session:
        ids = list(session.scalars(select(Instance.id).where(Instance.business_key == business_key)))
        counts = {}
        for table in case_tables():
            belongs = (table.c.business_key == business_key) if "business_key" in table.c else None
            if "instance_id" in table.c and table.name != "instances":
                by_instance = table.c.instance_id.in_(ids)
                belongs = by_instance if belongs is None else (belongs | by_instance)
            counts[table.name] = session.scalar(select(func.count()).select_from(table).where(belongs))
        return {name: n for name, n in counts.items() if n}


def test_an_innsyn_export_of_a_demo_case_covers_every_table_that_holds_rows_of_it(demo_cases, web, clock):
    orc = demo_cases
    assert web.login("kari").get(f"/instances/{_instance(orc, CASE)}").status_code == 200  # someone read the case
    mona = users.actor_for(orc, "mona")
    slettesperre.place(orc, mona, CASE, "Klage til statsforvalteren")
    found = innsyn.make(orc, CASE, mona)
    stored = rows_of_the_case(orc, CASE)
    assert {"instances", "tasks", "audit_log", "notices", "consent_events", "access_log"} <= set(stored)
    missing = {name: n for name, n in stored.items() if found.sources.get(name) != n}
    assert not missing, f"tables holding rows of the case that the innsyn export does not cover fully: {missing}"
    # and each is there in readable form
    document = innsyn.document(found)
    for notice in found.notices:
        assert notice["recipient"] in document and notice["text"] and notice["text"][:40] in document
    [kari] = [r for r in found.reads if r["username"] == "kari"]
    assert kari["view"] == "Saken (data, oppgaver, historikk)" and kari["who"] in document.split("Hvem har lest saken")[1]
    assert "Innsynsuttrekk" in document  # the export lists itself among the reads
    assert "Klage til statsforvalteren" in document.split("Slettesperre")[1]
    [group] = found.processes
    assert group.history and all(h["who"] for h in group.history)
    labels = {line.label: line.text for line in group.data}
    assert labels["Hvem gjelder gruppen?"] == "Demo Lea (fiktiv, 12 år)"  # the form's question, not `gjelder`
    assert not any("_" in label for label in labels)
    data = json.loads(innsyn.as_json(found))
    assert data["business_key"] == CASE and len(data["notices"]) == stored["notices"]


def test_the_command_writes_the_document_and_the_json_and_is_logged(demo_cases, clock, monkeypatch, settings, tmp_path):
    orc = demo_cases
    monkeypatch.setenv("ORCHESTRATOR_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ORCHESTRATOR_HOME", str(settings.home))
    result = CliRunner().invoke(cli.main, ["innsyn", CASE, "--out", str(tmp_path / "ut"), "--as", "mona"])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "ut" / "innsyn-9999-0007.html").read_text(encoding="utf-8")
    data = json.loads((tmp_path / "ut" / "innsyn-9999-0007.json").read_text(encoding="utf-8"))
    assert html.startswith("<!doctype html>") and "Innsyn: alt som er lagret i saken 9999/0007" in html
    assert data["reads"][-1]["view"] == "Innsynsuttrekk (alt om personen)" and data["reads"][-1]["username"] == "mona"
    assert data["reads"][-1]["channel"] == "Kommandolinje"


def test_only_managers_make_an_innsyn_export_and_an_unknown_case_is_unknown(demo_cases, web):
    orc = demo_cases
    for username in ("kari", "tina", "kora"):
        with pytest.raises(Forbidden):
            innsyn.make(orc, CASE, users.actor_for(orc, username))
        assert web.login(username).get(f"/innsyn/dokument?sak={CASE}").status_code == 403
    with pytest.raises(NotFound):
        innsyn.make(orc, "9999/9999", users.actor_for(orc, "mona"))
    page = web.login("mona").get(f"/innsyn/dokument?sak={CASE}")
    assert page.status_code == 200 and "script-src" not in page.headers["Content-Security-Policy"]
    assert web.login("mona").get("/innsyn").status_code == 200


def _instance(orc, business_key):
    with orc.db.read() as session:
        return session.scalar(select(Instance.id).where(Instance.business_key == business_key).limit(1))
