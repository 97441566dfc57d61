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

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from .. import clock
from ..engine import workflow as engine
from ..engine.parser import SpecBundle
from ..store.db import Database
from ..store.models import AuditEntry, Instance, MessageWait, OpenTask, WaitingTimer
from . import assignment, jobs, wording
from .access import Actor
from .context import CONFLICT_MESSAGE, Orchestrator
from .errors import Conflict, NotFound, ServiceError, StepFailed

RUNNING, COMPLETED, TERMINATED, ERROR = "running", "completed", "terminated", "error"
NO_DUE_DATE = datetime(9999, 12, 31, tzinfo=timezone.utc)  # sorts tasks without a due date last
MAX_DEPTH = 10  # messages passed on from instance to instance within one step
EMPTY_INDEX = {"tasks": [], "timers": [], "waits": []}
NOT_RUNNING = {
    COMPLETED: "Saken er fullført; den kan ikke endres lenger.",
    TERMINATED: "Saken er avbrutt; den kan ikke endres lenger.",
    ERROR: ("Saken har stoppet på en feil (se saken). Den kan ikke gå videre før feilen er rettet og saken "
            "er startet igjen av en leder eller prosesseier."),
}


# Every column but the engine state: what a step needs to know before it knows whether the cached
# workflow is current (then the state, the largest column by far, is never read).
_COLUMNS = tuple(c for c in Instance.__table__.c if c.key != "state")
_TABLE = Instance.__table__
# the tables themselves (Core): statements on the ORM classes would go through the ORM's bulk paths
_TASKS, _TIMERS, _WAITS, _AUDIT = (m.__table__ for m in (OpenTask, WaitingTimer, MessageWait, AuditEntry))


@dataclass
class InstanceRow:
    """An instance's columns as a step reads and writes them (SQLAlchemy Core, not the ORM: the hot path)."""

    id: int | None
    process_key: str
    process_version: int
    pins: dict
    business_key: str | None
    status: str
    error: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    started_by: str | None
    next_timer_at: datetime | None
    timer_lease_owner: str | None
    timer_lease_until: datetime | None
    timer_attempts: int
    trail: dict | None
    indexed: dict | None
    lock_version: int


# The hot path's statements are built once (building one costs more in Python than SQLite takes to
# run it); the values are bound per call.
_READ = select(*_COLUMNS).where(_TABLE.c.id == bindparam("id"))
_READ_STATE = select(_TABLE.c.state, _TABLE.c.lock_version).where(_TABLE.c.id == bindparam("id"))
_WRITTEN = ("status", "completed_at", "updated_at", "trail", "indexed", "next_timer_at", "timer_lease_owner",
            "timer_lease_until", "timer_attempts", "error", "state")
_UPDATE = (update(_TABLE).where(_TABLE.c.id == bindparam("row_id"), _TABLE.c.lock_version == bindparam("read_version"))
           .values({**{name: bindparam(name) for name in _WRITTEN}, "lock_version": bindparam("new_version")}))
_REPINNED = ("process_version", "pins")  # written too when a migration moved the instance (`repin`)
_UPDATE_REPINNED = (update(_TABLE)
                    .where(_TABLE.c.id == bindparam("row_id"), _TABLE.c.lock_version == bindparam("read_version"))
                    .values({**{name: bindparam(name) for name in _WRITTEN + _REPINNED},
                             "lock_version": bindparam("new_version")}))
_INSERT = insert(_TABLE).returning(_TABLE.c.id)
_INSERT_AUDIT = insert(_AUDIT)


def read_instance(session: Session, instance_id: int) -> InstanceRow | None:
    found = session.execute(_READ, {"id": instance_id}).first()
    return InstanceRow(**found._mapping) if found is not None else None


def instance_columns(prefix: str = "instance__") -> list:
    """The instance's columns (but its state) for a caller's own statement, e.g. joined to a task."""
    return [c.label(prefix + c.key) for c in _COLUMNS]


def instance_from(mapping, prefix: str = "instance__") -> InstanceRow:
    return InstanceRow(**{c.key: mapping[prefix + c.key] for c in _COLUMNS})


