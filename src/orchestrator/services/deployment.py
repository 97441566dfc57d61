"""Deploy BPMN, DMN and form files as new versions, all or nothing.

Each file is parsed hardened (engine/xmlsafe.py), read for its authoring attributes, checked
(unsupported elements, roles, forms, called processes, decisions, every expression and DMN cell
in the sandbox, lengths, a way from start to end, SpiffWorkflow's own parse and schema) and only
then stored, as version n+1 of its key when its bytes changed. One problem anywhere refuses the
whole batch. `check` runs the same checks and stores nothing.

Each version records where it came from (ORIGINS). A deploy from files does not replace a newest
version that came from elsewhere (the browser, an upload): a file equal to an earlier version is
skipped with a note (the repository has not caught up yet: `orchestrator export`), a file with
new content is refused unless forced, naming the version it would undo.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException

from .. import clock
from ..engine import authoring, loops, sandbox, xmlsafe
from ..engine.authoring import STAFF_ROLES, Definition
from ..engine.parser import build_bundle, validate_schema
from ..engine.authoring import normalise_form_key
from ..forms.model import FormError, parse_form
from ..store.models import AuditEntry, Draft, ProcessDefinition
from . import deploy_checks, rules, wording
from .access import PROCESS_OWNER, Actor, require
from .context import Orchestrator
from .errors import Conflict, DeployRefused, Problem
from .specs import SpecCache

SUFFIXES = {".bpmn": "bpmn", ".dmn": "dmn", ".form": "form"}
HUMAN_TASKS = {"userTask", "manualTask", "task"}
FILE, UPLOAD, BROWSER, API = "file", "upload", "browser", "api"
OSLO = ZoneInfo("Europe/Oslo")
ORIGINS = {FILE: "fra filer", UPLOAD: "lastet opp", BROWSER: "i nettleseren", API: "via API-et"}


@dataclass(frozen=True)
class Deployed:
    key: str
    version: int
    kind: str
    filename: str
    changed: bool
    note: str | None = None  # why a file was left out (a newer version came from the browser)


@dataclass
class _Form:
    key: str
    filename: str
    content: bytes


def collect_files(paths: list[str | Path]) -> list[tuple[str, bytes]]:
    """Files and folders -> (name, bytes) of every .bpmn, .dmn and .form file, in order."""
    found: list[tuple[str, bytes]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix in SUFFIXES:
                    found.append((str(child), child.read_bytes()))
        elif path.is_file():
            found.append((str(path), path.read_bytes()))
        else:
            raise DeployRefused([Problem(str(path), "finnes ikke")])
    if not found:
        raise DeployRefused([Problem(", ".join(map(str, paths)), "ingen .bpmn-, .dmn- eller .form-filer funnet")])
    return found


def deploy(ctx: Orchestrator, files: list[tuple[str, bytes]], actor: Actor, origin: str = FILE,
           force: bool = False) -> list[Deployed]:
    """Store what changed as new versions; `force` lets files replace a newer browser version."""
    require(actor, PROCESS_OWNER, "Å rulle ut prosesser")
    definitions, forms, problems = _read_all(files)
    with ctx.db.read() as session:
        problems += _check(ctx, session, definitions, forms)
    if problems:
        raise DeployRefused(problems)
    try:
        with ctx.write() as session:
            return _store(session, definitions, forms, actor, origin, force)
    except IntegrityError:
        raise Conflict("En annen utrulling av de samme prosessene pågikk samtidig; prøv igjen.") from None


def check(ctx: Orchestrator, files: list[tuple[str, bytes]], actor: Actor) -> list[Problem]:
    """What deploy would refuse in these files, without storing anything."""
    require(actor, PROCESS_OWNER, "Å sjekke prosesser")
    definitions, forms, problems = _read_all(files)
    with ctx.db.read() as session:
        return problems + _check(ctx, session, definitions, forms)


def _read_all(files):
    definitions: list[Definition] = []
    forms: list[_Form] = []
    problems: list[Problem] = []
    for filename, content in files:
        name = Path(filename).name
        kind = SUFFIXES.get(Path(filename).suffix.lower())
        if kind is None:
            problems.append(Problem(name, "ukjent filtype (bruk .bpmn, .dmn eller .form)"))
            continue
        if kind == "form":
            key = normalise_form_key(Path(filename).stem)
            try:
                form = parse_form(key, content)
            except FormError as error:
                problems.append(Problem(name, str(error), error.component))
                continue
            for unknown in rules.unknown_rules(form):
                problems.append(Problem(name, f"ukjent regel «{unknown}» (kjente regler: {', '.join(sorted(rules.RULES))})"))
            problems += deploy_checks.form_lengths(name, key)
            forms.append(_Form(key, name, content))
            continue
        try:
            root = xmlsafe.parse(content)
            definition = authoring.read(name, root, content)
        except xmlsafe.UnsafeXml as error:
            problems.append(unreadable(name, error))
            continue
        except authoring.AuthoringError as error:
            problems.append(Problem(name, error.message, error.element_id, error.line))
            continue
        if definition.kind != kind:
            problems.append(Problem(name, f"filendelsen sier {kind}, men innholdet er {definition.kind}"))
            continue
        definitions.append(definition)
    problems += _duplicates(definitions, forms)
    return definitions, forms, problems


def _duplicates(definitions, forms) -> list[Problem]:
    seen: dict[str, str] = {}
    problems = []
    for key, filename in [(d.key, d.filename) for d in definitions] + [(f.key, f.filename) for f in forms]:
        if key in seen:
            problems.append(Problem(filename, f"nøkkelen «{key}» finnes også i {seen[key]}"))
        seen[key] = filename
    return problems


def _check(ctx, session, definitions: list[Definition], forms: list[_Form]) -> list[Problem]:
    problems: list[Problem] = []
    batch_forms = {f.key for f in forms}
    batch_processes = {d.key: d for d in definitions if d.kind == "bpmn"}
    batch_decisions = {dec: d for d in definitions if d.kind == "dmn" for dec in d.decisions_provided}
    deployed_decisions = {
        dec: row for row in SpecCache.latest_rows(session, kind="dmn") for dec in row.decisions_provided
    }
    for definition in definitions:
        file = definition.filename
        problems += [Problem(file, e.message, e.element_id, e.line) for e in definition.unsupported]
        problems += _check_expressions(definition)
        problems += deploy_checks.lengths(definition)
        if definition.kind != "bpmn":
            continue
        problems += deploy_checks.finishable(definition)
        problems += _check_loops(definition)
        has_lanes = any(e.lane for e in definition.elements.values())
        for element in definition.elements.values():
            if element.kind in HUMAN_TASKS:
                if element.role is None and has_lanes:
                    problems.append(Problem(file, "brukeroppgaven ligger ikke i noen lane (rolle)", element.id, element.line))
                elif element.role is not None and element.role not in STAFF_ROLES:
                    problems.append(Problem(
                        file, f"lanen «{element.lane or element.role}» er ikke en av rollene; gi lanen navnet til "
                        f"en av dem: {wording.roles_text(STAFF_ROLES)}", element.id, element.line,
                        detail=f"rollen «{element.role}» er ukjent; kjente roller: {', '.join(STAFF_ROLES)}"))
            if element.form_key:
                form_key = element.form_key
                if form_key not in batch_forms and SpecCache.latest_row(session, form_key, kind="form") is None:
                    problems.append(Problem(file, f"skjemaet «{form_key}» finnes ikke (mangler forms/{form_key}.form)", element.id, element.line))
            if element.called_element and element.called_element not in batch_processes:
                if SpecCache.latest_row(session, element.called_element, kind="bpmn") is None:
                    problems.append(Problem(file, f"kalt prosess «{element.called_element}» er ikke rullet ut", element.id, element.line))
            if element.kind == "businessRuleTask" and not element.decision_ref:
                problems.append(Problem(file, "forretningsregel mangler camunda:decisionRef", element.id, element.line))
            elif element.decision_ref and element.decision_ref not in batch_decisions | deployed_decisions:
                problems.append(Problem(file, f"beslutningen «{element.decision_ref}» er ikke rullet ut", element.id, element.line))
    if problems:
        return problems
    for definition in batch_processes.values():
        problems += _check_with_engine(ctx, session, definition, batch_processes, batch_decisions)
    return problems


def _check_loops(definition: Definition) -> list[Problem]:
    problems = []
    process = definition.root.find(f"{{{authoring.BPMN_NS}}}process[@id='{definition.key}']")
    for loop in loops.unguarded_loops(process):
        names = [definition.elements[i].name or i if i in definition.elements else i for i in loop]
        first = definition.elements.get(loop[0])
        problems.append(Problem(
            definition.filename,
            f"sekvensflyten går i ring uten en eksklusiv, inkluderende eller hendelsesbasert port "
            f"({' → '.join(names + names[:1])}); motoren kan ikke kjøre en slik løkke. Legg en eksklusiv "
            f"port i løkken som avgjør om den skal gå en runde til",
            loop[0], first.line if first else None))
    return problems


def _check_expressions(definition: Definition) -> list[Problem]:
    problems = []
    for element_id, what, source in definition.expressions:
        try:
            if what == "skript":
                sandbox.compile_script(source)
            else:
                sandbox.compile_expression(source)
        except sandbox.SandboxViolation as error:
            line = definition.elements[element_id].line if element_id in definition.elements else None
            # our own refusals are written for people; the compiler's («Line 1: …») are technical
            plain = [r for r in error.reasons if not r.startswith("Line ")]
            technical = [r for r in error.reasons if r.startswith("Line ")]
            why = "; ".join(plain) or ("bruk sakens data, enkle sammenligninger og hjelpefunksjonene "
                                       "(docs/expressions.md)")
            problems.append(Problem(definition.filename, f"{what}: uttrykket «{error.source[:80]}» kan ikke "
                                    f"brukes: {why}", element_id, line, detail="; ".join(technical) or None))
    return problems


def _check_with_engine(ctx, session, definition, batch_processes, batch_decisions) -> list[Problem]:
    """SpiffWorkflow's own parse, with the called processes and decisions it will run with."""
    needed = {definition.key: definition}
    pending = list(definition.called_processes)
    decisions = set(definition.decisions_used)
    while pending:
        key = pending.pop()
        if key in needed:
            continue
        called = batch_processes.get(key)
        if called is None:
            row = SpecCache.latest_row(session, key, kind="bpmn")
            called = ctx.specs.definition(session, key, row.version)
        needed[key] = called
        pending.extend(called.called_processes)
        decisions |= called.decisions_used
    for decision in decisions:
        dmn = batch_decisions.get(decision)
        if dmn is None:
            row = next(r for r in SpecCache.latest_rows(session, kind="dmn") if decision in r.decisions_provided)
            dmn = ctx.specs.definition(session, row.key, row.version)
        needed[dmn.key] = dmn
    try:
        validate_schema(definition)
        build_bundle(definition.key, list(needed.values()), {})
    except ValidationException as error:
        line = error.line_number or None
        element_id = error.id or _element_at_line(definition, line)
        return [Problem(error.file_name or definition.filename, ENGINE_REFUSED, element_id, line,
                        detail=_spiff_message(error))]
    except SpiffWorkflowException as error:
        return [Problem(definition.filename, ENGINE_REFUSED, detail=str(error))]
    return []


