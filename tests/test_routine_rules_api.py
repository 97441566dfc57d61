"""The routine rules of issue 10 through the JSON API, as an integration would use them (bearer tokens)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from routines import (  # noqa: F401  (fixtures)
    BARNEKOORDINATOR_CONSENT, CONSENT, WISH, instance_of, notices, people, plan_case, seeded, start_oppstart,
)
from test_routine_ansvarsgruppe import MEMBERS, create, innkalling_due, oslo, prepare
from test_routine_oppstart import IP_PLAN
from test_routine_plan_limit import ASKED, KARTLEGGING
from orchestrator.services import timers, users

pytest_plugins = ["webtools"]


class Api:
    """The API as one person uses it with their token."""

    def __init__(self, web, orc):
        self.web, self.orc, self.tokens = web, orc, {}

    def token(self, actor) -> str:
        if actor.username not in self.tokens:
            self.tokens[actor.username] = users.create_token(self.orc, actor.username, expires_in_days=365)
        return self.tokens[actor.username]

    def task(self, actor, instance_id, element_id) -> dict:
        response = self.web.api("GET", "/api/v1/tasks?scope=mine&per_page=200", self.token(actor))
        assert response.status_code == 200, response.get_json()
        if not any(t["instance_id"] == instance_id and t["element_id"] == element_id for t in response.get_json()["items"]):
            response = self.web.api("GET", "/api/v1/tasks?scope=roles&per_page=200", self.token(actor))
        found = [t for t in response.get_json()["items"]
                 if t["instance_id"] == instance_id and t["element_id"] == element_id]
        assert found, (element_id, [t["element_id"] for t in response.get_json()["items"]])
        return found[0]

    def complete(self, actor, instance_id, element_id, data, expect=200) -> dict:
        task = self.task(actor, instance_id, element_id)
        response = self.web.api("POST", f"/api/v1/tasks/{task['id']}/complete", self.token(actor), json={"data": data})
        assert response.status_code == expect, response.get_json()
        return response.get_json()

    def instance(self, actor, instance_id) -> dict:
        response = self.web.api("GET", f"/api/v1/instances/{instance_id}", self.token(actor))
        assert response.status_code == 200, response.get_json()
        return response.get_json()


@pytest.fixture
def api(web, orc):
    return Api(web, orc)


def test_a_required_checkbox_is_refused_unticked_through_the_api(api, orc, seeded, people):
    started = start_oppstart(orc, people)
    refused = api.complete(people.kari, started.id, "onske",
                           {"informert_om_rettigheter": False, "bruker_onsker_koordinering": "nei"}, expect=422)
    assert refused["errors"] == {"informert_om_rettigheter": ["Feltet må krysses av."]}
    assert api.instance(people.kari, started.id)["status"] == "running"


def test_a_sixth_plan_at_trinn_8_is_asked_through_the_api(api, orc, seeded, people):
    for number in range(4):
        plan_case(orc, people, f"PLAN-{number}", coordinator="kora")
    first, second = (start_oppstart(orc, people, key) for key in ("SAK-5", "SAK-6"))
    for case in (first, second):  # both appointed while kora has four
        api.complete(people.kari, case.id, "onske", ASKED)
        api.complete(people.kari, case.id, "samtale", CONSENT)
        api.complete(people.kari, case.id, "onske", {**WISH, "koordinator": "kora"})
    for case in (first, second):
        api.complete(people.kora, case.id, "oppstartsamtale", {"oppstartsamtale_dato": "2027-01-10", "arbeidsform": "x"})
        api.complete(people.kora, case.id, "kartlegging", KARTLEGGING)
    fifth = api.complete(people.kora, first.id, "verktoy", {"verktoy": "ip", "verktoy_begrunnelse": "Ønsket."})
    # the plan goes on here; trinn 9's ansvarsgruppe (same case, another instance) is also kora's now
    assert [t["element_id"] for t in fifth["next_tasks"]] == ["plan", "opprettelse"]
    assert fifth["continues_with"]["element_id"] == "plan"
    sixth = api.complete(people.kora, second.id, "verktoy", {"verktoy": "ip", "verktoy_begrunnelse": "Ønsket."})
    assert [(t["element_id"], t["assignee"]) for t in sixth["next_tasks"]] == [("ip_aksept", "kora")]
    task = api.task(people.kora, second.id, "ip_aksept")
    detail = api.web.api("GET", f"/api/v1/tasks/{task['id']}", api.token(people.kora)).get_json()
    assert detail["data"]["ip_aktive_planer"] == 5
    api.complete(people.kora, second.id, "ip_aksept", {"godtar_ip_over_grense": "ja"})
    history = api.instance(people.kari, second.id)["history"]
    [registered] = [h for h in history if h["action"] == "planverktoy_registrert"]
    assert registered["data"]["godtatt_over_grense"] is True and registered["data"]["aktive_planer_for"] == 5


def test_the_evaluation_opens_ahead_of_the_revision_date_through_the_api(api, orc, seeded, people, clock):
    case = plan_case(orc, people, "SAK-E")
    api.complete(people.kora, case.id, "plan", {**IP_PLAN, "evaluering_varsel_dager": 21})
    follow_up = api.task(people.kora, case.id, "koordinere")
    assert follow_up["due_at"].startswith("2027-05-11T07:00:00")  # 1 June 09:00 in Oslo − 21 days, in UTC
    api.complete(people.kora, case.id, "koordinere", {"oppfolging_status": "I gang."})
    [timer] = [t for t in api.instance(people.kora, case.id)["timers"] if t["element_id"] == "evalueringstid"]
    assert timer["due_at"] == follow_up["due_at"]
    clock.set(clock.now().replace(year=2027, month=5, day=11, hour=7))
    timers.fire_due(orc)
    assert api.task(people.kora, case.id, "evaluere")["due_at"].startswith("2027-06-01T07:00:00")


def test_an_innkalling_for_a_meeting_that_has_passed_is_not_sent_through_the_api(api, orc, seeded, people, clock):
    plan_case(orc, people, "SAK-M", coordinator="kora")
    group = instance_of(orc, "ansvarsgruppe", "SAK-M")
    meeting = create(orc, group, people, clock)
    prepare(orc, group, people)
    assert innkalling_due(orc, group) == meeting - timedelta(days=14)
    clock.set(meeting + timedelta(minutes=5))
    timers.fire_due(orc)
    shown = api.instance(people.kari, group.id)
    assert not [h for h in shown["history"] if h["action"] == "notice_queued"]
    assert [t["element_id"] for t in shown["tasks"]] == ["eskalering_moete_passert"]
    api.complete(people.lars, group.id, "eskalering_moete_passert", {"eskalering_tiltak": "Nytt møte avtales."})
    new_time = clock.now().replace(hour=9, minute=0) + timedelta(days=20)
    api.complete(people.kora, group.id, "nytt_moete", {"moetetid": oslo(new_time), "sted": "Skolen"})
    assert [t["element_id"] for t in api.instance(people.kari, group.id)["tasks"]] == ["forberede_innkalling"]


def test_the_referat_follows_the_agenda_through_the_api(api, orc, seeded, people, clock):
    plan_case(orc, people, "SAK-R", coordinator="kora")
    group = instance_of(orc, "ansvarsgruppe", "SAK-R")
    meeting = create(orc, group, people, clock)
    prepare(orc, group, people)
    clock.set(innkalling_due(orc, group))
    timers.fire_due(orc)
    clock.set(meeting + timedelta(hours=2))
    task = api.task(people.kora, group.id, "moete")
    detail = api.web.api("GET", f"/api/v1/tasks/{task['id']}", api.token(people.kora)).get_json()
    agenda = detail["data"]["saksliste"]
    assert [row["punkt"] for row in agenda] == ["Status i skolen", "Avlastning"]
    answer = {"moete_status": "gjennomfort", "faste_medlemmer": MEMBERS,
              "saksliste": [{**row, "beslutning": f"Besluttet om {row['punkt'].lower()}."} for row in agenda],
              "ansvarsfordeling": [{"oppgave": "Søke avlastning", "ansvarlig": "Tina Helse"}],
              "tjenestemottaker_svar": "ikke_aktuelt", "beslutninger_bekreftet": True, "videre": "opplose",
              "gruppeleder": "kora", "mal": "Trygg skolehverdag."}
    refused = api.complete(people.kora, group.id, "moete",
                           {**answer, "saksliste": [agenda[0], answer["saksliste"][1]]}, expect=422)
    assert refused["errors"] == {"saksliste.0.beslutning": ["Feltet må fylles ut."]}
    api.complete(people.kora, group.id, "moete", answer)
    text = notices(orc, group.id, "referat")[0]["text"]
    assert text.index("1. Status i skolen") < text.index("Besluttet om status i skolen.") < text.index("2. Avlastning")


def test_a_barnekoordinator_is_appointed_through_the_api(api, orc, seeded, people, clock):
    from routines import data
    from test_routine_samarbeid import CHILD, STEG3, TJENESTER

    response = api.web.api("POST", "/api/v1/instances", api.token(people.tina),
                           json={"process_key": "samarbeid", "business_key": "SAK-B"})
    assert response.status_code == 201, response.get_json()
    check = response.get_json()["id"]
    api.complete(people.tina, check, "steg1", {"gjelder": "Emma S.", "andre_tjenester": "ja", "tjenester": TJENESTER,
                                               "konklusjon_steg1": "Skole og PPT."})
    api.complete(people.tina, check, "steg2", {"samarbeid_nodvendig": "ja", "begrunnelse_steg2": "Felles mål."})
    for contact in (people.tor, people.kai):  # each service's contact is in that service's queue
        api.complete(contact, check, "steg3", STEG3)
    done = api.complete(people.tina, check, "barnekoordinator_vurdering", CHILD)
    assert done["next_tasks"] == []  # the written answer is KE's
    answer = api.task(people.kari, check, "barnekoordinator_svar")
    detail = api.web.api("GET", f"/api/v1/tasks/{answer['id']}", api.token(people.kari)).get_json()
    assert "statsforvalteren" in detail["documentation"]
    api.complete(people.kari, check, "barnekoordinator_svar", {"barnekoordinator_svar_dato": "2027-01-12",
                                                               "informert_om_klage": True,
                                                               "familien_onsker_barnekoordinator": "ja", **BARNEKOORDINATOR_CONSENT})
    appointment = api.task(people.kari, check, "barnekoordinator_oppnevning")
    assert appointment["due_at"].startswith((clock.now() + timedelta(days=14)).date().isoformat())
    api.complete(people.kari, check, "barnekoordinator_oppnevning", {"barnekoordinator": "kai",
                                                                     "familien_informert_om_barnekoordinator": True})
    shown = api.instance(people.kari, check)
    assert shown["status"] == "completed" and "samordning" not in shown["completed_elements"]
    oppstart = instance_of(orc, "oppstart", "SAK-B")
    assert data(orc, oppstart.id)["koordinator"] == "kai"