@dataclass
class Step:
    """An instance loaded for change within a unit of work."""

    ctx: Orchestrator
    session: Session
    row: InstanceRow
    bundle: SpecBundle
    workflow: object
    actor: Actor
    depth: int = 0  # how many instances passed a message on to reach this one
    outgoing: list = field(default_factory=list)
    audits: list = field(default_factory=list)
    opened: list = field(default_factory=list)  # the task rows this step opened (the "next tasks")
    repinned: bool = False  # moved to other versions (services/migration.py): pins and rows are rewritten

    def audit(self, action: str, task_id=None, element_id=None, element_name=None, data=None) -> None:
        """Recorded when the step commits (one statement for all of a step's rows)."""
        self.audits.append(audit_row(self.row.id, self.actor, action, task_id, element_id, element_name, data))


def audit_row(instance_id: int | None, actor: Actor, action: str, task_id=None, element_id=None,
              element_name=None, data=None) -> dict:
    """One row of the audit log, as `insert(AuditEntry)` takes it."""
    return {"instance_id": instance_id, "at": clock.now(), "actor": actor.username, "action": action,
            "task_id": task_id, "element_id": element_id, "element_name": element_name, "data": data}


def load(ctx: Orchestrator, session: Session, instance_id: int, actor: Actor, depth: int = 0,
         running: bool = True, row: InstanceRow | None = None) -> Step:
    """The instance, ready to change; a Conflict if it is not running (unless `running=False`).

    `row` is the instance as the caller already read it (in the same statement as its task).
    """
    row = row or read_instance(session, instance_id)
    if row is None:
        raise NotFound(f"instans {instance_id} finnes ikke")
    if running and row.status != RUNNING:
        raise Conflict(NOT_RUNNING.get(row.status, wording.status_sentence(row.status)))
    bundle = ctx.specs.bundle(session, row.process_key, row.pins)
    workflow = ctx.instances.take(row.id, row.lock_version, bundle)
    if workflow is None:
        stored = session.execute(_READ_STATE, {"id": row.id}).one()
        if stored.lock_version != row.lock_version:  # changed since the row was read: the step lost a race
            raise Conflict(CONFLICT_MESSAGE)
        workflow = engine.load(stored.state, bundle)
    return Step(ctx, session, row, bundle, workflow, actor, depth)


def create(ctx: Orchestrator, session: Session, key: str, business_key: str | None, data: dict,
           actor: Actor, message: str | None = None, depth: int = 0, pins: dict | None = None) -> Step:
    """A new instance, started, not yet kept (`commit` inserts it). `pins`: as the caller resolved them."""
    pins = pins or ctx.specs.pins_for(session, key)
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
    row = InstanceRow(
        id=None, process_key=key, process_version=pins[key], pins=pins, business_key=business_key,
        status=RUNNING, error=None, created_at=now, updated_at=now, completed_at=None, started_by=actor.username,
        next_timer_at=None, timer_lease_owner=None, timer_lease_until=None, timer_attempts=0, trail=None,
        indexed=dict(EMPTY_INDEX), lock_version=0,
    )
    step = Step(ctx, session, row, bundle, workflow, actor, depth)
    step.audit("started", data={"business_key": business_key, "message": message, "data": data or None})
    return step


def repin(step: Step, bundle: SpecBundle) -> None:
    """Put the step's instance on the versions of `bundle` (a migration). `commit` then writes its pins
    and version and what the new version calls each open task, timer and wait; the task rows are kept
    (same engine task ids), so assignees, claims and due dates stay."""
    step.bundle, step.repinned = bundle, True
    step.row.pins, step.row.process_version = dict(bundle.pins), bundle.pins[step.row.process_key]


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
        for entry in step.audits:  # a new instance's first rows were written before it had an id
            entry["instance_id"] = step.row.id
        step.session.execute(_INSERT_AUDIT, step.audits)
        step.audits = []


