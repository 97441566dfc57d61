"""One step of one case, persisted: the one commit path every change of an instance goes through.

Start, task completion, timer, message, notice failure, migration: each opens a unit of work,
`load`s (or `create`s) the instance, lets the engine `act`, and `commit`s. `load` refuses an
instance that is not running; `commit` writes the engine state (without the spec), refreshes the
indexed tables (open tasks, waiting timers, message waits) and checks the optimistic lock, hands
on what the instance threw (to other instances, or to the handlers of messages that leave the
building, as wired in services/bootstrap.py), and writes the step's audit rows — all in the
caller's transaction, so a step and everything it caused commit together or not at all.

A timer step that keeps failing becomes an incident (`fail`): the instance stops, nothing of it is
left in any queue, and an operator can `resume` it after a fix.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from .. import clock
from ..engine import workflow as engine
from ..engine.parser import SpecBundle
from ..store.db import Database
from ..store.models import AuditEntry, Instance, MessageWait, OpenTask, WaitingTimer
from . import assignment, jobs
from .access import Actor
from .context import CONFLICT_MESSAGE, Orchestrator
from .errors import Conflict, NotFound, ServiceError, StepFailed

RUNNING, COMPLETED, TERMINATED, ERROR = "running", "completed", "terminated", "error"
NO_DUE_DATE = datetime(9999, 12, 31, tzinfo=timezone.utc)  # sorts tasks without a due date last
MAX_DEPTH = 10  # messages passed on from instance to instance within one step
EMPTY_INDEX = {"tasks": [], "timers": [], "waits": []}
NOT_RUNNING = {
    COMPLETED: "Saken er avsluttet; den kan ikke endres lenger.",
    TERMINATED: "Saken er stoppet; den kan ikke endres lenger.",
    ERROR: ("Saken har stoppet på en feil (se saken). Den kan ikke gå videre før feilen er rettet og saken "
            "er startet igjen av en leder eller prosesseier."),
}


@dataclass
class Step:
    """An instance loaded for change within a unit of work."""

    ctx: Orchestrator
    session: Session
    row: Instance
    bundle: SpecBundle
    workflow: object
    actor: Actor
    depth: int = 0  # how many instances passed a message on to reach this one
    outgoing: list = field(default_factory=list)
    audits: list = field(default_factory=list)

    def audit(self, action: str, task_id=None, element_id=None, element_name=None, data=None) -> None:
        """Recorded when the step commits (one statement for all of a step's rows)."""
        self.audits.append(audit_row(self.row.id, self.actor, action, task_id, element_id, element_name, data))


def audit_row(instance_id: int | None, actor: Actor, action: str, task_id=None, element_id=None,
              element_name=None, data=None) -> dict:
    """One row of the audit log, as `insert(AuditEntry)` takes it."""
    return {"instance_id": instance_id, "at": clock.now(), "actor": actor.username, "action": action,
            "task_id": task_id, "element_id": element_id, "element_name": element_name, "data": data}


def load(ctx: Orchestrator, session: Session, instance_id: int, actor: Actor, depth: int = 0,
         running: bool = True) -> Step:
    """The instance, ready to change; a Conflict if it is not running (unless `running=False`)."""
    row = session.get(Instance, instance_id)
    if row is None:
        raise NotFound(f"instans {instance_id} finnes ikke")
    if running and row.status != RUNNING:
        raise Conflict(NOT_RUNNING.get(row.status, f"Saken har status «{row.status}»."))
    bundle = ctx.specs.bundle(session, row.process_key, row.pins)
    workflow = ctx.instances.take(row.id, row.lock_version, bundle) or engine.load(row.state, bundle)
    return Step(ctx, session, row, bundle, workflow, actor, depth)


def create(ctx: Orchestrator, session: Session, key: str, business_key: str | None, data: dict,
           actor: Actor, message: str | None = None, depth: int = 0) -> Step:
    """A new instance, started, not yet kept (call `commit`)."""
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
        indexed=dict(EMPTY_INDEX), timer_attempts=0,
    )
    session.add(row)
    session.flush()
    step = Step(ctx, session, row, bundle, workflow, actor, depth)
    step.audit("started", data={"business_key": business_key, "message": message, "data": data or None})
    return step


