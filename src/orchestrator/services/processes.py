"""What process owners (and everyone who reads a routine) ask about deployed definitions.

The list of processes with their version history, one version's source (the XML the modelers
open), deploying one document that came without a file name (the browser modeler, an API
client posting `application/xml`), and what a process needs to be started from a page.

Deployed routines are the municipality's published procedures, not personal data: every
signed-in user may read them. Only process owners deploy (`deployment.deploy` checks).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePath

from sqlalchemy import func, select

from ..engine import authoring, xmlsafe
from ..forms.model import FormDefinition
from ..store.models import Instance, ProcessDefinition
from . import deployment, instances
from .access import PROCESS_OWNER, Actor, require
from .context import Orchestrator
from .errors import DeployRefused, Invalid, NotFound, Problem
from .instances import Page
from .specs import SpecCache

KINDS = ("bpmn", "dmn", "form")
MEDIA_TYPES = {"bpmn": "application/xml", "dmn": "application/xml", "form": "application/json"}
UPLOAD_NAME = "opplastet dokument"


@dataclass
class ProcessVersion:
    key: str
    version: int
    kind: str
    name: str | None
    filename: str
    deployed_at: datetime
    deployed_by: str | None
    running_instances: int = 0


@dataclass
class ProcessSummary:
    key: str
    kind: str
    name: str | None
    latest_version: int
    deployed_at: datetime
    deployed_by: str | None
    running_instances: int = 0
    versions: list[ProcessVersion] = field(default_factory=list)


@dataclass
class Source:
    key: str
    version: int
    kind: str
    filename: str
    content: bytes

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES.get(self.kind, "application/octet-stream")


@dataclass
class Startable:
    key: str
    name: str | None
    version: int
    role: str | None
    form: FormDefinition | None


def list_processes(ctx: Orchestrator, actor: Actor, kind: str | None = None, page: int = 1,
                   per_page: int = 50) -> Page:
    """Every deployed key, newest version first in its history; paginated by key."""
    if kind is not None and kind not in KINDS:
        raise Invalid("Ukjent type", {"kind": [f"Bruk en av {', '.join(KINDS)}."]})
    page, per_page = max(1, page), min(max(1, per_page), 200)
    with ctx.db.read() as session:
        latest = SpecCache.latest_rows(session, kind=kind)
        total = len(latest)
        chosen = latest[(page - 1) * per_page: page * per_page]
        versions = _versions(session, [r.key for r in chosen])
        return Page([_summary(r, versions.get(r.key, [])) for r in chosen], total, page, per_page)


def get_process(ctx: Orchestrator, key: str, actor: Actor) -> ProcessSummary:
    with ctx.db.read() as session:
        row = SpecCache.latest_row(session, key)
        if row is None:
            raise NotFound(f"«{key}» er ikke rullet ut")
        return _summary(row, _versions(session, [key]).get(key, []))


def source(ctx: Orchestrator, key: str, version: int, actor: Actor) -> Source:
    """The file exactly as it was deployed (what the modelers open and what was checked)."""
    with ctx.db.read() as session:
        row = SpecCache.row(session, key, version)
        return Source(row.key, row.version, row.kind, PurePath(row.filename).name, bytes(row.content))


def deploy_document(ctx: Orchestrator, content: bytes, actor: Actor, filename: str | None = None):
    """Deploy one BPMN or DMN document; without a file name it is named after its key.

    The browser modeler and API clients post bare XML: the process id (or the first
    decision's id) is the key, so the file becomes `<key>.bpmn` / `<key>.dmn`.
    """
    require(actor, PROCESS_OWNER, "Å rulle ut prosesser")
    if filename:
        return deployment.deploy(ctx, [(PurePath(filename).name, content)], actor)
    if not content or not content.strip():
        raise DeployRefused([Problem(UPLOAD_NAME, "dokumentet er tomt")])
    try:
        definition = authoring.read(UPLOAD_NAME, xmlsafe.parse(content), content)
    except xmlsafe.UnsafeXml as error:
        raise DeployRefused([Problem(UPLOAD_NAME, str(error), line=error.line)]) from None
    except authoring.AuthoringError as error:
        raise DeployRefused([Problem(UPLOAD_NAME, error.message, error.element_id, error.line)]) from None
    return deployment.deploy(ctx, [(f"{definition.key}.{definition.kind}", content)], actor)


def deploy_files(ctx: Orchestrator, files: list[tuple[str, bytes]], actor: Actor):
    """Deploy uploaded files (.bpmn/.dmn/.form) together, all or nothing."""
    require(actor, PROCESS_OWNER, "Å rulle ut prosesser")
    files = [(PurePath(name or "").name, content) for name, content in files]
    if not files:
        raise DeployRefused([Problem(UPLOAD_NAME, "ingen fil ble lastet opp")])
    nameless = [name for name, _ in files if not name]
    if nameless:
        raise DeployRefused([Problem(UPLOAD_NAME, "filen mangler navn (bruk .bpmn, .dmn eller .form)")])
    return deployment.deploy(ctx, files, actor)


def startable(ctx: Orchestrator, actor: Actor) -> list[Startable]:
    """Processes this actor may start from a page, with their start form.

    The rule mirrors `instances.start` (which enforces it): a start event in a lane needs that
    role; without a lane any staff member may start; managers and koordinerende enhet start all.
    Processes that are only ever called by others (no top-level start a person can use) are left out.
    """
    found = []
    with ctx.db.read() as session:
        called = {k for r in SpecCache.latest_rows(session, kind="bpmn") for k in (r.called_processes or [])}
        for row in SpecCache.latest_rows(session, kind="bpmn"):
            if row.key in called:
                continue
            definition = ctx.specs.definition(session, row.key, row.version)
            starts = [e for e in definition.elements.values() if e.kind == "startEvent" and e.top_level]
            start = starts[0] if starts else None
            role = start.role if start else None
            if not instances.may_start(session, actor, role):
                continue
            form = None
            if start is not None and start.form_key:
                form_row = SpecCache.latest_row(session, start.form_key, kind="form")
                form = ctx.specs.form(session, start.form_key, form_row.version) if form_row else None
            found.append(Startable(row.key, row.name, row.version, role, form))
    return found


def startable_process(ctx: Orchestrator, key: str, actor: Actor) -> Startable:
    for item in startable(ctx, actor):
        if item.key == key:
            return item
    raise NotFound(f"prosessen «{key}» finnes ikke, eller du kan ikke starte den")


def _versions(session, keys: list[str]) -> dict[str, list[ProcessVersion]]:
    if not keys:
        return {}
    running = dict(
        ((key, version), count) for key, version, count in session.execute(
            select(Instance.process_key, Instance.process_version, func.count())
            .where(Instance.process_key.in_(keys), Instance.status == "running")
            .group_by(Instance.process_key, Instance.process_version))
    )
    rows = session.execute(
        select(ProcessDefinition.key, ProcessDefinition.version, ProcessDefinition.kind, ProcessDefinition.name,
               ProcessDefinition.filename, ProcessDefinition.deployed_at, ProcessDefinition.deployed_by)
        .where(ProcessDefinition.key.in_(keys))
        .order_by(ProcessDefinition.key, ProcessDefinition.version.desc())
    )
    out: dict[str, list[ProcessVersion]] = {}
    for key, version, kind, name, filename, at, by in rows:
        out.setdefault(key, []).append(ProcessVersion(
            key, version, kind, name, PurePath(filename).name, at, by, running.get((key, version), 0)))
    return out


def _summary(row: ProcessDefinition, versions: list[ProcessVersion]) -> ProcessSummary:
    return ProcessSummary(
        key=row.key, kind=row.kind, name=row.name, latest_version=row.version, deployed_at=row.deployed_at,
        deployed_by=row.deployed_by, running_instances=sum(v.running_instances for v in versions),
        versions=versions,
    )
