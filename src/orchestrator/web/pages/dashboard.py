"""Managers and koordinerende enhet: the deadline dashboard."""
from __future__ import annotations

from flask import Blueprint, render_template

from ...services import dashboard, processes
from ..auth import current_actor, orchestrator

bp = Blueprint("dashboard", __name__)


@bp.get("/dashboard")
def overview():
    result = dashboard.overview(orchestrator(), current_actor())
    limit = next((c.limit for c in result.coordinator_load), None)
    names = {p.key: p.name for p in processes.list_processes(orchestrator(), current_actor(), kind="bpmn",
                                                             per_page=200).items}
    return render_template("dashboard.html", overview=result, limit=limit, process_names=names)
