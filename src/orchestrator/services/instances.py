"""Start, list and inspect process instances."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..engine import workflow as engine
from ..store.models import AuditEntry, Instance, OpenTask, WaitingTimer
from . import casedata, cases, rules, runtime, samtykkeregister, tasks, tilgang, tilgangslogg, tjenester, validation, wording
from .access import MANAGER, PROCESS_OWNER, Actor, require_any
from .context import Orchestrator
from .errors import Forbidden, Invalid, NotFound
from .paging import Page
from .specs import SpecCache

STATUSES = ("running", "completed", "terminated", "error")
# who may take an incident up again: the leader who follows the case up, and the process owner who fixed the routine
INCIDENT_OPERATORS = (MANAGER, PROCESS_OWNER)


@dataclass
class InstanceSummary:
    id: int
    process_key: str
    process_version: int
    process_name: str | None
    business_key: str | None
    status: str
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    next_timer_at: datetime | None
    error: str | None = None
    next_tasks: list = field(default_factory=list)  # on a start: the open tasks the starter may do now
    continues_with: object = None  # on a start: the task the starter goes on with (theirs now), if any


@dataclass
class InstanceDetail(InstanceSummary):
    data: dict = field(default_factory=dict)
    tasks: list = field(default_factory=list)
    timers: list = field(default_factory=list)
    history: list = field(default_factory=list)
    completed_elements: list[str] = field(default_factory=list)
    walked: list[tuple[str, str]] = field(default_factory=list)
    active_elements: list[str] = field(default_factory=list)
    waiting_messages: list[str] = field(default_factory=list)
    case_data: list = field(default_factory=list)  # casedata.Item: the data as a person reads it
    waiting_for: list[str] = field(default_factory=list)  # the message waits, as the diagram names their events
    # seen through one's tasks (services/tilgang.py): only those tasks and one's own history
    limited: bool = False



def start(ctx: Orchestrator, key: str, actor: Actor, business_key: str | None = None, data: dict | None = None,
          claim_first: bool = False):
    """Start a case: with its saksnummer (required, in the installation's format) and the start form's data.

    `claim_first` (the start page: a person who goes on working the case) claims its first task in a role of
    theirs for them, as completing a step does; an API client starting many cases claims nothing.
    """
    data = validation.data(data)
    try:
        business_key, refused_key = validation.new_case_key(ctx.settings, business_key), None
    except Invalid as error:
        business_key, refused_key = None, error
    with ctx.write("instance.start") as session:
        pins = ctx.specs.pins_for(session, key)  # NotFound when the process is not deployed
        bundle = ctx.specs.bundle(session, key, pins)
        start_info = _start_element(bundle, key)
        form = ctx.specs.form_for(session, pins, start_info.form_key) if start_info and start_info.form_key else None
        if refused_key is not None:  # answered with the start form's own errors, in one round (rules need the case)
            form_errors = rules.validated(form, data)[1] if form is not None else {}
            raise Invalid(refused_key.message, {**refused_key.fields, **form_errors})
        if not may_start(session, actor, start_info.role if start_info else None, business_key,
                         start_info.starters if start_info else ()):
            role = start_info.role if start_info else None
            raise Forbidden(f"Prosessen startes av rollen «{wording.role_name(role)}»" if role else
                            "Bare ansatte med en tjenesterolle kan starte saker")
        if form is not None:
            data, errors = rules.validated(form, data)
            rules.check_start(session, form, data, actor, business_key, errors)
        step = runtime.create(ctx, session, key, business_key, data, actor, pins=pins)
        deliveries = runtime.commit(step)
        started = _summary(step.row, bundle.spec.description)
        # where the starter goes on, without asking
        following = tasks.following(session, step, actor, reached=[d.instance_id for d in deliveries])
        started.next_tasks, started.continues_with = tasks.continue_with(session, actor, following, claim=claim_first)
        return started


def _start_element(bundle, key):
    starts = [e for (owner, _), e in bundle.elements.items()
              if owner == key and e.kind == "startEvent" and e.top_level]
    return starts[0] if starts else None


def may_start(session: Session, actor: Actor, role: str | None, business_key: str | None = None,
              starters: tuple[str, ...] = ()) -> bool:
    """The role of the start event's lane starts a process (the one rule for the API, messages and the start page).

    Koordinerende enhet may start any routine (it receives the meldinger and holds the overall
    responsibility); managers inspect and do not start cases unless they also hold a staff role.
    The appointed coordinator of a case acts in the Koordinator lane without holding that role.
    A process may name further roles (`camunda:candidateStarterGroups`, e.g. the ansvarsgruppe:
    tjenesteyter, 004 11.4 «the service the need was reported to»); they start it for a case they
    have (samtykkeregister.serves_case).
    """
    if actor.system or "koordinerende_enhet" in actor.roles:
        return True
    if role is None:
        return actor.is_staff
    if role in actor.roles:
        return True
    if role == "koordinator" and business_key is not None and \
            cases.coordinator_of(session, business_key) == actor.username:
        return True
    return bool(set(starters) & actor.roles) and samtykkeregister.serves_case(session, actor, business_key)


def list_instances(ctx: Orchestrator, actor: Actor, process_key: str | None = None, status: str | None = None,
                   business_key: str | None = None, page: int = 1, per_page: int = 50) -> Page:
    if status is not None and status not in STATUSES:
        raise Invalid("Ukjent status", {"status": [f"Bruk en av {', '.join(STATUSES)}."]})
    page, per_page = max(1, page), min(max(1, per_page), 200)
    with ctx.db.read() as session:
        query = select(Instance)
        if process_key:
            query = query.where(Instance.process_key == process_key)
        if status:
            query = query.where(Instance.status == status)
        if business_key:
            query = query.where(Instance.business_key == business_key)
        if not actor.reads_all_instances:
            query = query.where(tilgang.visible_instances(actor))
        total = session.scalar(select(func.count()).select_from(query.subquery()))
        rows = session.scalars(query.order_by(Instance.id.desc()).offset((page - 1) * per_page).limit(per_page))
        names = _process_names(session)
        return Page([_summary(r, names.get(r.process_key)) for r in rows], total or 0, page, per_page)


def may_view(session: Session, actor: Actor, instance_id: int) -> bool:
    row = session.get(Instance, instance_id)
    return row is not None and tilgang.view_of(session, actor, row) is not None


def get(ctx: Orchestrator, instance_id: int, actor: Actor, *, logged_as: str | None = tilgangslogg.SAK) -> InstanceDetail:
    """One instance with its data, tasks, timers and history; the read is logged as `logged_as` (None only
    where the caller shows none of it: a form post that answers with a redirect)."""
    detail = _detail(ctx, instance_id, actor)
    if logged_as is not None:
        tilgangslogg.record(ctx, actor, logged_as, detail.business_key, detail.id)
    return detail


def _detail(ctx: Orchestrator, instance_id: int, actor: Actor) -> InstanceDetail:
    with ctx.db.read() as session:
        row = session.get(Instance, instance_id)
        view = tilgang.view_of(session, actor, row) if row is not None else None
        if view is None:
            # the same answer whether it does not exist or is not yours: no probing for cases
            raise NotFound(f"instans {instance_id} finnes ikke eller er ikke synlig for deg")
        bundle = ctx.specs.bundle(session, row.process_key, row.pins)
        workflow = engine.load(row.state, bundle)
        detail = InstanceDetail(**vars(_summary(row, bundle.spec.description)))
        open_tasks = sorted(row.tasks, key=lambda t: t.created_at)
        if view == tilgang.TASKS:
            return _through_tasks(ctx, session, bundle, row.pins, detail, actor, open_tasks)
        trail = engine.extend_trail(row.trail, workflow)
        detail.completed_elements, detail.walked = trail["elements"], [tuple(f) for f in trail["flows"]]
        detail.data = engine.current_data(workflow)
        detail.tasks = [_task_dict(t) for t in open_tasks]
        detail.timers = [
            {"element_id": t.element_id, "name": t.name, "due_at": t.due_at, "kind": t.kind}
            for t in sorted(row.timers, key=lambda t: t.due_at)
        ]
        detail.history = history(session, instance_id)
        detail.case_data = casedata.for_case(ctx.specs, session, instance_id, row.pins, bundle, detail.data)
        _describe_history(ctx, session, bundle, row.pins, detail.history)
        detail.active_elements = engine.active_elements(workflow)
        detail.waiting_messages = sorted({w.name for w in row.message_waits})
        detail.waiting_for = _waits_described(bundle, row.message_waits)
        return detail


def _through_tasks(ctx: Orchestrator, session: Session, bundle, pins, detail: InstanceDetail, actor: Actor,
                   open_tasks: list) -> InstanceDetail:
    """The case as someone sees it who sees it through their tasks (services/tilgang.py): the tasks
    they may do, and what they did themselves; not the data, path, deadlines or other services' work."""
    detail.limited = True
    mine = [t for t in open_tasks if tilgang.may_do(actor, t)]
    detail.tasks = [_task_dict(t) for t in mine]
    detail.active_elements = sorted({t.element_id for t in mine})
    detail.history = [e for e in history(session, detail.id) if e["actor"] == actor.username]
    _describe_history(ctx, session, bundle, pins, detail.history)
    return detail


def _describe_history(ctx: Orchestrator, session: Session, bundle, pins, entries: list[dict]) -> None:
    """Each entry's step by its name in the diagram (a timer's too) and its data as lines to read."""
    names = {e.id: e.name for e in bundle.elements.values() if e.name}
    vocabulary = casedata.vocabulary_for(ctx.specs, session, pins)
    forms_by_element = casedata.forms_of_elements(bundle)
    values = {**samtykkeregister.record_values(tjenester.catalogue(ctx.settings).names), **wording.RECORD_VALUES}
    # a message by the event that sends or receives it (the diagram's words, not the message's name)
    senders = {e.message: e.name for e in bundle.elements.values() if e.message and e.name and e.message_role == "throw"}
    receivers = {e.message: e.name for e in bundle.elements.values() if e.message and e.name and e.message_role != "throw"}
    for entry in entries:
        if not entry["element_name"] and entry["element_id"]:
            steps = [names.get(i) for i in entry["element_id"].split(",")]
            entry["element_name"] = ", ".join(s for s in steps if s) or None
        message = (entry["data"] or {}).get("message") if isinstance(entry["data"], dict) else None
        if not entry["element_name"] and message:
            entry["element_name"] = (senders if entry["action"] == "message_sent" else receivers).get(message)
        entry["details"] = casedata.history_lines(entry, vocabulary, forms_by_element, wording.RECORD_FIELDS, values)


def _waits_described(bundle, waits) -> list[str]:
    """What the case waits to hear, in the diagram's words: the catching event's name (the process
    owner's text), never the message's technical name."""
    names = {e.id: e.name for e in bundle.elements.values() if e.name}
    return sorted({names.get(w.element_id or "") or "En melding til saken" for w in waits})


def resume(ctx: Orchestrator, instance_id: int, actor: Actor) -> InstanceSummary:
    """An operator takes an incident up again after fixing its cause (a new version, the mail server)."""
    require_any(actor, INCIDENT_OPERATORS, "Å starte en sak som har stoppet på en feil igjen")
    with ctx.write("instance.resume") as session:
        step = runtime.resume(ctx, session, instance_id, actor)
        return _summary(step.row, step.bundle.spec.description)


def history(session: Session, instance_id: int) -> list[dict]:
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.instance_id == instance_id).order_by(AuditEntry.id))
    return [
        {"at": e.at, "actor": e.actor, "action": e.action, "task_id": e.task_id, "element_id": e.element_id,
         "element_name": e.element_name, "data": e.data, "erased_at": e.erased_at}
        for e in entries
    ]


def _task_dict(t: OpenTask) -> dict:
    return {"id": t.id, "element_id": t.element_id, "name": t.name, "role": t.role, "service": t.service,
            "assignee": t.assignee, "form_key": t.form_key, "created_at": t.created_at, "due_at": t.due_at,
            "called_process": t.called_process}


def _summary(row: Instance, name: str | None) -> InstanceSummary:
    return InstanceSummary(
        id=row.id, process_key=row.process_key, process_version=row.process_version, process_name=name,
        business_key=row.business_key, status=row.status, created_at=row.created_at,
        updated_at=row.updated_at, completed_at=row.completed_at, next_timer_at=row.next_timer_at,
        error=row.error,
    )


def _process_names(session: Session) -> dict[str, str | None]:
    return {r.key: r.name for r in SpecCache.latest_rows(session, kind="bpmn")}
