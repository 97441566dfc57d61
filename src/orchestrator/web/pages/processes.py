"""Process owners: processes and their versions, diagrams, the browser modeler, uploads."""
from __future__ import annotations

from flask import Blueprint, Response, flash, make_response, redirect, render_template, request, url_for

from ...services import drafts, migration, processes
from ...services.access import PROCESS_OWNER, require
from ...services.errors import DeployRefused, Invalid, NotFound
from ..api.processes import source_response
from ..auth import current_actor, orchestrator
from ..forms_render import FormView, parse_submission
from ..security import MODELER_POLICY

bp = Blueprint("processes", __name__)


@bp.get("/processes")
def process_list():
    return _list_page()


def _list_page(problems=None, status: int = 200):
    """Routines (what staff start), the subroutines they call, forms and decision tables, each by title."""
    actor, ctx = current_actor(), orchestrator()
    by_kind = {kind: processes.list_processes(ctx, actor, kind, 1, 200).items for kind in processes.KINDS}
    called = processes.subroutines(ctx)
    sections = [
        ("rutiner", "Rutiner", "Prosessene de ansatte starter saker i.",
         [p for p in by_kind["bpmn"] if p.key not in called]),
        ("delrutiner", "Delrutiner", "Startes av en annen rutine, aldri for seg selv.",
         [p for p in by_kind["bpmn"] if p.key in called]),
        ("skjemaer", "Skjemaer", "Skjemaene oppgavene i rutinene fylles ut med.", by_kind["form"]),
        ("tabeller", "Beslutningstabeller", "Reglene rutinene slår opp i.", by_kind["dmn"]),
    ]
    owner = actor.has(PROCESS_OWNER)
    return render_template("processes/list.html", sections=[s for s in sections if s[3]], problems=problems or [],
                           may_deploy=owner, drafts=drafts.list_drafts(ctx, actor) if owner else []), status


@bp.post("/processes/upload")
def upload():
    actor = current_actor()
    files = [(f.filename or "", f.read()) for f in request.files.getlist("file") if f and (f.filename or f.content_length)]
    try:
        deployed = processes.deploy_files(orchestrator(), files, actor)
    except DeployRefused as error:
        return _list_page(error.problems, 422)
    changed = [d for d in deployed if d.changed]
    if changed:
        flash("Rullet ut: " + ", ".join(f"{d.key} versjon {d.version}" for d in changed) + ".", "success")
    else:
        flash("Ingen endringer: filene er like de siste versjonene.", "info")
    return redirect(url_for("processes.process_list"))


@bp.get("/processes/<key:key>")
def process_page(key):
    process = processes.get_process(orchestrator(), key, current_actor())
    return render_template("processes/detail.html", process=process, may_deploy=current_actor().has(PROCESS_OWNER))


@bp.get("/processes/<key:key>/versions/<id:version>")
def version_page(key, version):
    actor = current_actor()
    process = processes.get_process(orchestrator(), key, actor)
    source = processes.source(orchestrator(), key, version, actor)
    text = None if source.kind == "bpmn" else source.content.decode("utf-8", errors="replace")
    others = [v.version for v in process.versions if v.version != version]
    against = request.args.get("mot", type=int)
    return render_template("processes/version.html", process=process, source=source, text=text,
                           may_deploy=actor.has(PROCESS_OWNER), others=others,
                           against=against if against in others else None)


@bp.get("/processes/<key:key>/versions/<id:version>/xml")
def version_xml(key, version):
    source = processes.source(orchestrator(), key, version, current_actor())
    return source_response(source, download=request.args.get("download") == "1")


# --- running cases to a new version ----------------------------------------------------------
MAPPING_FIELD = "kobling-"  # kobling-<old element id> = <new element id>


@bp.route("/processes/<key:key>/flytting", methods=["GET", "POST"])
def migration_page(key):
    """«Flytt saker til ny versjon»: what moving the running cases would do (GET, nothing changes),
    then moving the chosen ones (POST). Process owners only; cases are shown by business key."""
    actor, ctx = current_actor(), orchestrator()
    require(actor, PROCESS_OWNER, "Å flytte saker til en ny versjon")
    process = processes.get_process(ctx, key, actor)
    if process.kind != "bpmn":
        raise NotFound(f"«{key}» er ikke en prosess")
    form = request.form if request.method == "POST" else request.args
    target = form.get("til", type=int) or process.latest_version
    mapping = {name[len(MAPPING_FIELD):]: value for name, value in form.items()
               if name.startswith(MAPPING_FIELD) and value}
    chosen = [int(v) for v in request.form.getlist("sak") if v.isdigit()] if request.method == "POST" else None
    errors, status = [], 200
    try:
        if request.method == "POST" and chosen:
            result = migration.migrate(ctx, key, target, actor, chosen, mapping)
        else:
            if request.method == "POST":
                flash("Velg minst én sak å flytte.", "info")
            result = migration.plan(ctx, key, target, actor, mapping)
    except Invalid as error:
        errors, status = [m for problems in error.fields.values() for m in problems] or [error.message], 422
        result = migration.plan(ctx, key, target, actor)
    if not result.dry_run:
        flash(f"{result.moved} {'sak' if result.moved == 1 else 'saker'} flyttet til versjon {target}"
              + (f", {result.refused} avvist." if result.refused else "."), "success" if result.moved else "info")
    return render_template("processes/migration.html", process=process, plan=result, errors=errors,
                           mapping_rows=_mapping_rows(result), landing=_landing(result),
                           from_versions=sorted({i.from_version for i in result.instances if i.from_version})), status


