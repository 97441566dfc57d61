"""The OpenAPI 3 document, built from the routes and their `@operation` records (apispec + marshmallow)."""
from __future__ import annotations

import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app, jsonify

from ..converters import MAX_ID
from . import schemas as s
from .base import bp

PATH_PARAMETERS = {
    "id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    "key": {"type": "string", "pattern": r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}$"},
    "task": {"type": "string", "pattern": r"^[0-9a-fA-F\-]{1,36}$"},
    "message": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"^[^/\x00-\x1f\x7f]+$"},
    "case": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"^[A-Za-z0-9ÆØÅæøå._/\-]+$",
             "description": "The business key (saksnummer); a slash stands as it is: /cases/9999/0007/…"},
    "default": {"type": "string"},
}
ERROR_DESCRIPTIONS = {
    401: "Not signed in: no or an invalid bearer token",
    403: "Forbidden for your roles",
    404: "Not found, or not visible to you",
    409: "Conflict: already completed, taken by someone else, or changed concurrently",
    415: "Unsupported content type",
    422: "Invalid data: `errors` per field (or `problems` for a deploy)",
}
TAGS = [
    {"name": "Oppgaver", "description": "Tasks: lists, claim, complete with form data"},
    {"name": "Instanser", "description": "Process instances: start, list, inspect"},
    {"name": "Prosesser", "description": "Deployed BPMN/DMN/forms and their versions; deploy"},
    {"name": "Meldinger", "description": "Messages correlated by business key"},
    {"name": "Saker", "description": "What belongs to the whole case (business key): the person's consent"},
    {"name": "Frister", "description": "The deadline dashboard"},
    {"name": "Utsendinger", "description": "The e-mails the routines send: status, recipient, content"},
    {"name": "Brukere", "description": "The signed-in user"},
]
_RULE_PART = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def _schema_name(schema) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__
    return name[:-6] if name.endswith("Schema") and len(name) > 6 else name


def build(app) -> dict:
    spec = APISpec(
        title="Orkestrator – koordinerte tjenester",
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin(schema_name_resolver=_schema_name)],
        info={"description": "JSON API of the orchestrator. Authenticate with `Authorization: Bearer <token>` "
                             "(`orchestrator tokens create USERNAME`). Lists are paginated (`page`, `per_page`) and "
                             "answer `{items, total, page, per_page}`. Errors are `{message}`; 422 adds `errors` "
                             "per field path."},
        tags=TAGS,
        security=[{"bearerAuth": []}],
    )
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    spec.components.security_scheme("cookieAuth", {"type": "apiKey", "in": "cookie", "name": "orkestrator_sesjon",
                                                   "description": "browser session; unsafe methods need X-CSRFToken"})
    spec.components.schema("Error", schema=s.ErrorSchema)
    spec.components.schema("Option", schema=s.OptionSchema)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions.get(rule.endpoint)
        meta = getattr(view, "openapi", None)
        if meta is None or not rule.endpoint.startswith("api."):
            continue
        path = _RULE_PART.sub(lambda m: "{" + m.group(2) + "}", rule.rule)
        operations = {}
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            operations[method.lower()] = _operation(rule, meta, method)
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _operation(rule, meta: dict, method: str) -> dict:
    parameters = [
        {"in": "path", "name": name, "required": True, "schema": PATH_PARAMETERS.get(converter or "default",
                                                                                     PATH_PARAMETERS["default"])}
        for converter, name in _RULE_PART.findall(rule.rule)
    ]
    if meta["query"] is not None:
        parameters.append({"in": "query", "schema": meta["query"]})
    operation = {
        "operationId": rule.endpoint.split(".", 1)[1],
        "tags": [meta["tag"]],
        "summary": meta["summary"],
        "parameters": parameters,
        "responses": {},
    }
    if meta["description"]:
        operation["description"] = " ".join(meta["description"].split())
    if meta["body"] is not None:
        operation["requestBody"] = {"required": meta["body_required"],
                                    "content": {"application/json": {"schema": meta["body"]}}}
    elif meta["body_content"] is not None:
        operation["requestBody"] = {"required": True, "content": meta["body_content"]}
    for status, schema in meta["responses"].items():
        content = schema if isinstance(schema, dict) else {"application/json": {"schema": schema}}
        operation["responses"][str(status)] = {"description": _success(status), "content": content}
    for status in sorted({401, *meta["errors"]}):
        operation["responses"][str(status)] = {
            "description": ERROR_DESCRIPTIONS[status],
            "content": {"application/json": {"schema": "Error"}},
        }
    return operation


def _success(status: int) -> str:
    return {200: "OK", 201: "Created", 204: "No Content"}.get(status, "OK")


def document() -> dict:
    cached = current_app.extensions.get("openapi_document")
    if cached is None:
        cached = current_app.extensions["openapi_document"] = build(current_app)
    return cached


@bp.get("/openapi.json")
def openapi_json():
    """The OpenAPI 3 document of this API."""
    return jsonify(document())