def _save(step: Step) -> None:
    """Persist the engine state and refresh everything indexed from it.

    SQLAlchemy Core, a statement per table: the instance (its versioned UPDATE first: decision 0001's
    lock order), then the tasks, timers and message waits that changed.
    """
    row, workflow, now = step.row, step.workflow, clock.now()
    # take what the step threw before dumping, so it is sent once and not stored to be sent again
    step.outgoing.extend(engine.outgoing_messages(workflow))
    row.trail = engine.extend_trail(row.trail, workflow)
    engine.compact(workflow)
    state = engine.dump(workflow)
    act(step, engine.check_state_size, state)
    row.updated_at = now
    if workflow.completed and row.status == RUNNING:
        row.status, row.completed_at = COMPLETED, now
        step.audit("completed")
    previous_timer = row.next_timer_at
    snapshot = _snapshot(step)
    renamed = _renamed(step, snapshot) if step.repinned else []
    tasks = _sync_tasks(step, now, snapshot)
    timers = _sync_timers(step, snapshot)
    waits = _sync_message_waits(step, snapshot)
    row.indexed = snapshot
    row.timer_lease_owner = row.timer_lease_until = None
    row.timer_attempts, row.error = 0, None  # a step that saves is a step that worked
    new = row.id is None
    _write_instance(step, state)
    for statement, parameters in (*renamed, *tasks, *timers, *waits):
        if new:  # the rows of a new instance learn its id now
            for values in parameters or ():
                values["instance_id"] = row.id
        step.session.execute(statement, parameters)
    if row.next_timer_at is not None and (previous_timer is None or row.next_timer_at < previous_timer):
        jobs.wake(step.ctx, step.session, row.next_timer_at)
    version, bundle = row.lock_version, step.bundle
    Database.after_commit(step.session, lambda: step.ctx.instances.keep(row.id, version, bundle, workflow))


def _write_instance(step: Step, state: str) -> None:
    """INSERT a new instance, or UPDATE it if its version is still the one the step read (else a Conflict)."""
    row, session = step.row, step.session
    if row.id is None:
        inserted = {k: v for k, v in vars(row).items() if k != "id"}
        row.lock_version = inserted["lock_version"] = 1
        row.id = session.execute(_INSERT, {**inserted, "state": state}).scalar_one()
        return
    written, statement = (_WRITTEN + _REPINNED, _UPDATE_REPINNED) if step.repinned else (_WRITTEN, _UPDATE)
    values = {name: getattr(row, name) for name in written if name != "state"}
    done = session.execute(statement, {**values, "state": state, "row_id": row.id, "read_version": row.lock_version,
                                       "new_version": row.lock_version + 1})
    if done.rowcount != 1:
        raise Conflict(CONFLICT_MESSAGE)
    row.lock_version += 1


def fail(ctx: Orchestrator, session: Session, instance_id: int, message: str, actor: Actor) -> InstanceRow | None:
    """Make the instance an incident: stopped with `message`, nothing of it left in any queue.

    Runs in a unit of work of its own after the failing step was rolled back, so the stored state
    is the one before that step, and `resume` can take it up again.
    """
    row = read_instance(session, instance_id)
    if row is None or row.status != RUNNING:
        return row
    done = session.execute(
        update(_TABLE).where(_TABLE.c.id == instance_id, _TABLE.c.lock_version == row.lock_version)
        .values(status=ERROR, error=message, updated_at=clock.now(), next_timer_at=None, timer_lease_owner=None,
                timer_lease_until=None, indexed=dict(EMPTY_INDEX), lock_version=row.lock_version + 1))
    if done.rowcount != 1:
        raise Conflict(CONFLICT_MESSAGE)
    for table in (_TASKS, _TIMERS, _WAITS):  # after the instance row: the lock order
        session.execute(delete(table).where(table.c.instance_id == instance_id))
    session.execute(_INSERT_AUDIT, [audit_row(instance_id, actor, "incident", data={"feil": message})])
    row.status, row.error = ERROR, message
    return row


def terminate(step: Step, reason: str) -> None:
    """End the instance for good (`terminated`), the reason kept in its audit; through `commit`, so
    nothing of it is left in any queue. For a running instance or an incident (`load(running=False)`)."""
    if step.row.status not in (RUNNING, ERROR):
        return
    step.row.status, step.row.completed_at = TERMINATED, clock.now()
    step.audit("terminated", data={"grunn": reason})
    commit(step)


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
    """The statements that bring the open tasks in line with the engine (run after the instance's).

    A task that closes and one that opens in the same step share one UPDATE: the closed task's row
    becomes the opened task's (one statement instead of a DELETE and an INSERT).
    """
    row = step.row
    ready = {t.id: t for t in engine.human_tasks(step.workflow, step.bundle)} if row.status == RUNNING else {}
    current = set(snapshot["tasks"])
    closed = sorted(current - ready.keys())
    opened = []
    for task_id in sorted(ready.keys() - current):
        task = ready[task_id]
        due = _due(step, task)
        opened.append({
            "id": task_id, "instance_id": row.id, "process_key": row.process_key, "business_key": row.business_key,
            "element_id": task.element_id, "name": task.name, "role": task.role,
            "assignee": assignment.assignee_for(step, task), "form_key": task.form_key, "created_at": now,
            "due_at": due, "due_sort": due or NO_DUE_DATE, "claimed_at": None, "called_process": task.called_process,
        })
        step.audit("task_opened", task_id=task_id, element_id=task.element_id, element_name=task.name,
                   data={"role": task.role})
    snapshot["tasks"] = sorted(ready)
    step.opened = opened
    recycled = [{**task, "old_id": old} for old, task in zip(closed, opened)]
    statements = []
    if recycled:
        statements.append((_RECYCLE_TASK, recycled))
    if len(opened) > len(closed):
        statements.append((insert(_TASKS), opened[len(closed):]))
    if len(closed) > len(opened):
        statements.append((delete(_TASKS).where(_TASKS.c.id.in_(closed[len(opened):])), None))
    return statements


