"""«Flytt saker til ny versjon» for process owners: the page and POST /api/v1/processes/{key}/migrations."""
from __future__ import annotations

import re

import pytest

import diagrams
pytest.register_assert_rewrite("webtools")
from webtools import ROLE_USERS  # noqa: E402

from orchestrator.services import instances  # noqa: E402
from orchestrator.services.access import SYSTEM  # noqa: E402
from helpers import open_tasks  # noqa: E402
from test_migration import renamed  # noqa: E402

pytest_plugins = ["webtools"]

GATEWAY = dict(diagrams.user_task_with_gateway())


@pytest.fixture
def cases(orc, deploy, role_users):
    """Three test_gateway cases on version 1 at «Vurder behov»; version 2 calls it `vurder_behov`."""
    deploy(*diagrams.user_task_with_gateway())
    started = [instances.start(orc, "test_gateway", SYSTEM, f"SAK-{n}", {"beskrivelse": "Ola (9 år)"}).id
               for n in (1, 2, 3)]
    deploy(("test_gateway.bpmn", renamed(GATEWAY["test_gateway.bpmn"], "vurder", "vurder_behov")))
    return started


def versions(orc, ids):
    return [instances.get(orc, i, SYSTEM).process_version for i in ids]


def test_the_api_says_what_would_happen_then_moves_the_cases_that_map(web, cases, role_users, orc):
    token = role_users.tokens["process_owner"]
    url = "/api/v1/processes/test_gateway/migrations"
    dry = web.api("POST", url, token, json={"to_version": 2})
    assert dry.status_code == 200
    body = dry.get_json()
    assert (body["dry_run"], body["movable"], body["refused"]) == (True, 0, 3)
    assert body["unmapped"] == [{"element_id": "vurder", "name": "Vurder behov", "instances": 3, "suggestion": "vurder_behov"}]
    assert "«Vurder behov» (vurder) finnes ikke i versjon 2" in body["instances"][0]["refusals"][0]
    assert "beskrivelse" not in dry.get_data(as_text=True) and "Ola" not in dry.get_data(as_text=True)
    assert versions(orc, cases) == [1, 1, 1]

    moved = web.api("POST", url, token, json={"to_version": 2, "dry_run": False, "mapping": {"vurder": "vurder_behov"},
                                               "instances": cases[:2]})
    assert moved.status_code == 200
    assert (moved.get_json()["moved"], versions(orc, cases)) == (2, [2, 2, 1])
    assert [t.element_id for t in open_tasks(orc, cases[0])] == ["vurder_behov"]


@pytest.mark.parametrize("role", [r for r in ROLE_USERS if r != "process_owner"])
def test_only_process_owners_may_ask(web, cases, role_users, role):
    answer = web.api("POST", "/api/v1/processes/test_gateway/migrations", role_users.tokens[role],
                     json={"to_version": 2, "dry_run": False, "mapping": {"vurder": "vurder_behov"}})
    assert answer.status_code == 403
    assert web.login(ROLE_USERS[role]).get("/processes/test_gateway/flytting").status_code == 403


def test_wrong_requests_are_refused_with_reasons(web, cases, role_users):
    token, url = role_users.tokens["process_owner"], "/api/v1/processes/test_gateway/migrations"
    assert web.api("POST", url, token, json={}).status_code == 422
    assert web.api("POST", url, token, json={"to_version": "2"}).status_code == 422
    wrong = web.api("POST", url, token, json={"to_version": 2, "mapping": {"vurder": "finnes_ikke"}})
    assert wrong.status_code == 422 and wrong.get_json()["errors"]["mapping"] == ["«finnes_ikke» finnes ikke i versjon 2."]
    assert web.api("POST", url, token, json={"to_version": 9}).status_code == 404
    assert web.api("POST", "/api/v1/processes/finnes_ikke/migrations", token, json={"to_version": 1}).status_code == 404


def test_a_process_owner_maps_the_renamed_step_on_the_page_and_moves_the_chosen_cases(web, cases, role_users, orc):
    web.login(ROLE_USERS["process_owner"])
    detail = web.get("/processes/test_gateway").get_data(as_text=True)
    assert "Flytt saker til ny versjon" in detail and "3 saker på eldre versjoner" in detail

    page = web.get("/processes/test_gateway/flytting")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-movable="0" data-refused="3"' in html
    assert re.search(r'<option value="vurder_behov" selected>Vurder behov \(vurder_behov\) – forslag', html)
    assert "Ola" not in html  # business keys only, never the case data

    planned = web.get("/processes/test_gateway/flytting?til=2&kobling-vurder=vurder_behov").get_data(as_text=True)
    assert 'data-movable="3" data-refused="0"' in planned and 'name="sak"' in planned
    done = web.post("/processes/test_gateway/flytting", [("til", "2"), ("kobling-vurder", "vurder_behov"),
                                                          ("sak", str(cases[0])), ("sak", str(cases[2]))])
    result = done.get_data(as_text=True)
    assert done.status_code == 200 and 'data-moved="2"' in result and "2 saker flyttet til versjon 2" in result
    assert versions(orc, cases) == [2, 1, 2]
    assert instances.get(orc, cases[0], SYSTEM).history[-1]["action"] == "migrated"


def test_a_wrong_mapping_on_the_page_moves_nothing(web, cases, role_users, orc):
    web.login(ROLE_USERS["process_owner"])
    answer = web.post("/processes/test_gateway/flytting", [("til", "2"), ("kobling-vurder", "slutt_ja_finnes_ikke"),
                                                           ("sak", str(cases[0]))])
    assert answer.status_code == 422 and "finnes ikke i versjon 2" in answer.get_data(as_text=True)
    assert versions(orc, cases) == [1, 1, 1]
