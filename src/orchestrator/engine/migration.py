"""Moving a running instance onto another version of its process, with SpiffWorkflow's own diff.

SpiffWorkflow (`SpiffWorkflow.bpmn.util.diff`) aligns the old version's task specs with the new by
id, then by their place in the flow (`SpecDiff`), maps an instance's tasks onto them
(`WorkflowDiff`), and `migrate_workflow` swaps the specs and resets what is READY or WAITING, so it
is predicted and evaluated again on the new version (a timer's due time is computed anew). What it
leaves to the application is decided here (docs/decisions/0019):

- *Refuse, naming the element,* an instance where a task it is at (READY, WAITING, running
  subprocess) or still builds on (finished tasks kept in the compacted state) has no element with
  the same id in the new version, or changed kind there. SpiffWorkflow's guess by place in the flow
  is offered as a suggestion, never applied unasked: a process owner confirms it as a mapping.
- *An explicit mapping* (old id → new id) for renamed elements wins over the alignment; it carries
  the elements SpiffWorkflow derives from an id (`X.BoundaryEventSplit`, `X [child]`, ...).
- *Timers follow their definition.* One whose definition is unchanged keeps its due time
  (SpiffWorkflow would count a duration from now again); a changed date is evaluated anew on the
  case's data; a changed duration counts from when the timer started. What is then due fires at once.
- *What follows a running subprocess or multi-instance activity* is predicted again from the new
  version (SpiffWorkflow resets only READY and WAITING tasks).

Refusals are found before anything is changed; a workflow that fails half-way is dropped by the
caller (it was taken out of the instance cache and the unit of work rolls back).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import DurationTimerEventDefinition, TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState

from .. import clock
from . import serializer
from .parser import SpecBundle
from .sandbox import SCRIPT_ENGINE
from .timers import due_time, fire_due_timers
from .workflow import describe_error

ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED
KEPT = ACTIVE | TaskState.FINISHED_MASK  # what the case is at, or still builds on
PREDICTED = TaskState.PREDICTED_MASK | TaskState.FUTURE  # what migrate_workflow may predict anew
DERIVED = (".BoundaryEventSplit", ".BoundaryEventJoin", ".EndJoin", " [child]")  # names SpiffWorkflow makes from an id
INTERNAL = frozenset({"Start", "End", "StartEventSplit", "StartEventJoin"})  # in every process, with no element


@dataclass(frozen=True)
class Placement:
    """Where the instance is (an element of its version) and where it lands in the new one."""

    kind: str  # oppgave | tidtaker | melding | delprosess | venter
    element_id: str
    name: str | None
    target_id: str | None
    target_name: str | None


@dataclass(frozen=True)
class TimerMove:
    element_id: str
    name: str | None
    before: datetime | None
    after: datetime | None
    changed: bool  # its definition differs in the new version (so its due time was computed anew)


@dataclass
class Outcome:
    placements: list[Placement] = field(default_factory=list)
    timers: list[TimerMove] = field(default_factory=list)
    unmapped: dict[str, str | None] = field(default_factory=dict)  # old element id -> name: no target
    suggestions: dict[str, str] = field(default_factory=dict)  # old element id -> SpiffWorkflow's guess
    notes: list[str] = field(default_factory=list)  # what moves, but not quite as a new case would have it
    workflow: object = None  # the moved workflow, read back from its state: wired to the new specs only


class Refused(Exception):
    """The instance cannot move; each reason names the element (in Norwegian, for process owners)."""

    def __init__(self, reasons: list[str], outcome: Outcome | None = None):
        self.reasons = reasons
        self.outcome = outcome or Outcome()  # where the case is, and what found no target
        super().__init__("; ".join(reasons))


def migrate(workflow, source: SpecBundle, target: SpecBundle, mapping: dict[str, str] | None = None,
            diffs: dict | None = None) -> Outcome:
    """Move `workflow` from `source`'s specs onto `target`'s; `Refused` if it cannot. The moved
    workflow is `Outcome.workflow`; the one given is changed on the way and must be dropped. `diffs`
    keeps the spec diffs for a batch under one mapping (they depend on the specs only, and are
    about a quarter of the work per case).
    """
    move = _Move(workflow, source, target, dict(mapping or {}), {} if diffs is None else diffs)
    flows = move.flows()
    for flow, new_spec, spec_diff in flows:
        move.check(flow, new_spec, spec_diff)
    if move.reasons:
        raise Refused(list(dict.fromkeys(move.reasons)), move.outcome)
    timers, kept = _timers_before(workflow), _data_before(workflow)
    try:
        for flow, new_spec, spec_diff in flows:
            if new_spec is None:  # a finished subprocess the new version no longer has
                workflow.delete_subprocess(workflow.get_task_from_id(flow.parent_task_id))
                continue
            move.align(spec_diff, flow.spec, new_spec)
            migrate_workflow(WorkflowDiff(flow, spec_diff), flow, new_spec)
        workflow.subprocess_specs = target.subprocess_specs
        _data_back(workflow, kept)
        for flow in [workflow, *workflow.subprocesses.values()]:
            _predict_again(flow)
        move.outcome.timers = _timers_follow(workflow, timers)
        _check_placed(workflow)
        workflow.do_engine_steps()  # what the new version makes ready at once (a timer now due) runs
        fire_due_timers(workflow)
        # SpiffWorkflow wires a running subprocess to the task spec that started it; read the moved state
        # back so nothing of the old version is left in what runs next (the instance cache keeps it)
        move.outcome.workflow = serializer.loads(serializer.dumps(workflow), target.spec, target.subprocess_specs)
    except Exception as error:  # noqa: BLE001 - whatever SpiffWorkflow raised, this instance stays where it was
        raise Refused([f"Saken kunne ikke flyttes: {describe_error(error)}"], move.outcome) from error
    return move.outcome


class _Move:
    """One instance's move: which spec each (sub)workflow goes to, and what would find no target."""

    def __init__(self, workflow, source: SpecBundle, target: SpecBundle, mapping: dict[str, str], diffs: dict):
        self.workflow, self.source, self.target, self.mapping, self.diffs = workflow, source, target, mapping, diffs
        self.version = target.pins.get(target.key, "?")
        self.outcome, self.reasons = Outcome(), []

    def flows(self) -> list[tuple]:
        """(flow, its spec in the new version, SpiffWorkflow's SpecDiff) for the workflow and each subprocess."""
        registry = serializer.registry()
        found = []
        for flow in [self.workflow, *self.workflow.subprocesses.values()]:
            if flow is self.workflow:
                new_spec = self.target.spec
            else:
                new_spec = self.target.subprocess_specs.get(self.mapped(flow.spec.name))
            found.append((flow, new_spec, self.diff(registry, flow.spec, new_spec) if new_spec is not None else None))
        return found

    def diff(self, registry, old_spec, new_spec) -> SpecDiff:
        key = (id(old_spec), id(new_spec))
        if key not in self.diffs:  # the specs are kept alive by the bundles the batch holds
            self.diffs[key] = SpecDiff(registry, old_spec, new_spec)
        return self.diffs[key]

    def mapped(self, name: str) -> str:
        """A task spec's name in the new version under the mapping (derived names follow their element)."""
        if name in self.mapping:
            return self.mapping[name]
        base = _base(name)
        return self.mapping[base] + name[len(base):] if base in self.mapping else name

    def target_spec(self, name: str, new_spec):
        """The spec a task moves to. A derived spec the mapped element lacks (the join of a boundary
        event a step had in the old version) becomes that element itself."""
        found = new_spec.task_specs.get(self.mapped(name))
        if found is None and _base(name) in self.mapping:
            found = new_spec.task_specs.get(self.mapping[_base(name)])
        return found

    def align(self, spec_diff: SpecDiff, old_spec, new_spec) -> None:
        """Make the alignment say what the process owner said (and the same id where one exists)."""
        for old in old_spec.task_specs.values():
            new = self.target_spec(old.name, new_spec)
            if new is not None and spec_diff.alignment.get(old) is not new:
                spec_diff.alignment[old] = new
                if new in spec_diff.added:
                    spec_diff.added.remove(new)

    def check(self, flow, new_spec, spec_diff) -> None:
        if new_spec is None:
            owner = self.workflow.get_task_from_id(flow.parent_task_id)
            if not owner.has_state(TaskState.FINISHED_MASK):
                self.reasons.append(f"Delprosessen {_named(owner.task_spec, self.source)} finnes ikke i versjon "
                                    f"{self.version}; saken er i gang i den.")
            return
        for task in flow.tasks.values():
            spec = task.task_spec
            new = self.target_spec(spec.name, new_spec)
            if task.has_state(ACTIVE) and getattr(spec, "bpmn_id", None):  # an element, not a join SpiffWorkflow adds
                self.outcome.placements.append(self.placement(task, new))
                if new is not None and _has_boundary(new) and not _has_boundary(spec):
                    self.outcome.notes.append(
                        f"{_named(new, self.target)} har fått en grensehendelse i versjon {self.version}. Den gjelder "
                        "fra neste gang en sak kommer dit, ikke der saken står nå.")
            if new is None and spec.name not in INTERNAL:
                if task.has_state(KEPT):
                    self.missing(task, spec_diff)
                elif not _regenerated(task):
                    self.reasons.append(f"{_named(spec, self.source)} finnes ikke i versjon {self.version}, og "
                                        "saken kan ikke regne ut veien videre uten det.")
            elif new is not None and task.has_state(ACTIVE) and type(new) is not type(spec):
                self.reasons.append(
                    f"{_named(spec, self.source)} er en annen type element i versjon {self.version} "
                    f"({_kind_text(spec)} → {_kind_text(new)}); saken står der nå og kan ikke flyttes.")

    def missing(self, task, spec_diff) -> None:
        """A task the case is at or builds on has no element in the new version: refused, with
        SpiffWorkflow's guess by place in the flow offered to confirm as a mapping."""
        spec = task.task_spec
        element_id = _element_id(spec)
        guess = spec_diff.alignment.get(spec)
        self.outcome.unmapped[element_id] = _element_name(spec, self.source)
        if guess is not None and _element_id(guess) != element_id:
            self.outcome.suggestions[element_id] = _element_id(guess)
            advice = f"SpiffWorkflow foreslår {_named(guess, self.target)} ut fra plassen i flyten; bekreft det med en kobling."
        else:
            advice = "Koble det til et element i den nye versjonen, eller la saken bli på sin versjon."
        where = "saken står der nå" if task.has_state(ACTIVE) else "saken har passert det og bygger videre på det"
        self.reasons.append(f"{_named(spec, self.source)} finnes ikke i versjon {self.version} ({where}). {advice}")

    def placement(self, task, new) -> Placement:
        spec = task.task_spec
        return Placement(_kind(task), _element_id(spec), _element_name(spec, self.source),
                         _element_id(new) if new is not None else None,
                         _element_name(new, self.target) if new is not None else None)


