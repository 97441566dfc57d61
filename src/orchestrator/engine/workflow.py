"""Running one instance: the small API the service layer uses on top of SpiffWorkflow."""
from __future__ import annotations

import json
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime, timezone
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition as _BaseMessage
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState

from .. import clock
from . import sandbox_pool, serializer
from .authoring import expression_text, timer_literal
from .compaction import compact as _compact
from .helpers import to_datetime
from .parser import MergingMessageEventDefinition, SpecBundle
from .sandbox import SCRIPT_ENGINE
from .timers import PendingTimer, due_time, fire_due_timers, waiting_timers


class EngineError(Exception):
    """The engine could not take a step (a script failed, a task is not ready, ...)."""


LOOP_MESSAGE = ("prosessen har en løkke uten eksklusiv port, som motoren ikke kan kjøre; "
                "prosesseieren må rette diagrammet og rulle det ut på nytt")


@dataclass(frozen=True)
class HumanTask:
    id: str
    element_id: str
    name: str | None
    spec_name: str  # the (sub)process spec the task belongs to
    role: str | None
    form_key: str | None
    due_expression: str | None
    assignee_expression: str | None
    documentation: str | None
    boundary_due: datetime | None  # earliest timer attached to the task, if any
    called_process: str | None = None  # the called process (call activity) it is in; None: the instance's own


@dataclass(frozen=True)
class OutgoingMessage:
    name: str
    payload: dict


def create(bundle: SpecBundle, data: dict | None = None) -> BpmnWorkflow:
    """A new workflow, started: it runs until it waits for people, timers or messages."""
    try:
        workflow = BpmnWorkflow(bundle.spec, bundle.subprocess_specs, script_engine=SCRIPT_ENGINE)
    except RecursionError as error:  # deploy refuses these (engine/loops.py); older versions may have one
        raise EngineError(LOOP_MESSAGE) from error
    start = workflow.get_next_task(state=TaskState.READY)
    if data:
        start.set_data(**deepcopy(data))
    _steps(workflow)
    return workflow


def message_start_names(workflow: BpmnWorkflow) -> list[str]:
    """Messages the workflow's start events wait for (empty once it has started)."""
    names = []
    for task in workflow.get_tasks(state=TaskState.WAITING):
        if isinstance(task.task_spec, StartEvent) and task.workflow is workflow:
            definition = task.task_spec.event_definition
            if isinstance(definition, _BaseMessage):
                names.append(definition.name)
    return names


def load(state: str, bundle: SpecBundle) -> BpmnWorkflow:
    return serializer.loads(state, bundle.spec, bundle.subprocess_specs)


def dump(workflow: BpmnWorkflow) -> str:
    return serializer.dumps(workflow)


def check_state_size(workflow: BpmnWorkflow, state: str) -> None:
    """Refuse a step whose stored state (engine.dump) is over the limit, naming where the data came from.

    Called where a step's state is about to be stored: one diagram or form must not fill the
    database (a script's output is also capped in the sandbox; this catches data copied along).
    """
    limit = sandbox_pool.limits().max_state_bytes
    if len(state) <= limit:  # dump() writes ASCII JSON: characters are bytes
        return
    task, key, size = _largest_field(workflow)
    where = f" Størst er feltet «{key}» ({_megabytes(size)}) fra «{_element_name(task)}»." if task else ""
    raise EngineError(f"steget ville lagre {_megabytes(len(state))} data i saken; grensen er "
                      f"{_megabytes(limit)}.{where}")


def _largest_field(workflow: BpmnWorkflow):
    """(task, key, size) of the largest data field, at the task it first appeared in."""
    best = (None, None, -1)
    for task in sorted(_all_tasks(workflow), key=lambda t: t.last_state_change):
        for key, value in task.data.items():
            try:
                size = len(json.dumps(value, default=str))
            except (ValueError, TypeError, RecursionError):
                size = 10**12  # unmeasurable: surely the culprit
            if size > best[2]:
                best = (task, key, size)
    return best


def _element_name(task) -> str:
    spec = task.task_spec
    return getattr(spec, "bpmn_name", None) or getattr(spec, "bpmn_id", None) or spec.name


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB".replace(".", ",")


