"""Running cases move to a new version of their process (issue 12): a dry run per instance, then the
move of every instance that maps cleanly, each in its own unit of work through the commit path.

An ansvarsgruppe lives as long as the person needs it, so a case started on version 1 of a routine
would otherwise stay on it for years. The engine part (SpiffWorkflow's diff and `migrate_workflow`,
what is refused, how timers follow) is engine/migration.py; here: who may, which cases, the new pin
set (the process, what it calls, its decisions and forms, as a case started now would get), the
audit row, and what the new version reads that a case lacks. Only process owners move cases; what
they see of a case is its business key, never its data (docs/decisions/0019).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select

from ..engine import datanames
from ..engine import migration as engine_migration
from ..engine import workflow as engine
from ..engine.parser import SpecBundle
from ..store.models import Instance
from . import runtime
from .access import PROCESS_OWNER, Actor, require
from .context import Orchestrator
from .errors import Invalid, NotFound, ServiceError
from .specs import FORM_PIN, SpecCache

log = logging.getLogger(__name__)
MAX_MAPPING = 200  # elements a process owner maps by hand in one move
UNEXPECTED = "Saken kunne ikke flyttes på grunn av en uventet feil, og er uendret (detaljer i serverloggen)."
LIMITS = (
    "Hvilken vei en sak tar videre, vet ingen ennå: et felt nevnes selv om saken kanskje aldri kommer dit.",
    "Data som kommer med meldinger fra andre saker eller fra andre systemer, kan ikke ses på forhånd.",
    "Uttrykk som slår opp data indirekte (for eksempel i en liste eller et oppslag), er ikke vurdert.",
)


@dataclass(frozen=True)
class DataNeed:
    """Case data an element of the new version reads that the case does not have and no form fills in."""

    name: str
    element_id: str
    element_name: str | None
    what: str  # tidsuttrykk | betingelse | frist | skript | ...


@dataclass
class InstancePlan:
    instance_id: int
    business_key: str | None
    from_version: int
    movable: bool
    placements: list[engine_migration.Placement] = field(default_factory=list)
    timers: list[engine_migration.TimerMove] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    missing_data: list[DataNeed] = field(default_factory=list)
    unmapped: dict[str, str | None] = field(default_factory=dict)  # element id -> name, with no target
    suggestions: dict[str, str] = field(default_factory=dict)  # element id -> SpiffWorkflow's guess
    moved: bool = False  # after `migrate`: this one moved


@dataclass(frozen=True)
class Unmapped:
    """An element cases are at (or build on) with no element of the same id in the target."""

    element_id: str
    name: str | None
    instances: int
    suggestion: str | None  # SpiffWorkflow's guess by place in the flow


@dataclass(frozen=True)
class TargetElement:
    element_id: str
    name: str | None
    kind: str


@dataclass
class MigrationPlan:
    process_key: str
    process_name: str | None
    target_version: int
    dry_run: bool
    mapping: dict[str, str]
    instances: list[InstancePlan]
    unmapped: list[Unmapped]
    target_elements: list[TargetElement]
    limits: tuple[str, ...] = LIMITS
    movable: int = 0  # counted from `instances`
    refused: int = 0
    moved: int = 0

    def __post_init__(self):
        self.movable = sum(1 for i in self.instances if i.movable)
        self.refused = len(self.instances) - self.movable
        self.moved = sum(1 for i in self.instances if i.moved)


def plan(ctx: Orchestrator, process_key: str, target_version: int, actor: Actor,
         mapping: dict[str, str] | None = None, instance_ids: list[int] | None = None) -> MigrationPlan:
    """What moving each running case on an older version to `target_version` would do; nothing changes."""
    require(actor, PROCESS_OWNER, "Å flytte saker til en ny versjon")
    with ctx.db.read() as session:
        target = _Target.read(ctx, session, process_key, target_version)
        rows, unknown = _candidates(session, process_key, target_version, instance_ids)
        mapping = _checked_mapping(ctx, session, mapping, target, rows)
        diffs: dict = {}  # SpiffWorkflow's spec diffs, shared by the batch
        plans = [_dry_run(ctx, session, row, target, mapping, diffs) for row in rows]
    return _result(target, mapping, plans + [_not_a_candidate(i, process_key) for i in unknown], dry_run=True)


def migrate(ctx: Orchestrator, process_key: str, target_version: int, actor: Actor,
            instance_ids: list[int] | None = None, mapping: dict[str, str] | None = None) -> MigrationPlan:
    """Move every chosen case that maps cleanly, each in a unit of work of its own (one refused or lost
    race leaves the others moved and itself untouched); an audit row for each case moved."""
    require(actor, PROCESS_OWNER, "Å flytte saker til en ny versjon")
    with ctx.db.read() as session:
        target = _Target.read(ctx, session, process_key, target_version)
        rows, unknown = _candidates(session, process_key, target_version, instance_ids)
        mapping = _checked_mapping(ctx, session, mapping, target, rows)
    diffs: dict = {}
    plans = [_move(ctx, row.id, target, mapping, actor, diffs) for row in rows]
    return _result(target, mapping, plans + [_not_a_candidate(i, process_key) for i in unknown], dry_run=False)


# --- the target ------------------------------------------------------------------------------------------


@dataclass
class _Target:
    key: str
    version: int
    bundle: SpecBundle
    reads: list[tuple[str, str, str, set]]  # (element id, element name, what, names read) in the new version
    filled: set[str]  # what its forms, scripts, decisions and loops fill in

    @classmethod
    def read(cls, ctx: Orchestrator, session, key: str, version: int) -> "_Target":
        latest = SpecCache.latest_row(session, key)
        if latest is None or latest.kind != "bpmn":
            raise NotFound(f"prosessen «{key}» er ikke rullet ut")
        SpecCache.row(session, key, version)  # NotFound, naming the version, if there is none
        pins = ctx.specs.pins_at(session, key, version)
        bundle = ctx.specs.bundle(session, key, pins)
        reads, filled = [], {"saksnummer"}  # every case has its business key as data (runtime.create)
        for pin_key, pin_version in pins.items():
            if pin_key.startswith(FORM_PIN):
                filled |= ctx.specs.form(session, pin_key[len(FORM_PIN):], pin_version).keys()
                continue
            definition = ctx.specs.definition(session, pin_key, pin_version)
            filled |= datanames.provided(definition)
            for element_id, what, source in definition.expressions:
                info = definition.elements.get(element_id)
                reads.append((element_id, info.name if info else None, what, datanames.names(source)[0]))
        return cls(key, version, bundle, reads, filled)

    def elements(self) -> list[TargetElement]:
        """What a process owner may map an element to: the new version's flow nodes."""
        found = {info.id: TargetElement(info.id, info.name, info.kind)
                 for (owner, _), info in self.bundle.elements.items() if owner == self.key}
        return sorted(found.values(), key=lambda e: (e.name or e.element_id).lower())

    def missing(self, data: dict) -> list[DataNeed]:
        needs = {}
        for element_id, name, what, read in self.reads:
            for variable in sorted(read - self.filled - data.keys()):
                needs.setdefault((variable, element_id), DataNeed(variable, element_id, name, what))
        return list(needs.values())