def _base(name: str) -> str:
    """The element a derived spec name was made from (`X.BoundaryEventJoin` -> `X`)."""
    for suffix in DERIVED:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _has_boundary(spec) -> bool:
    return any(i.name == f"{spec.name}.BoundaryEventSplit" for i in spec.inputs)


def _regenerated(task) -> bool:
    """A predicted task is predicted again if it hangs below what migrate_workflow resets (READY,
    WAITING) or below a running activity (`_predict_again`)."""
    parent = task.parent
    while parent is not None and parent.has_state(PREDICTED):
        parent = parent.parent
    return parent is not None and parent.has_state(TaskState.READY | TaskState.WAITING | TaskState.STARTED)


def _predict_again(flow) -> None:
    """What follows a running subprocess or multi-instance activity, predicted again from the new spec.
    SpiffWorkflow resets only READY and WAITING tasks; the continuation of a running activity would
    otherwise keep the old version's path (a step added after it skipped, a removed one still taken)."""
    for task in list(flow.tasks.values()):
        spec = task.task_spec
        if task.id not in flow.tasks or not task.has_state(TaskState.STARTED):
            continue
        if not isinstance(spec, (SubWorkflowTask, LoopTask)):
            continue
        instance = spec.task_spec if isinstance(spec, LoopTask) else None  # a loop's own iterations stay
        for child in [c for c in task.children if c.has_state(PREDICTED) and c.task_spec.name != instance]:
            flow._remove_task(child.id)
        for output in spec.outputs:
            child = task._add_child(output, TaskState.FUTURE)
            child.task_spec._predict(child, mask=PREDICTED)