def act(step: Step, action, *args) -> None:
    """Run an engine action, turning its failures into a StepFailed for the user."""
    try:
        action(step.workflow, *args)
    except engine.EngineError as error:
        raise StepFailed(f"Steget kunne ikke kjøres: {error}") from error


def commit(step: Step) -> list:
    """Keep the step: save and index it, pass on what it threw, write its audit rows.

    Returns the deliveries of the messages it passed on to other instances.
    """
    _save(step)
    deliveries = _pass_on(step)
    _write_audit(step)
    return deliveries


def _pass_on(step: Step) -> list:
    """What the instance threw, as the instance (same business key), in this transaction."""
    if step.outgoing and step.depth >= MAX_DEPTH:
        raise ServiceError(f"meldingen «{step.outgoing[0].name}» går i ring mellom instanser "
                           f"(mer enn {MAX_DEPTH} ledd)")
    deliveries = []
    outgoing, step.outgoing = step.outgoing, []
    for message in outgoing:
        handler = step.ctx.outbound.get(message.name)
        if handler is not None:
            # what leaves the building is recorded by its handler (the outbox keeps the e-mail);
            # the audit log keeps only that it was sent, not agendas, addresses or decisions again
            step.audit("message_sent", data={"message": message.name})
            handler(step, message.payload)
            continue
        step.audit("message_sent", data={"message": message.name, "data": message.payload or None})
        deliveries += step.ctx.route(step, message)
    return deliveries


def _write_audit(step: Step) -> None:
    if step.audits:
        step.session.execute(insert(AuditEntry), step.audits)
        step.audits = []


def _save(step: Step) -> None:
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
        row.timer_attempts, row.error = 0, None  # a step that saves is a step that worked
    _flush_instance_first(step.session)
    for statement in gone:
        step.session.execute(statement)
    if row.next_timer_at is not None and (previous_timer is None or row.next_timer_at < previous_timer):
        jobs.wake(step.ctx, step.session, row.next_timer_at)
    version, bundle = row.lock_version, step.bundle
    Database.after_commit(step.session, lambda: step.ctx.instances.keep(row.id, version, bundle, workflow))


def _flush_instance_first(session: Session) -> None:
    """Lock order: the instance row first (its UPDATE checks the version), then its child rows. A
    claim takes the same order, so two steps on one case queue on the instance, never deadlock."""
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(CONFLICT_MESSAGE) from None


def fail(ctx: Orchestrator, session: Session, instance_id: int, message: str, actor: Actor) -> Instance | None:
    """Make the instance an incident: stopped with `message`, nothing of it left in any queue.

    Runs in a unit of work of its own after the failing step was rolled back, so the stored state
    is the one before that step, and `resume` can take it up again.
    """
    row = session.get(Instance, instance_id)
    if row is None or row.status != RUNNING:
        return row
    row.status, row.error, row.updated_at = ERROR, message, clock.now()
    row.next_timer_at = row.timer_lease_owner = row.timer_lease_until = None
    row.indexed = dict(EMPTY_INDEX)
    _flush_instance_first(session)
    for table in (OpenTask, WaitingTimer, MessageWait):
        session.execute(delete(table).where(table.instance_id == instance_id))
    session.execute(insert(AuditEntry), [audit_row(instance_id, actor, "incident", data={"feil": message})])
    return row


def resume(ctx: Orchestrator, session: Session, instance_id: int, actor: Actor) -> Step:
    """Take an incident up again: running, its tasks, timers and message waits back in their queues
    (a timer that is due fires at once, and is counted from the first attempt again)."""
    step = load(ctx, session, instance_id, actor, running=False)
    if step.row.status != ERROR:
        raise Conflict("Bare saker som har stoppet på en feil kan startes igjen.")
    step.row.status = RUNNING
    step.audit("incident_resolved", data={"feil": step.row.error})
    commit(step)
    return step


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
