"""/api/v1/processes: deployed processes, their versions and sources; deploying new versions."""
from __future__ import annotations

from flask import request

from ...services import processes
from ...services.errors import ServiceError
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
    return dump(s.ProcessPageSchema(), page)


@bp.post("/processes")
@operation(
    summary="Deploy a BPMN or DMN document (or .bpmn/.dmn/.form files) as new versions", tag="Prosesser",
    body_content={
        "application/xml": {"schema": {"type": "string", "description": "a BPMN 2.0 or DMN document"}},
        "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
            "file": {"type": "array", "items": {"type": "string", "format": "binary"},
                     "description": ".bpmn, .dmn or .form files, deployed together (all or nothing)"}}}},
    },
    responses={201: s.DeployResultSchema, 200: s.DeployResultSchema},
    description="201 when a new version was stored; 200 when every file equals its latest version. "
                "422 with `problems` (file, element id, line, message) when anything is invalid: nothing "
                "is stored then. Requires the role process_owner.",
    errors=(403, 415, 422),
)
def deploy():
    actor, ctx = current_actor(), orchestrator()
    if request.mimetype == "multipart/form-data":
        files = [(f.filename or "", f.read()) for f in request.files.getlist("file")]
        deployed = processes.deploy_files(ctx, files, actor)
    elif request.mimetype in XML_TYPES:
        deployed = processes.deploy_document(ctx, request.get_data(), actor)
    else:
        raise UnsupportedMediaType("Send dokumentet som application/xml eller som filer i multipart/form-data (feltet «file»).")
    main = next((d for d in deployed if d.kind == "bpmn" and d.changed), None) or next(
        (d for d in deployed if d.changed), None) or deployed[0]
    changed = any(d.changed for d in deployed)
    body = {"key": main.key, "version": main.version, "kind": main.kind, "changed": changed, "deployed": deployed}
    return dump(s.DeployResultSchema(), body, 201 if changed else 200)


@bp.get("/processes/<key:key>")
@operation(summary="One process (or decision/form) with its version history", tag="Prosesser",
           responses={200: s.ProcessSchema}, errors=(404,))
def get_process(key):
    return dump(s.ProcessSchema(), processes.get_process(orchestrator(), key, current_actor()))


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
