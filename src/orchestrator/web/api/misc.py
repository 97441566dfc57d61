"""/api/v1/me and /api/v1/dashboard."""
from __future__ import annotations

from ...services import dashboard
from . import schemas as s
from .base import bp, current_actor, dump, operation, orchestrator


@bp.get("/me")
@operation(summary="Who the token or session belongs to, with roles and services", tag="Brukere",
           responses={200: s.MeSchema})
def me():
    actor = current_actor()
    return dump(s.MeSchema, {"username": actor.username, "roles": sorted(actor.roles),
                               "services": sorted(actor.services)})


@bp.get("/dashboard")
@operation(summary="The deadline dashboard (managers and koordinerende enhet)", tag="Frister",
           responses={200: s.OverviewSchema}, errors=(403,))
def overview():
    return dump(s.OverviewSchema, dashboard.overview(orchestrator(), current_actor()))
