"""Appointing a coordinator (seed 004 11.1) and the limit of five individual plans (§ 6)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from routines import CONSENT, appoint, data, do, open_elements, people, plan_case, seeded, start_oppstart, to_plan  # noqa: F401
from helpers import open_tasks, task_named
from orchestrator.services import cases, instances
from orchestrator.services.access import SYSTEM
from orchestrator.services.errors import Forbidden, Invalid, NotFound
from orchestrator.store.models import Case

ASKED = {"informert_om_rettigheter": True, "bruker_onsker_koordinering": "ja", "soknad_fra": "bruker",
         "soknad_dato": "2027-01-04"}


def _to_appointment(orc, people, business_key):
    started = start_oppstart(orc, people, business_key)
    do(orc, started.id, "onske", people.kari, ASKED)
    do(orc, started.id, "samtale", people.kari, CONSENT)
    return started


def _case(orc, business_key):
    with orc.db.read() as session:
        return session.scalar(select(Case).where(Case.business_key == business_key))


def _plans(orc, username):
    with orc.db.read() as session:
        return cases.active_plans(session, username)


def test_the_persons_wish_is_granted_when_possible(orc, seeded, people):
    started = _to_appointment(orc, people, "SAK-1")
    do(orc, started.id, "onske", people.kari, {"har_onske": "ja", "onsket_koordinator": "Kai", "onske_innfris": "ja",
                                                "koordinator": "kai"})
    assert open_elements(orc, started.id) == ["oppstartsamtale"]
    assert _case(orc, "SAK-1").koordinator == "kai"
    assert open_tasks(orc, started.id)[0].assignee == "kai"


def test_main_rule_appoints_from_the_most_active_service(orc, seeded, people):
    started = _to_appointment(orc, people, "SAK-2")
    do(orc, started.id, "onske", people.kari, {"har_onske": "nei"})
    assert open_elements(orc, started.id) == ["hovedregel"]
    do(orc, started.id, "hovedregel", people.kari, {"mest_aktive_tjeneste": "Hjemmetjenesten", "hensiktsmessig": "ja",
                                                     "koordinator": "kora"})
    assert _case(orc, "SAK-2").koordinator == "kora"


def test_ke_asks_a_department_when_the_main_rule_does_not_fit(orc, seeded, people):
    started = _to_appointment(orc, people, "SAK-3")
    do(orc, started.id, "onske", people.kari, {"har_onske": "ja", "onsket_koordinator": "Fastlegen",
                                                "onske_innfris": "nei"})
    do(orc, started.id, "hovedregel", people.kari, {"mest_aktive_tjeneste": "Skolen", "hensiktsmessig": "nei"})
    do(orc, started.id, "anmodning", people.kari, {"fagavdeling": "helsestasjon", "anmodning_dato": "2027-01-08"})
    assert open_elements(orc, started.id) == ["fagavdeling"]
    assert task_named(orc, started.id, "fagavdeling").service == "helsestasjon"  # the department's queue
    with pytest.raises(Forbidden):
        do(orc, started.id, "fagavdeling", people.kari, {"koordinator": "kai"})  # the department appoints, not KE
    with pytest.raises(NotFound):  # another department does not even see it
        do(orc, started.id, "fagavdeling", people.tor, {"koordinator": "kai"})
    do(orc, started.id, "fagavdeling", people.tina, {"koordinator": "kai"})
    assert _case(orc, "SAK-3").koordinator == "kai"


def test_an_unknown_user_cannot_be_appointed(orc, seeded, people):
    started = _to_appointment(orc, people, "SAK-4")
    with pytest.raises(Invalid) as refused:
        do(orc, started.id, "onske", people.kari, {"har_onske": "ja", "onsket_koordinator": "x", "onske_innfris": "ja",
                                                    "koordinator": "finnes.ikke"})
    assert "finnes.ikke" in refused.value.fields["koordinator"][0]


@pytest.fixture
def kora_has_five_plans(orc, seeded, people):
    for number in range(5):
        plan_case(orc, people, f"PLAN-{number}", coordinator="kora", verktoy="ip")
    assert _plans(orc, "kora") == 5


def test_a_sixth_plan_is_refused_naming_the_coordinator_and_the_count(orc, people, kora_has_five_plans):
    started = _to_appointment(orc, people, "SAK-6")
    with pytest.raises(Invalid) as refused:
        do(orc, started.id, "onske", people.kari, {"har_onske": "ja", "onsket_koordinator": "Kora",
                                                    "onske_innfris": "ja", "koordinator": "kora"})
    [message] = refused.value.fields["koordinator"]
    assert "kora" in message and "5 aktive individuelle planer" in message
    assert _case(orc, "SAK-6") is None or _case(orc, "SAK-6").koordinator is None


def test_the_coordinator_may_accept_a_sixth_plan_themselves_which_is_recorded(orc, people, kora_has_five_plans):
    started = _to_appointment(orc, people, "SAK-6")
    do(orc, started.id, "onske", people.kari, {"har_onske": "ja", "onsket_koordinator": "Kora", "onske_innfris": "ja",
                                                "koordinator": "kora", "koordinator_spor_om_aksept": True})
    [task] = open_tasks(orc, started.id)
    assert (task.element_id, task.assignee) == ("aksept", "kora")  # only kora can decide this
    with pytest.raises(NotFound):  # kora's own decision: others do not see it
        do(orc, started.id, "aksept", people.kai, {"godtar_flere_planer": "ja"})
    do(orc, started.id, "aksept", people.kora, {"godtar_flere_planer": "ja"})
    case = _case(orc, "SAK-6")
    assert (case.koordinator, case.koordinator_accepted_over_limit) == ("kora", True)
    history = instances.get(orc, started.id, SYSTEM).history
    accepted = [h for h in history if h["action"] == "task_completed" and h["element_id"] == "aksept"]
    assert accepted[0]["actor"] == "kora" and accepted[0]["data"] == {"godtar_flere_planer": "ja"}
    registered = [h for h in history if h["action"] == "koordinator_registrert"]
    assert registered[-1]["data"]["aktive_planer_for"] == 5
    to_plan(orc, started.id, people.kora, "ip")
    assert _plans(orc, "kora") == 6


def test_a_declined_sixth_plan_goes_back_to_ke_to_ask_another_department(orc, people, kora_has_five_plans):
    started = _to_appointment(orc, people, "SAK-7")
    do(orc, started.id, "onske", people.kari, {"har_onske": "ja", "onsket_koordinator": "Kora", "onske_innfris": "ja",
                                                "koordinator": "kora", "koordinator_spor_om_aksept": True})
    do(orc, started.id, "aksept", people.kora, {"godtar_flere_planer": "nei"})
    assert open_elements(orc, started.id) == ["anmodning"]
    assert _case(orc, "SAK-7") is None


def test_cases_without_an_individual_plan_do_not_count(orc, seeded, people):
    for number in range(3):
        plan_case(orc, people, f"REF-{number}", coordinator="kai", verktoy="referat")
    plan_case(orc, people, "IP-1", coordinator="kai", verktoy="ip")
    assert _plans(orc, "kai") == 1


def test_the_count_is_a_query_over_running_instances_not_a_counter(orc, seeded, people):
    started = plan_case(orc, people, "IP-2", coordinator="kai", verktoy="ip")
    assert _plans(orc, "kai") == 1
    from orchestrator.services import messages
    messages.send(orc, "samtykke_trukket", "IP-2", {"samtykke_trukket_dato": "2027-02-01", "informert_om_folger": True},
                  people.kari)
    assert _plans(orc, "kai") == 0
    assert _case(orc, "IP-2").planverktoy == "ip"  # the register keeps the fact; the count follows the instance
