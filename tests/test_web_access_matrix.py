"""Every endpoint × every role: who may read, claim, complete, deploy and see which instances.

Each role's test builds the same small world, runs every endpoint as that role's user, and
reports every status that differs from the expected one (so one run shows the whole matrix).
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Callable

import pytest
from sqlalchemy import update

import diagrams
pytest.register_assert_rewrite("webtools")  # it is also this module's plugin (pytest_plugins below)
from webtools import GOOD_OPPSTART, ROLE_USERS, as_form_items, rich_form_process

from orchestrator.services import instances, tasks, tokens, users
from orchestrator.services.access import SYSTEM, Actor
from orchestrator.store.models import OpenTask

from helpers import open_tasks

pytest_plugins = ["webtools"]  # the web fixtures: app, web, new_client, role_users

TY, KE, KO, LE, KL, PO, MA = ("tjenesteyter", "koordinerende_enhet", "koordinator", "leder", "kommuneledelse",
                              "process_owner", "manager")
ROLES = (TY, KE, KO, LE, KL, PO, MA)
GOOD_VURDERING = {"behov": "ja", "begrunnelse": "Flere tjenester er inne"}
GOOD_CONSENT = {"handling": "gi", "dato": "2027-01-05", "gitt_av": "bruker", "form": "muntlig",
                "omfatter": ["ansvarsgruppe"], "deles_med": ["skole"]}


@dataclass
class World:
    orc: object
    token: str
    instance_a: int = 0  # test_gateway: open task «vurder» in the tjenesteyter lane
    task_a: str = ""
    instance_b: int = 0  # test_koordinering: open task in the koordinator lane, unassigned
    instance_c: int = 0  # test_koordinering: task assigned by rule to another coordinator (kjell)
    task_c: str = ""
    counter: list = field(default_factory=lambda: [0])

    def gateway_task(self) -> str:
        """A fresh instance of test_gateway; its open «vurder» task."""
        self.counter[0] += 1
        started = instances.start(self.orc, "test_gateway", SYSTEM, f"SAK-F{self.counter[0]}")
        return open_tasks(self.orc, started.id)[0].id


@pytest.fixture
def world(orc, deploy, role_users, make_user):
    deploy(*diagrams.user_task_with_gateway())
    deploy(*rich_form_process())
    make_user("kjell", KO)
    make_user("trond", TY)
    w = World(orc, "")
    a = instances.start(orc, "test_gateway", SYSTEM, "SAK-A")
    w.instance_a, w.task_a = a.id, open_tasks(orc, a.id)[0].id
    w.instance_b = instances.start(orc, "test_koordinering", SYSTEM, "SAK-B").id
    c = instances.start(orc, "test_koordinering", SYSTEM, "SAK-C")
    w.instance_c, w.task_c = c.id, open_tasks(orc, c.id)[0].id
    with orc.write() as session:  # as the coordinator-assignment rule does: assigned, not claimed
        session.execute(update(OpenTask).where(OpenTask.id == w.task_c).values(assignee="kjell", claimed_at=None))
    return w


def _claimed_by_trond(w: World) -> str:
    task_id = w.gateway_task()
    tasks.claim(w.orc, task_id, Actor("trond", frozenset({TY})))
    return task_id


def _completed(w: World) -> str:
    task_id = w.gateway_task()
    tasks.complete(w.orc, task_id, GOOD_VURDERING, SYSTEM)
    return task_id


def _fresh_token_id(w: World, username: str) -> int:
    tokens.create(w.orc, username, "matrisetest")
    return tokens.list_tokens(w.orc, SYSTEM, username)[0].id  # newest first


def _own_token_id(client, w: World, token: str) -> int:
    return _fresh_token_id(w, client.api("GET", "/api/v1/me", token).get_json()["username"])


def _new_version() -> str:
    return dict(diagrams.user_task_with_gateway())["test_gateway.bpmn"].replace("Vurder behov", "Vurder behovet")


ALL = {r: 200 for r in ROLES}


class _Answer:
    def __init__(self, status_code: int, text: str):
        self.status_code, self._text = status_code, text

    def get_data(self, as_text=False):
        return self._text


def _submitted(client, url: str, data):
    """A page submission: 404 when it came back to the list saying the task does not exist (for you)."""
    response = client.post(url, data)
    if response.status_code == 302 and response.headers["Location"].endswith("/tasks"):
        listing = client.get("/tasks").get_data(as_text=True)
        if "finnes ikke eller er ikke synlig for deg" in listing:
            return _Answer(404, listing)
    return response


def _status_if(response, text: str):
    """200 when the page shows `text`, 204 when it renders without it."""
    body = response.get_data(as_text=True)
    return _Answer(response.status_code if text in body else 204, body)


def only(ok: int, roles, otherwise: int) -> dict:
    return {r: (ok if r in roles else otherwise) for r in ROLES}


def seen(ok: int, roles) -> dict:
    """`ok` for `roles`; 403 for those who read every case (they see the task, but may not do it); 404
    for everyone else: a task you may not see answers as one that does not exist."""
    return {r: (ok if r in roles else 403 if r in (KE, MA) else 404) for r in ROLES}


@dataclass
class Case:
    name: str
    run: Callable  # (client, world, token) -> response
    expected: dict


CASES = [
    # --- API: processes ---
    Case("GET api processes", lambda c, w, t: c.api("GET", "/api/v1/processes", t), ALL),
    Case("GET api process", lambda c, w, t: c.api("GET", "/api/v1/processes/test_gateway", t), ALL),
    Case("GET api version xml", lambda c, w, t: c.api("GET", "/api/v1/processes/test_gateway/versions/1/xml", t), ALL),
    Case("POST api processes (deploy)", lambda c, w, t: c.api("POST", "/api/v1/processes", t, data=_new_version(),
                                                              content_type="application/xml"), only(201, {PO}, 403)),
    Case("POST api migrations (dry run)", lambda c, w, t: c.api("POST", "/api/v1/processes/test_gateway/migrations", t,
                                                                json={"to_version": 1}), only(200, {PO}, 403)),
    # --- API: instances ---
    Case("POST api instances (start)", lambda c, w, t: c.api("POST", "/api/v1/instances", t,
                                                             json={"process_key": "test_gateway", "business_key": "SAK-S"}),
         only(201, {TY, KE}, 403)),
    Case("GET api instances", lambda c, w, t: c.api("GET", "/api/v1/instances", t), ALL),
    Case("POST api resume of a running instance", lambda c, w, t: c.api(
        "POST", f"/api/v1/instances/{w.instance_a}/resume", t), only(409, {MA, PO}, 403)),
    Case("GET api instance A (tjenesteyter task)", lambda c, w, t: c.api("GET", f"/api/v1/instances/{w.instance_a}", t),
         only(200, {TY, KE, MA}, 404)),
    Case("GET api instance B (koordinator task)", lambda c, w, t: c.api("GET", f"/api/v1/instances/{w.instance_b}", t),
         only(200, {KO, KE, MA}, 404)),
    Case("GET api instance C (assigned to kjell)", lambda c, w, t: c.api("GET", f"/api/v1/instances/{w.instance_c}", t),
         only(200, {KE, MA}, 404)),
    # --- API: tasks ---
    Case("GET api tasks", lambda c, w, t: c.api("GET", "/api/v1/tasks?scope=roles", t), ALL),
    Case("GET api tasks scope=all", lambda c, w, t: c.api("GET", "/api/v1/tasks?scope=all", t), only(200, {KE, MA}, 403)),
    Case("GET /tasks?scope=all shows the tab", lambda c, w, t: _status_if(c.get("/tasks?scope=all"), "Alle åpne oppgaver"),
         only(200, {KE, MA}, 204)),
    Case("GET api task A", lambda c, w, t: c.api("GET", f"/api/v1/tasks/{w.task_a}", t), only(200, {TY, KE, MA}, 404)),
    Case("GET api task C (kjell's)", lambda c, w, t: c.api("GET", f"/api/v1/tasks/{w.task_c}", t),
         only(200, {KE, MA}, 404)),
    # a task someone may not see answers 404 as an unknown one; those who read every case (KE, managers) 403
    Case("POST api claim", lambda c, w, t: c.api("POST", f"/api/v1/tasks/{w.gateway_task()}/claim", t),
         seen(200, {TY})),
    Case("POST api claim of a task another took", lambda c, w, t: c.api("POST", f"/api/v1/tasks/{_claimed_by_trond(w)}/claim", t),
         seen(409, {TY})),
    Case("POST api claim of the coordinator's task", lambda c, w, t: c.api("POST", f"/api/v1/tasks/{w.task_c}/claim", t),
         seen(403, set())),
    Case("POST api complete", lambda c, w, t: c.api("POST", f"/api/v1/tasks/{w.gateway_task()}/complete", t,
                                                    json={"data": GOOD_VURDERING}), seen(200, {TY})),
    Case("POST api complete invalid data", lambda c, w, t: c.api("POST", f"/api/v1/tasks/{w.gateway_task()}/complete", t,
                                                                 json={"data": {"behov": "kanskje"}}), seen(422, {TY})),
    Case("POST api complete a completed task", lambda c, w, t: c.api("POST", f"/api/v1/tasks/{_completed(w)}/complete", t,
                                                                     json={"data": GOOD_VURDERING}), only(409, {TY, KE, MA}, 404)),
    Case("POST api complete a task another took", lambda c, w, t: c.api(
        "POST", f"/api/v1/tasks/{_claimed_by_trond(w)}/complete", t, json={"data": GOOD_VURDERING}), seen(409, {TY})),
    Case("POST api complete the coordinator's task", lambda c, w, t: c.api("POST", f"/api/v1/tasks/{w.task_c}/complete", t,
                                                                           json={"data": {}}), seen(403, set())),
    Case("POST api release of another's task", lambda c, w, t: c.api("POST", f"/api/v1/tasks/{_claimed_by_trond(w)}/release", t),
         seen(403, {TY})),
    # --- API: messages, dashboard, me, openapi ---
    Case("POST api message", lambda c, w, t: c.api("POST", "/api/v1/messages/test_svar", t, json={"business_key": "SAK-X"}),
         only(404, {TY, KE, KO, LE, KL}, 403)),
    # --- API: the case's consent: seen by those who may see the case, recorded by KE or the coordinator ---
    Case("GET api samtykke", lambda c, w, t: c.api("GET", "/api/v1/cases/SAK-A/samtykke", t), only(200, {TY, KE, MA}, 404)),
    Case("POST api samtykke", lambda c, w, t: c.api("POST", "/api/v1/cases/SAK-A/samtykke", t, json=GOOD_CONSENT),
         {TY: 403, KE: 200, MA: 403, KO: 404, LE: 404, KL: 404, PO: 404}),
    # --- API: slettesperre (decision 0024): managers and koordinerende enhet, nobody else ---
    Case("GET api slettesperre", lambda c, w, t: c.api("GET", "/api/v1/cases/SAK-A/slettesperre", t),
         only(200, {KE, MA}, 403)),
    Case("PUT api slettesperre", lambda c, w, t: c.api("PUT", "/api/v1/cases/SAK-A/slettesperre", t,
                                                       json={"grunn": "Klage under behandling"}), only(200, {KE, MA}, 403)),
    Case("DELETE api slettesperre", lambda c, w, t: c.api("DELETE", "/api/v1/cases/SAK-A/slettesperre", t),
         only(200, {KE, MA}, 403)),
    Case("GET api dashboard", lambda c, w, t: c.api("GET", "/api/v1/dashboard", t), only(200, {KE, MA}, 403)),
    # --- API: notices, as the «Utsendinger» page: its readers only ---
    Case("GET api notices", lambda c, w, t: c.api("GET", "/api/v1/notices", t), only(200, {KE, MA}, 403)),
    Case("GET api notice (none such)", lambda c, w, t: c.api("GET", "/api/v1/notices/4711", t), only(404, {KE, MA}, 403)),
    Case("GET api me", lambda c, w, t: c.api("GET", "/api/v1/me", t), ALL),
    Case("GET api openapi.json", lambda c, w, t: c.api("GET", "/api/v1/openapi.json", t), ALL),
    # --- pages ---
    Case("GET /tasks", lambda c, w, t: c.get("/tasks"), ALL),
    Case("GET /tasks/A", lambda c, w, t: c.get(f"/tasks/{w.task_a}"), only(200, {TY, KE, MA}, 404)),
    Case("POST /tasks/A/claim", lambda c, w, t: c.post(f"/tasks/{w.gateway_task()}/claim"), seen(302, {TY})),
    Case("POST /tasks/<id> (submit)", lambda c, w, t: _submitted(c, f"/tasks/{w.gateway_task()}", GOOD_VURDERING),
         {TY: 302, KE: 403, MA: 403, KO: 404, LE: 404, KL: 404, PO: 404}),
    Case("POST /tasks/<C> (submit the coordinator's task)", lambda c, w, t: _submitted(
        c, f"/tasks/{w.task_c}", as_form_items(GOOD_OPPSTART)), only(403, {KE, MA}, 404)),
    Case("GET /instances", lambda c, w, t: c.get("/instances"), ALL),
    Case("GET /instances/A", lambda c, w, t: c.get(f"/instances/{w.instance_a}"), only(200, {TY, KE, MA}, 404)),
    Case("GET /instances/B", lambda c, w, t: c.get(f"/instances/{w.instance_b}"), only(200, {KO, KE, MA}, 404)),
    Case("POST /instances/A/samtykke", lambda c, w, t: c.post(f"/instances/{w.instance_a}/samtykke", {
        "handling": "gi", "dato": "2027-01-05", "gitt_av": "bruker", "form": "muntlig", "omfatter": "ansvarsgruppe",
        "deles_med": "skole"}), only(302, {TY, KE, MA}, 404)),
    Case("POST /instances/A/slettesperre", lambda c, w, t: c.post(f"/instances/{w.instance_a}/slettesperre", {
        "handling": "sett", "grunn": "Tilsynssak"}), {TY: 403, KE: 302, MA: 302, KO: 404, LE: 404, KL: 404, PO: 404}),
    Case("GET /instances/new", lambda c, w, t: c.get("/instances/new"), ALL),
    Case("POST /instances/A/resume (running)", lambda c, w, t: c.post(f"/instances/{w.instance_a}/resume"),
         only(409, {MA, PO}, 403)),
    Case("POST /instances/new/test_gateway", lambda c, w, t: c.post("/instances/new/test_gateway", {"__saksnummer": "SAK-N"}),
         only(302, {TY, KE}, 404)),
    Case("GET /dashboard", lambda c, w, t: c.get("/dashboard"), only(200, {KE, MA}, 403)),
    Case("GET /utsendinger", lambda c, w, t: c.get("/utsendinger"), only(200, {KE, MA}, 403)),
    # --- the read-access log and innsyn: managers only (decision 0023) ---
    Case("GET /tilgangslogg", lambda c, w, t: c.get("/tilgangslogg"), only(200, {MA}, 403)),
    Case("GET /tilgangslogg?sak=SAK-A", lambda c, w, t: c.get("/tilgangslogg?sak=SAK-A&fra=01.01.2020"),
         only(200, {MA}, 403)),
    Case("GET /instances/A shows who read it", lambda c, w, t: _status_if(
        c.get(f"/instances/{w.instance_a}"), "Hvem har lest saken"), only(200, {MA}, 204)),
    Case("GET api tilgangslogg", lambda c, w, t: c.api("GET", "/api/v1/tilgangslogg?sak=SAK-A", t),
         only(200, {MA}, 403)),
    Case("GET /innsyn", lambda c, w, t: c.get("/innsyn"), only(200, {MA}, 403)),
    Case("GET /innsyn/dokument?sak=SAK-A", lambda c, w, t: c.get("/innsyn/dokument?sak=SAK-A"), only(200, {MA}, 403)),
    Case("GET /innsyn/data.json?sak=SAK-A", lambda c, w, t: c.get("/innsyn/data.json?sak=SAK-A"),
         only(200, {MA}, 403)),
    Case("GET /processes", lambda c, w, t: c.get("/processes"), ALL),
    Case("GET /processes/test_gateway", lambda c, w, t: c.get("/processes/test_gateway"), ALL),
    Case("GET /processes/…/versions/1", lambda c, w, t: c.get("/processes/test_gateway/versions/1"), ALL),
    Case("GET /processes/…/versions/1/xml", lambda c, w, t: c.get("/processes/test_gateway/versions/1/xml"), ALL),
    Case("GET /processes/…/flytting", lambda c, w, t: c.get("/processes/test_gateway/flytting"), only(200, {PO}, 403)),
    Case("GET /modeler", lambda c, w, t: c.get("/modeler"), only(200, {PO}, 403)),
    Case("GET /modeler/test_gateway", lambda c, w, t: c.get("/modeler/test_gateway"), only(200, {PO}, 403)),
    Case("POST /processes/upload", lambda c, w, t: c.post(
        "/processes/upload", {"file": (io.BytesIO(_new_version().encode()), "test_gateway.bpmn")},
        content_type="multipart/form-data"), only(302, {PO}, 403)),
    # --- API keys page: everyone their own; a manager anyone's (services/tokens.py) ---
    Case("GET /tokens", lambda c, w, t: c.get("/tokens"), ALL),
    Case("GET /tokens lists everyone's", lambda c, w, t: _status_if(c.get("/tokens"), "<th>Bruker</th>"),
         only(200, {MA}, 204)),
    Case("POST /tokens (a new own key)", lambda c, w, t: c.post("/tokens", {"label": "skript", "expires_in_days": "30"}),
         {r: 201 for r in ROLES}),
    Case("POST /tokens/<own>/revoke", lambda c, w, t: c.post(f"/tokens/{_own_token_id(c, w, t)}/revoke"),
         {r: 302 for r in ROLES}),
    Case("POST /tokens/<kjell's>/revoke", lambda c, w, t: c.post(f"/tokens/{_fresh_token_id(w, 'kjell')}/revoke"),
         only(302, {MA}, 404)),
    # --- sign-in through a provider: not configured here, so not there ---
    Case("POST /login/oidc", lambda c, w, t: c.post("/login/oidc"), {r: 404 for r in ROLES}),
    Case("GET /login/oidc/callback", lambda c, w, t: c.get("/login/oidc/callback?code=x&state=y"),
         {r: 404 for r in ROLES}),
]


@pytest.mark.parametrize("role", ROLES)
def test_every_endpoint_answers_each_role_as_the_rules_say(role, web, world, role_users):
    token = role_users.tokens[role]
    web.login(ROLE_USERS[role])
    mismatches = []
    for case in CASES:
        response = case.run(web, world, token)
        if response.status_code != case.expected[role]:
            mismatches.append(f"{case.name}: expected {case.expected[role]}, got {response.status_code} "
                              f"{response.get_data(as_text=True)[:160]!r}")
    assert not mismatches, f"{role}:\n" + "\n".join(mismatches)


@pytest.mark.parametrize("role", ROLES)
def test_instance_lists_show_only_what_each_role_may_see(role, web, world, role_users):
    body = web.api("GET", "/api/v1/instances?per_page=200", role_users.tokens[role]).get_json()
    seen = {i["business_key"] for i in body["items"]}
    expected = {
        TY: {"SAK-A"}, KO: {"SAK-B"}, KE: {"SAK-A", "SAK-B", "SAK-C"}, MA: {"SAK-A", "SAK-B", "SAK-C"},
        LE: set(), KL: set(), PO: set(),
    }[role]
    assert seen == expected


def test_the_appointed_coordinator_does_the_task_assigned_to_them(web, world, orc):
    token = users.create_token(orc, "kjell")
    assert web.api("GET", f"/api/v1/instances/{world.instance_c}", token).status_code == 200
    assert web.api("POST", f"/api/v1/tasks/{world.task_c}/claim", token).status_code == 200
    response = web.login("kjell").post(f"/tasks/{world.task_c}", as_form_items(GOOD_OPPSTART))
    assert response.status_code == 302


def test_someone_who_did_a_step_still_sees_the_case_afterwards(web, world, role_users):
    token = role_users.tokens[TY]
    done = web.api("POST", f"/api/v1/tasks/{world.task_a}/complete", token, json={"data": GOOD_VURDERING})
    assert done.status_code == 200
    assert web.api("GET", f"/api/v1/instances/{world.instance_a}", token).status_code == 200
    assert web.api("GET", f"/api/v1/instances/{world.instance_a}", role_users.tokens[LE]).status_code == 404


# --- the service dimension: the same role in two services -----------------------------------------
SERVICES = {"sina": "skole", "helga": "helsestasjon"}  # two tjenesteytere, one service each
HEALTH_NOTE = "Diagnose registrert hos fastlegen"  # case data no form of the task needs


@dataclass
class ServiceWorld:
    orc: object
    counter: list = field(default_factory=lambda: [0])

    def case(self, service: str) -> tuple[int, str]:
        """A fresh case whose «vurder» task is in `service`'s queue: (instance id, task id)."""
        self.counter[0] += 1
        started = instances.start(self.orc, "test_tjeneste", SYSTEM, f"SAK-{service}-{self.counter[0]}",
                                  {"tjeneste": service, "helseopplysning": HEALTH_NOTE, "behov": "ja"})
        return started.id, open_tasks(self.orc, started.id)[0].id


