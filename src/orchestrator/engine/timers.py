"""Timers: our clock inside SpiffWorkflow, and what an instance is waiting for.

SpiffWorkflow reads the wall clock in exactly one module
(`SpiffWorkflow/bpmn/specs/event_definitions/timer.py`, as `datetime.now(timezone.utc)`);
rebinding that module's `datetime` makes every timer read `orchestrator.clock`.

A timer is due when its time has come (due <= now), here as in the job queue: the innkalling
leaves at exactly D-14 days. SpiffWorkflow asks `due < now`; the "now" it gets is an `_Instant`,
which answers that question as "at or after", so a timer fires at its due time, not a tick later.
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
    """SpiffWorkflow's timer module's `datetime`: what it parses is one of these, and "now" is ours."""

    @classmethod
    def now(cls, tz=None):
        current = clock.now()
        if tz is None:
            return current.replace(tzinfo=None)
        current = current.astimezone(tz)
        return _Instant.combine(current.date(), current.timetz())


class _Instant(_ClockDatetime):
    """Now, as SpiffWorkflow's timers compare with it: `due < now` holds from the due time on.

    Python tries the reflected `now.__gt__(due)` first, because this is a subclass of `due`'s type
    (a plain datetime, or one the timer module parsed).
    """

    def __gt__(self, other):
        return datetime.__ge__(self, other)


_spiff_timer.datetime = _ClockDatetime


@dataclass(frozen=True)
class PendingTimer:
    task_id: str
    element_id: str
    name: str | None
    due_at: datetime
    kind: str  # date | duration | cycle


def waiting_timers(workflow) -> list[PendingTimer]:
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
            PendingTimer(
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
        due = [(t.task_id, t.due_at) for t in waiting_timers(workflow) if t.due_at <= now]
        if not due:
            break
        workflow.refresh_timers()
        workflow.do_engine_steps()
        rounds += 1
        if [(t.task_id, t.due_at) for t in waiting_timers(workflow) if t.due_at <= now] == due:
            break  # nothing that was due fired: never spin on it
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