def _element_at_line(definition: Definition, line: int | None) -> str | None:
    if line is None or definition.root is None:
        return None
    return next((node.get("id") for node in definition.root.iter()
                 if isinstance(node.tag, str) and node.sourceline == line and node.get("id")), None)


ENGINE_REFUSED = ("motoren kan ikke kjøre diagrammet slik det er tegnet her; se etter noe som mangler ved "
                  "elementet (en betingelse på en flyt ut av en port, en referanse, en sekvensflyt)")


def unreadable(name: str, error: xmlsafe.UnsafeXml) -> Problem:
    """A file that is not XML at all, or XML we refuse to read (a DOCTYPE): said plainly."""
    if str(error).startswith("ugyldig XML"):
        return Problem(name, "filen kan ikke leses som et diagram: den er kanskje avkortet eller endret for hånd; "
                             "åpne den i modellereren og lagre den på nytt", line=error.line, detail=str(error))
    return Problem(name, str(error), line=error.line)


def _spiff_message(error: ValidationException) -> str:
    text = str(error).split("\n")[0]
    return f"ugyldig BPMN: {text}"


def _store(session, definitions: list[Definition], forms: list[_Form], actor: Actor, origin: str,
           force: bool) -> list[Deployed]:
    results, refused = [], []
    now = clock.now()
    items = [(d.key, d.kind, d.name, d.filename, d.content, d) for d in definitions]
    items += [(f.key, "form", None, f.filename, f.content, None) for f in forms]
    for key, kind, name, filename, content, definition in items:
        digest = hashlib.sha256(content).hexdigest()
        latest = SpecCache.latest_row(session, key)
        if latest is not None and latest.kind != kind:
            raise DeployRefused([Problem(filename, f"nøkkelen «{key}» er allerede brukt av en {latest.kind}-fil")])
        if latest is not None and latest.content_hash == digest:
            results.append(Deployed(key, latest.version, kind, filename, changed=False))
            continue
        if origin == FILE and latest is not None and latest.origin != FILE and not force:
            if _deployed_before(session, key, digest):
                results.append(Deployed(key, latest.version, kind, filename, changed=False,
                                        note=_newer_elsewhere(latest, "filen er lik en eldre versjon; hoppet over")))
            else:
                refused.append(Problem(filename, _newer_elsewhere(
                    latest, "filen er endret også; rull ut med --force for å erstatte den")))
            continue
        version = (latest.version + 1) if latest else 1
        session.add(ProcessDefinition(
            key=key, version=version, kind=kind, name=name, filename=filename, content=content,
            content_hash=digest,
            called_processes=sorted(definition.called_processes) if definition else [],
            decisions_used=sorted(definition.decisions_used) if definition else [],
            decisions_provided=list(definition.decisions_provided) if definition else [],
            message_starts=definition.message_starts() if definition else [],
            deployed_at=now, deployed_by=actor.username, origin=origin,
        ))
        session.add(AuditEntry(at=now, actor=actor.username, action="deployed", element_id=key,
                               data={"key": key, "version": version, "kind": kind, "filename": filename,
                                     "origin": origin}))
        if origin != FILE:  # the owner's own draft became this version
            session.execute(delete(Draft).where(Draft.key == key))
        results.append(Deployed(key, version, kind, filename, changed=True))
    if refused:
        raise DeployRefused(refused)
    session.flush()
    return results


def _deployed_before(session, key: str, digest: str) -> bool:
    return session.scalar(select(ProcessDefinition.id).where(
        ProcessDefinition.key == key, ProcessDefinition.content_hash == digest).limit(1)) is not None


def _newer_elsewhere(latest: ProcessDefinition, consequence: str) -> str:
    where = ORIGINS.get(latest.origin, "utenfor filene")
    when = latest.deployed_at.astimezone(OSLO).strftime("%d.%m.%Y kl. %H:%M")
    return (f"versjon {latest.version} av «{latest.key}», den nyeste, ble laget {where} av "
            f"{latest.deployed_by or 'ukjent'} {when}, og filen ville gjort den om; {consequence}. Kjør "
            f"`orchestrator export .` og legg endringene inn i repoet (git commit), så er filene oppdatert")