@pytest.fixture
def service_world(orc, deploy, make_user):
    deploy(*diagrams.user_task_with_gateway())  # its form «test_vurdering»
    deploy(*diagrams.service_task())
    for username, service in SERVICES.items():
        make_user(username, TY, services=[service])
    return ServiceWorld(orc)


def _business_key(w: ServiceWorld, instance_id: int) -> str:
    return instances.get(w.orc, instance_id, SYSTEM).business_key


# (name, run(client, token, world, service) -> response, the status on one's own service's case)
SERVICE_CASES = [
    ("GET api instance", lambda c, t, w, s: c.api("GET", f"/api/v1/instances/{w.case(s)[0]}", t), 200),
    ("GET api task", lambda c, t, w, s: c.api("GET", f"/api/v1/tasks/{w.case(s)[1]}", t), 200),
    ("POST api claim", lambda c, t, w, s: c.api("POST", f"/api/v1/tasks/{w.case(s)[1]}/claim", t), 200),
    ("POST api complete", lambda c, t, w, s: c.api("POST", f"/api/v1/tasks/{w.case(s)[1]}/complete", t,
                                                   json={"data": GOOD_VURDERING}), 200),
    ("POST api release", lambda c, t, w, s: c.api("POST", f"/api/v1/tasks/{w.case(s)[1]}/release", t), 403),
    ("GET api samtykke", lambda c, t, w, s: c.api(
        "GET", f"/api/v1/cases/{_business_key(w, w.case(s)[0])}/samtykke", t), 200),
    ("POST api message into the case", lambda c, t, w, s: c.api(
        "POST", "/api/v1/messages/test_tjeneste_signal", t,
        json={"business_key": _business_key(w, w.case(s)[0])}), 200),
    ("GET /tasks/<id>", lambda c, t, w, s: c.get(f"/tasks/{w.case(s)[1]}"), 200),
    ("POST /tasks/<id>/claim", lambda c, t, w, s: c.post(f"/tasks/{w.case(s)[1]}/claim"), 302),
    ("POST /tasks/<id> (submit)", lambda c, t, w, s: _submitted(c, f"/tasks/{w.case(s)[1]}", GOOD_VURDERING), 302),
    ("POST /tasks/<id>/visibility", lambda c, t, w, s: c.post(f"/tasks/{w.case(s)[1]}/visibility", {}), 200),
    ("GET /instances/<id>", lambda c, t, w, s: c.get(f"/instances/{w.case(s)[0]}"), 200),
]


