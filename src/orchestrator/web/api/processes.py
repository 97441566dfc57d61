"""/api/v1/processes: deployed processes, their versions and sources; deploying new versions."""
from __future__ import annotations

from flask import g, request

from ...services import deployment, drafts, migration, processes
from ...services.errors import Invalid, NotFound, ServiceError
from ..security import SOURCE_POLICY
from . import schemas as s
from .base import bp, current_actor, dump, operation, orchestrator

XML_TYPES = {"application/xml", "text/xml", "application/bpmn+xml", "application/dmn+xml"}


class UnsupportedMediaType(ServiceError):
    status = 415


@bp.get("/processes")
@operation(summary="List deployed processes, decisions and forms with their version history", tag="Prosesser",
           query=s.ProcessQuery, responses={200: s.ProcessPageSchema}, errors=(422,))
def list_processes(query):
    page = processes.list_processes(orchestrator(), current_actor(), query.get("kind"), query["page"], query["per_page"])
    return dump(s.ProcessPageSchema, page)


DOCUMENT_CONTENT = {
    "application/xml": {"schema": {"type": "string", "description": "a BPMN 2.0 or DMN document"}},
    "application/json": {"schema": {"type": "object", "description": "a form-js form (give its key as ?key=)"}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "array", "items": {"type": "string", "format": "binary"},
                 "description": ".bpmn, .dmn or .form files, together (all or nothing)"}}}},
}


@bp.post("/processes")
@operation(
    summary="Deploy a BPMN or DMN document, a form, or .bpmn/.dmn/.form files as new versions", tag="Prosesser",
    query=s.DocumentQuery, body_content=DOCUMENT_CONTENT,
    responses={201: s.DeployResultSchema, 200: s.DeployResultSchema},
    description="201 when a new version was stored; 200 when every file equals its latest version. "
                "422 with `problems` (file, element id, line, message) when anything is invalid: nothing "
                "is stored then. A document posted from a signed-in browser is recorded as made in the "
                "browser (file deploys will not overwrite it without --force); with a token, as made via "
                "the API. Requires the role process_owner.",
    errors=(403, 415, 422),
)
def deploy(query):
    actor, ctx = current_actor(), orchestrator()
    if request.mimetype == "multipart/form-data":
        files = [(f.filename or "", f.read()) for f in request.files.getlist("file")]
        deployed = processes.deploy_files(ctx, files, actor)
    else:
        content, form_key = _document(query)
        origin = deployment.API if g.get("auth_method") == "bearer" else deployment.BROWSER
        deployed = processes.deploy_document(ctx, content, actor, origin=origin, form_key=form_key)
    main = next((d for d in deployed if d.kind == "bpmn" and d.changed), None) or next(
        (d for d in deployed if d.changed), None) or deployed[0]
    changed = any(d.changed for d in deployed)
    body = {"key": main.key, "version": main.version, "kind": main.kind, "changed": changed, "deployed": deployed}
    return dump(s.DeployResultSchema, body, 201 if changed else 200)


@bp.post("/processes/check")
@operation(
    summary="What deploying a document (or files) would refuse, without deploying", tag="Prosesser",
    query=s.DocumentQuery, body_content=DOCUMENT_CONTENT, responses={200: s.CheckResultSchema},
    description="The same checks as deploy; nothing is stored. `problems` is empty when deploy would accept "
                "it. The browser editors call this while a process owner edits. Requires process_owner.",
    errors=(403, 415, 422),
)
def check(query):
    actor, ctx = current_actor(), orchestrator()
    if request.mimetype == "multipart/form-data":
        files = [(f.filename or "", f.read()) for f in request.files.getlist("file")]
        problems = processes.check_files(ctx, files, actor)
    else:
        content, form_key = _document(query)
        problems = processes.check_document(ctx, content, actor, form_key=form_key)
    return dump(s.CheckResultSchema, {"ok": not problems, "problems": problems})


def _document(args: dict) -> tuple[bytes, str | None]:
    """The posted document and, for a form, its key (`args`: the declared query)."""
    if request.mimetype in XML_TYPES:
        return request.get_data(), None
    if request.mimetype == "application/json":
        if not args.get("key"):
            raise Invalid("Et skjema trenger en nøkkel", {"key": ["Oppgi skjemaets nøkkel som ?key=."]})
        return request.get_data(), args["key"]
    raise UnsupportedMediaType("Send dokumentet som application/xml, et skjema som application/json, "
                               "eller filer i multipart/form-data (feltet «file»).")


@bp.get("/processes/<key:key>/draft")
@operation(summary="A process owner's saved draft of a diagram, table or form (not a version)", tag="Prosesser",
           responses={200: s.DraftSchema}, errors=(403, 404),
           description="The draft's content is at `/processes/{key}/draft/content`. Requires process_owner.")
