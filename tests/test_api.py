"""The JSON API: every endpoint, its pagination, and its 201/401/403/404/409/415/422 answers."""
from __future__ import annotations

import json
import time
from dataclasses import replace

import diagrams

from orchestrator.services import instances, users
from orchestrator.services.access import SYSTEM

pytest_plugins = ["webtools"]  # the web fixtures: app, web, new_client, role_users


def _start(web, role_users, key="test_gateway", business_key="SAK-1", role="tjenesteyter", data=None):
    response = web.api("POST", "/api/v1/instances", role_users.tokens[role],
                       json={"process_key": key, "business_key": business_key, **({"data": data} if data else {})})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _tasks(web, token, scope="roles"):
    response = web.api("GET", f"/api/v1/tasks?scope={scope}", token)
    assert response.status_code == 200
    return response.get_json()["items"]


# --- authentication -------------------------------------------------------------------------


def test_the_api_answers_401_in_json_without_a_token(web):
    response = web.api("GET", "/api/v1/tasks")
    assert response.status_code == 401
    assert response.is_json and "logge inn" in response.get_json()["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_token_is_401_and_the_openapi_document_needs_a_token_too(web, role_users):
    assert web.api("GET", "/api/v1/tasks", "orc_feil").status_code == 401
    assert web.api("GET", "/api/v1/openapi.json").status_code == 401
    assert web.api("GET", "/api/v1/openapi.json", role_users.tokens["manager"]).get_json()["openapi"].startswith("3.")


def test_health_needs_no_login(web):
    assert web.get("/healthz").get_json() == {"status": "ok", "database": "svarer", "arbeider": "egen prosess"}


def test_health_reports_the_built_in_worker_which_restarts_after_a_failure(app, web, monkeypatch):
    """`orchestrator serve`: the worker thread beside the web server. Not even a SystemExit that
    escapes a pass ends it; and /healthz says 503 once it no longer runs."""
    from orchestrator.services.worker import Worker, WorkerThread

    orc = app.extensions["orchestrator"]
    orc.settings.worker_max_sleep_seconds = 0.05
    worker = Worker(orc)
    real_turn, failures = worker.turn, []

    def turn():
        if len(failures) < 2:
            failures.append(1)
            raise SystemExit(4)  # as a diagram's `raise SystemExit(4)` would, were the sandbox to let it out
        return real_turn()

    monkeypatch.setattr(worker, "turn", turn)
    monkeypatch.setattr(WorkerThread, "MARGIN_SECONDS", 30.0)
    thread = WorkerThread(orc, worker)
    monkeypatch.setattr(thread._stop, "wait", lambda seconds: False)  # restart at once, not after a back-off
    app.extensions["worker"] = thread.start()
    try:
        deadline = time.monotonic() + 10
        while worker.last_turn is None and time.monotonic() < deadline:
            time.sleep(0.01)
        answer = web.get("/healthz")
        assert answer.status_code == 200, answer.get_json()
        assert answer.get_json()["arbeider"] == "kjører" and answer.get_json()["arbeider_omstarter"] == 2
    finally:
        thread.stop()
    answer = web.get("/healthz")
    assert answer.status_code == 503 and answer.get_json()["arbeider"] == "stoppet"


def test_health_is_503_when_the_database_does_not_answer(settings):
    from orchestrator.web.app import create_app

    unreachable = replace(settings, database_url="postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2")
    app = create_app(unreachable)
    try:
        answer = app.test_client().get("/healthz")
        assert (answer.status_code, answer.get_json()) == (503, {"status": "feil", "database": "svarer ikke", "arbeider": "egen prosess"})
    finally:
        app.extensions["orchestrator"].close()


def test_me_names_the_token_owner_and_roles(web, role_users):
    body = web.api("GET", "/api/v1/me", role_users.tokens["koordinator"]).get_json()
    assert body == {"username": "kora", "roles": ["koordinator"], "services": []}


def test_unknown_api_addresses_and_huge_ids_are_json_404s(web, role_users):
    token = role_users.tokens["manager"]
    for url in ("/api/v1/finnes-ikke", "/api/v1/instances/99999999999999999999", "/api/v1/instances/0",
                "/api/v1/instances/123456"):
        response = web.api("GET", url, token)
        assert response.status_code == 404 and response.is_json, url


# --- processes ------------------------------------------------------------------------------


def test_a_process_owner_deploys_bpmn_as_xml_and_gets_201_with_key_and_version(web, role_users, orc):
    bpmn = dict(diagrams.user_task_with_gateway())
    token = role_users.tokens["process_owner"]
    uploaded = web.api("POST", "/api/v1/processes", token, content_type="multipart/form-data",
                       data={"file": [(_bytes(bpmn["test_vurdering.form"]), "test_vurdering.form")]})
    assert uploaded.status_code == 201, uploaded.get_json()
    created = web.api("POST", "/api/v1/processes", token, data=bpmn["test_gateway.bpmn"], content_type="application/xml")
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert (body["key"], body["version"], body["kind"], body["changed"]) == ("test_gateway", 1, "bpmn", True)
    same = web.api("POST", "/api/v1/processes", token, data=bpmn["test_gateway.bpmn"], content_type="application/xml")
    assert same.status_code == 200 and same.get_json()["changed"] is False
    changed = bpmn["test_gateway.bpmn"].replace("Vurder behov", "Vurder behovet")
    second = web.api("POST", "/api/v1/processes", token, data=changed, content_type="application/xml")
    assert (second.status_code, second.get_json()["version"]) == (201, 2)
    source = web.api("GET", "/api/v1/processes/test_gateway/versions/1/xml", token)
    assert source.status_code == 200 and source.mimetype == "application/xml"
    assert source.get_data(as_text=True) == bpmn["test_gateway.bpmn"]
    assert "sandbox" in source.headers["Content-Security-Policy"]


def test_an_invalid_diagram_is_422_with_problems_and_nothing_is_deployed(web, role_users, orc):
    bpmn = dict(diagrams.user_task_with_gateway())["test_gateway.bpmn"]  # its form is not deployed
    response = web.api("POST", "/api/v1/processes", role_users.tokens["process_owner"], data=bpmn,
                       content_type="application/xml")
    assert response.status_code == 422
    body = response.get_json()
    assert body["message"].startswith("Utrullingen ble avvist")
    [problem] = body["problems"]
    assert problem["element_id"] == "vurder" and "test_vurdering" in problem["message"] and problem["line"]
    assert web.api("GET", "/api/v1/processes", role_users.tokens["process_owner"]).get_json()["total"] == 0
    broken = web.api("POST", "/api/v1/processes", role_users.tokens["process_owner"], data=b"<ikke xml",
                     content_type="application/xml")
    [problem] = broken.get_json()["problems"]
    assert broken.status_code == 422 and "kan ikke leses" in problem["message"]  # said plainly
    assert "ugyldig XML" in problem["detail"]  # what the parser said, for whoever needs it


def test_only_process_owners_deploy_and_only_xml_or_files_are_accepted(web, role_users):
    bpmn = diagrams.timers()[0][1]
    refused = web.api("POST", "/api/v1/processes", role_users.tokens["manager"], data=bpmn, content_type="application/xml")
    assert refused.status_code == 403 and "«Prosesseier»" in refused.get_json()["message"]
    wrong_type = web.api("POST", "/api/v1/processes", role_users.tokens["process_owner"], data=bpmn,
                         content_type="text/plain")
    assert wrong_type.status_code == 415 and wrong_type.is_json
    form_without_key = web.api("POST", "/api/v1/processes", role_users.tokens["process_owner"], json={"xml": bpmn})
    assert form_without_key.status_code == 422 and "key" in form_without_key.get_json()["errors"]


def test_processes_are_listed_with_version_history_and_paginated(web, role_users, deploy):
    deploy(*diagrams.user_task_with_gateway())
    deploy(*diagrams.timers())
    deploy(*diagrams.business_rule())
    token = role_users.tokens["tjenesteyter"]
    first = web.api("GET", "/api/v1/processes?per_page=2", token).get_json()
    assert (first["total"], first["page"], first["per_page"], len(first["items"])) == (5, 1, 2, 2)
    rest = web.api("GET", "/api/v1/processes?per_page=2&page=3", token).get_json()
    assert len(rest["items"]) == 1
    bpmn_only = web.api("GET", "/api/v1/processes?kind=bpmn", token).get_json()
    assert sorted(p["key"] for p in bpmn_only["items"]) == ["test_dmn", "test_gateway", "test_tidtakere"]
    one = web.api("GET", "/api/v1/processes/test_gateway", token).get_json()
    assert one["latest_version"] == 1 and [v["version"] for v in one["versions"]] == [1]
    assert one["versions"][0]["deployed_by"] == "prosesseier"
    assert web.api("GET", "/api/v1/processes?kind=ukjent", token).status_code == 422
    assert web.api("GET", "/api/v1/processes/finnes_ikke", token).status_code == 404
    assert web.api("GET", "/api/v1/processes/test_gateway/versions/9/xml", token).status_code == 404


# --- instances ------------------------------------------------------------------------------


def test_starting_an_instance_is_201_with_its_location(web, role_users, deploy):
    deploy(*diagrams.user_task_with_gateway())
    response = web.api("POST", "/api/v1/instances", role_users.tokens["tjenesteyter"],
                       json={"process_key": "test_gateway", "business_key": "SAK-2027-7"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "running" and body["process_version"] == 1 and body["business_key"] == "SAK-2027-7"
    assert response.headers["Location"].endswith(f"/api/v1/instances/{body['id']}")


def test_starting_refuses_unknown_processes_national_ids_and_unknown_fields(web, role_users, deploy):
    deploy(*diagrams.user_task_with_gateway())
    token = role_users.tokens["tjenesteyter"]
    missing = web.api("POST", "/api/v1/instances", token, json={"process_key": "finnes_ikke", "business_key": "SAK-1"})
    assert missing.status_code == 404
    national = web.api("POST", "/api/v1/instances", token, json={"process_key": "test_gateway", "business_key": "01017012345"})
    assert national.status_code == 422 and "business_key" in national.get_json()["errors"]
    unknown = web.api("POST", "/api/v1/instances", token, json={"process_key": "test_gateway", "business_key": "SAK-1",
                                                                "hemmelig": 1})
    assert unknown.status_code == 422 and unknown.get_json()["errors"] == {"hemmelig": ["Ukjent felt."]}
    no_key = web.api("POST", "/api/v1/instances", token, json={})
    assert no_key.get_json()["errors"] == {"process_key": ["Feltet må fylles ut."], "business_key": ["Feltet må fylles ut."]}
    not_json = web.api("POST", "/api/v1/instances", token, data="process_key=x", content_type="text/plain")
    assert not_json.status_code == 422
    nul = web.api("POST", "/api/v1/instances", token, json={"process_key": "a\x00b"})
    assert nul.status_code == 422 and "kontrolltegn" in nul.get_json()["errors"]["process_key"][0]


def test_instances_are_filtered_by_process_status_and_business_key_and_paginated(web, role_users, deploy):
    deploy(*diagrams.user_task_with_gateway())
    deploy(*diagrams.timers())
    for n in range(3):
        _start(web, role_users, business_key=f"SAK-{n}")
    _start(web, role_users, key="test_tidtakere", business_key="SAK-0")
    token = role_users.tokens["manager"]
    everything = web.api("GET", "/api/v1/instances", token).get_json()
    assert everything["total"] == 4 and everything["page"] == 1 and everything["per_page"] == 50
    by_process = web.api("GET", "/api/v1/instances?process_key=test_gateway&per_page=2", token).get_json()
    assert by_process["total"] == 3 and len(by_process["items"]) == 2
    by_key = web.api("GET", "/api/v1/instances?business_key=SAK-0", token).get_json()
    assert sorted(i["process_key"] for i in by_key["items"]) == ["test_gateway", "test_tidtakere"]
    assert web.api("GET", "/api/v1/instances?status=completed", token).get_json()["total"] == 0
    bad = web.api("GET", "/api/v1/instances?status=ferdig&page=0", token)
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"status", "page"}


def test_an_instance_shows_status_version_data_tasks_timers_and_history(web, role_users, deploy, clock):
    deploy(*diagrams.boundary_timers())
    started = _start(web, role_users, key="test_grense", data={"merknad": "haster"})
    body = web.api("GET", f"/api/v1/instances/{started['id']}", role_users.tokens["manager"]).get_json()
    assert body["status"] == "running" and body["process_version"] == 1
    assert body["data"]["merknad"] == "haster"
    assert [t["element_id"] for t in body["tasks"]] == ["svar"]
    assert [(t["element_id"], t["due_at"]) for t in body["timers"]] == [("frist", "2027-01-18T08:00:00+00:00")]
    assert [h["action"] for h in body["history"]][:2] == ["started", "task_opened"]
    assert body["completed_elements"] == ["start"] and body["walked"] == []
    assert "svar" in body["active_elements"]


# --- tasks ----------------------------------------------------------------------------------


def test_task_lists_by_scope_with_pagination(web, role_users, deploy):
    deploy(*diagrams.user_task_with_gateway())
    for n in range(3):
        _start(web, role_users, business_key=f"SAK-{n}")
    token = role_users.tokens["tjenesteyter"]
    queue = web.api("GET", "/api/v1/tasks?scope=roles&per_page=2", token).get_json()
    assert (queue["total"], len(queue["items"]), queue["per_page"]) == (3, 2, 2)
    assert queue["items"][0]["name"] == "Vurder behov" and queue["items"][0]["overdue"] is False
    assert web.api("GET", "/api/v1/tasks?scope=mine", token).get_json()["total"] == 0
    web.api("POST", f"/api/v1/tasks/{queue['items'][0]['id']}/claim", token)
    assert web.api("GET", "/api/v1/tasks?scope=mine", token).get_json()["total"] == 1
    assert web.api("GET", "/api/v1/tasks?scope=alle", token).get_json()["errors"] == {"scope": ["Bruk mine, roles eller all."]}
    assert web.api("GET", "/api/v1/tasks?scope=all", token).status_code == 403  # only for those who read all
    assert web.api("GET", "/api/v1/tasks?per_page=500", token).status_code == 422


def test_a_task_comes_with_its_form_definition(web, role_users, deploy):
    deploy(*diagrams.user_task_with_gateway())
    _start(web, role_users)
    token = role_users.tokens["tjenesteyter"]
    [task] = _tasks(web, token)
    body = web.api("GET", f"/api/v1/tasks/{task['id']}", token).get_json()
    assert body["form"]["key"] == "test_vurdering" and body["may_act"] is True
    behov = body["form"]["components"][0]
    assert behov["key"] == "behov" and behov["required"] is True
    assert behov["options"] == [{"value": "ja", "label": "ja"}, {"value": "nei", "label": "nei"}]
    assert body["process_name"] == "Test: vurdering med port"


def test_completing_with_invalid_data_is_422_with_per_field_errors(web, role_users, deploy):
    deploy(*diagrams.user_task_with_gateway())
    _start(web, role_users)
    token = role_users.tokens["tjenesteyter"]
    [task] = _tasks(web, token)
    response = web.api("POST", f"/api/v1/tasks/{task['id']}/complete", token, json={"data": {"behov": "kanskje"}})
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"behov": ["Velg et av valgene."], "begrunnelse": ["Feltet må fylles ut."]}
    not_object = web.api("POST", f"/api/v1/tasks/{task['id']}/complete", token, json={"data": [1]})
    assert not_object.status_code == 422 and "data" in not_object.get_json()["errors"]


def test_completing_answers_with_the_next_tasks_and_a_second_completion_is_409(web, role_users, deploy):
    deploy(*diagrams.user_task_with_gateway())
    _start(web, role_users)
    token = role_users.tokens["tjenesteyter"]
    [task] = _tasks(web, token)
    done = web.api("POST", f"/api/v1/tasks/{task['id']}/complete", token,
                   json={"data": {"behov": "ja", "begrunnelse": "Trenger koordinering"}})
    assert done.status_code == 200
    assert done.get_json()["instance_status"] == "running" and done.get_json()["next_tasks"] == []  # KE's lane
    again = web.api("POST", f"/api/v1/tasks/{task['id']}/complete", token, json={"data": {"behov": "ja"}})
    assert again.status_code == 409 and "allerede fullført" in again.get_json()["message"]
    [next_task] = _tasks(web, role_users.tokens["koordinerende_enhet"])
    assert next_task["element_id"] == "folg_opp"
    last = web.api("POST", f"/api/v1/tasks/{next_task['id']}/complete", role_users.tokens["koordinerende_enhet"])
    assert last.status_code == 200 and last.get_json()["instance_status"] == "completed"


def test_claim_release_and_the_other_persons_409(web, role_users, deploy, make_user, orc):
    deploy(*diagrams.user_task_with_gateway())
    _start(web, role_users)
    make_user("trond", "tjenesteyter")
    other = users.create_token(orc, "trond")
    token = role_users.tokens["tjenesteyter"]
    [task] = _tasks(web, token)
    claimed = web.api("POST", f"/api/v1/tasks/{task['id']}/claim", token)
    assert claimed.status_code == 200 and claimed.get_json()["assignee"] == "tina"
    taken = web.api("POST", f"/api/v1/tasks/{task['id']}/claim", other)
    assert taken.status_code == 409 and "tina" in taken.get_json()["message"]
    completing = web.api("POST", f"/api/v1/tasks/{task['id']}/complete", other,
                         json={"data": {"behov": "nei", "begrunnelse": "x"}})
    assert completing.status_code == 409
    assert web.api("POST", f"/api/v1/tasks/{task['id']}/release", other).status_code == 403
    released = web.api("POST", f"/api/v1/tasks/{task['id']}/release", token)
    assert released.status_code == 200 and released.get_json()["assignee"] is None
    assert web.api("POST", "/api/v1/tasks/00000000-0000-0000-0000-000000000000/claim", token).status_code == 404


def test_a_task_in_another_lane_is_403_to_complete_and_404_to_read(web, role_users, deploy):
    deploy(*diagrams.user_task_with_gateway())
    _start(web, role_users)
    [task] = _tasks(web, role_users.tokens["tjenesteyter"])
    leder = role_users.tokens["leder"]
    assert web.api("GET", f"/api/v1/tasks/{task['id']}", leder).status_code == 404
    refused = web.api("POST", f"/api/v1/tasks/{task['id']}/complete", leder, json={"data": {}})
    assert refused.status_code == 403 and "«Tjenesteyter»" in refused.get_json()["message"]


# --- messages -------------------------------------------------------------------------------


def test_a_message_starts_the_process_that_catches_it_and_then_reaches_it(web, role_users, deploy):
    deploy(*diagrams.messages())
    token = role_users.tokens["koordinerende_enhet"]
    started = web.api("POST", "/api/v1/messages/test_melding", token, json={"business_key": "SAK-9", "data": {"tekst": "Hei"}})
    assert started.status_code == 200
    [delivery] = started.get_json()["deliveries"]
    assert delivery["started"] is True
    detail = instances.get(web.app.extensions["orchestrator"], delivery["instance_id"], SYSTEM)
    assert detail.data["tekst"] == "Hei"
    nobody = web.api("POST", "/api/v1/messages/test_svar", token, json={"business_key": "SAK-10"})
    assert nobody.status_code == 404 and "SAK-10" in nobody.get_json()["message"]
    missing = web.api("POST", "/api/v1/messages/test_svar", token, json={})
    assert missing.status_code == 422 and "business_key" in missing.get_json()["errors"]


def test_the_dashboard_is_for_managers_and_koordinerende_enhet(web, role_users):
    assert web.api("GET", "/api/v1/dashboard", role_users.tokens["manager"]).status_code == 200
    body = web.api("GET", "/api/v1/dashboard", role_users.tokens["koordinerende_enhet"]).get_json()
    assert set(body) >= {"innkallinger_due_soon", "innkallinger_overdue", "groups_without_meeting",
                         "coordinator_load", "escalations_open", "failed_notices"}
    assert web.api("GET", "/api/v1/dashboard", role_users.tokens["koordinator"]).status_code == 403


def _bytes(text: str):
    import io

    return io.BytesIO(text.encode())


def test_json_bodies_use_iso_dates(web, role_users, deploy):
    deploy(*diagrams.user_task_with_gateway())
    started = _start(web, role_users)
    assert "T" in started["created_at"] and started["created_at"].endswith("+00:00")
    assert json.loads(json.dumps(started))["next_timer_at"] is None
