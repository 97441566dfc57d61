"""Human tasks: the lists, claiming, and completing one with its form. This is where a task is done."""
from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from datetime import datetime

from sqlalchemy import and_, bindparam, column, func, insert, select, true, union_all, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import flag_modified

from .. import clock
from ..engine import workflow as engine
from ..forms.model import FormDefinition
from ..store.models import AuditEntry, Instance, OpenTask
from . import casedata, rules, runtime, tilgangslogg, wording
from .access import Actor
from .context import Orchestrator
from .errors import Conflict, Forbidden, Invalid, NotFound
from .paging import Page


@dataclass
class TaskView:
    id: str
    instance_id: int
    process_key: str
    business_key: str | None
    element_id: str
    name: str | None
    role: str | None
    assignee: str | None
    form_key: str | None
    created_at: datetime
    due_at: datetime | None
    overdue: bool
    claimed_at: datetime | None  # set when someone took it; None when assigned by a rule
    called_process: str | None  # the called process it is in (call activity); None: the instance's own

    @property
    def claimed_by(self) -> str | None:
        """Who took it from the queue (None: nobody, or assigned by a rule)."""
        return self.assignee if self.claimed_at is not None else None


@dataclass
class TaskDetail(TaskView):
    form: FormDefinition | None
    data: dict
    documentation: str | None
    process_name: str | None
    case_data: list = field(default_factory=list)  # casedata.Item: what earlier steps collected


@dataclass
class Completed:
    task_id: str
    instance_id: int
    instance_status: str
    next_tasks: list[TaskView]
    continues_with: TaskView | None = None  # the task the person goes on with (theirs now), if any


def list_tasks(ctx: Orchestrator, actor: Actor, scope: str = "roles", page: int = 1, per_page: int = 50,
               instance_id: int | None = None, business_key: str | None = None,
               process_key: str | None = None) -> Page:
    """`mine`: assigned to me. `roles`: unassigned in my roles' queues, plus mine.

    `all`: every open task, for those who read all instances (managers, koordinerende enhet).
    Narrowed to one instance, one case (business key) or one process (the instance's process, or the
    called process a task is in); the filters only narrow what the scope already shows.
    """
    if scope not in ("mine", "roles", "all"):
        raise Invalid("Ukjent utvalg", {"scope": ["Bruk «mine», «roles» eller «all»."]})
    if scope == "all" and not actor.reads_all_instances:
        raise Forbidden("Alle åpne oppgaver vises bare for ledere med innsyn og koordinerende enhet.")
    page, per_page = max(1, page), min(max(1, per_page), 200)
    with ctx.db.read() as session:
        queues = _queues(actor, scope, _narrowed(instance_id, business_key, process_key))
        total = sum(session.scalar(select(func.count()).select_from(OpenTask).where(q)) or 0 for q in queues)
        page_ids = _page_ids(session, queues, page, per_page)
        found = {t.id: t for t in session.scalars(select(OpenTask).where(OpenTask.id.in_(page_ids)))}
        now = clock.now()
        return Page([_view(found[i], now) for i in page_ids if i in found], total, page, per_page)


ORDER = (OpenTask.due_sort, OpenTask.created_at, OpenTask.id)


def _page_ids(session, queues: list, page: int, per_page: int) -> list[str]:
    """The ids on one page of the merged queues, in due order, never sorting a whole queue.

    SQLite merges the queues' index ranges itself when the ORDER BY is on the UNION ALL (its plan
    says MERGE (UNION ALL)). PostgreSQL 15 sorts such a union instead, unless each queue is limited
    to as far as the page reaches: then each arm is an ordered index range and the plan is a Merge
    Append. Measured in `make bench` (task list at 100,000 open tasks).
    """
    offset, reach = (page - 1) * per_page, page * per_page
    arms = [select(*ORDER).where(q) for q in queues]
    if len(arms) > 1 and session.get_bind().dialect.name != "sqlite":
        arms = [arm.order_by(*ORDER).limit(reach) for arm in arms]
    merged = arms[0] if len(arms) == 1 else union_all(*arms)
    ordered = merged.order_by(*(column(name) for name in ("due_sort", "created_at", "id")))
    return [row[2] for row in session.execute(ordered.offset(offset).limit(per_page))]


