"""The consent register (samtykkeregister): the person's consent for the whole case, per business key.

Consent is case data like the coordinator (services/cases.py): given once in a conversation with
the person (forskrift § 17, 002 kap. 13), it is read by every routine of the case and by every
notice that leaves the building. This module holds the facts and the checks; it never ends a
process (services/samtykke.py does, for a withdrawal). Decision 0016.

What the consent covers (`omfatter`) and with whom information may be shared (`deles_med`, keys
of the service catalogue, services/tjenester.py). The person themself and their next of kin
(`bruker_parorende`) are always covered: it is their information.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from .. import clock
from ..store.models import AuditEntry, Consent, ConsentEvent, Instance, OpenTask
from . import cases
from .access import Actor
from .errors import Invalid, StepFailed

GITT, TRUKKET = "gitt", "trukket"
COVERS = {
    "koordinator": "Oppnevning av koordinator",
    "individuell_plan": "Individuell plan",
    "ansvarsgruppe": "Ansvarsgruppe",
    "tverrfaglige_samarbeidsmoeter": "Tverrfaglige samarbeidsmøter",
    "informasjonsutveksling": "Utveksling av nødvendige opplysninger mellom deltakerne",
}
GIVERS = {"bruker": "Bruker selv", "foresatte": "Foresatte", "verge": "Verge"}
HOW = {"muntlig": "Muntlig", "skriftlig": "Skriftlig"}
BRUKER = "bruker_parorende"  # the person themself and next of kin: always covered
BRUKER_LABEL = "Personen selv eller pårørende"
KOORDINERENDE_ENHET = "koordinerende_enhet"



def record_values(service_names: dict[str, str]) -> dict[str, dict[str, str]]:
    """The register's own keys by name, for a consent's history (casedata.record_lines)."""
    return {"omfatter": COVERS, "deles_med": {**service_names, BRUKER: BRUKER_LABEL}, "gitt_av": GIVERS, "form": HOW}


@dataclass(frozen=True)
class Given:
    """A consent as the person gave it (or an extension of it)."""

    dato: str | None
    gitt_av: str | None
    form: str | None
    omfatter: tuple[str, ...]
    deles_med: tuple[str, ...]


def get(session: Session, business_key: str | None) -> Consent | None:
    return session.get(Consent, business_key) if business_key else None


def history(session: Session, business_key: str) -> list[ConsentEvent]:
    return list(session.scalars(select(ConsentEvent).where(ConsentEvent.business_key == business_key)
                                .order_by(ConsentEvent.id)))


def valid(session: Session, business_key: str | None) -> Consent | None:
    """The case's consent if it is given and not withdrawn."""
    consent = get(session, business_key)
    return consent if consent is not None and consent.status == GITT else None


# --- checks ---------------------------------------------------------------------------------------
def require(session: Session, business_key: str | None, purpose: str, doing: str) -> Consent:
    """The valid consent covering `purpose`, or a StepFailed saying what is missing (in Norwegian)."""
    consent = get(session, business_key)
    if consent is None:
        raise StepFailed(f"{doing}: det er ikke registrert noe samtykke i saken. Samtykke må innhentes og "
                         f"registreres først (forskrift § 17).")
    if consent.status == TRUKKET:
        raise StepFailed(f"{doing}: samtykket i saken er trukket tilbake ({consent.trukket_dato or 'dato ukjent'}).")
    if purpose not in (consent.omfatter or []):
        raise StepFailed(f"{doing}: samtykket i saken omfatter ikke «{COVERS.get(purpose, purpose)}». "
                         f"Utvid samtykket på saken (det registreres) før du går videre.")
    return consent


def covers_service(consent: Consent | None, service: str | None) -> bool:
    if consent is None or consent.status != GITT:
        return False
    return service == BRUKER or (service is not None and service in (consent.deles_med or []))


def check_recipients(session: Session, business_key: str | None, purpose: str, doing: str, people,
                     service_name) -> None:
    """Refuse to send to anyone whose service the consent does not cover, naming them (Norwegian).

    `people` have `navn` and `tjeneste`; `service_name(key)` gives a service's display name.
    """
    consent = require(session, business_key, purpose, doing)
    refused = []
    for person in people:
        if person.tjeneste is None:
            refused.append(f"{person.navn} (ingen tjeneste oppgitt)")
        elif not covers_service(consent, person.tjeneste):
            refused.append(f"{person.navn} ({service_name(person.tjeneste)})")
    if refused:
        raise StepFailed(f"{doing}: samtykket i saken gjelder ikke deling med {', '.join(refused)}. Oppgi hvilken "
                         f"tjeneste mottakeren representerer, eller utvid samtykket til tjenesten (det registreres), "
                         f"og prøv igjen.")


def uncovered_services(session: Session, business_key: str | None, services) -> list[str]:
    consent = valid(session, business_key)
    return sorted(s for s in set(services) if not covers_service(consent, s))


# --- who has the case -----------------------------------------------------------------------------
def serves_case(session: Session, actor: Actor, business_key: str | None) -> bool:
    """Whether a service provider 'has' the case (004 11.4: the service the need was reported to).

    A case nobody has opened yet is opened by whoever the need was reported to; an open case is
    had by koordinerende enhet, its coordinator, whoever did something in it or has a task in it,
    and the staff of a service the consent lets information be shared with.
    """
    if actor.system or KOORDINERENDE_ENHET in actor.roles or not business_key:
        return True
    if not session.scalar(select(exists().where(Instance.business_key == business_key))):
        return True
    if cases.coordinator_of(session, business_key) == actor.username:
        return True
    consent = valid(session, business_key)
    if consent is not None and set(actor.services) & set(consent.deles_med or []):
        return True
    in_case = select(Instance.id).where(Instance.business_key == business_key)
    acted = exists().where(AuditEntry.instance_id.in_(in_case), AuditEntry.actor == actor.username)
    task = exists().where(OpenTask.business_key == business_key,
                          or_(OpenTask.assignee == actor.username,
                              OpenTask.assignee.is_(None) & OpenTask.role.in_(sorted(actor.roles))))
    return bool(session.scalar(select(or_(acted, task))))