def _candidates(session, key: str, target_version: int, instance_ids: list[int] | None):
    """Running cases of `key` on a version before the target (those of `instance_ids` if given), and
    the ids asked for that are not such cases."""
    query = select(*runtime.instance_columns("")).where(
        Instance.process_key == key, Instance.status == runtime.RUNNING, Instance.process_version < target_version)
    if instance_ids is not None:
        query = query.where(Instance.id.in_(set(instance_ids)))
    rows = [runtime.instance_from(m._mapping, "") for m in session.execute(query.order_by(Instance.id))]
    unknown = sorted(set(instance_ids or ()) - {r.id for r in rows})
    return rows, unknown


def _checked_mapping(ctx, session, mapping: dict | None, target: _Target, rows) -> dict[str, str]:
    """Old id -> new id, each old id an element of a version the cases are on, each new id one of the target."""
    mapping = {str(k).strip(): str(v).strip() for k, v in (mapping or {}).items() if str(v or "").strip()}
    if len(mapping) > MAX_MAPPING:
        raise Invalid("For mange koblinger", {"mapping": [f"Høyst {MAX_MAPPING} koblinger om gangen."]})
    new_ids = {element_id for _, element_id in target.bundle.elements}
    old_ids = set()
    for version in {r.process_version for r in rows}:
        old_ids |= set(ctx.specs.definition(session, target.key, version).elements)
    errors = [f"«{new}» finnes ikke i versjon {target.version}." for new in mapping.values() if new not in new_ids]
    errors += [f"«{old}» finnes ikke i versjonene sakene er på." for old in mapping if rows and old not in old_ids]
    if errors:
        raise Invalid("Koblingen har feil; ingenting er flyttet.", {"mapping": errors})
    return mapping


# --- one case ----------------------------------------------------------------------------------------------


def _dry_run(ctx: Orchestrator, session, row: runtime.InstanceRow, target: _Target, mapping, diffs) -> InstancePlan:
    """The move done on a copy of the case read from the database, then dropped."""
    plan = InstancePlan(row.id, row.business_key, row.process_version, movable=True)
    try:
        source = ctx.specs.bundle(session, row.process_key, row.pins)
        workflow = engine.load(session.scalar(select(Instance.state).where(Instance.id == row.id)), source)
        plan.missing_data = target.missing(engine.current_data(workflow))
        _fill(plan, engine_migration.migrate(workflow, source, target.bundle, mapping, diffs))
    except engine_migration.Refused as refused:
        _refuse(plan, refused)
    except Exception:  # noqa: BLE001 - one case's surprise must not hide what the others would do
        log.exception("dry run of moving instance %s to %s v%s failed", row.id, target.key, target.version)
        plan.movable, plan.refusals = False, [UNEXPECTED]
    return plan


