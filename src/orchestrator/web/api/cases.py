"""/api/v1/cases/{business_key}/samtykke: the person's consent for the whole case (decision 0016)."""
from __future__ import annotations

from ...services import samtykke
from . import schemas as s
from .base import bp, current_actor, dump, operation, orchestrator


@bp.get("/cases/<case:business_key>/samtykke")
@operation(summary="The case's consent: what it covers, with whom information may be shared, its history",
           tag="Saker", responses={200: s.ConsentSchema},
           description="For those who may see the case: koordinerende enhet, managers, the coordinator, whoever "
                       "acted or has a task in it, and staff of a service the consent covers. 404 otherwise, as for "
                       "an unknown case.", errors=(404, 422))
def get_consent(business_key):
    return dump(s.ConsentSchema, samtykke.view(orchestrator(), business_key, current_actor()))


@bp.post("/cases/<case:business_key>/samtykke")
@operation(summary="Record what the person said: consent given, extended, changed or withdrawn", tag="Saker",
           body=s.ConsentChangeSchema, responses={200: s.ConsentSchema},
           description="Koordinerende enhet or the case's coordinator. A withdrawal (`trekk_tilbake`, with "
                       "`informert_om_folger`) ends every process of the case that depends on consent, removes their "
                       "tasks and timers, cancels queued notices and sends a cancellation to those who hold an "
                       "invite, in one transaction. A change that narrows the consent cancels what no longer may "
                       "leave.", errors=(403, 404, 409, 422))
def change_consent(business_key, body):
    data = {k: (v.isoformat() if k == "dato" and v is not None else v) for k, v in body.items()}
    return dump(s.ConsentSchema, samtykke.change(orchestrator(), business_key, data, current_actor()))
