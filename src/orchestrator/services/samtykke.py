"""Consent across a case's processes (decision 0016): recorded by the diagrams and on the case
page, read by every routine, and withdrawn in one transaction that stops all that depends on it.

The facts live in the consent register (services/samtykkeregister.py). This module holds
- the handlers of the messages the diagrams throw when consent is recorded or withdrawn, and the
  checks composed in front of the case register's handlers (services/bootstrap.py);
- the use cases from outside the diagrams: read the consent, record a change, withdraw it.

A withdrawal records itself, then ends every process of the case that depends on consent
(DEPENDS_ON_CONSENT): an oppstart waiting for `samtykke_trukket` gets that message, so its
diagram ends the plan work on its own drawn path; every other one is terminated with the reason
recorded. Then the case's queued notices are cancelled and those who hold an invite are told the
meeting is off (notices/cancellation.py). All in the caller's unit of work.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..engine import workflow as engine
from ..store.models import Instance, MessageWait
from . import casedata, cases, runtime, samtykkeregister as register, tilgangslogg, tjenester, validation, wording
from .access import Actor
from .context import Orchestrator
from .errors import Conflict, Forbidden, Invalid, NotFound, StepFailed
from .notices import cancellation

# Processes that may not go on without consent (docs/routines.md «Samtykke»): the plan work with its
# coordinator (forskrift § 17), a coordinator's appointment or change, and the ansvarsgruppe (its
# meetings and notices share the person's information). The samarbeid check is the services' own
# duty (hol. § 7-1 annet ledd) and does not depend on it.
DEPENDS_ON_CONSENT = ("oppstart", "opprettelse_av_koordinator", "skifte_av_koordinator", "ansvarsgruppe")
WITHDRAWN = "samtykke_trukket"  # the message oppstart's boundary event catches (it ends the plan work)
HANDLINGER = ("gi", "utvid", "endre", "trekk_tilbake")
# purposes a change may not take away while a process that needs them runs: withdraw instead
WHOLE = {"koordinator": "oppstart", "individuell_plan": "oppstart"}


@dataclass
class ConsentView:
    business_key: str
    status: str | None  # gitt | trukket | None (none recorded)
    gitt_dato: str | None = None
    gitt_av: str | None = None
    form: str | None = None
    omfatter: list[dict] = field(default_factory=list)  # [{key, navn}]
    deles_med: list[dict] = field(default_factory=list)
    registrert_av: str | None = None
    registrert_at: datetime | None = None
    trukket_dato: str | None = None
    informert_om_folger: bool | None = None
    historikk: list[dict] = field(default_factory=list)
    kan_registrere: bool = False


# --- handlers of what the diagrams throw (wired in services/bootstrap.py) ---------------------------
def registrer(step: runtime.Step, payload: dict) -> None:
    """«Samtykke registreres på saken»: record the consent the form holds, and/or require the case's
    consent to cover `kreves` (an ansvarsgruppe started from oppstart reads the oppstart's consent)."""
    business_key = _business_key(step)
    given = payload.get("samtykke")
    if isinstance(given, dict) and given.get("kilde") != "saken":
        parsed = _given_from_diagram(step, given)
        action = register.record(step.session, business_key, parsed, step.actor, step.row.id)
        step.audit("samtykke_registrert", data={"handling": action, "omfatter": list(parsed.omfatter),
                                                "deles_med": list(parsed.deles_med)})
    purpose = payload.get("kreves")
    if purpose:
        register.require(step.session, business_key, purpose, "Steget kan ikke fullføres")


def registrer_tilbaketrekking(step: runtime.Step, payload: dict) -> None:
    """«Tilbaketrekking registreres på saken» (oppstart): the withdrawal reaches every process of the case."""
    summary = withdraw(step.ctx, step.session, _business_key(step), payload, step.actor, origin=step.row.id,
                       depth=step.depth + 1)
    step.audit("samtykke_trukket", data=summary)


def plan_tool_covered(step: runtime.Step, payload: dict) -> None:
    """An individual plan needs consent to one (forskrift § 17), checked before the case register records it."""
    if payload.get("verktoy") == "ip":
        register.require(step.session, step.row.business_key, "individuell_plan", "Individuell plan kan ikke velges")


def coordinator_covered(step: runtime.Step, payload: dict) -> None:
    """A coordinator needs consent to one; a new coordinator (11.2) also needs consent to share with
    their service. An extension recorded at the change (`samtykke_utvidet`) is recorded first."""
    session, business_key = step.session, _business_key(step)
    register.require(session, business_key, "koordinator", "Koordinator kan ikke oppnevnes")
    if not payload.get("skifte"):
        return
    username = (payload.get("koordinator") or "").strip()
    user = cases.active_user(session, username)
    if user is None:
        return  # cases.register_coordinator refuses an unknown user with its own message
    services = list(user.service_keys)
    name = cases.display_name(session, username)
    if not services:
        raise StepFailed(f"{name} ({username}) tilhører ingen tjeneste, så samtykket kan ikke vurderes for ny "
                         f"koordinator. Registrer brukerens tjeneste først.")
    missing = register.uncovered_services(session, business_key, services)
    if missing and payload.get("samtykke_utvidet"):
        extension = register.Given(_date(payload.get("samtykke_utvidet_dato")), None, None, (), tuple(missing))
        register.record(session, business_key, extension, step.actor, step.row.id)
        step.audit("samtykke_registrert", data={"handling": "utvidet", "deles_med": missing})
        missing = register.uncovered_services(session, business_key, services)
    if missing:
        catalogue = tjenester.catalogue(step.ctx.settings)
        raise StepFailed(f"Samtykket i saken omfatter ikke deling med {', '.join(catalogue.name(s) for s in missing)}, "
                         f"der den nye koordinatoren {name} arbeider. Innhent og registrer utvidet samtykke før "
                         f"rollebyttet (skjemaet i trinn 5).")


# --- use cases ------------------------------------------------------------------------------------
def view(ctx: Orchestrator, business_key: str, actor: Actor, *,
         logged_as: str | None = tilgangslogg.SAMTYKKE) -> ConsentView:
    """The case's consent, for those who may see the case (a hidden case answers like an unknown one).

    The read is logged as `logged_as`; None where it is part of a page already logged (the case page).
    """
    business_key = _key(business_key)
    with ctx.db.read() as session:
        if not _may_see(session, actor, business_key):
            raise NotFound(f"saken «{business_key}» finnes ikke eller er ikke synlig for deg")
        seen = _view(ctx, session, business_key, actor)
    if logged_as is not None:
        tilgangslogg.record(ctx, actor, logged_as, business_key)
    return seen


def change(ctx: Orchestrator, business_key: str, data: dict, actor: Actor) -> ConsentView:
    """Record what the person said: consent given (`gi`), extended (`utvid`), changed (`endre`) or
    withdrawn (`trekk_tilbake`). Koordinerende enhet and the case's coordinator record consent."""
    business_key = _key(business_key)
    data = validation.data(data)
    handling = data.get("handling")
    if handling not in HANDLINGER:
        raise Invalid("Ukjent handling", {"handling": [f"Bruk en av {', '.join(HANDLINGER)}."]})
    with ctx.write("samtykke.change") as session:
        if not _may_see(session, actor, business_key):
            raise NotFound(f"saken «{business_key}» finnes ikke eller er ikke synlig for deg")
        if not register.may_record(session, actor, business_key):
            raise Forbidden("Samtykke registreres av koordinerende enhet eller sakens koordinator.")
        if handling == "trekk_tilbake":
            withdraw(ctx, session, business_key, data, actor)
        else:
            given = register.parse_given(data, tjenester.catalogue(ctx.settings).names)
            _check_complete(handling, given)
            if handling == "gi" and register.valid(session, business_key) is not None:
                raise Conflict("Saken har allerede et gjeldende samtykke: utvid eller endre det.")
            if handling == "utvid" and register.valid(session, business_key) is None:
                raise Conflict("Saken har ikke noe gjeldende samtykke å utvide: registrer et nytt samtykke.")
            if handling == "endre":
                _narrow(ctx, session, business_key, given, actor)
            register.record(session, business_key, given, actor, replace=handling == "endre")
        return _view(ctx, session, business_key, actor)


def trekk_tilbake(ctx: Orchestrator, business_key: str, data: dict, actor: Actor) -> ConsentView:
    """Withdraw the case's consent (pbrl. § 4-1): see `withdraw`."""
    return change(ctx, business_key, {**(data or {}), "handling": "trekk_tilbake"}, actor)


def withdraw(ctx: Orchestrator, session: Session, business_key: str, data: dict, actor: Actor,
             origin: int | None = None, depth: int = 0) -> dict:
    """In the caller's unit of work: record the withdrawal, end every process that depends on consent,
    cancel what has not left, and tell invite holders the meeting is off."""
    dato = data.get("dato") or data.get("samtykke_trukket_dato")
    register.record_withdrawal(session, business_key, dato, bool(data.get("informert_om_folger")), actor, origin)
    consent = register.get(session, business_key)
    reason = f"Samtykket er trukket tilbake ({consent.trukket_dato})."
    message = {"samtykke_trukket_dato": consent.trukket_dato, "informert_om_folger": True,
               "samtykke_trukket_kommentar": data.get("kommentar") or data.get("samtykke_trukket_kommentar")}
    ended = _end_dependents(ctx, session, business_key, reason, actor, message, skip=origin, depth=depth)
    notices = cancellation.cancel_case(ctx, session, business_key, reason, actor)
    return {"avsluttet": ended, **notices}


# --- helpers --------------------------------------------------------------------------------------
def _end_dependents(ctx: Orchestrator, session: Session, business_key: str, reason: str, actor: Actor,
                    message: dict, skip: int | None = None, depth: int = 0, processes=DEPENDS_ON_CONSENT) -> list[int]:
    ended = []
    ids = session.scalars(select(Instance.id).where(
        Instance.business_key == business_key, Instance.process_key.in_(processes),
        Instance.status.in_((runtime.RUNNING, runtime.ERROR))).order_by(Instance.id)).all()
    for instance_id in ids:
        if instance_id == skip:
            continue
        step = runtime.load(ctx, session, instance_id, actor, depth=depth, running=False)
        if step.row.status not in (runtime.RUNNING, runtime.ERROR):
            continue  # ended meanwhile (by the withdrawal an oppstart passed on)
        if step.row.status == runtime.RUNNING and _waits_for(session, instance_id, WITHDRAWN):
            # the diagram's own path: the boundary event ends the plan work, visibly on the diagram
            runtime.act(step, engine.deliver_message, WITHDRAWN, message)
            step.audit("message_received", data={"message": WITHDRAWN})
            runtime.commit(step)
        runtime.terminate(step, reason)  # whatever is still running or stopped on an error ends here
        ended.append(instance_id)
    return ended


def _waits_for(session: Session, instance_id: int, name: str) -> bool:
    return session.scalar(select(MessageWait.id).where(MessageWait.instance_id == instance_id,
                                                       MessageWait.name == name).limit(1)) is not None


def _narrow(ctx: Orchestrator, session: Session, business_key: str, given: register.Given, actor: Actor) -> None:
    """A change that takes something away: what depended on it stops, as on a withdrawal, for that part."""
    consent = register.valid(session, business_key)
    if consent is None:
        raise Conflict("Det er ikke noe gjeldende samtykke å endre; registrer et nytt samtykke.")
    removed = set(consent.omfatter or []) - set(given.omfatter)
    running = set(session.scalars(select(Instance.process_key).where(
        Instance.business_key == business_key, Instance.status == runtime.RUNNING)).all())
    whole = sorted(p for p in removed if WHOLE.get(p) in running)
    if whole:
        raise Invalid("Samtykket til koordinator og individuell plan trekkes tilbake helt", {"omfatter": [
            "Planarbeidet pågår: bruk «Trekk tilbake» for å avslutte det, i stedet for å ta bort "
            + ", ".join(register.COVERS[p] for p in whole) + "."]})
    reason = "Samtykket er endret og omfatter ikke lenger denne mottakerens tjeneste."
    if "ansvarsgruppe" in removed:
        reason = "Samtykket omfatter ikke lenger ansvarsgruppe."
        _end_dependents(ctx, session, business_key, reason, actor, {}, processes=("ansvarsgruppe",))
        cancellation.cancel_case(ctx, session, business_key, reason, actor)
        return
    kept = set(given.deles_med)
    cancellation.cancel_case(ctx, session, business_key, reason, actor,
                             still_covered=lambda service: service == register.BRUKER or service in kept)


def _check_complete(handling: str, given: register.Given) -> None:
    problems = {}
    if handling == "utvid" and not (given.omfatter or given.deles_med):
        problems["deles_med"] = ["Velg hva samtykket utvides med: formål eller tjenester."]
    if handling == "gi" and not given.deles_med:
        problems["deles_med"] = ["Velg minst én tjeneste opplysningene kan deles med."]
    if handling in ("gi", "endre"):
        if not given.omfatter:
            problems["omfatter"] = ["Velg hva samtykket omfatter."]
        if not given.gitt_av:
            problems["gitt_av"] = ["Oppgi hvem som ga samtykket."]
        if not given.form:
            problems["form"] = ["Oppgi om samtykket er gitt muntlig eller skriftlig."]
    if not given.dato:
        problems["dato"] = ["Oppgi datoen samtykket ble gitt."]
    if problems:
        raise Invalid("Samtykket mangler opplysninger; se feltene.", problems)


def _given_from_diagram(step: runtime.Step, given: dict) -> register.Given:
    try:
        parsed = register.parse_given(given, tjenester.catalogue(step.ctx.settings).names)
        _check_complete("gi", parsed)
    except Invalid as error:
        details = "; ".join(f"{k}: {' '.join(v)}" for k, v in error.fields.items())
        raise StepFailed(f"Samtykket kan ikke registreres: {details}") from None
    return parsed


def _may_see(session: Session, actor: Actor, business_key: str) -> bool:
    known = session.scalar(select(Instance.id).where(Instance.business_key == business_key).limit(1))
    if known is None:
        return False
    return actor.reads_all_instances or register.serves_case(session, actor, business_key)


def _view(ctx: Orchestrator, session: Session, business_key: str, actor: Actor) -> ConsentView:
    catalogue = tjenester.catalogue(ctx.settings)
    names = {**catalogue.names, register.BRUKER: register.BRUKER_LABEL}
    consent = register.get(session, business_key)
    result = ConsentView(business_key, None, kan_registrere=register.may_record(session, actor, business_key))
    if consent is not None:
        result.status, result.gitt_dato, result.gitt_av = consent.status, consent.gitt_dato, consent.gitt_av
        result.form, result.trukket_dato = consent.form, consent.trukket_dato
        result.informert_om_folger = consent.informert_om_folger
        result.registrert_av, result.registrert_at = consent.registrert_av, consent.registrert_at
        result.omfatter = [{"key": k, "navn": register.COVERS.get(k, k)} for k in consent.omfatter or []]
        result.deles_med = [{"key": k, "navn": names.get(k, k)} for k in consent.deles_med or []]
    values = register.record_values(names)
    result.historikk = [{"at": e.at, "actor": e.actor, "handling": e.action, "instance_id": e.instance_id,
                         "data": e.data, "details": casedata.record_lines(e.data, wording.RECORD_FIELDS, values)}
                        for e in register.history(session, business_key)]
    return result


def _business_key(step: runtime.Step) -> str:
    if not step.row.business_key:
        raise StepFailed("Saken mangler saksnummer, så samtykket kan ikke knyttes til den.")
    return step.row.business_key


def _key(business_key: str) -> str:
    key = validation.business_key(business_key)
    if key is None:
        raise Invalid("Saksnummer mangler", {"business_key": ["Oppgi saksnummeret."]})
    return key


def _date(value) -> str | None:
    return str(value)[:10] if value else None