def may_record(session: Session, actor: Actor, business_key: str) -> bool:
    """Koordinerende enhet (overall responsibility, hol. § 7-3) and the case's coordinator record consent."""
    return actor.system or KOORDINERENDE_ENHET in actor.roles or \
        cases.coordinator_of(session, business_key) == actor.username


# --- recording ------------------------------------------------------------------------------------
def parse_given(data: dict, services, where: str = "Samtykket") -> Given:
    """A consent from a form or the API, checked: what it covers, known services, a date."""
    problems = []
    if not isinstance(data, dict):
        raise Invalid(f"{where} har feil", {"samtykke": ["Forventet et objekt."]})
    omfatter = _keys(data.get("omfatter"))
    deles_med = _keys(data.get("deles_med"))
    unknown = [k for k in omfatter if k not in COVERS]
    if unknown:
        problems.append(("omfatter", f"Ukjent formål: {', '.join(unknown)}. Bruk {', '.join(COVERS)}."))
    unknown = [k for k in deles_med if k != BRUKER and k not in services]
    if unknown:
        problems.append(("deles_med", f"Ukjente tjenester: {', '.join(unknown)}."))
    dato = data.get("dato")
    if dato:
        try:
            dato = date.fromisoformat(str(dato)[:10]).isoformat()
        except ValueError:
            problems.append(("dato", "Bruk en dato (ÅÅÅÅ-MM-DD)."))
    gitt_av = data.get("gitt_av") or None
    if gitt_av is not None and gitt_av not in GIVERS:
        problems.append(("gitt_av", f"Bruk {', '.join(GIVERS)}."))
    form = data.get("form") or None
    if form is not None and form not in HOW:
        problems.append(("form", f"Bruk {', '.join(HOW)}."))
    if problems:
        raise Invalid(f"{where} har feil; se feltene.", {k: [v] for k, v in problems})
    return Given(dato, gitt_av, form, tuple(omfatter), tuple(deles_med))


def _keys(value) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        return ["?"]
    return sorted({str(v) for v in value if v})


def record(session: Session, business_key: str, given: Given, actor: Actor, instance_id: int | None = None,
           replace: bool = False) -> str:
    """Record a consent: a new one (none, or the last was withdrawn), or an extension of the current
    one (the union: a later routine never narrows what the person agreed to). `replace` is a change
    the person asked for (it may narrow). Returns the action recorded."""
    now = clock.now()
    consent = get(session, business_key)
    if consent is None or consent.status == TRUKKET or replace:
        action = GITT if consent is None or consent.status == TRUKKET else "endret"
        if consent is None:
            consent = Consent(business_key=business_key)
            session.add(consent)
        consent.status, consent.trukket_dato, consent.informert_om_folger = GITT, None, None
        consent.omfatter, consent.deles_med = list(given.omfatter), list(given.deles_med)
        consent.gitt_dato = given.dato or consent.gitt_dato or now.date().isoformat()
        consent.gitt_av, consent.form = given.gitt_av or consent.gitt_av, given.form or consent.form
    else:
        action = "utvidet"
        consent.omfatter = sorted(set(consent.omfatter or []) | set(given.omfatter))
        consent.deles_med = sorted(set(consent.deles_med or []) | set(given.deles_med))
    consent.registrert_av, consent.registrert_at, consent.updated_at = actor.username, now, now
    _event(session, business_key, actor, action, instance_id, {
        "dato": given.dato, "gitt_av": given.gitt_av, "form": given.form, "omfatter": list(given.omfatter),
        "deles_med": list(given.deles_med)})
    return action


def record_withdrawal(session: Session, business_key: str, dato: str | None, informed: bool, actor: Actor,
                      instance_id: int | None = None) -> bool:
    """Mark the consent withdrawn; False if it already was (a withdrawal is recorded once)."""
    consent = get(session, business_key)
    if consent is None:
        raise StepFailed("Saken har ikke noe registrert samtykke som kan trekkes tilbake.")
    if consent.status == TRUKKET:
        return False
    if not informed:
        raise Invalid("Personen må informeres om følgene", {"informert_om_folger": [
            "Bekreft at personen er informert om følgene av at samtykket trekkes (pbrl. § 4-1)."]})
    now = clock.now()
    consent.status, consent.informert_om_folger = TRUKKET, True
    consent.trukket_dato = _iso_date(dato) or now.date().isoformat()
    consent.updated_at = now
    _event(session, business_key, actor, TRUKKET, instance_id,
           {"dato": consent.trukket_dato, "informert_om_folger": True})
    return True


def _iso_date(value) -> str | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10]).isoformat()
    except ValueError:
        raise Invalid("Ugyldig dato", {"dato": ["Bruk en dato (ÅÅÅÅ-MM-DD)."]}) from None


def _event(session: Session, business_key: str, actor: Actor, action: str, instance_id: int | None,
           data: dict) -> None:
    session.add(ConsentEvent(business_key=business_key, at=clock.now(), actor=actor.username, action=action,
                             instance_id=instance_id, data=data))
    session.flush()