def _check_placed(workflow) -> None:
    """Every task now points at its flow's new spec (what the serializer will look up by name)."""
    for flow in [workflow, *workflow.subprocesses.values()]:
        specs = set(flow.spec.task_specs.values())
        for task in flow.tasks.values():
            if task.task_spec not in specs:
                raise WorkflowException(f"{_named(task.task_spec, None)} fikk ingen plass i den nye versjonen")


# --- what a reset must not lose -------------------------------------------------------------------------


def _data_before(workflow) -> dict:
    """task id -> (data, internal data) of every task migrate_workflow resets (READY, WAITING)."""
    flows = [workflow, *workflow.subprocesses.values()]
    return {t.id: (t.data, t.internal_data) for flow in flows for t in flow.tasks.values()
            if t.has_state(TaskState.READY | TaskState.WAITING)}


def _data_back(workflow, kept: dict) -> None:
    """`reset_branch` gives a task its parent's data and empty internal data: right for running a
    branch again, wrong for a task that only moves. A contact task of step 3 would lose which service
    it is for (its item and index); a timer's due time is decided in `_timers_follow`."""
    for flow in [workflow, *workflow.subprocesses.values()]:
        for task in flow.tasks.values():
            if task.id not in kept:
                continue
            task.data = kept[task.id][0]
            if getattr(task.task_spec, "event_definition", None) is None:
                task.internal_data = {**kept[task.id][1], **task.internal_data}