def get_draft(key):
    draft = drafts.get(orchestrator(), key, current_actor())
    if draft is None:
        raise NotFound(f"det finnes ikke noe utkast av «{key}»")
    return dump(s.DraftSchema, draft)


@bp.get("/processes/<key:key>/draft/content")
@operation(summary="The content of a draft, as it was saved", tag="Prosesser",
           responses={200: {"application/xml": {"schema": {"type": "string"}},
                            "application/json": {"schema": {"type": "object"}}}}, errors=(403, 404))
def draft_content(key):
    draft = drafts.get(orchestrator(), key, current_actor())
    if draft is None:
        raise NotFound(f"det finnes ikke noe utkast av «{key}»")
    return source_response(processes.Source(key, 0, draft.kind, f"{key}.{draft.kind}", draft.content))


@bp.put("/processes/<key:key>/draft")
@operation(summary="Save a draft: stored, not checked, not deployed; nothing can start from it", tag="Prosesser",
           query=s.DraftQuery, responses={200: s.DraftSchema},
           body_content={k: v for k, v in DOCUMENT_CONTENT.items() if k != "multipart/form-data"},
           description="One draft per key: saving again replaces it. Deploying a new version from the browser "
                       "removes it. Requires process_owner.", errors=(403, 415, 422))
def save_draft(key, query):
    if request.mimetype in XML_TYPES:
        kind = drafts.kind_of_xml(request.get_data())
    elif request.mimetype == "application/json":
        kind = "form"
    else:
        raise UnsupportedMediaType("Send utkastet som application/xml eller application/json.")
    draft = drafts.save(orchestrator(), key, kind, request.get_data(), current_actor(), query.get("base_version"))
    return dump(s.DraftSchema, draft)


@bp.delete("/processes/<key:key>/draft")
@operation(summary="Discard a draft", tag="Prosesser", responses={204: {}}, errors=(403, 404))
def discard_draft(key):
    drafts.discard(orchestrator(), key, current_actor())
    return "", 204


@bp.get("/processes/<key:key>/versions/<id:version>/diff")
@operation(summary="What changed on the diagram from another version to this one", tag="Prosesser",
           query=s.DiffQuery, responses={200: s.VersionDiffSchema}, errors=(404, 422),
           description="Element ids added, removed and changed (not counting where they are drawn).")
def version_diff(key, version, query):
    diff = processes.compare_versions(orchestrator(), key, version, query["against"], current_actor())
    return dump(s.VersionDiffSchema, diff)


@bp.post("/processes/<key:key>/migrations")
@operation(
    summary="Move running cases to another version of the process (or, by default, only say what would happen)",
    tag="Prosesser", body=s.MigrationRequestSchema, responses={200: s.MigrationSchema},
    description="Every running case on a version before `to_version` (or the `instances` named): with `dry_run` "
                "(the default) what maps where, which timers move, why a case is refused (naming the element) and "
                "what data the new version reads that the case lacks; with `dry_run: false` every case that maps "
                "cleanly is moved, each on its own, with an audit row, and the refused ones are left as they were. "
                "`mapping` maps renamed elements (old id -> new id). Requires process_owner.",
    errors=(403, 404, 422),
)
def migrate(key, body):
    actor, ctx = current_actor(), orchestrator()
    instances = body.get("instances")
    if body["dry_run"]:
        result = migration.plan(ctx, key, body["to_version"], actor, body["mapping"], instances)
    else:
        result = migration.migrate(ctx, key, body["to_version"], actor, instances, body["mapping"])
    return dump(s.MigrationSchema, result)


@bp.get("/processes/<key:key>")
@operation(summary="One process (or decision/form) with its version history", tag="Prosesser",
           responses={200: s.ProcessSchema}, errors=(404,))
def get_process(key):
    return dump(s.ProcessSchema, processes.get_process(orchestrator(), key, current_actor()))


@bp.get("/processes/<key:key>/versions/<id:version>/xml")
@operation(summary="The source of one deployed version, exactly as deployed", tag="Prosesser",
           responses={200: {"application/xml": {"schema": {"type": "string"}},
                            "application/json": {"schema": {"type": "object"}}}},
           description="BPMN and DMN as application/xml; forms as application/json (form-js).", errors=(404,))
def version_source(key, version):
    source = processes.source(orchestrator(), key, version, current_actor())
    return source_response(source)


def source_response(source, download: bool = False):
    from flask import Response

    charset = "; charset=utf-8"
    response = Response(source.content, mimetype=source.media_type, content_type=source.media_type + charset)
    disposition = "attachment" if download else "inline"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{_ascii(source.filename)}"'
    response.headers["Content-Security-Policy"] = SOURCE_POLICY
    return response


def _ascii(name: str) -> str:
    return "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)