def _renamed(step: Step, snapshot: dict) -> list:
    """After a migration: the kept task rows say what the new version calls their element (id, name,
    role, form), keeping assignee, claim and due date; the timer rows are written anew."""
    row, statements = step.row, []
    kept = [t for t in engine.human_tasks(step.workflow, step.bundle) if t.id in set(snapshot["tasks"])]
    if kept:
        statements.append((_RENAME_TASK, [{"old_id": t.id, "element_id": t.element_id, "name": t.name,
                                           "role": t.role, "form_key": t.form_key,
                                           "called_process": t.called_process} for t in kept]))
    if snapshot["timers"]:
        statements.append((delete(_TIMERS).where(_TIMERS.c.instance_id == row.id), None))
        snapshot["timers"] = []
    return statements


_RENAME_TASK = (update(_TASKS).where(_TASKS.c.id == bindparam("old_id"))
                .values({k: bindparam(k) for k in ("element_id", "name", "role", "form_key", "called_process")}))
_RECYCLE_TASK = (update(_TASKS).where(_TASKS.c.id == bindparam("old_id"))
                 .values({c.key: bindparam(c.key) for c in _TASKS.c}))


def _due(step: Step, task) -> datetime | None:
    if task.due_expression:
        try:
            return engine.evaluate_due(step.workflow, task.id, task.due_expression)
        except engine.EngineError as error:
            raise StepFailed(f"Fristen for «{task.name}» kunne ikke beregnes: {error}") from error
    return task.boundary_due


def _sync_timers(step: Step, snapshot: dict) -> list:
    row = step.row
    waiting = engine.timers(step.workflow) if row.status == RUNNING else []
    wanted = {(t.task_id, t.due_at.isoformat()): t for t in waiting}
    current = {tuple(entry) for entry in snapshot["timers"]}
    snapshot["timers"] = sorted([list(k) for k in wanted])
    row.next_timer_at = min((t.due_at for t in waiting), default=None)
    statements = []
    gone = sorted({task_id for task_id, _ in current - wanted.keys()})
    if gone:  # a timer whose due time moved is deleted here and inserted again below
        statements.append((delete(_TIMERS).where(_TIMERS.c.instance_id == row.id, _TIMERS.c.task_id.in_(gone)),
                           None))
    added = [wanted[key] for key in sorted(wanted.keys() - current)]
    if added:
        statements.append((insert(_TIMERS), [
            {"instance_id": row.id, "process_key": row.process_key, "business_key": row.business_key,
             "task_id": t.task_id, "element_id": t.element_id, "name": t.name, "kind": t.kind, "due_at": t.due_at}
            for t in added]))
    return statements


def _sync_message_waits(step: Step, snapshot: dict) -> list:
    row = step.row
    wanted = set(engine.waiting_messages(step.workflow)) if row.status == RUNNING else set()
    current = {tuple(entry) for entry in snapshot["waits"]}
    snapshot["waits"] = sorted([list(k) for k in wanted])
    statements = [(delete(_WAITS).where(_WAITS.c.instance_id == row.id, _WAITS.c.name == name,
                                        _WAITS.c.element_id == element_id), None)
                  for name, element_id in sorted(current - wanted)]
    added = sorted(wanted - current)
    if added:
        statements.append((insert(_WAITS), [
            {"instance_id": row.id, "name": name, "element_id": element_id, "business_key": row.business_key}
            for name, element_id in added]))
    return statements