@pytest.mark.parametrize("username", sorted(SERVICES))
def test_every_endpoint_answers_the_other_services_case_as_unknown(username, web, service_world, orc):
    """A school employee does not see, claim or complete what is in the health service's queue, nor
    anything of that case: every endpoint answers as for a case that does not exist."""
    token = users.create_token(orc, username)
    web.login(username)
    own = SERVICES[username]
    other = next(s for s in SERVICES.values() if s != own)
    mismatches = []
    for name, run, expected in SERVICE_CASES:
        for service, wanted in ((own, expected), (other, 404)):
            response = run(web, token, service_world, service)
            if response.status_code != wanted:
                mismatches.append(f"{name} on the {service} case: expected {wanted}, got {response.status_code} "
                                  f"{response.get_data(as_text=True)[:160]!r}")
    assert not mismatches, f"{username} ({own}):\n" + "\n".join(mismatches)


@pytest.mark.parametrize("username", sorted(SERVICES))
def test_lists_show_only_ones_own_services_queue_and_cases(username, web, service_world, orc):
    token = users.create_token(orc, username)
    mine = {s: service_world.case(s) for s in SERVICES.values()}
    own = SERVICES[username]
    listed = web.api("GET", "/api/v1/tasks?scope=roles&per_page=200", token).get_json()["items"]
    assert [(t["id"], t["service"]) for t in listed] == [(mine[own][1], own)]
    cases = web.api("GET", "/api/v1/instances?per_page=200", token).get_json()["items"]
    assert [c["id"] for c in cases] == [mine[own][0]]
    page = web.login(username).get("/tasks?scope=roles").get_data(as_text=True)
    assert mine[own][1] in page and all(mine[s][1] not in page for s in SERVICES.values() if s != own)
    assert web.api("GET", "/api/v1/tasks?scope=all", token).status_code == 403


