"""Messages between instances and from outside, correlated by business key (saksnummer).

A message goes to every running instance of the same business key that waits for it; if none
waits, it starts the newest deployed process whose start event catches it. A message that
nobody waits for and nothing starts on is an error, never silently dropped. Routing happens in
the sender's transaction, so a step and the instances it reaches commit together.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..engine import workflow as engine
from ..store.models import Instance, MessageWait
from . import runtime, validation
from .access import Actor, require_any
from .context import Orchestrator
from .errors import Invalid, NotFound, ServiceError
from .specs import SpecCache

MAX_DEPTH = 10

# Messages that leave the building (e-mail notices) instead of reaching an instance:
# message name -> handler(ctx, session, step, payload), called in the sender's transaction.
OUTBOUND: dict[str, Callable[[Orchestrator, Session, "runtime.Step", dict], None]] = {}


@dataclass(frozen=True)
class Delivery:
    message: str
    instance_id: int
    started: bool


def send(ctx: Orchestrator, name: str, business_key: str | None, data: dict | None, actor: Actor) -> list[Delivery]:
    """Deliver a message from outside (API, CLI, a staff member's button)."""
    if not actor.is_staff:
        require_any(actor, ("koordinerende_enhet",), "Å sende meldinger")
    if not name or len(name) > 200:
        raise Invalid("Ugyldig meldingsnavn", {"name": ["Oppgi meldingens navn."]})
    business_key = validation.business_key(business_key)
    if business_key is None:
        raise Invalid("Meldinger må ha et saksnummer", {"business_key": ["Feltet må fylles ut."]})
    data = validation.data(data)
    with ctx.write("message.send") as session:
        return route(ctx, session, name, business_key, data, actor)


def route(ctx: Orchestrator, session: Session, name: str, business_key: str | None, payload: dict,
          actor: Actor, depth: int = 0) -> list[Delivery]:
    if depth > MAX_DEPTH:
        raise ServiceError(f"meldingen «{name}» går i ring mellom instanser (mer enn {MAX_DEPTH} ledd)")
    deliveries = []
    waiting = _waiting_instances(session, name, business_key)
    for instance_id in waiting:
        step = runtime.load(ctx, session, instance_id, actor)
        runtime.act(step, engine.deliver_message, name, payload)
        step.audit("message_received", data={"message": name, "data": payload or None})
        runtime.save(step)
        deliveries.append(Delivery(name, instance_id, started=False))
        deliveries += route_outgoing(ctx, session, step, depth + 1)
    if waiting:
        return deliveries
    starter = _starting_process(session, name)
    if starter is None:
        raise NotFound(f"Ingen instans med saksnummer «{business_key}» venter på meldingen «{name}», "
                       f"og ingen prosess starter på den.")
    step = runtime.create(ctx, session, starter, business_key, payload, actor, message=name)
    runtime.save(step)
    deliveries.append(Delivery(name, step.row.id, started=True))
    deliveries += route_outgoing(ctx, session, step, depth + 1)
    return deliveries


def route_outgoing(ctx: Orchestrator, session: Session, step: runtime.Step, depth: int = 0) -> list[Delivery]:
    """Send on what an instance threw, as the instance (same business key)."""
    deliveries = []
    outgoing, step.outgoing = step.outgoing, []
    for message in outgoing:
        handler = OUTBOUND.get(message.name)
        if handler is not None:
            # what leaves the building is recorded by its handler (the outbox keeps the e-mail);
            # the audit log keeps only that it was sent, not agendas, addresses or decisions again
            step.audit("message_sent", data={"message": message.name})
            handler(ctx, session, step, message.payload)
            continue
        step.audit("message_sent", data={"message": message.name, "data": message.payload or None})
        deliveries += route(ctx, session, message.name, step.row.business_key, message.payload, step.actor, depth)
    return deliveries


def _waiting_instances(session: Session, name: str, business_key: str | None) -> list[int]:
    query = (
        select(MessageWait.instance_id)
        .join(Instance, Instance.id == MessageWait.instance_id)
        .where(MessageWait.name == name, Instance.status == runtime.RUNNING)
        .distinct()
    )
    query = query.where(MessageWait.business_key == business_key) if business_key else query.where(
        MessageWait.business_key.is_(None))
    return sorted(session.scalars(query))


def _starting_process(session: Session, name: str) -> str | None:
    for row in SpecCache.latest_rows(session, kind="bpmn"):
        if name in (row.message_starts or []):
            return row.key
    return None


from . import cases as _cases  # noqa: E402  (imported last: cases imports what imports this module)

OUTBOUND.update(_cases.HANDLERS)


from . import notices as _notices  # noqa: E402,F401  registers outbound notice handlers