def human_tasks(workflow: BpmnWorkflow, bundle: SpecBundle) -> list[HumanTask]:
    """READY tasks a person must do, with the role that does them."""
    found = []
    for task in workflow.get_tasks(state=TaskState.READY, manual=True):
        spec_name = task.workflow.spec.name
        info = bundle.element(spec_name, task.task_spec.bpmn_id)
        role = info.role if info else None
        if role is None:
            role = _caller_role(workflow, task, bundle)
        found.append(
            HumanTask(
                id=str(task.id),
                element_id=task.task_spec.bpmn_id,
                name=task.task_spec.bpmn_name or (info.name if info else None),
                spec_name=spec_name,
                role=role,
                form_key=info.form_key if info else None,
                due_expression=info.due_date if info else None,
                assignee_expression=info.assignee if info else None,
                documentation=info.documentation if info else None,
                boundary_due=_boundary_due(task),
                called_process=_called_process(bundle, spec_name),
            )
        )
    return found


def _called_process(bundle: SpecBundle, spec_name: str) -> str | None:
    """The deployed process a task's (sub)process spec belongs to, when it is not the instance's own."""
    owner = bundle.spec_owner.get(spec_name)
    return owner if owner and owner != bundle.key else None


def _boundary_due(task) -> datetime | None:
    # A task with boundary events sits under a BoundaryEventSplit next to its event tasks.
    parent = task.parent
    if parent is None or type(parent.task_spec).__name__ != "BoundaryEventSplit":
        return None
    dues = [d for d in (due_time(t) for t in parent.children if t is not task) if d is not None]
    return min(dues) if dues else None


def _caller_role(workflow: BpmnWorkflow, task, bundle: SpecBundle) -> str | None:
    # Inside a called process without lanes, the calling activity's lane decides.
    current = task.workflow
    while current.parent_task_id is not None:
        caller = workflow.get_task_from_id(current.parent_task_id)
        info = bundle.element(caller.workflow.spec.name, caller.task_spec.bpmn_id)
        if info and info.role:
            return info.role
        current = caller.workflow
    return None


def evaluate_due(workflow: BpmnWorkflow, task_id: str, expression: str) -> datetime:
    """A task's due date from `camunda:dueDate`: a date, a datetime or a duration from now."""
    task = _task(workflow, task_id)
    try:
        value = SCRIPT_ENGINE.evaluate(task, timer_literal(expression))
    except WorkflowException as error:
        raise EngineError(_describe(error)) from error
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc)
    text = str(value).strip()
    if text.upper().startswith("P"):
        parsed = TimerEventDefinition.parse_iso_duration(text)
        start = clock.now()
        return start + TimerEventDefinition.get_timedelta_from_start(parsed, start)
    return to_datetime(text).astimezone(timezone.utc)


def evaluate(workflow: BpmnWorkflow, task_id: str, expression: str):
    """An authored expression (`${...}` allowed) against one task's data, in the sandbox."""
    task = _task(workflow, task_id)
    try:
        return SCRIPT_ENGINE.evaluate(task, expression_text(expression))
    except WorkflowException as error:
        raise EngineError(_describe(error)) from error


def task_data(workflow: BpmnWorkflow, task_id: str) -> dict:
    return _task(workflow, task_id).data


def is_ready(workflow: BpmnWorkflow, task_id: str) -> bool:
    """Whether `task_id` is a human task waiting to be done in this state."""
    task = _find(workflow, task_id)
    return task is not None and _ready_human(task)


def complete(workflow: BpmnWorkflow, task_id: str, data: dict) -> None:
    """Complete a READY human task with the submitted data, then run on."""
    task = _task(workflow, task_id)
    if not _ready_human(task):
        raise EngineError("oppgaven er ikke klar til å fullføres")
    task.set_data(**deepcopy(data))
    _run(task)
    _steps(workflow)


def fire_timers(workflow: BpmnWorkflow) -> int:
    try:
        return fire_due_timers(workflow)
    except WorkflowException as error:
        raise EngineError(_describe(error)) from error
    except RecursionError as error:
        raise EngineError(LOOP_MESSAGE) from error


def deliver_message(workflow: BpmnWorkflow, name: str, payload: dict | None) -> None:
    event = BpmnEvent(MergingMessageEventDefinition(name), payload=deepcopy(payload or {}))
    try:
        workflow.send_event(event)
    except WorkflowException as error:
        raise EngineError(f"instansen venter ikke på meldingen «{name}»") from error
    _steps(workflow)


def waiting_messages(workflow: BpmnWorkflow) -> list[tuple[str, str]]:
    """(message name, element id) for every message catch the workflow waits at.

    Besides waiting catch events, a running workflow listens for the message start events of its
    event subprocesses (SpiffWorkflow keeps those as triggers on the start task, not as tasks).
    """
    found = []
    for task in workflow.event_manager.tasks.values():
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, _BaseMessage):
            found.append((definition.name, task.task_spec.bpmn_id))
    if not workflow.completed:
        for spec_name in workflow.spec.start.trigger_specs:
            for start in workflow.subprocess_specs[spec_name].bpmn_start_events:
                if isinstance(start.event_definition, _BaseMessage):
                    found.append((start.event_definition.name, start.bpmn_id))
    return sorted(set(found))