def test_koordinerende_enhet_and_managers_still_read_every_services_case(web, service_world, orc, make_user):
    cases = [service_world.case(s) for s in SERVICES.values()]
    for username, role in (("kaja", KE), ("mats", MA)):
        make_user(username, role)
        token = users.create_token(orc, username)
        listed = {t["id"] for t in web.api("GET", "/api/v1/tasks?scope=all&per_page=200", token).get_json()["items"]}
        assert {task for _, task in cases} <= listed
        for instance_id, task_id in cases:
            detail = web.api("GET", f"/api/v1/instances/{instance_id}", token).get_json()
            assert detail["limited"] is False and detail["data"]["tjeneste"] in SERVICES.values()
            assert web.api("GET", f"/api/v1/tasks/{task_id}", token).status_code == 200


def test_through_a_task_one_sees_only_what_its_form_needs_on_the_page_and_in_the_api(web, service_world, orc,
                                                                                    make_user):
    token = users.create_token(orc, "sina")
    instance_id, task_id = service_world.case("skole")
    task = web.api("GET", f"/api/v1/tasks/{task_id}", token).get_json()
    assert task["data"] == {"behov": "ja"} and task["service"] == "skole"  # the form's field, nothing else
    page = web.login("sina").get(f"/tasks/{task_id}").get_data(as_text=True)
    assert HEALTH_NOTE not in page and "Skole" in page
    case = web.api("GET", f"/api/v1/instances/{instance_id}", token).get_json()
    assert case["limited"] is True and case["data"] == {} and case["completed_elements"] == []
    assert [t["id"] for t in case["tasks"]] == [task_id] and case["timers"] == []
    page = web.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert HEALTH_NOTE not in page and 'id="begrenset-innsyn"' in page
    make_user("kaja", KE)  # koordinerende enhet sees the whole case, on the task too
    ke = users.create_token(orc, "kaja")
    assert web.api("GET", f"/api/v1/tasks/{task_id}", ke).get_json()["data"]["helseopplysning"] == HEALTH_NOTE
    assert web.api("GET", f"/api/v1/instances/{instance_id}", ke).get_json()["data"]["helseopplysning"] == HEALTH_NOTE
