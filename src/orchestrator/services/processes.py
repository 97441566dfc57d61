"""What process owners (and everyone who reads a routine) ask about deployed definitions.

The list of processes with their version history, one version's source (the XML the modelers
open), deploying one document that came without a file name (the browser modeler, an API
client posting `application/xml`), and what a process needs to be started from a page.

Deployed routines are the municipality's published procedures, not personal data: every
signed-in user may read them. Only process owners deploy (`deployment.deploy` checks).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePath

from sqlalchemy import func, select

from ..engine import authoring, structure, xmlsafe
from ..forms.model import FormDefinition, FormError, parse_form
from ..forms.schema import FormInvalid, validate_submission
from ..store.models import Draft, Instance, ProcessDefinition
from . import deploy_checks, deployment, instances
from .access import PROCESS_OWNER, Actor, require
from .context import Orchestrator
from .errors import DeployRefused, Invalid, NotFound, Problem
from .paging import Page
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
    origin: str | None = None

    @property
    def origin_text(self) -> str:
        return deployment.ORIGINS.get(self.origin, "ukjent opphav")


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


def deploy_document(ctx: Orchestrator, content: bytes, actor: Actor, filename: str | None = None,
                    origin: str = deployment.BROWSER, form_key: str | None = None):
    """Deploy one BPMN, DMN or form document; without a file name it is named after its key.

    The browser editors and API clients post bare documents: the process id (or the first
    decision's id) is the key of XML, so the file becomes `<key>.bpmn` / `<key>.dmn`; a form
    (JSON) needs its key given. It keeps the file name of the version it replaces, so
    `orchestrator export` writes it back where it came from.
    """
    require(actor, PROCESS_OWNER, "Å rulle ut prosesser")
    return deployment.deploy(ctx, [_named(ctx, content, filename, form_key)], actor, origin=origin)


def check_document(ctx: Orchestrator, content: bytes, actor: Actor, filename: str | None = None,
                   form_key: str | None = None) -> list[Problem]:
    """What deploying this document would refuse; nothing is stored (the editors ask while editing)."""
    require(actor, PROCESS_OWNER, "Å sjekke prosesser")
    try:
        named = _named(ctx, content, filename, form_key)
    except DeployRefused as refused:
        return refused.problems
    return deployment.check(ctx, [named], actor)


def check_files(ctx: Orchestrator, files: list[tuple[str, bytes]], actor: Actor) -> list[Problem]:
    """What deploying these files together would refuse; nothing is stored."""
    require(actor, PROCESS_OWNER, "Å sjekke prosesser")
    files = [(PurePath(name or "").name, content) for name, content in files]
    if not files or any(not name for name, _ in files):
        return [Problem(UPLOAD_NAME, "filen mangler navn (bruk .bpmn, .dmn eller .form)")]
    return deployment.check(ctx, files, actor)


def _named(ctx, content: bytes, filename: str | None, form_key: str | None) -> tuple[str, bytes]:
    if filename:
        return PurePath(filename).name, content
    if not content or not content.strip():
        raise DeployRefused([Problem(UPLOAD_NAME, "dokumentet er tomt")])
    if form_key is not None:
        return _deployed_name(ctx, form_key, f"{form_key}.form"), content
    try:
        definition = authoring.read(UPLOAD_NAME, xmlsafe.parse(content), content)
    except xmlsafe.UnsafeXml as error:
        raise DeployRefused([deployment.unreadable(UPLOAD_NAME, error)]) from None
    except authoring.AuthoringError as error:
        raise DeployRefused([Problem(UPLOAD_NAME, error.message, error.element_id, error.line)]) from None
    return _deployed_name(ctx, definition.key, f"{definition.key}.{definition.kind}"), content


def _deployed_name(ctx, key: str, default: str) -> str:
    with ctx.db.read() as session:
        row = SpecCache.latest_row(session, key)
    name = PurePath(row.filename).name if row is not None else ""
    return name if name and PurePath(name).suffix == PurePath(default).suffix else default


def deploy_files(ctx: Orchestrator, files: list[tuple[str, bytes]], actor: Actor):
    """Deploy uploaded files (.bpmn/.dmn/.form) together, all or nothing."""
    require(actor, PROCESS_OWNER, "Å rulle ut prosesser")
    files = [(PurePath(name or "").name, content) for name, content in files]
    if not files:
        raise DeployRefused([Problem(UPLOAD_NAME, "ingen fil ble lastet opp")])
    nameless = [name for name, _ in files if not name]
    if nameless:
        raise DeployRefused([Problem(UPLOAD_NAME, "filen mangler navn (bruk .bpmn, .dmn eller .form)")])
    return deployment.deploy(ctx, files, actor, origin=deployment.UPLOAD)


@dataclass
class VersionDiff:
    """Elements of a process by id: only in the newer version, only in the older, or different."""

    key: str
    version: int
    other: int
    added: list[str]
    removed: list[str]
    changed: list[str]


def compare_versions(ctx: Orchestrator, key: str, version: int, other: int, actor: Actor) -> VersionDiff:
    """What changed from version `other` to `version` of a BPMN process, by element id (ids stay
    stable across versions in both modelers); drawing-only changes (positions) are not changes."""
    with ctx.db.read() as session:
        newer, older = SpecCache.row(session, key, version), SpecCache.row(session, key, other)
        if newer.kind != "bpmn":
            raise Invalid("Bare prosesser kan sammenlignes", {"kind": ["Sammenligningen viser BPMN-diagrammer."]})
        now, before = (structure.elements(_process(row)) for row in (newer, older))
    return VersionDiff(key, version, other, added=sorted(now.keys() - before.keys()),
                       removed=sorted(before.keys() - now.keys()),
                       changed=sorted(i for i in now.keys() & before.keys() if now[i] != before[i]))


def _process(row: ProcessDefinition):
    return xmlsafe.parse(bytes(row.content)).find(f"{{{authoring.BPMN_NS}}}process[@id='{row.key}']")


@dataclass
class FormPreview:
    """A form as staff will get it, and what the server says about answers typed into it."""

    key: str
    form: FormDefinition | None
    from_draft: bool
    problem: str | None = None  # the form cannot be read
    errors: dict[str, list[str]] = field(default_factory=dict)


def preview_form(ctx: Orchestrator, key: str, actor: Actor, submitted: dict | None = None) -> FormPreview:
    """The owner's draft of the form (else its newest version), checked against `submitted` with
    the same validation a task uses; nothing is stored."""
    require(actor, PROCESS_OWNER, "Forhåndsvisning")
    with ctx.db.read() as session:
        draft = session.scalars(select(Draft).where(Draft.key == key, Draft.kind == "form")).first()
        row = None if draft else SpecCache.latest_row(session, key, kind="form")
        if draft is None and row is None:
            raise NotFound(f"skjemaet «{key}» finnes ikke")
        content = bytes(draft.content if draft else row.content)
    try:
        form = parse_form(key, content)
    except FormError as error:
        return FormPreview(key, None, draft is not None, problem=str(error))
    preview = FormPreview(key, form, draft is not None)
    if submitted is not None:
        try:
            validate_submission(form, submitted)
        except FormInvalid as error:
            preview.errors = error.errors
    return preview


def new_process_template() -> bytes:
    """What «Ny prosess» opens: deploy refuses it unchanged (services/deploy_checks.py)."""
    return deploy_checks.template()


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
            if not instances.may_start(session, actor, role, starters=start.starters if start else ()):
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
               ProcessDefinition.filename, ProcessDefinition.deployed_at, ProcessDefinition.deployed_by,
               ProcessDefinition.origin)
        .where(ProcessDefinition.key.in_(keys))
        .order_by(ProcessDefinition.key, ProcessDefinition.version.desc())
    )
    out: dict[str, list[ProcessVersion]] = {}
    for key, version, kind, name, filename, at, by, origin in rows:
        out.setdefault(key, []).append(ProcessVersion(
            key, version, kind, name, PurePath(filename).name, at, by, running.get((key, version), 0), origin))
    return out


def _form_title(row: ProcessDefinition) -> str | None:
    """A form is listed by its title («Forberede innkalling»), as a process is by its name."""
    if row.kind != "form":
        return None
    try:
        title = json.loads(bytes(row.content)).get("title")
    except (ValueError, AttributeError):
        return None
    return title if isinstance(title, str) and title.strip() else None


def _summary(row: ProcessDefinition, versions: list[ProcessVersion]) -> ProcessSummary:
    return ProcessSummary(
        key=row.key, kind=row.kind, name=row.name or _form_title(row), latest_version=row.version, deployed_at=row.deployed_at,
        deployed_by=row.deployed_by, running_instances=sum(v.running_instances for v in versions),
        versions=versions,
    )
