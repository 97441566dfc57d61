"""Managers and koordinerende enhet: «Utsendinger», the e-mails the routines send and what became of them."""
from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for

from ...services import samtykkeregister, tjenester
from ...services.notices import delivery, queries
from ...services.notices.constants import STATUS_LABELS, STATUSES
from ..auth import current_actor, orchestrator
from . import PER_PAGE, int_arg

bp = Blueprint("notices", __name__)

# The e-mail's HTML is shown as data in a sandboxed frame: no script, no requests, no forms.
PREVIEW_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; frame-ancestors 'self'"


@bp.get("/utsendinger")
def notice_list():
    filters = {"status": request.args.get("status") or None,
               "business_key": (request.args.get("business_key") or "").strip() or None}
    page = queries.list_notices(orchestrator(), current_actor(), status=filters["status"],
                                business_key=filters["business_key"], page=int_arg("page"), per_page=PER_PAGE)
    return render_template("notices/list.html", page=page, filters=filters, statuses=STATUSES,
                           status_labels=STATUS_LABELS)


@bp.get("/utsendinger/<int:notice_id>")
def notice_page(notice_id):
    ctx = orchestrator()
    notice = queries.get_notice(ctx, current_actor(), notice_id)
    services = {**tjenester.catalogue(ctx.settings).names, samtykkeregister.BRUKER: samtykkeregister.BRUKER_LABEL}
    return render_template("notices/detail.html", notice=notice, services=services)


@bp.get("/utsendinger/<int:notice_id>/html")
def notice_html(notice_id):
    notice = queries.get_notice(orchestrator(), current_actor(), notice_id)
    if notice.content is None or not notice.content.html or notice.erased_at:
        abort(404)
    response = make_response(notice.content.html)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Content-Security-Policy"] = PREVIEW_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.post("/utsendinger/<int:notice_id>/send-igjen")
def requeue(notice_id):
    delivery.requeue(orchestrator(), current_actor(), notice_id)
    flash("Utsendingen er lagt i kø og sendes på nytt.", "success")
    return redirect(url_for("notices.notice_page", notice_id=notice_id))