def outgoing_messages(workflow: BpmnWorkflow) -> list[OutgoingMessage]:
    """Messages thrown that nothing inside the workflow caught; the service routes them."""
    found = []
    for event in workflow.get_events():
        definition = event.event_definition
        if isinstance(definition, _BaseMessage):
            payload = event.payload if isinstance(event.payload, dict) else {"verdi": event.payload}
            found.append(OutgoingMessage(definition.name, payload))
    return found


def timers(workflow: BpmnWorkflow) -> list[PendingTimer]:
    return waiting_timers(workflow)


def current_data(workflow: BpmnWorkflow) -> dict:
    """The data a person would call "the case data now"."""
    if workflow.completed and workflow.last_task is not None:
        return dict(workflow.last_task.data)
    merged: dict = {}
    active = workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED)
    for task in sorted(active, key=lambda t: t.last_state_change):
        merged.update(task.data)
    return merged


def completed_elements(workflow: BpmnWorkflow) -> tuple[list[str], list[tuple[str, str]]]:
    """Element ids that completed and (source, target) element pairs that were walked."""
    done, walked = [], []
    for task in _all_tasks(workflow):
        if task.state != TaskState.COMPLETED or not task.task_spec.bpmn_id:
            continue
        done.append(task.task_spec.bpmn_id)
        parent = task.parent
        while parent is not None and not parent.task_spec.bpmn_id:
            parent = parent.parent
        if parent is not None:
            walked.append((parent.task_spec.bpmn_id, task.task_spec.bpmn_id))
    return done, walked


def extend_trail(trail: dict | None, workflow: BpmnWorkflow) -> dict:
    """The walked elements and flows so far, including what compaction is about to drop."""
    done, walked = completed_elements(workflow)
    elements = set((trail or {}).get("elements", [])) | set(done)
    flows = {tuple(f) for f in (trail or {}).get("flows", [])} | set(walked)
    return {"elements": sorted(elements), "flows": sorted([list(f) for f in flows])}


def compact(workflow: BpmnWorkflow) -> int:
    return _compact(workflow)


def active_elements(workflow: BpmnWorkflow) -> list[str]:
    return [
        t.task_spec.bpmn_id
        for t in _all_tasks(workflow)
        if t.task_spec.bpmn_id and t.state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED)
    ]


def _all_tasks(workflow: BpmnWorkflow):
    yield from workflow.tasks.values()
    for sub in workflow.subprocesses.values():
        yield from sub.tasks.values()


def _find(workflow: BpmnWorkflow, task_id: str):
    try:
        return workflow.get_task_from_id(UUID(task_id))
    except (ValueError, KeyError):
        return None


def _ready_human(task) -> bool:
    return task.state == TaskState.READY and task.task_spec.manual


def _task(workflow: BpmnWorkflow, task_id: str):
    task = _find(workflow, task_id)
    if task is None:
        raise EngineError("oppgaven finnes ikke i instansen")
    return task


def _run(task) -> None:
    try:
        task.run()
    except WorkflowException as error:
        raise EngineError(_describe(error)) from error


def _steps(workflow: BpmnWorkflow) -> None:
    try:
        workflow.do_engine_steps()
    except WorkflowException as error:
        raise EngineError(_describe(error)) from error
    except RecursionError as error:
        raise EngineError(LOOP_MESSAGE) from error


def describe_error(error: Exception) -> str:
    """What went wrong in the engine, for a person: SpiffWorkflow's error with its cause."""
    return _describe(error) if isinstance(error, WorkflowException) else f"{type(error).__name__}: {error}"


def _describe(error: WorkflowException) -> str:
    """SpiffWorkflow's error plus its cause (the sandbox's refusal, a NameError, ...)."""
    parts = [str(error).strip()]
    task = getattr(error, "task", None)
    element = getattr(task.task_spec, "bpmn_id", None) if task is not None else None
    if element and f"({element})" not in parts[0]:  # the sandbox's own messages name it already
        parts.append(f"(element {element})")
    cause = error.__cause__ or error.__context__
    while isinstance(cause, WorkflowException) and (cause.__cause__ or cause.__context__):
        cause = cause.__cause__ or cause.__context__
    if cause is not None and str(cause) not in parts[0]:
        parts.append(f"– {cause}")
    for note in getattr(error, "__notes__", []):
        if note not in parts:
            parts.append(note)
    return " ".join(parts)
