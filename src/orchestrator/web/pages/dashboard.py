"""Managers and koordinerende enhet: the deadline dashboard."""
from __future__ import annotations

from flask import Blueprint, render_template

from ...services import dashboard
from ..auth import current_actor, orchestrator

bp = Blueprint("dashboard", __name__)


@bp.get("/dashboard")
def overview():
    result = dashboard.overview(orchestrator(), current_actor())
    limit = next((c.limit for c in result.coordinator_load), None)
    return render_template("dashboard.html", overview=result, limit=limit)
