"""Domain rules a form invokes by name (component `properties: {"regel": "<name>"}`).

Rules need the database or the clock, so they cannot live in the form file itself. Each rule
gets the submitted value and may refuse it (a per-field error) or add computed values to the
submission (recorded in task data and the audit, e.g. a coordinator's current plan count).
The names are listed in docs/routines.md; deploy refuses a form naming an unknown rule.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy.orm import Session

from .. import clock
from ..engine import workflow as engine
from ..clock import OSLO
from ..engine.helpers import add_months, to_datetime
from ..forms.model import Field, FormDefinition
from ..forms.schema import FormConditionFailed, FormInvalid, validate_submission, visible_components
from . import cases, samtykkeregister, tjenester
from .errors import Invalid

NOTICE_PERIOD_DAYS = 14  # Lund 11.4: «Innkalling sendes minst 14 dager i forkant av møte»
MEETING_INTERVAL_MONTHS = 6  # Lund 11.4: «minst to gang i året»


class RuleViolation(Exception):
    pass


@dataclass
class RuleContext:
    session: Session
    actor: object
    business_key: str | None
    current: dict  # task data before the submission
    cleaned: dict  # the validated submission; rules may add computed keys

    @property
    def data(self) -> dict:
        return {**self.current, **self.cleaned}


Rule = Callable[[RuleContext, Field, object], None]
RULES: dict[str, Rule] = {}


def rule(name: str):
    def register(fn: Rule) -> Rule:
        RULES[name] = fn
        return fn

    return register


def validated(form: FormDefinition, data: dict, current: dict | None = None) -> tuple[dict, dict[str, list[str]]]:
    """The submission as the form cleans it, and the form's per-field errors: the fields that passed
    go on to the rules, so a submission is answered with all its errors at once."""
    try:
        return validate_submission(form, data, current), {}
    except FormConditionFailed as error:  # the form itself is broken: nothing can be checked
        raise Invalid(error.message, error.errors) from None
    except FormInvalid as error:
        return error.valid_data, error.errors


def check_submission(ctx, session, step, task_row, form, cleaned: dict, actor,
                     errors: dict[str, list[str]] | None = None) -> None:
    """Run the rules a task's form names on what passed the form; refuse with the form's errors and
    the rules' together (per field)."""
    current = engine.task_data(step.workflow, task_row.id) if form is not None else {}
    _apply(form, RuleContext(session, actor, step.row.business_key, current, cleaned), errors or {})


def check_start(session: Session, form: FormDefinition | None, cleaned: dict, actor, business_key: str | None,
                errors: dict[str, list[str]] | None = None) -> None:
    _apply(form, RuleContext(session, actor, business_key, {}, cleaned), errors or {})


def unknown_rules(form: FormDefinition) -> list[str]:
    return sorted({f.properties["regel"] for f in _walk(form.components)
                   if f.properties.get("regel") and f.properties["regel"] not in RULES})


def _apply(form: FormDefinition | None, rc: RuleContext, known: dict[str, list[str]]) -> None:
    """Refuse with every error at once: those the form found (`known`) and each rule's on a field that passed."""
    errors = dict(known)
    for field in _walk(visible_components(form, rc.data)) if form is not None else ():
        name = field.properties.get("regel")
        if not name or not field.key or field.key in errors:
            continue
        try:
            RULES[name](rc, field, rc.cleaned.get(field.key))
        except RuleViolation as violation:
            errors[field.key] = [str(violation)]
    if errors:
        raise Invalid("Skjemaet har feil; se feltene.", errors)


def _walk(components):
    for component in components:
        yield component
        if component.type == "group" and not component.key:
            yield from _walk(component.children)


def _when(value) -> str:
    return to_datetime(value).astimezone(OSLO).strftime("%d.%m.%Y kl. %H:%M")


def _date(value: datetime) -> str:
    return value.astimezone(OSLO).strftime("%d.%m.%Y")


# --- the rules ------------------------------------------------------------------------------


@rule("bruker")
def existing_user(rc: RuleContext, field: Field, value) -> None:
    """The value is the username of an active user."""
    if value and cases.active_user(rc.session, value) is None:
        raise RuleViolation(f"Fant ingen aktiv bruker med brukernavnet «{value}».")


