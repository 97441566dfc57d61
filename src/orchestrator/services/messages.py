"""Messages between instances and from outside, correlated by business key (saksnummer).

A message goes to every running instance of the same business key that waits for it; if none
waits, it starts the newest deployed process whose start event catches it. A message that
nobody waits for and nothing starts on is an error, never silently dropped. Routing happens in
the sender's transaction, so a step and the instances it reaches commit together.

Messages an instance throws reach here through the commit path (runtime.commit -> `route_thrown`,
wired as the default route in services/bootstrap.py); those that leave the building (e-mail, the
case register) go to their own handlers instead.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..engine import workflow as engine
from ..store.models import Instance, MessageWait
from . import runtime, validation
from .access import Actor, require_any
from .context import Orchestrator
from .errors import Invalid, NotFound
from .specs import SpecCache


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
    """Deliver `name` to the instances of the case that wait for it, or start the process it starts."""
    deliveries = []
    waiting = _waiting_instances(session, name, business_key)
    for instance_id in waiting:
        step = runtime.load(ctx, session, instance_id, actor, depth)
        runtime.act(step, engine.deliver_message, name, payload)
        step.audit("message_received", data={"message": name, "data": payload or None})
        deliveries.append(Delivery(name, instance_id, started=False))
        deliveries += runtime.commit(step)
    if waiting:
        return deliveries
    starter = _starting_process(session, name)
    if starter is None:
        raise NotFound(f"Ingen instans med saksnummer «{business_key}» venter på meldingen «{name}», "
                       f"og ingen prosess starter på den.")
    step = runtime.create(ctx, session, starter, business_key, payload, actor, message=name, depth=depth)
    deliveries.append(Delivery(name, step.row.id, started=True))
    return deliveries + runtime.commit(step)


def route_thrown(step: runtime.Step, message: engine.OutgoingMessage) -> list[Delivery]:
    """A message an instance threw, sent on as that instance (same business key, same actor)."""
    return route(step.ctx, step.session, message.name, step.row.business_key, message.payload, step.actor,
                 step.depth + 1)


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