def _narrowed(instance_id: int | None, business_key: str | None, process_key: str | None):
    """The filters as one condition (None: no filter)."""
    conditions = []
    if instance_id is not None:
        conditions.append(OpenTask.instance_id == instance_id)
    if business_key:
        conditions.append(OpenTask.business_key == business_key)
    if process_key:
        conditions.append((OpenTask.process_key == process_key) | (OpenTask.called_process == process_key))
    return and_(*conditions) if conditions else None


def _queues(actor: Actor, scope: str, narrowed) -> list:
    """Disjoint conditions, each an index range: a person's own tasks, and each role's unassigned queue."""
    if scope == "all" or actor.system:
        queues = [true()]
    else:
        queues = [OpenTask.assignee == actor.username]
        if scope == "roles":
            queues += [(OpenTask.role == role) & OpenTask.assignee.is_(None) for role in sorted(actor.roles)]
            if actor.is_staff:
                queues.append(OpenTask.role.is_(None) & OpenTask.assignee.is_(None))
    if narrowed is not None:
        queues = [q & narrowed for q in queues]
    return queues


def get(ctx: Orchestrator, task_id: str, actor: Actor, *, logged_as: str | None = tilgangslogg.OPPGAVE) -> TaskDetail:
    """One task with its form and data; the read is logged as `logged_as` (None only where the caller shows
    none of its data: the form's visibility check answers field names)."""
    detail = _detail(ctx, task_id, actor)
    if logged_as is not None:
        tilgangslogg.record(ctx, actor, logged_as, detail.business_key, detail.instance_id)
    return detail


def _detail(ctx: Orchestrator, task_id: str, actor: Actor) -> TaskDetail:
    with ctx.db.read() as session:
        row = _with_instance(session, task_id)
        if row is None:
            raise NotFound("oppgaven finnes ikke eller er allerede fullført")
        if not (actor.reads_all_instances or may_do(actor, row)):
            raise NotFound("oppgaven finnes ikke eller er ikke synlig for deg")
        instance = row.instance
        bundle = ctx.specs.bundle(session, instance.process_key, instance.pins)
        workflow = engine.load(instance.state, bundle)
        form = ctx.specs.form_for(session, instance.pins, row.form_key) if row.form_key else None
        info = next((t for t in engine.human_tasks(workflow, bundle) if t.id == task_id), None)
        if info is None:  # the task row and the state are read together, so only a broken state lands here
            raise Conflict("Oppgaven er ikke lenger åpen i saken; last listen på nytt.")
        data = deepcopy(engine.task_data(workflow, task_id))
        earlier = casedata.for_case(ctx.specs, session, instance.id, instance.pins, bundle, data,
                                    leave_out=casedata.keys_of(form) if form else ())
        return TaskDetail(
            **vars(_view(row, clock.now())), form=form, data=data,
            documentation=info.documentation, process_name=bundle.spec.description, case_data=earlier,
        )


def claim(ctx: Orchestrator, task_id: str, actor: Actor) -> TaskView:
    with ctx.write() as session:
        row = _open_task(session, task_id, actor)
        _authorise(actor, row)
        if row.assignee not in (None, actor.username):
            raise Conflict(f"Oppgaven er allerede tatt av {row.assignee}.")
        if row.assignee is None:
            row.assignee, row.claimed_at = actor.username, clock.now()
            _touch(row.instance)
            session.add(AuditEntry(instance_id=row.instance_id, at=clock.now(), actor=actor.username,
                                   action="task_claimed", task_id=row.id, element_id=row.element_id,
                                   element_name=row.name))
        return _view(row, clock.now())


def release(ctx: Orchestrator, task_id: str, actor: Actor) -> TaskView:
    """Put a claimed task back in its role's queue."""
    with ctx.write() as session:
        row = _open_task(session, task_id, actor)
        if row.assignee != actor.username or row.claimed_at is None:
            raise Forbidden("Du kan bare legge tilbake oppgaver du selv har tatt.")
        row.assignee, row.claimed_at = None, None
        _touch(row.instance)
        session.add(AuditEntry(instance_id=row.instance_id, at=clock.now(), actor=actor.username,
                               action="task_released", task_id=row.id, element_id=row.element_id,
                               element_name=row.name))
        return _view(row, clock.now())


