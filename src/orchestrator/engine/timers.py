"""Timers: our clock inside SpiffWorkflow, and what an instance is waiting for.

SpiffWorkflow reads the wall clock in exactly one module
(`SpiffWorkflow/bpmn/specs/event_definitions/timer.py`, as `datetime.now(timezone.utc)`);
rebinding that module's `datetime` makes every timer read `orchestrator.clock`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)

from .. import clock


class _ClockDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        current = clock.now()
        return current.astimezone(tz) if tz is not None else current.replace(tzinfo=None)


_spiff_timer.datetime = _ClockDatetime


@dataclass(frozen=True)
class WaitingTimer:
    task_id: str
    element_id: str
    name: str | None
    due_at: datetime
    kind: str  # date | duration | cycle


def waiting_timers(workflow) -> list[WaitingTimer]:
    """Every pending timer of a workflow (its subprocesses included) with its due time."""
    found = []
    for task in workflow.event_manager.tasks.values():
        definition = getattr(task.task_spec, "event_definition", None)
        if not isinstance(definition, TimerEventDefinition):
            continue
        due = _due_time(task, definition)
        if due is None:
            continue
        found.append(
            WaitingTimer(
                task_id=str(task.id),
                element_id=task.task_spec.bpmn_id or task.task_spec.name,
                name=task.task_spec.bpmn_name,
                due_at=due,
                kind=_kind(definition),
            )
        )
    return sorted(found, key=lambda t: t.due_at)


def fire_due_timers(workflow, max_rounds: int = 10_000) -> int:
    """Fire everything due as of the clock; cycle timers catch up on missed periods.

    SpiffWorkflow fires a cycle once per refresh, so refresh until nothing more is due.
    Returns how many refresh rounds fired something.
    """
    rounds = 0
    while rounds < max_rounds:
        now = clock.now()
        if not any(t.due_at <= now for t in waiting_timers(workflow)):
            break
        workflow.refresh_timers()
        workflow.do_engine_steps()
        rounds += 1
    return rounds


def due_time(task) -> datetime | None:
    """When a waiting timer task fires (None for other tasks)."""
    definition = getattr(task.task_spec, "event_definition", None)
    if not isinstance(definition, TimerEventDefinition):
        return None
    return _due_time(task, definition)


def _kind(definition) -> str:
    name = type(definition).__name__
    if "Cycle" in name:
        return "cycle"
    if "Duration" in name:
        return "duration"
    return "date"


def _due_time(task, definition) -> datetime | None:
    value = task._get_internal_data("event_value")
    if value is None:
        return None
    if isinstance(definition, CycleTimerEventDefinition):
        if not isinstance(value, dict) or value.get("cycles") == 0:
            return None
        due = datetime.fromisoformat(value["next"])
    else:
        due = TimerEventDefinition.get_datetime(value)
    # a plain datetime (SpiffWorkflow may hand back our clock subclass)
    return datetime.fromtimestamp(due.timestamp(), tz=timezone.utc)
