"""Deadlines in the plan become timers (002 13.6 «tidspunkt for evaluering må avtales»; forskrift § 19 g; 004 11.3)."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from routines import do, open_elements, people, plan_case, seeded  # noqa: F401
from test_routine_oppstart import IP_PLAN
from helpers import task_named
from orchestrator.clock import OSLO
from orchestrator.services import instances, timers
from orchestrator.services.access import SYSTEM
from orchestrator.services.errors import Invalid

REVISION = datetime(2027, 6, 1, 9, 0, tzinfo=OSLO)  # «2027-06-01»: a date means 09:00 in Norway


def _evaluation_timer(orc, instance_id):
    return [t for t in instances.get(orc, instance_id, SYSTEM).timers if t["element_id"] == "evalueringstid"]


def test_the_evaluation_task_opens_14_days_before_the_revision_date(orc, seeded, people, clock):
    case = plan_case(orc, people, "SAK-E1")
    do(orc, case.id, "plan", people.kora, IP_PLAN)
    do(orc, case.id, "koordinere", people.kora, {"oppfolging_status": "Tiltak i gang."})
    assert open_elements(orc, case.id) == []  # the follow-up is recorded; the evaluation waits for its time
    [timer] = _evaluation_timer(orc, case.id)
    assert timer["due_at"] == REVISION - timedelta(days=14)
    clock.set(timer["due_at"] - timedelta(seconds=1))
    timers.fire_due(orc)
    assert open_elements(orc, case.id) == []
    clock.set(timer["due_at"])
    timers.fire_due(orc)
    evaluation = task_named(orc, case.id, "evaluere")
    assert (evaluation.assignee, evaluation.due_at) == ("kora", REVISION)  # the coordinator's, due on the date


def test_how_many_days_ahead_is_the_plans_choice_within_limits(orc, seeded, people, clock):
    case = plan_case(orc, people, "SAK-E2")
    with pytest.raises(Invalid) as refused:
        do(orc, case.id, "plan", people.kora, {**IP_PLAN, "evaluering_varsel_dager": 0})
    assert "evaluering_varsel_dager" in refused.value.fields
    with pytest.raises(Invalid):
        do(orc, case.id, "plan", people.kora, {k: v for k, v in IP_PLAN.items() if k != "evaluering_varsel_dager"})
    do(orc, case.id, "plan", people.kora, {**IP_PLAN, "evaluering_varsel_dager": 30})
    do(orc, case.id, "koordinere", people.kora, {"oppfolging_status": "Tiltak i gang."})
    [timer] = _evaluation_timer(orc, case.id)
    assert timer["due_at"] == REVISION - timedelta(days=30)


def test_progress_follow_up_has_a_deadline_before_the_evaluation(orc, seeded, people, clock):
    case = plan_case(orc, people, "SAK-E3")
    do(orc, case.id, "plan", people.kora, IP_PLAN)
    follow_up = task_named(orc, case.id, "koordinere")
    assert follow_up.due_at == REVISION - timedelta(days=14)
    clock.set(REVISION - timedelta(days=3))  # the coordinator records the follow-up late
    do(orc, case.id, "koordinere", people.kora, {"oppfolging_status": "Sent, men i gang."})
    assert open_elements(orc, case.id) == ["evaluere"]  # its time had come: the evaluation opens at once


def test_without_an_individual_plan_follow_up_is_due_in_30_days_and_evaluation_follows(orc, seeded, people, clock):
    case = plan_case(orc, people, "SAK-E4", verktoy="referat")
    do(orc, case.id, "plan", people.kora, {"oppfolgingsplan": "Referat fra hvert møte; oppfølging hver måned."})
    follow_up = task_named(orc, case.id, "koordinere")
    assert follow_up.due_at == clock.now() + timedelta(days=30)
    do(orc, case.id, "koordinere", people.kora, {"oppfolging_status": "Avtalt oppfølging."})
    assert open_elements(orc, case.id) == ["evaluere"]