# --- timers --------------------------------------------------------------------------------------------------


def _timers_before(workflow) -> dict:
    """task id -> (task, its old definition, its event value, its due time) for each waiting timer."""
    found = {}
    for task in workflow.event_manager.tasks.values():
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, TimerEventDefinition):
            found[task.id] = (task, definition, task._get_internal_data("event_value"), due_time(task))
    return found


def _timers_follow(workflow, before: dict) -> list[TimerMove]:
    moves = []
    present = {t.id for flow in [workflow, *workflow.subprocesses.values()] for t in flow.tasks.values()}
    for task_id, (task, old, value, due) in before.items():
        if task_id not in present:  # its branch went with the move
            continue
        new = getattr(task.task_spec, "event_definition", None)
        changed = not _same_timer(old, new)
        if not changed and value is not None:
            task._set_internal_data(event_value=value)  # an unchanged timer keeps its due time
        elif isinstance(old, DurationTimerEventDefinition) and isinstance(new, DurationTimerEventDefinition) \
                and due is not None:
            task._set_internal_data(event_value=_duration_from_start(task, old, new, due))
        moves.append(TimerMove(task.task_spec.bpmn_id or task.task_spec.name, task.task_spec.bpmn_name, due,
                               due_time(task), changed))
    return sorted(moves, key=lambda m: (m.after or m.before or datetime.max.replace(tzinfo=timezone.utc)))


def _same_timer(old, new) -> bool:
    # TimerEventDefinition.__eq__ compares only kind and name, not the expression
    return type(old) is type(new) and old.expression == new.expression


def _duration_from_start(task, old, new, due: datetime) -> str:
    """A changed duration counts from when the timer started: due − old duration + new duration."""
    parse = TimerEventDefinition.parse_iso_duration
    started = due - TimerEventDefinition.get_timedelta_from_end(parse(SCRIPT_ENGINE.evaluate(task, old.expression)), due)
    return (started + TimerEventDefinition.get_timedelta_from_start(
        parse(SCRIPT_ENGINE.evaluate(task, new.expression)), started)).isoformat()


def overdue_after(outcome: Outcome) -> list[TimerMove]:
    """Timers whose new due time has passed: the move fires them at once."""
    now = clock.now()
    return [t for t in outcome.timers if t.changed and t.after is not None and t.after <= now]


# --- naming --------------------------------------------------------------------------------------------------


def _kind(task) -> str:
    spec = task.task_spec
    definition = getattr(spec, "event_definition", None)
    if task.has_state(TaskState.STARTED) and isinstance(spec, SubWorkflowTask):
        return "delprosess"
    if task.has_state(TaskState.READY) and spec.manual:
        return "oppgave"
    if isinstance(definition, TimerEventDefinition):
        return "tidtaker"
    if isinstance(definition, MessageEventDefinition):
        return "melding"
    return "venter"


def _element_id(spec) -> str:
    return getattr(spec, "bpmn_id", None) or _base(spec.name)


def _element_name(spec, bundle: SpecBundle | None) -> str | None:
    name = getattr(spec, "bpmn_name", None)
    if name or bundle is None:
        return name
    element = _element_id(spec)
    for (owner, element_id), info in bundle.elements.items():
        if element_id == element:
            return info.name
    return None


def _named(spec, bundle: SpecBundle | None) -> str:
    element, name = _element_id(spec), _element_name(spec, bundle)
    return f"«{name}» ({element})" if name else f"«{element}»"


def _kind_text(spec) -> str:
    return KIND_TEXT.get(type(spec).__name__, type(spec).__name__)


KIND_TEXT = {
    "UserTask": "brukeroppgave", "ManualTask": "manuell oppgave", "NoneTask": "oppgave", "ScriptTask": "skriptoppgave",
    "BusinessRuleTask": "beslutningsoppgave", "SubWorkflowTask": "delprosess", "CallActivity": "kallaktivitet",
    "StartEvent": "starthendelse", "EndEvent": "slutthendelse", "IntermediateThrowEvent": "sendende hendelse",
    "IntermediateCatchEvent": "mottakende hendelse", "BoundaryEvent": "grensehendelse", "ExclusiveGateway": "port",
    "ParallelGateway": "parallell port", "InclusiveGateway": "inkluderende port", "EventBasedGateway": "hendelsesport",
}