def complete(ctx: Orchestrator, task_id: str, data: dict | None, actor: Actor) -> Completed:
    with ctx.write("task.complete") as session:
        row, instance = _task_and_instance(session, task_id)
        if row is None:
            _open_task(session, task_id, actor)  # says why: completed (by whom), the case stopped, or not found
        _authorise(actor, row)
        if row.assignee not in (None, actor.username) and row.claimed_at is not None and not actor.system:
            raise Conflict(f"Oppgaven er tatt av {row.assignee}.")  # the system (demo, tests) acts for anyone
        step = runtime.load(ctx, session, row.instance_id, actor, row=instance)
        if not engine.is_ready(step.workflow, task_id):
            raise Conflict("Oppgaven er ikke lenger åpen i saken (fullført eller endret samtidig); last listen på nytt.")
        current = engine.task_data(step.workflow, task_id)
        form = ctx.specs.form_for(session, step.row.pins, row.form_key) if row.form_key else None
        cleaned, errors = _validated(form, data, current)
        rules.check_submission(ctx, session, step, row, form, cleaned, actor, errors)
        runtime.act(step, engine.complete, task_id, _deep_merge(current, cleaned))
        step.audit("task_completed", task_id=task_id, element_id=row.element_id, element_name=row.name,
                   data=cleaned or None)
        deliveries = runtime.commit(step)
        nxt = following(session, step, actor, reached=[d.instance_id for d in deliveries])
        return Completed(task_id, step.row.id, step.row.status, *continue_with(session, actor, nxt))


def following(session, step: runtime.Step, actor: Actor, reached=()) -> list[TaskView]:
    """The case's open tasks `actor` may do now, from what the step knows: the tasks it opened, and
    (only when others stayed open, e.g. parallel tasks) those rows, read by their ids; then those of
    the case's other instances the step's messages reached (`reached`, same business key)."""
    now = clock.now()
    opened = {t["id"] for t in step.opened}
    stayed = [i for i in step.row.indexed["tasks"] if i not in opened]
    rows = list(session.execute(select(_TASKS).where(_TASKS.c.id.in_(stayed)))) if stayed else []
    # a task row the step just wrote, read like one from the table
    found = sorted([*rows, *(SimpleNamespace(**t) for t in step.opened)], key=lambda t: (t.created_at, t.id))
    others = sorted({i for i in reached if i != step.row.id})
    if others and step.row.business_key is not None:
        found += session.execute(select(_TASKS).where(_TASKS.c.instance_id.in_(others),
                                                      _TASKS.c.business_key == step.row.business_key)
                                 .order_by(_TASKS.c.created_at, _TASKS.c.id)).all()
    return [_view(t, now) for t in found if may_act_now(actor, t)]


def continue_with(session, actor: Actor, nxt: list[TaskView], claim: bool = True) -> tuple[list[TaskView], TaskView | None]:
    """One round per step: the task `actor` goes on with in the same case, if there is one.

    Either it is already theirs (assigned by rule, or claimed), or it waits in a queue of a role they
    have (`following` holds only tasks they may do): then it is claimed for them in this same transaction (audited as an automatic claim), so
    nobody needs to click «Ta oppgaven»; they can put it back. Never for the system or the timer.
    `claim=False` (a start through the API: a client may start many cases) only says where to go on.
    Returns the next tasks (the claimed one as it is now) and the one to go on with.
    """
    if actor.system:
        return nxt, None
    for index, task in enumerate(nxt):
        if task.assignee == actor.username or not claim:
            return nxt, task
        if task.assignee is None:  # `following` holds only tasks the actor may do: their role's (or any staff's)
            now = clock.now()
            done = session.execute(update(_TASKS).where(_TASKS.c.id == task.id, _TASKS.c.assignee.is_(None))
                                   .values(assignee=actor.username, claimed_at=now))
            if done.rowcount != 1:
                continue
            session.execute(insert(AuditEntry.__table__), [runtime.audit_row(
                task.instance_id, actor, "task_claimed", task.id, task.element_id, task.name, {"automatisk": True})])
            claimed = replace(task, assignee=actor.username, claimed_at=now)
            return [*nxt[:index], claimed, *nxt[index + 1:]], claimed
    return nxt, None


_TASKS = OpenTask.__table__
_TASK_AND_INSTANCE = (select(_TASKS, *runtime.instance_columns())
                      .join(Instance.__table__, Instance.__table__.c.id == _TASKS.c.instance_id)
                      .where(_TASKS.c.id == bindparam("task_id")))  # built once: the hot path


