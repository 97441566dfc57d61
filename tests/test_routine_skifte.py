"""Change of coordinator (seed 004 11.2, 8 steps)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from routines import do, open_elements, people, plan_case, seeded  # noqa: F401
from helpers import open_tasks, task_named
from orchestrator.services import instances, tasks
from orchestrator.services.access import SYSTEM
from orchestrator.services.errors import Forbidden, Invalid, NotFound
from orchestrator.store.models import Case


def _coordinator(orc, business_key):
    with orc.db.read() as session:
        return session.scalar(select(Case).where(Case.business_key == business_key)).koordinator


@pytest.fixture
def case(orc, seeded, people):
    """SAK-1: an oppstart case with an IP, coordinated by kora, at step 10."""
    return plan_case(orc, people, "SAK-1", coordinator="kora")


def _start(orc, people, actor=None, business_key="SAK-1"):
    return instances.start(orc, "skifte_av_koordinator", actor or people.kora, business_key=business_key,
                           data={"skifte_arsak": "Bytter stilling."})


def _steps_1_to_3(orc, change, people, volunteer=None):
    do(orc, change.id, "leder_avklaring", people.lars, {"skifte_godkjent": "ja"})
    do(orc, change.id, "planeier", people.kora, {"planeier_kontaktet": "2027-02-01"})
    answer = {"noen_tar_over": "ja", "ny_koordinator": volunteer} if volunteer else {"noen_tar_over": "nei"}
    do(orc, change.id, "deltakere", people.kora, answer)


def test_change_with_a_volunteer_runs_steps_1_to_6_and_puts_the_new_coordinator_on_the_case(orc, case, people):
    change = _start(orc, people)
    assert data_of(orc, change.id)["naavaerende_koordinator"] == "kora"
    _steps_1_to_3(orc, change, people, volunteer="kai")
    [step4] = open_tasks(orc, change.id)
    assert (step4.element_id, step4.assignee) == ("ny_koordinator_leder", "kai")
    do(orc, change.id, "ny_koordinator_leder", people.kai, {"leder_har_godkjent": "ja"})
    do(orc, change.id, "informere", people.kora, {"planeier_informert": True, "lagt_til_i_planen": True})
    assert instances.get(orc, change.id, SYSTEM).status == "completed"
    assert _coordinator(orc, "SAK-1") == "kai"
    # the running plan's coordinator tasks follow: step 10 is now kai's
    plan = task_named(orc, case.id, "plan")
    assert plan.assignee == "kai"
    with pytest.raises(NotFound):  # no longer hers: as if it did not exist
        tasks.complete(orc, plan.id, {}, people.kora)


def data_of(orc, instance_id):
    return instances.get(orc, instance_id, SYSTEM).data


def test_without_a_volunteer_managers_meet_and_if_they_disagree_ke_decides(orc, case, people):
    change = _start(orc, people)
    _steps_1_to_3(orc, change, people, volunteer=None)
    assert open_elements(orc, change.id) == ["ledermoete"]
    do(orc, change.id, "ledermoete", people.lars, {"ledermoete_dato": "2027-02-10", "ke_innkalt": True, "enige": "nei"})
    assert open_elements(orc, change.id) == ["ke_avklarer"]
    do(orc, change.id, "ke_avklarer", people.kari, {"fagavdeling": "helsestasjon", "ke_begrunnelse": "Mest inne."})
    assert task_named(orc, change.id, "fagavdeling").service == "helsestasjon"  # the department KE chose
    with pytest.raises(NotFound):
        do(orc, change.id, "fagavdeling", people.tor, {"ny_koordinator": "kai"})  # the school's staff do not see it
    do(orc, change.id, "fagavdeling", people.tina, {"ny_koordinator": "kai"})
    do(orc, change.id, "ny_koordinator_leder", people.kai, {"leder_har_godkjent": "ja"})
    do(orc, change.id, "informere", people.kora, {"planeier_informert": True, "lagt_til_i_planen": True})
    assert _coordinator(orc, "SAK-1") == "kai"


def test_managers_who_agree_name_the_new_coordinator(orc, case, people):
    change = _start(orc, people)
    _steps_1_to_3(orc, change, people, volunteer=None)
    do(orc, change.id, "ledermoete", people.lars, {"ledermoete_dato": "2027-02-10", "enige": "ja", "ny_koordinator": "kai"})
    assert open_elements(orc, change.id) == ["ny_koordinator_leder"]


def test_a_new_coordinator_whose_manager_says_no_goes_to_the_managers_meeting(orc, case, people):
    change = _start(orc, people)
    _steps_1_to_3(orc, change, people, volunteer="kai")
    do(orc, change.id, "ny_koordinator_leder", people.kai, {"leder_har_godkjent": "nei"})
    assert open_elements(orc, change.id) == ["ledermoete"]
    assert _coordinator(orc, "SAK-1") == "kora"


def test_the_leader_can_stop_a_change(orc, case, people):
    change = _start(orc, people)
    do(orc, change.id, "leder_avklaring", people.lars, {"skifte_godkjent": "nei"})
    detail = instances.get(orc, change.id, SYSTEM)
    assert detail.status == "completed" and "slutt_ikke_skifte" in detail.completed_elements
    assert _coordinator(orc, "SAK-1") == "kora"


def test_a_change_is_only_for_a_running_case_with_a_coordinator(orc, seeded, people):
    with pytest.raises(Invalid) as refused:
        _start(orc, people, actor=people.kari, business_key="SAK-UKJENT")
    assert "Fant ingen løpende sak" in refused.value.fields["skifte_arsak"][0]


def test_the_current_coordinator_may_start_a_change_others_may_not(orc, case, people):
    with pytest.raises(Forbidden):
        _start(orc, people, actor=people.tina)
    assert _start(orc, people, actor=people.kora).status == "running"


def test_the_five_plan_limit_applies_to_the_new_coordinator(orc, case, people):
    for number in range(5):
        plan_case(orc, people, f"KAI-{number}", coordinator="kai")
    change = _start(orc, people)
    do(orc, change.id, "leder_avklaring", people.lars, {"skifte_godkjent": "ja"})
    do(orc, change.id, "planeier", people.kora, {"planeier_kontaktet": "2027-02-01"})
    with pytest.raises(Invalid) as refused:
        do(orc, change.id, "deltakere", people.kora, {"noen_tar_over": "ja", "ny_koordinator": "kai"})
    assert "5 aktive individuelle planer" in refused.value.fields["ny_koordinator"][0]
    do(orc, change.id, "deltakere", people.kora, {"noen_tar_over": "ja", "ny_koordinator": "kai",
                                                  "ny_koordinator_spor_om_aksept": True})
    with pytest.raises(Invalid) as refused:  # kai must answer whether to take a sixth plan
        do(orc, change.id, "ny_koordinator_leder", people.kai, {"leder_har_godkjent": "ja"})
    assert "godtar_flere_planer" in refused.value.fields
    do(orc, change.id, "ny_koordinator_leder", people.kai, {"leder_har_godkjent": "ja", "godtar_flere_planer": "ja"})
    do(orc, change.id, "informere", people.kora, {"planeier_informert": True, "lagt_til_i_planen": True})
    assert _coordinator(orc, "SAK-1") == "kai"
