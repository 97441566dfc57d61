"""Retention from the outside: `orchestrator retention` (dry run, then the real run, agreeing), and the
slettesperre through the API and on the case page (decision 0024)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from sqlalchemy import select

from orchestrator.services import retention
from orchestrator.store.models import AuditEntry, Instance
from routines import seeded  # noqa: F401  (fixture: processes/ and forms/ deployed)
from test_retention import end_case, world  # noqa: F401  (fixture: the demo cases)

pytest_plugins = ["webtools"]  # the web fixtures: app, web
ORCHESTRATOR = [sys.executable, "-m", "orchestrator.cli"]


def cli(settings, *args, expect=0):
    env = {**os.environ, "ORCHESTRATOR_HOME": str(settings.home), "ORCHESTRATOR_DATABASE_URL": settings.database_url}
    done = subprocess.run(ORCHESTRATOR + list(args), capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == expect, (args, done.stdout, done.stderr)
    return done


def test_the_command_lists_exactly_what_it_would_do_then_does_it(world, settings):
    orc = world
    end_case(orc, "9999/0007")
    later = "2030-02-01T03:00:00+01:00"
    human = cli(settings, "retention", "--dry-run", "--now", later).stdout
    assert "Tørrkjøring" in human and "saker: 9999/0007" in human and "Tilgangsloggen" in human
    planned = json.loads(cli(settings, "retention", "--dry-run", "--now", later, "--json").stdout)
    done = json.loads(cli(settings, "retention", "--now", later, "--as", "mona", "--json").stdout)
    assert (planned.pop("dry_run"), done.pop("dry_run")) == (True, False)
    assert done == planned
    [cases] = [k for k in done["kinds"] if k["kind"] == retention.CASES]
    assert cases["business_keys"] == ["9999/0007"] and cases["rows"]["instances"] == len(cases["instances"])
    with orc.db.read() as session:
        assert not session.scalars(select(Instance).where(Instance.business_key == "9999/0007")).all()
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == retention.ACTION)).all()
    assert entry.actor == "mona"
    again = json.loads(cli(settings, "retention", "--dry-run", "--now", later, "--json").stdout)
    assert not [k for k in again["kinds"] if k["kind"] == retention.CASES][0]["business_keys"]


def test_the_command_holds_a_case_with_a_reason_and_who(world, settings):
    refused = cli(settings, "slettesperre", "add", "9999/0007", "--reason", "Klage", "--as", "tina", expect=1)
    assert "krever en av rollene" in refused.stderr
    cli(settings, "slettesperre", "add", "9999/0007", "--reason", "Klage til statsforvalteren", "--as", "kari")
    listed = cli(settings, "slettesperre", "list").stdout
    assert "9999/0007" in listed and "kari" in listed and "Klage til statsforvalteren" in listed
    end_case(world, "9999/0007")
    done = json.loads(cli(settings, "retention", "--now", "2031-01-01T03:00:00+01:00", "--json").stdout)
    [cases] = [k for k in done["kinds"] if k["kind"] == retention.CASES]
    assert cases["held"] == ["9999/0007"] and cases["business_keys"] == []
    cli(settings, "slettesperre", "remove", "9999/0007", "--as", "mona")
    assert "Ingen saker" in cli(settings, "slettesperre", "list").stdout


def test_a_manager_holds_a_case_through_the_api_and_sees_it_on_the_case_page(world, web):
    orc = world
    with orc.db.read() as session:
        instance_id = session.scalar(select(Instance.id).where(Instance.business_key == "9999/0007"))
    token = __import__("orchestrator.services.users", fromlist=["x"]).create_token(orc, "mona")
    url = "/api/v1/cases/9999/0007/slettesperre"
    assert web.api("GET", url, token).get_json()["sperret"] is False
    placed = web.api("PUT", url, token, json={"grunn": "Tilsynssak hos statsforvalteren"})
    assert placed.status_code == 200
    body = web.api("GET", url, token).get_json()
    assert (body["sperret"], body["grunn"], body["satt_av"]) == (True, "Tilsynssak hos statsforvalteren", "mona")
    assert web.api("PUT", url, token, json={"grunn": "igjen"}).status_code == 409
    assert web.api("PUT", url, token, json={}).status_code == 422
    assert web.api("GET", "/api/v1/cases/9999/9999/slettesperre", token).status_code == 404

    page = web.login("mona").get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "Saken er sperret mot sletting" in page and "Tilsynssak hos statsforvalteren" in page
    assert "Slettesperre" not in web.login("tina").get(f"/instances/{instance_id}").get_data(as_text=True)

    web.login("mona").post(f"/instances/{instance_id}/slettesperre", {"handling": "opphev"})
    assert web.api("GET", url, token).get_json()["sperret"] is False
    assert web.api("DELETE", url, token).status_code == 404  # no hold to lift
    page = web.login("kari").get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "Sperr mot sletting" in page


def test_an_erased_notice_shows_its_kind_status_and_service_but_no_content_or_address(world, web, clock):
    from datetime import timedelta

    from orchestrator.store.models import Notice

    orc = world
    with orc.db.read() as session:
        notice = session.scalars(select(Notice).where(Notice.business_key == "9999/0007",
                                                      Notice.status == "sink")).first()
    clock.advance(timedelta(days=200))
    retention.run(orc, retention.RETENTION)
    page = web.login("mona").get(f"/utsendinger/{notice.id}").get_data(as_text=True)
    assert "slettet" in page and "Demo Lea" not in page and notice.recipient not in page
    assert "Innkalling" in page
    assert web.get(f"/utsendinger/{notice.id}/html").status_code == 404
    listing = web.get("/utsendinger?business_key=9999/0007").get_data(as_text=True)
    assert notice.recipient not in listing and "slettet etter oppbevaringstiden" in listing
