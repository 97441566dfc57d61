"""One step of one instance, persisted: load, act, run, save, index, audit, route messages.

Every change to an instance goes through `Step`: the web, the CLI, the timer worker and message
delivery all open a unit of work, load the instance, let the engine act, and `save`. Saving
writes the engine state (without the spec), refreshes the indexed tables (open tasks, waiting
timers, message waits), and checks the optimistic lock, all in the caller's transaction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from .. import clock
from ..engine import workflow as engine
from ..engine.parser import SpecBundle
from ..store.db import Database
from ..store.models import AuditEntry, Instance, MessageWait, OpenTask, WaitingTimer
from . import assignment
from .access import Actor
from .context import CONFLICT_MESSAGE, Orchestrator
from .errors import Conflict, NotFound, StepFailed

RUNNING, COMPLETED, TERMINATED, ERROR = "running", "completed", "terminated", "error"
NO_DUE_DATE = datetime(9999, 12, 31, tzinfo=timezone.utc)  # sorts tasks without a due date last


@dataclass
class Step:
    """An instance loaded for change within a unit of work."""

    ctx: Orchestrator
    session: Session
    row: Instance
    bundle: SpecBundle
    workflow: object
    actor: Actor
    outgoing: list = field(default_factory=list)

    def audit(self, action: str, task_id=None, element_id=None, element_name=None, data=None) -> None:
        self.session.add(AuditEntry(
            instance_id=self.row.id, at=clock.now(), actor=self.actor.username, action=action,
            task_id=task_id, element_id=element_id, element_name=element_name, data=data,
        ))


def load(ctx: Orchestrator, session: Session, instance_id: int, actor: Actor) -> Step:
    row = session.get(Instance, instance_id)
    if row is None:
        raise NotFound(f"instans {instance_id} finnes ikke")
    bundle = ctx.specs.bundle(session, row.process_key, row.pins)
    workflow = ctx.instances.take(row.id, row.lock_version, bundle) or engine.load(row.state, bundle)
    return Step(ctx, session, row, bundle, workflow, actor)


def create(ctx: Orchestrator, session: Session, key: str, business_key: str | None, data: dict,
           actor: Actor, message: str | None = None) -> Step:
    """A new instance, started, not yet saved (call `save`)."""
    pins = ctx.specs.pins_for(session, key)
    bundle = ctx.specs.bundle(session, key, pins)
    data = {**(data or {}), "saksnummer": business_key}  # the case reference, for forms and notices
    try:
        workflow = engine.create(bundle, data)
        waiting_for = engine.message_start_names(workflow)
        if message is None and len(waiting_for) == 1:
            message = waiting_for[0]  # a process that only starts by message: start it by that message
        if message is not None:
            engine.deliver_message(workflow, message, data)
    except engine.EngineError as error:
        raise StepFailed(f"Prosessen «{key}» kunne ikke startes: {error}") from error
    now = clock.now()
    row = Instance(
        process_key=key, process_version=pins[key], pins=pins, business_key=business_key,
        status=RUNNING, created_at=now, updated_at=now, started_by=actor.username, state="",
        indexed={"tasks": [], "timers": [], "waits": []},
    )
    session.add(row)
    session.flush()
    step = Step(ctx, session, row, bundle, workflow, actor)
    step.audit("started", data={"business_key": business_key, "message": message, "data": data or None})
    return step


def act(step: Step, action, *args) -> None:
    """Run an engine action, turning its failures into a StepFailed for the user."""
    try:
        action(step.workflow, *args)
    except engine.EngineError as error:
        raise StepFailed(f"Steget kunne ikke kjøres: {error}") from error


def save(step: Step) -> None:
    """Persist the engine state and refresh everything indexed from it."""
    row, workflow, now = step.row, step.workflow, clock.now()
    # take what the step threw before dumping, so it is sent once and not stored to be sent again
    step.outgoing.extend(engine.outgoing_messages(workflow))
    row.trail = engine.extend_trail(row.trail, workflow)
    engine.compact(workflow)
    row.state = engine.dump(workflow)
    act(step, engine.check_state_size, row.state)
    row.updated_at = now
    if workflow.completed and row.status == RUNNING:
        row.status, row.completed_at = COMPLETED, now
        step.audit("completed")
    previous_timer = row.next_timer_at
    with step.session.no_autoflush:
        snapshot = _snapshot(step)
        gone = _sync_tasks(step, now, snapshot) + _sync_timers(step, snapshot) + _sync_message_waits(step, snapshot)
        row.indexed = snapshot
        row.timer_lease_owner = row.timer_lease_until = None
    # Lock order: the instance row first (its UPDATE checks the version), then its child rows. A
    # claim takes the same order, so two steps on one case queue on the instance, never deadlock.
    try:
        step.session.flush()
    except StaleDataError:
        raise Conflict(CONFLICT_MESSAGE) from None
    for statement in gone:
        step.session.execute(statement)
    if row.next_timer_at is not None and (previous_timer is None or row.next_timer_at < previous_timer):
        signal_timer(step.ctx, step.session, row.next_timer_at)
    version, bundle = row.lock_version, step.bundle
    Database.after_commit(step.session, lambda: step.ctx.instances.keep(row.id, version, bundle, workflow))


def signal_timer(ctx: Orchestrator, session: Session, due: datetime) -> None:
    """Wake timer workers (this process and, on PostgreSQL, the others) after commit."""
    if ctx.db.dialect == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": ctx.timer_signal.CHANNEL})
    Database.after_commit(session, lambda: ctx.timer_signal.notify(due))


def _snapshot(step: Step) -> dict:
    """What the indexed tables hold for this instance, as recorded at its last save.

    Keeping it on the instance row lets a step diff against it without loading the child rows;
    rows written before the snapshot existed are read once from the tables.
    """
    row, session = step.row, step.session
    if row.indexed is not None:
        return {k: list(v) for k, v in row.indexed.items()}
    return {
        "tasks": sorted(session.scalars(select(OpenTask.id).where(OpenTask.instance_id == row.id))),
        "timers": sorted([t, d.isoformat()] for t, d in session.execute(
            select(WaitingTimer.task_id, WaitingTimer.due_at).where(WaitingTimer.instance_id == row.id))),
        "waits": sorted([n, e] for n, e in session.execute(
            select(MessageWait.name, MessageWait.element_id).where(MessageWait.instance_id == row.id))),
    }


def _sync_tasks(step: Step, now: datetime, snapshot: dict) -> list:
    """Adds the tasks that opened; returns the deletes for those that closed (run after the flush)."""
    row, session = step.row, step.session
    ready = {t.id: t for t in engine.human_tasks(step.workflow, step.bundle)} if row.status == RUNNING else {}
    current = set(snapshot["tasks"])
    gone = current - ready.keys()
    for task_id in sorted(ready.keys() - current):
        task = ready[task_id]
        due = _due(step, task)
        session.add(OpenTask(
            id=task_id, instance_id=row.id, process_key=row.process_key, business_key=row.business_key,
            element_id=task.element_id, name=task.name, role=task.role,
            assignee=assignment.assignee_for(step, task),
            form_key=task.form_key, created_at=now, due_at=due, due_sort=due or NO_DUE_DATE,
        ))
        step.audit("task_opened", task_id=task_id, element_id=task.element_id, element_name=task.name,
                   data={"role": task.role})
    snapshot["tasks"] = sorted(ready)
    return [delete(OpenTask).where(OpenTask.id.in_(sorted(gone)))] if gone else []


def _due(step: Step, task) -> datetime | None:
    if task.due_expression:
        try:
            return engine.evaluate_due(step.workflow, task.id, task.due_expression)
        except engine.EngineError as error:
            raise StepFailed(f"Fristen for «{task.name}» kunne ikke beregnes: {error}") from error
    return task.boundary_due


def _sync_timers(step: Step, snapshot: dict) -> list:
    row, session = step.row, step.session
    waiting = engine.timers(step.workflow) if row.status == RUNNING else []
    wanted = {(t.task_id, t.due_at.isoformat()): t for t in waiting}
    current = {tuple(entry) for entry in snapshot["timers"]}
    gone = [delete(WaitingTimer).where(
        WaitingTimer.instance_id == row.id, WaitingTimer.task_id == task_id,
        WaitingTimer.due_at == datetime.fromisoformat(due)) for task_id, due in sorted(current - wanted.keys())]
    for key in sorted(wanted.keys() - current):
        t = wanted[key]
        session.add(WaitingTimer(
            instance_id=row.id, process_key=row.process_key, business_key=row.business_key, task_id=t.task_id,
            element_id=t.element_id, name=t.name, kind=t.kind, due_at=t.due_at,
        ))
    snapshot["timers"] = sorted([list(k) for k in wanted])
    row.next_timer_at = min((t.due_at for t in waiting), default=None)
    return gone


def _sync_message_waits(step: Step, snapshot: dict) -> list:
    row, session = step.row, step.session
    wanted = set(engine.waiting_messages(step.workflow)) if row.status == RUNNING else set()
    current = {tuple(entry) for entry in snapshot["waits"]}
    gone = [delete(MessageWait).where(
        MessageWait.instance_id == row.id, MessageWait.name == name, MessageWait.element_id == element_id)
        for name, element_id in sorted(current - wanted)]
    for name, element_id in sorted(wanted - current):
        session.add(MessageWait(instance_id=row.id, name=name, element_id=element_id, business_key=row.business_key))
    snapshot["waits"] = sorted([list(k) for k in wanted])
    return gone


def instances_for_business_key(session: Session, business_key: str) -> list[Instance]:
    return list(session.scalars(select(Instance).where(Instance.business_key == business_key)))
