"""/api/v1/messages: deliver a message to the case with a business key (or start a process on it)."""
from __future__ import annotations

from ...services import messages
from . import schemas as s
from .base import bp, current_actor, dump, operation, orchestrator


@bp.post("/messages/<message:name>")
@operation(summary="Send a message to every running instance of a business key that waits for it",
           tag="Meldinger", body=s.MessageSchema, responses={200: s.DeliveriesSchema},
           description="If no instance waits, the newest process that starts on the message is started. "
                       "404 when nothing waits and nothing starts on it (the message is never dropped).",
           errors=(403, 404, 422))
def send(name, body):
    deliveries = messages.send(orchestrator(), name, body["business_key"], body.get("data"), current_actor())
    return dump(s.DeliveriesSchema, {"deliveries": deliveries})
