"""«Innsyn»: everything stored about the person of a case, as a printable document and as JSON (decision 0023).

For managers (leder med innsyn; a data protection officer is given that role). Each download is a
read of the case and is logged by the service (services/innsyn.py).
"""
from __future__ import annotations

from flask import Blueprint, make_response, render_template, request

from ...services import innsyn
from ..auth import current_actor, orchestrator

bp = Blueprint("innsyn", __name__)

# the document carries its own print styles and nothing else: no script, no requests
DOCUMENT_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'none'"


@bp.get("/innsyn")
def innsyn_page():
    innsyn.require_maker(current_actor())
    return render_template("innsyn.html", sak=_sak() or "")


@bp.get("/innsyn/dokument")
def document():
    found = innsyn.make(orchestrator(), _sak() or "", current_actor())
    response = make_response(innsyn.document(found))
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Content-Security-Policy"] = DOCUMENT_POLICY
    return response


@bp.get("/innsyn/data.json")
def data():
    found = innsyn.make(orchestrator(), _sak() or "", current_actor())
    response = make_response(innsyn.as_json(found))
    response.headers["Content-Type"] = "application/json; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{innsyn.file_stem(found.business_key)}.json"'
    return response


def _sak() -> str | None:
    value = (request.args.get("sak") or "").strip()[:100]
    return value if value and "\x00" not in value else None