def _task_and_instance(session, task_id: str):
    """The task row and its instance's columns in one statement: one snapshot, so the engine state
    read for it is the one that holds this task open (two reads could straddle another's commit)."""
    found = session.execute(_TASK_AND_INSTANCE, {"task_id": task_id}).first()
    return (found, runtime.instance_from(found._mapping)) if found is not None else (None, None)


def _validated(form: FormDefinition | None, data, current: dict) -> tuple[dict, dict]:
    """What passed the form and the form's errors; the rules check the rest before anything is refused."""
    if form is None:
        if data:
            raise Invalid("Oppgaven har ikke noe skjema og tar ikke imot data.",
                          {"_schema": ["Send tomt data for å bekrefte at oppgaven er utført."]})
        return {}, {}
    return rules.validated(form, data or {}, current)


def _deep_merge(current: dict, submitted: dict) -> dict:
    """Only the submitted keys; dicts (a group's path, a multi-instance item) merge into what is there."""
    out = {}
    for key, value in submitted.items():
        existing = current.get(key)
        out[key] = {**existing, **value} if isinstance(value, dict) and isinstance(existing, dict) else value
    return out


def _touch(instance) -> None:
    """Bump the instance's version (even when the clock has not moved), so a claim and a completion
    cannot both win; its UPDATE is flushed before the task's, keeping the instance-first lock order."""
    instance.updated_at = clock.now()
    flag_modified(instance, "updated_at")


def _with_instance(session, task_id: str) -> OpenTask | None:
    """The task row and its instance in one statement: one snapshot, so the engine state read here
    is the one that holds this task open (two reads could straddle another step's commit)."""
    return session.get(OpenTask, task_id, options=[joinedload(OpenTask.instance)])


def _open_task(session, task_id: str, actor: Actor) -> OpenTask:
    row = _with_instance(session, task_id)
    if row is not None:
        return row
    entries = session.scalars(select(AuditEntry).where(
        AuditEntry.task_id == task_id, AuditEntry.action.in_(("task_opened", "task_completed")))).all()
    done = next((e for e in entries if e.action == "task_completed"), None)
    opened = next((e for e in entries if e.action == "task_opened"), None)
    role = (opened.data or {}).get("role") if opened else None
    # only those who could have done it (or read every case) learn that, and by whom, it was done
    if opened is not None and (actor.reads_all_instances or (done and done.actor == actor.username)
                               or role is None or role in actor.roles):
        if done is not None:
            raise Conflict(f"Oppgaven er allerede fullført (av {done.actor}).")
        status = session.scalar(select(Instance.status).where(Instance.id == opened.instance_id))
        if status in runtime.NOT_RUNNING:  # the case stopped (an incident, or ended) with the task open
            raise Conflict(runtime.NOT_RUNNING[status])
    raise NotFound("oppgaven finnes ikke")


def may_do(actor: Actor, task) -> bool:
    """Whether `actor` may claim or complete `task` (an OpenTask or a TaskView): the rule enforced here."""
    if actor.system or task.assignee == actor.username:
        return True
    if task.assignee is not None and task.claimed_at is None:
        return False  # assigned by a rule (the case's coordinator, camunda:assignee): only that person
    if task.role is None:
        return actor.is_staff
    return task.role in actor.roles


def may_act_now(actor: Actor, task) -> bool:
    """May do it and nobody else has taken it: what a page offers buttons for."""
    return may_do(actor, task) and task.assignee in (None, actor.username)


def may_claim(actor: Actor, task) -> bool:
    return task.assignee is None and may_do(actor, task)


def _authorise(actor: Actor, row: OpenTask) -> None:
    if may_do(actor, row):
        return
    if row.assignee is not None and row.claimed_at is None:
        raise Forbidden(f"Oppgaven er tildelt {row.assignee} (sakens koordinator).")
    raise Forbidden(f"Oppgaven hører til rollen «{wording.role_name(row.role)}», som du ikke har.")


def _view(row: OpenTask, now: datetime) -> TaskView:
    return TaskView(
        id=row.id, instance_id=row.instance_id, process_key=row.process_key, business_key=row.business_key,
        element_id=row.element_id, name=row.name, role=row.role, assignee=row.assignee, form_key=row.form_key,
        created_at=row.created_at, due_at=row.due_at, overdue=row.due_at is not None and row.due_at < now,
        claimed_at=row.claimed_at, called_process=getattr(row, "called_process", None),
    )