def _mapping_rows(plan) -> list[dict]:
    """The elements cases have no target for, and those the owner mapped (so the choice can be changed)."""
    names = {p.element_id: p.name for i in plan.instances for p in i.placements}
    rows = {u.element_id: {"element_id": u.element_id, "name": u.name, "instances": u.instances,
                           "chosen": plan.mapping.get(u.element_id) or u.suggestion, "suggestion": u.suggestion}
            for u in plan.unmapped}
    for old, new in plan.mapping.items():
        rows.setdefault(old, {"element_id": old, "name": names.get(old), "instances": None, "chosen": new,
                              "suggestion": None})
    return list(rows.values())


def _landing(plan) -> dict:
    """Where the movable cases land on the target version's diagram, for diagram.js (counts, no names)."""
    counts: dict[tuple[str, str], int] = {}
    for item in plan.instances:
        if item.movable:
            for p in item.placements:
                if p.target_id and p.kind != "delprosess":
                    counts[(p.target_id, p.kind)] = counts.get((p.target_id, p.kind), 0) + 1
    overlays = [{"element_id": element, "kind": "task" if kind == "oppgave" else "timer", "who": "", "overdue": False,
                 "label": f"{n} {'sak' if n == 1 else 'saker'}"} for (element, kind), n in sorted(counts.items())]
    running = {p.target_id for i in plan.instances if i.movable for p in i.placements if p.target_id}
    return {"completed": [], "walked": [], "active": sorted(running), "overlays": overlays,
            "tasks": sorted({e for (e, kind) in counts if kind == "oppgave"})}


# --- the diagram modeler ---------------------------------------------------------------------
@bp.get("/modeler")
def modeler_new():
    require(current_actor(), PROCESS_OWNER, "Modellereren")
    return _editor_page("processes/modeler.html", None, url_for("processes.new_process_template"), None)


@bp.get("/modeler/ny-prosess.bpmn")
def new_process_template():
    require(current_actor(), PROCESS_OWNER, "Modellereren")
    return Response(processes.new_process_template(), mimetype="application/xml")


@bp.get("/modeler/<key:key>")
def modeler(key):
    return _open_editor(key, "bpmn", "processes/modeler.html")


# --- the form and decision table editors -----------------------------------------------------
@bp.get("/skjemaer/<key:key>/rediger")
def form_editor(key):
    return _open_editor(key, "form", "processes/form_editor.html")


@bp.get("/tabeller/<key:key>/rediger")
def dmn_editor(key):
    return _open_editor(key, "dmn", "processes/dmn_editor.html")


@bp.route("/skjemaer/<key:key>/forhandsvisning", methods=["GET", "POST"])
def form_preview(key):
    """The form (its draft, else its newest version) drawn and checked exactly as a staff task
    draws and checks it; what is typed is validated and then forgotten."""
    actor, ctx = current_actor(), orchestrator()
    preview = processes.preview_form(ctx, key, actor)
    values, status = {}, 200
    if request.method == "POST" and preview.form is not None:
        values = parse_submission(preview.form, request.form, {})
        preview = processes.preview_form(ctx, key, actor, values)
        status = 422 if preview.errors else 200
    view = FormView(preview.form, values, preview.errors, {}) if preview.form else None
    return render_template("processes/form_preview.html", preview=preview, view=view,
                           checked=request.method == "POST"), status if view else 422


def _open_editor(key: str, kind: str, template: str):
    """The owner's draft of `key` if there is one, else its newest version."""
    actor, ctx = current_actor(), orchestrator()
    require(actor, PROCESS_OWNER, "Redigering")
    draft = drafts.get(ctx, key, actor)
    if draft is not None and draft.kind != kind:
        draft = None
    process = None
    try:
        process = processes.get_process(ctx, key, actor)
    except NotFound:
        if draft is None:
            raise
    if process is not None and process.kind != kind:
        return redirect(url_for(EDITORS[process.kind], key=key))
    if draft is not None:
        source_url = url_for("api.draft_content", key=key)
    else:
        source_url = url_for("processes.version_xml", key=key, version=process.latest_version)
    return _editor_page(template, process, source_url, draft, key)


EDITORS = {"bpmn": "processes.modeler", "form": "processes.form_editor", "dmn": "processes.dmn_editor"}


@bp.app_template_global()
def editor_endpoint(kind: str) -> str:
    """The page that edits this kind of document in the browser."""
    return EDITORS[kind]


def _editor_page(template: str, process, source_url: str, draft, key: str | None = None):
    response = make_response(render_template(template, process=process, source_url=source_url, draft=draft, key=key))
    response.headers["Content-Security-Policy"] = MODELER_POLICY
    return response
