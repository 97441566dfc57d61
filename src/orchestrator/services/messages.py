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
from ..forms.model import FormDefinition
from ..forms.schema import FormInvalid, validate_submission
from ..store.models import Instance, MessageWait, OpenTask
from . import cases, instances, rules, runtime, tasks, validation, wording
from .access import Actor, require_any
from .context import Orchestrator
from .errors import Forbidden, Invalid, NotFound
from .specs import SpecCache

KOORDINERENDE_ENHET = "koordinerende_enhet"


@dataclass(frozen=True)
class Delivery:
    message: str
    instance_id: int
    started: bool


def send(ctx: Orchestrator, name: str, business_key: str | None, data: dict | None, actor: Actor) -> list[Delivery]:
    """Deliver a message from outside (API, CLI, a staff member's button).

    Sending into a case needs the right to act in it (`may_act_in`); a case you may not act in
    answers exactly as a case that does not exist, so nobody can probe for case numbers. Starting a
    process by a message needs the right to start it, as `POST /instances` does. The data is
    validated by the form of the event that catches it; an event without a form takes no data.
    """
    if not actor.is_staff:
        require_any(actor, ("koordinerende_enhet",), "Å sende meldinger")
    if not name or len(name) > 200:
        raise Invalid("Ugyldig meldingsnavn", {"name": ["Oppgi meldingens navn."]})
    business_key = validation.business_key(business_key)
    if business_key is None:
        raise Invalid("Meldinger må ha et saksnummer", {"business_key": ["Feltet må fylles ut."]})
    data = validation.data(data)
    with ctx.write("message.send") as session:
        waiting = _waits(session, name, business_key)
        if waiting:
            allowed = [w for w in waiting if may_act_in(ctx, session, actor, w.instance_id)]
            if not allowed:
                raise NotFound(_nobody_waits(name, business_key))
            if len(allowed) < len(waiting):
                raise Forbidden(f"Meldingen «{name}» når også deler av saken du ikke har tilgang til.")
            for wait in waiting:
                data = _validated(ctx, session, name, _catching_form(ctx, session, wait), data)
        else:
            starter = _starting_process(session, name)
            if starter is None:
                raise NotFound(_nobody_waits(name, business_key))
            if not _case_exists(session, business_key):  # a new case: its saksnummer as on a start
                validation.new_case_key(ctx.settings, business_key)
            data = _validated_start(ctx, session, starter, name, actor, business_key, data)
        return route(ctx, session, name, business_key, data, actor)


def may_act_in(ctx: Orchestrator, session: Session, actor: Actor, instance_id: int) -> bool:
    """Whether `actor` may move this case on from outside: koordinerende enhet (it holds the overall
    responsibility), the case's coordinator, and whoever has an open task in the instance they may do."""
    if actor.system or KOORDINERENDE_ENHET in actor.roles:
        return True
    row = session.get(Instance, instance_id)
    if row is None:
        return False
    if row.business_key and cases.coordinator_of(session, row.business_key) == actor.username:
        return True
    open_here = session.scalars(select(OpenTask).where(OpenTask.instance_id == instance_id))
    return any(tasks.may_do(actor, task) for task in open_here)


def _case_exists(session: Session, business_key: str) -> bool:
    """A case has this saksnummer (any instance, any status): a process started for it carries its key as it is."""
    return session.scalar(select(Instance.id).where(Instance.business_key == business_key).limit(1)) is not None


def _nobody_waits(name: str, business_key: str | None) -> str:
    return (f"Ingen instans med saksnummer «{business_key}» venter på meldingen «{name}», "
            f"og ingen prosess starter på den.")


def _waits(session: Session, name: str, business_key: str) -> list[MessageWait]:
    return list(session.scalars(
        select(MessageWait).join(Instance, Instance.id == MessageWait.instance_id)
        .where(MessageWait.name == name, MessageWait.business_key == business_key, Instance.status == runtime.RUNNING)
        .order_by(MessageWait.instance_id, MessageWait.id)))


def _catching_form(ctx: Orchestrator, session: Session, wait: MessageWait) -> FormDefinition | None:
    row = session.get(Instance, wait.instance_id)
    bundle = ctx.specs.bundle(session, row.process_key, row.pins)
    element = next((e for e in bundle.elements.values() if e.id == wait.element_id), None)
    if element is None or not element.form_key:
        return None
    return ctx.specs.form_for(session, row.pins, element.form_key)


def _validated_start(ctx: Orchestrator, session: Session, key: str, name: str, actor: Actor,
                     business_key: str, data: dict) -> dict:
    pins = ctx.specs.pins_for(session, key)
    bundle = ctx.specs.bundle(session, key, pins)
    start = next((e for (owner, _), e in bundle.elements.items() if owner == key and e.kind == "startEvent"
                  and e.top_level and e.message == name), None)
    role = start.role if start else None
    if not instances.may_start(session, actor, role, business_key, start.starters if start else ()):
        raise Forbidden(f"Prosessen startes av rollen «{wording.role_name(role)}»" if role else
                        "Bare ansatte med en tjenesterolle kan starte saker")
    form = ctx.specs.form_for(session, pins, start.form_key) if start and start.form_key else None
    if form is None:
        return _validated(ctx, session, name, form, data)
    validated, errors = rules.validated(form, data)
    rules.check_start(session, form, validated, actor, business_key, errors)
    return validated


def _validated(ctx: Orchestrator, session: Session, name: str, form: FormDefinition | None, data: dict) -> dict:
    """Like a form's submission: only what the catching event's form asks for, valid as it says."""
    if form is None:
        if data:
            raise Invalid(f"Meldingen «{name}» tar ikke imot data.",
                          {"data": ["Hendelsen som tar imot meldingen, har ikke noe skjema; send uten data."]})
        return {}
    try:
        return validate_submission(form, data)
    except FormInvalid as error:
        raise Invalid("Meldingens data har feil; se feltene.", error.errors) from None


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
        raise NotFound(_nobody_waits(name, business_key))
    step = runtime.create(ctx, session, starter, business_key, payload, actor, message=name, depth=depth)
    passed_on = runtime.commit(step)  # gives the new instance its id
    return [*deliveries, Delivery(name, step.row.id, started=True), *passed_on]


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
