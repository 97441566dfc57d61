"""The API blueprint, its response helper, and `operation`: the one declaration of an endpoint.

`operation` both documents an endpoint (openapi.py builds the document from it) and reads its
request: the query string with the `query` schema and the JSON body with the `body` schema,
handed to the view as `query=` and `body=`. So the document cannot promise what the code does not
do: a body declared optional is optional in both.
"""
from __future__ import annotations

from functools import lru_cache, wraps

from flask import Blueprint, jsonify, request
from marshmallow import Schema, ValidationError

from ... import jsonlimits
from ...forms.schema import flatten_errors
from ...services.errors import Invalid
from ..auth import current_actor, orchestrator

__all__ = ["bp", "operation", "dump", "current_actor", "orchestrator"]

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def operation(*, summary: str, tag: str, responses: dict[int, object], query: type[Schema] | None = None,
              body: type[Schema] | None = None, body_required: bool = True, body_content: dict | None = None,
              description: str | None = None, errors: tuple[int, ...] = ()):
    """Declare an endpoint: what openapi.py documents, and what is read from the request for the view.

    `body_content` documents a body the view reads itself (XML, files); `body` is a JSON body read here.
    """

    def decorate(view):
        @wraps(view)
        def endpoint(**kwargs):
            if query is not None:
                kwargs["query"] = _load_query(query)
            if body is not None:
                kwargs["body"] = _load_body(body, body_required)
            return view(**kwargs)

        endpoint.openapi = {
            "summary": summary, "tag": tag, "responses": responses, "query": query, "body": body,
            "body_required": body_required, "body_content": body_content,
            "description": description or view.__doc__, "errors": errors,
        }
        return endpoint

    return decorate


@lru_cache(maxsize=None)
def built(schema: type[Schema]) -> Schema:
    """One instance per schema class, built once: building one deep-copies its fields (measured: a
    third of marshmallow's time per API step). load and dump keep no state on the instance."""
    return schema()


def _load_query(schema: type[Schema]) -> dict:
    try:
        return built(schema).load(request.args.to_dict(flat=True))
    except ValidationError as error:
        raise Invalid("Ugyldige parametre i adressen", flatten_errors(error.normalized_messages())) from None


def _load_body(schema: type[Schema], required: bool) -> dict:
    raw = request.get_data(cache=True)
    if not raw.strip():
        payload = None if required else {}
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
        return built(schema).load(payload)
    except ValidationError as error:
        raise Invalid("Forespørselen har feil; se feltene.", flatten_errors(error.normalized_messages())) from None


def dump(schema: type[Schema], value, status: int = 200, headers: dict | None = None):
    response = jsonify(built(schema).dump(value))
    response.status_code = status
    for name, header in (headers or {}).items():
        response.headers[name] = header
    return response
