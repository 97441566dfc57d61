"""The API blueprint, its request/response helpers, and the decorator that documents an operation."""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from marshmallow import Schema, ValidationError

from ... import jsonlimits
from ...forms.schema import flatten_errors
from ...services.errors import Invalid
from ..auth import current_actor, orchestrator

__all__ = ["bp", "operation", "load_query", "load_body", "dump", "current_actor", "orchestrator"]

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def operation(*, summary: str, tag: str, responses: dict[int, object], query: type[Schema] | None = None,
              body: type[Schema] | None = None, body_content: dict | None = None, description: str | None = None,
              errors: tuple[int, ...] = ()):
    """Record what openapi.py needs to document this view (the document is built from these)."""

    def decorate(view):
        view.openapi = {
            "summary": summary, "tag": tag, "responses": responses, "query": query, "body": body,
            "body_content": body_content, "description": description or view.__doc__, "errors": errors,
        }
        return view

    return decorate


def load_query(schema: type[Schema]) -> dict:
    try:
        return schema().load(request.args.to_dict(flat=True))
    except ValidationError as error:
        raise Invalid("Ugyldige parametre i adressen", flatten_errors(error.normalized_messages())) from None


def load_body(schema: type[Schema], optional: bool = False) -> dict:
    raw = request.get_data(cache=True)
    if not raw.strip():
        payload = {} if optional else None
    else:
        if not request.is_json:
            raise Invalid("Send JSON (Content-Type: application/json)", {"_schema": ["Forventet et JSON-objekt."]})
        if jsonlimits.too_deep(raw):
            raise Invalid("Ugyldig JSON", {"_schema": [jsonlimits.depth_message()]})
        payload = request.get_json(silent=True)
        if payload is None:
            raise Invalid("Ugyldig JSON", {"_schema": ["Kunne ikke lese JSON."]})
    if not isinstance(payload, dict):
        raise Invalid("Forventet et JSON-objekt", {"_schema": ["Forventet et JSON-objekt."]})
    try:
        return schema().load(payload)
    except ValidationError as error:
        raise Invalid("Forespørselen har feil; se feltene.", flatten_errors(error.normalized_messages())) from None


def dump(schema: Schema, value, status: int = 200, headers: dict | None = None):
    response = jsonify(schema.dump(value))
    response.status_code = status
    for name, header in (headers or {}).items():
        response.headers[name] = header
    return response
