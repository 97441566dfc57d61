"""/api/v1/cases/{business_key}/slettesperre: keep a case from the retention job (decision 0024)."""
from __future__ import annotations

from ...services import slettesperre
from . import schemas as s
from .base import bp, current_actor, dump, operation, orchestrator

WHO = "Managers and koordinerende enhet (403 for everyone else); 404 for a case that does not exist."


def hold_view(business_key: str, hold: slettesperre.Hold | None) -> dict:
    if hold is None:
        return {"business_key": business_key, "sperret": False, "grunn": None, "satt_av": None, "satt_at": None}
    return {"business_key": hold.business_key, "sperret": True, "grunn": hold.reason, "satt_av": hold.placed_by,
            "satt_at": hold.placed_at}


@bp.get("/cases/<case:business_key>/slettesperre")
@operation(summary="Whether the case is kept from the retention job, why, by whom and since when", tag="Saker",
           responses={200: s.HoldSchema}, description=WHO, errors=(403, 404))
def get_hold(business_key):
    return dump(s.HoldSchema, hold_view(business_key, slettesperre.get(orchestrator(), current_actor(), business_key)))


@bp.put("/cases/<case:business_key>/slettesperre")
@operation(summary="Keep the case (every kind of its data) from the retention job until the hold is lifted",
           tag="Saker", body=s.HoldRequestSchema, responses={200: s.HoldSchema},
           description=WHO + " 409 if the case is already held. Recorded in the audit log.", errors=(403, 404, 409, 422))
def place_hold(business_key, body):
    hold = slettesperre.place(orchestrator(), current_actor(), business_key, body["grunn"])
    return dump(s.HoldSchema, hold_view(business_key, hold))


@bp.delete("/cases/<case:business_key>/slettesperre")
@operation(summary="Lift the hold: the case follows the retention periods again", tag="Saker",
           responses={200: s.HoldSchema}, description=WHO + " 404 also when the case has no hold. Recorded in the "
                                                            "audit log.", errors=(403, 404))
def lift_hold(business_key):
    slettesperre.lift(orchestrator(), current_actor(), business_key)
    return dump(s.HoldSchema, hold_view(business_key, None))
