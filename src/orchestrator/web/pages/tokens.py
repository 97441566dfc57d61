"""«API-nøkler»: everyone sees, creates and revokes their own; a manager sees and revokes anyone's."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from ...services import tokens
from ...services.errors import Invalid
from ..auth import current_actor, orchestrator

bp = Blueprint("tokens", __name__)


def _page(new_token: str | None = None, error: Invalid | None = None, status: int = 200):
    actor = current_actor()
    everyone = tokens.sees_all(actor)
    rows = tokens.list_tokens(orchestrator(), actor, None if everyone else actor.username)
    return render_template("tokens.html", rows=rows, everyone=everyone, new_token=new_token, error=error,
                           default_days=orchestrator().settings.token_days, max_days=tokens.MAX_DAYS), status


@bp.get("/tokens")
def token_list():
    return _page()


@bp.post("/tokens")
def create():
    """A new token for yourself; shown once, in this answer only (never in an address or a cookie)."""
    try:
        days = int(request.form.get("expires_in_days") or orchestrator().settings.token_days)
    except ValueError:
        days = 0
    try:
        token = tokens.create(orchestrator(), current_actor().username, request.form.get("label"), days)
    except Invalid as error:
        return _page(error=error, status=422)
    return _page(new_token=token, status=201)


@bp.post("/tokens/<int:token_id>/revoke")
def revoke(token_id):
    revoked = tokens.revoke(orchestrator(), current_actor(), token_id)
    flash(f"API-nøkkelen «{revoked.label or revoked.id}» er trukket tilbake.", "success")
    return redirect(url_for("tokens.token_list"))