def _move(ctx: Orchestrator, instance_id: int, target: _Target, mapping, actor: Actor, diffs) -> InstancePlan:
    """Load, move the workflow, repin, audit, commit: one case, all or nothing."""
    plan = InstancePlan(instance_id, None, 0, movable=True)
    try:
        with ctx.write("migration.move") as session:
            step = runtime.load(ctx, session, instance_id, actor)
            plan.business_key, plan.from_version = step.row.business_key, step.row.process_version
            if step.row.process_version >= target.version:  # moved by someone else since it was listed
                raise engine_migration.Refused([f"Saken er allerede på versjon {step.row.process_version}."])
            pins_before = dict(step.row.pins)
            plan.missing_data = target.missing(engine.current_data(step.workflow))
            outcome = engine_migration.migrate(step.workflow, step.bundle, target.bundle, mapping, diffs)
            _fill(plan, outcome)
            step.workflow = outcome.workflow
            runtime.repin(step, target.bundle)
            step.row.trail = _trail_mapped(step.row.trail, mapping)
            step.audit("migrated", data=_audit(plan, target, mapping, pins_before, step.row.pins))
            runtime.commit(step)
        plan.moved = True
    except engine_migration.Refused as refused:
        _refuse(plan, refused)
    except ServiceError as error:  # a lost race, a step that failed: this case stays as it was
        plan.movable, plan.refusals = False, [error.message]
    except Exception:  # noqa: BLE001 - rolled back: this case is untouched, the others still move
        log.exception("moving instance %s to %s v%s failed", instance_id, target.key, target.version)
        plan.movable, plan.refusals = False, [UNEXPECTED]
    return plan


def _fill(plan: InstancePlan, outcome: engine_migration.Outcome) -> None:
    plan.placements, plan.timers, plan.notes = outcome.placements, outcome.timers, outcome.notes
    for timer in engine_migration.overdue_after(outcome):
        plan.notes.append(f"Tidtakeren «{timer.name or timer.element_id}» har allerede utløpt etter den nye "
                          "definisjonen, og utløses når saken flyttes.")


def _refuse(plan: InstancePlan, refused: engine_migration.Refused) -> None:
    plan.movable, plan.moved, plan.refusals = False, False, refused.reasons
    plan.placements, plan.notes = refused.outcome.placements, refused.outcome.notes
    plan.unmapped, plan.suggestions = refused.outcome.unmapped, refused.outcome.suggestions


def _not_a_candidate(instance_id: int, key: str) -> InstancePlan:
    return InstancePlan(instance_id, None, 0, movable=False,
                        refusals=[f"Sak {instance_id} er ikke en sak i gang på en eldre versjon av «{key}»."])


def _audit(plan: InstancePlan, target: _Target, mapping, pins_before, pins_after) -> dict:
    """From and to which versions (and pins), under which mapping, and the timers that moved."""
    return {
        "from_version": plan.from_version, "to_version": target.version, "mapping": mapping or None,
        "pins_before": pins_before, "pins_after": dict(pins_after),
        "timers": [{"element_id": t.element_id, "before": _iso(t.before), "after": _iso(t.after)}
                   for t in plan.timers if t.before != t.after] or None,
    }


def _iso(moment) -> str | None:
    return moment.isoformat() if moment is not None else None


def _trail_mapped(trail: dict | None, mapping: dict[str, str]) -> dict | None:
    """The walked elements under their new ids, so the case's diagram still marks where it has been."""
    if not trail or not mapping:
        return trail
    elements = sorted({mapping.get(e, e) for e in trail.get("elements", [])})
    flows = sorted({(mapping.get(a, a), mapping.get(b, b)) for a, b in trail.get("flows", [])})
    return {"elements": elements, "flows": [list(f) for f in flows]}


def _result(target: _Target, mapping, plans: list[InstancePlan], dry_run: bool) -> MigrationPlan:
    unmapped: dict[str, list] = {}
    for item in plans:
        for element_id, name in item.unmapped.items():
            entry = unmapped.setdefault(element_id, [name, 0, item.suggestions.get(element_id)])
            entry[1] += 1
    return MigrationPlan(
        process_key=target.key, process_name=target.bundle.spec.description, target_version=target.version,
        dry_run=dry_run, mapping=mapping, instances=plans, target_elements=target.elements(),
        unmapped=[Unmapped(k, v[0], v[1], v[2]) for k, v in sorted(unmapped.items())],
    )