@rule("maks_fem_planer")
def at_most_five_plans(rc: RuleContext, field: Field, value) -> None:
    """Lund § 6: nobody can be required to coordinate more than five individual plans.

    Adds `<key>_aktive_planer` (the appointee's current count, this case excluded). With five
    or more the appointment is refused, unless `<key>_spor_om_aksept` asks the appointee to
    accept it themselves (the diagram then gives them that decision).
    """
    if not value:
        return
    existing_user(rc, field, value)
    count = cases.active_plans(rc.session, value, exclude_business_key=rc.business_key)
    rc.cleaned[f"{field.key}_aktive_planer"] = count
    ask = f"{field.key}_spor_om_aksept"
    if count >= cases.PLAN_LIMIT and not rc.cleaned.get(ask):
        name = cases.display_name(rc.session, value)
        # a form without the question cannot ask: the appointee must be someone else
        choice = (f"Velg en annen, eller kryss av for å spørre {name} om hen selv vil påta seg oppdraget."
                  if ask in rc.cleaned else "Velg en annen.")
        raise RuleViolation(
            f"{name} ({value}) er allerede koordinator for {count} aktive individuelle planer. Ingen kan pålegges "
            f"mer enn {cases.PLAN_LIMIT} (Lund § 6). {choice}")


@rule("ip_til_koordinator")
def plan_to_the_coordinator(rc: RuleContext, field: Field, value) -> None:
    """Lund § 6 at trinn 8: choosing IP gives the case's coordinator one more plan.

    Adds `ip_aktive_planer` (the coordinator's active plans, this case excluded) and `ip_krever_aksept`
    (true when that is five or more and they have not accepted this case themselves), so the diagram can
    ask the coordinator. It refuses nothing: the register checks the limit again when the plan is recorded.
    """
    coordinator = cases.coordinator_of(rc.session, rc.business_key)
    count = cases.active_plans(rc.session, coordinator, exclude_business_key=rc.business_key) if coordinator else 0
    rc.cleaned["ip_aktive_planer"] = count
    rc.cleaned["ip_krever_aksept"] = bool(
        value == cases.IP and coordinator and count >= cases.PLAN_LIMIT
        and not cases.accepted_for_case(rc.session, coordinator, rc.business_key))


@rule("barnekoordinator_paa_saken")
def barnekoordinator_on_the_case(rc: RuleContext, field: Field, value) -> None:
    """A barnekoordinator named when a case starts must be the coordinator the case register already has
    (appointed in the samarbeid routine, hol. § 7-2 a); they are then the case's coordinator (`koordinator`)."""
    if not value:
        return
    registered = cases.coordinator_of(rc.session, rc.business_key)
    if registered != value:
        raise RuleViolation(
            f"«{value}» er ikke registrert som koordinator på saken «{rc.business_key or ''}». Barnekoordinator "
            f"oppnevnes av koordinerende enhet i samarbeidsrutinen; ellers oppnevnes koordinator i trinn 5.")
    rc.cleaned["koordinator"] = value


def _notice_days(rc: RuleContext) -> int:
    try:
        return max(NOTICE_PERIOD_DAYS, int(rc.data.get("varslingsfrist_dager") or NOTICE_PERIOD_DAYS))
    except (TypeError, ValueError):
        return NOTICE_PERIOD_DAYS


def _leaves_notice_period(rc: RuleContext, moment) -> None:
    days = _notice_days(rc)
    earliest = clock.now() + timedelta(days=days)
    if to_datetime(moment) < earliest:
        raise RuleViolation(
            f"Møtet må ligge minst {days} dager fram i tid, så innkallingen kan sendes i tide (innkalling minst "
            f"{NOTICE_PERIOD_DAYS} dager før møtet, Lund 11.4). Tidligste tidspunkt er {_when(earliest)}.")


def _within_six_months(moment, last_meeting, what: str) -> None:
    latest = add_months(last_meeting, MEETING_INTERVAL_MONTHS)
    if to_datetime(moment) > latest:
        raise RuleViolation(
            f"Ansvarsgruppen skal møtes minst to ganger i året (Lund 11.4): {what} må være senest {_date(latest)}, "
            f"seks måneder etter forrige møte.")


