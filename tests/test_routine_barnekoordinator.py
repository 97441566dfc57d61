"""Barnekoordinator, complete (seed 003; pbrl. § 2-5 c, hol. § 7-2 a): from the right to an appointed coordinator.

The entitlement (DMN) leads to a written answer to the family with how to complain to statsforvalteren; the family
may decline (then the services coordinate as usual); KE appoints within a deadline; the barnekoordinator becomes the
case's coordinator and is not appointed again in trinn 5. Samordning is skipped only when one has been appointed.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from routines import (  # noqa: F401  (fixtures)
    BARNEKOORDINATOR_CONSENT, CONSENT, data, do, instance_of, open_elements, people, plan_case, seeded,
)
from test_routine_samarbeid import ADULT_LONG_TERM, ANSWERED, CHILD, _through_step3, check  # noqa: F401
from test_routine_plan_limit import ASKED
from helpers import open_tasks, task_named
from orchestrator.services import instances, tasks
from orchestrator.services.access import SYSTEM
from orchestrator.services.errors import Invalid, NotFound
from orchestrator.store.models import Case
FAMILY_WANTS_ONE = {"familien_onsker_barnekoordinator": "ja", **BARNEKOORDINATOR_CONSENT}


def _coordinator(orc, business_key):
    with orc.db.read() as session:
        case = session.scalar(select(Case).where(Case.business_key == business_key))
        return case.koordinator if case else None


@pytest.fixture
def entitled(orc, check, people):
    """SAK-10: a child whose family has the right to a barnekoordinator (all three conditions)."""
    _through_step3(orc, check, people)
    do(orc, check.id, "barnekoordinator_vurdering", people.tina, CHILD)
    return check


def test_the_family_gets_a_written_answer_that_says_how_to_complain_to_statsforvalteren(orc, entitled, people):
    answer = task_named(orc, entitled.id, "barnekoordinator_svar")
    assert answer.role == "koordinerende_enhet"
    detail = tasks.get(orc, answer.id, people.kari)
    shown = " ".join(c.text or "" for c in detail.form.components)
    assert "statsforvalteren" in shown and "kapittel 7" in shown and "enkeltvedtak" in shown
    assert "statsforvalteren" in detail.documentation
    with pytest.raises(NotFound):  # koordinerende enhet's task
        do(orc, entitled.id, "barnekoordinator_svar", people.tina, ANSWERED | FAMILY_WANTS_ONE)
    with pytest.raises(Invalid) as refused:
        do(orc, entitled.id, "barnekoordinator_svar", people.kari,
           {**ANSWERED, "informert_om_klage": False})
    assert set(refused.value.fields) == {"informert_om_klage", "familien_onsker_barnekoordinator"}


def test_an_appointed_barnekoordinator_is_the_case_coordinator_and_the_plan_routine_does_not_appoint_again(
        orc, entitled, people, clock):
    do(orc, entitled.id, "barnekoordinator_svar", people.kari,
       ANSWERED | {"familien_onsker_barnekoordinator": "ja", **BARNEKOORDINATOR_CONSENT, "familiens_onske_om_barnekoordinator": "Helst Kora."})
    appointment = task_named(orc, entitled.id, "barnekoordinator_oppnevning")
    assert (appointment.role, appointment.due_at) == ("koordinerende_enhet", clock.now() + timedelta(days=14))
    do(orc, entitled.id, "barnekoordinator_oppnevning", people.kari, {"barnekoordinator": "kora",
                                                                      "familien_informert_om_barnekoordinator": True})
    assert _coordinator(orc, "SAK-10") == "kora"
    detail = instances.get(orc, entitled.id, SYSTEM)
    assert detail.status == "completed" and "samordning" not in detail.completed_elements
    assert "melding_barnekoordinator" in detail.completed_elements
    oppstart = instance_of(orc, "oppstart", "SAK-10")
    do(orc, oppstart.id, "onske", people.kari, ASKED)
    do(orc, oppstart.id, "samtale", people.kari, CONSENT)
    [task] = open_tasks(orc, oppstart.id)  # trinn 5 found the barnekoordinator: no second appointment
    assert (task.element_id, task.assignee) == ("oppstartsamtale", "kora")
    shown = instances.get(orc, oppstart.id, SYSTEM)
    assert "slutt_barnekoordinator" in shown.completed_elements
    assert [h["element_id"] for h in shown.history if h["action"] == "task_opened"].count("onske") == 1  # trinn 2 only
    assert data(orc, oppstart.id)["koordinator"] == "kora"


def test_a_family_that_declines_gets_the_ordinary_samordning(orc, entitled, people):
    do(orc, entitled.id, "barnekoordinator_svar", people.kari, ANSWERED | {"familien_onsker_barnekoordinator": "nei"})
    assert open_elements(orc, entitled.id) == ["samordning"]  # somebody coordinates
    assert _coordinator(orc, "SAK-10") is None
    do(orc, entitled.id, "samordning", people.tina, {"enige": "ja", "samordnende_tjeneste": "Skolen"})
    oppstart = instance_of(orc, "oppstart", "SAK-10")  # the need is still reported to KE (004 § 5)
    assert (data(orc, oppstart.id)["barnekoordinator"], data(orc, oppstart.id)["rett_til_barnekoordinator"]) == (None, True)


def test_a_child_without_the_right_also_gets_a_written_answer_and_the_services_coordinate(orc, check, people):
    _through_step3(orc, check, people)
    do(orc, check.id, "barnekoordinator_vurdering", people.tina, {**CHILD, "vilkar_alvorlig": "nei"})
    assert open_elements(orc, check.id) == ["barnekoordinator_svar"]
    do(orc, check.id, "barnekoordinator_svar", people.kari, ANSWERED)  # no question about wanting one
    assert open_elements(orc, check.id) == ["samordning"]


def test_an_adults_case_goes_straight_to_samordning(orc, check, people):
    _through_step3(orc, check, people)
    do(orc, check.id, "barnekoordinator_vurdering", people.tina, ADULT_LONG_TERM)
    assert open_elements(orc, check.id) == ["samordning"]


def test_a_barnekoordinator_is_held_to_the_five_plan_limit(orc, entitled, people):
    for number in range(5):
        plan_case(orc, people, f"PLAN-{number}", coordinator="kai")
    do(orc, entitled.id, "barnekoordinator_svar", people.kari, ANSWERED | FAMILY_WANTS_ONE)
    with pytest.raises(Invalid) as refused:
        do(orc, entitled.id, "barnekoordinator_oppnevning", people.kari,
           {"barnekoordinator": "kai", "familien_informert_om_barnekoordinator": True})
    [message] = refused.value.fields["barnekoordinator"]
    assert "5 aktive individuelle planer" in message and message.endswith("Velg en annen.")
    assert _coordinator(orc, "SAK-10") is None


def test_a_barnekoordinator_named_when_the_plan_routine_starts_must_be_the_one_on_the_case(orc, seeded, people):
    with pytest.raises(Invalid) as refused:
        instances.start(orc, "oppstart", people.kari, business_key="SAK-20", data={
            "gjelder": "Per P.", "meldt_av": "Helsestasjonen", "behov": "Samordning.", "barnekoordinator": "kai"})
    assert "ikke registrert som koordinator" in refused.value.fields["barnekoordinator"][0]