@rule("varslingsfrist")
def leaves_notice_period(rc: RuleContext, field: Field, value) -> None:
    """A meeting date must leave the notice period (default 14 days) for the innkalling."""
    if not value:
        return
    _leaves_notice_period(rc, value)
    if rc.current.get("siste_moete"):
        _within_six_months(value, rc.current["siste_moete"], "møtet")


@rule("neste_moete")
def next_meeting(rc: RuleContext, field: Field, value) -> None:
    """The next meeting, agreed at this one: the notice period ahead, within six months of this one."""
    if not value:
        return
    _leaves_notice_period(rc, value)
    held = rc.current.get("moetetid")
    if held:
        _within_six_months(value, held, "neste møte")


@rule("etter_moetetidspunkt")
def meeting_has_happened(rc: RuleContext, field: Field, value) -> None:
    """A meeting can only be reported as held once its time has come."""
    planned = rc.current.get("moetetid")
    if value == "gjennomfort" and planned and clock.now() < to_datetime(planned):
        raise RuleViolation(
            f"Møtet er ikke holdt ennå (planlagt {_when(planned)}). Velg «flyttet» eller «avlyst», eller skriv "
            f"referatet når møtet er holdt.")


@rule("aktiv_plansak")
def running_plan_case(rc: RuleContext, field: Field, value) -> None:
    """Coordinator change (11.2) is for a running oppstart case with an appointed coordinator.

    Adds `naavaerende_koordinator` and `gjelder` from the case register.
    """
    case = cases.running_plan_case(rc.session, rc.business_key)
    if case is None:
        raise RuleViolation(
            f"Fant ingen løpende sak med oppnevnt koordinator for saksnummer «{rc.business_key or ''}». "
            f"Skifte av koordinator startes for en sak i Lunds oppstartsrutine.")
    rc.cleaned["naavaerende_koordinator"] = case.koordinator
    if case.gjelder:
        rc.cleaned["gjelder"] = case.gjelder


@rule("samtykke_ny_koordinator")
def consent_covers_new_coordinator(rc: RuleContext, field: Field, value) -> None:
    """11.2 and forskrift § 17: the new coordinator's service must be covered by the case's consent;
    if it is not, the person is asked, and the extension is confirmed here (recorded at the role switch)."""
    username = (rc.data.get("ny_koordinator") or "").strip()
    user = cases.active_user(rc.session, username) if username else None
    if user is None:
        return
    name = cases.display_name(rc.session, username)
    if not user.service_keys:
        raise RuleViolation(f"{name} ({username}) tilhører ingen tjeneste, så samtykket kan ikke vurderes. "
                            f"Registrer brukerens tjeneste først.")
    missing = samtykkeregister.uncovered_services(rc.session, rc.business_key, user.service_keys)
    if missing and not value:
        raise RuleViolation(
            f"Samtykket i saken omfatter ikke deling med {_services(missing)}, der {name} arbeider. Spør personen om "
            f"samtykket kan utvides, og kryss av når det er gitt (det registreres på saken ved rollebyttet).")


@rule("samtykke_mottakere")
def recipients_within_consent(rc: RuleContext, field: Field, value) -> None:
    """Forskrift § 17: each listed person's service must be covered by the case's consent (or be the
    person or next of kin), so a notice to them can leave; the notice handler checks again."""
    consent = samtykkeregister.valid(rc.session, rc.business_key)
    refused = [f"{p.get('navn') or '?'} ({_services([p['tjeneste']]) if p.get('tjeneste') else 'ingen tjeneste'})"
               for p in value or []
               if isinstance(p, dict) and not samtykkeregister.covers_service(consent, p.get("tjeneste"))]
    if refused:
        raise RuleViolation(f"Samtykket i saken gjelder ikke deling med {', '.join(refused)}. Velg riktig tjeneste, "
                            f"eller utvid samtykket på saken først.")


def _services(keys) -> str:
    return ", ".join(tjenester.DEFAULT.get(k, k) for k in keys)
