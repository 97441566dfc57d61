"""Checking what the diagram throws before anything is queued.

A notice that cannot be sent correctly must stop the workflow step, not leave the building
half-right: every problem is collected and raised as one `StepFailed` in Norwegian, so the step
(and everything else in its transaction) rolls back and staff see what to fix.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ..errors import StepFailed
from .constants import KIND_LABELS, MOETE_AVLYST, REFERAT
from ...clock import OSLO

DEFAULT_DURATION_MINUTES = 90
MAX_PEOPLE = 100
MAX_ITEMS = 50

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_LINE_BREAK = re.compile(r"[\r\n]")
# An eleven-digit number (optionally 6+5 with a space) looks like a fødselsnummer or D-nummer.
_NATIONAL_ID = re.compile(r"(?<!\d)\d{6}[ ]?\d{5}(?!\d)")
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_MEETING_ID = re.compile(r"^[^\s\x00-\x1f\x7f]{1,200}$")


@dataclass(frozen=True)
class Person:
    navn: str
    adresse: str  # normalised: ASCII local part, IDNA (punycode) domain
    tittel: str | None = None
    tjeneste: str | None = None  # the service they represent (consent scope, decision 0016)

    @property
    def key(self) -> str:
        return self.adresse.casefold()


@dataclass(frozen=True)
class Meeting:
    """An innkalling, a changed innkalling or a cancellation."""

    kind: str
    moete_id: str
    gjelder: str
    tidspunkt: datetime
    varighet_minutter: int
    sted: str
    gruppe: str
    saksliste: tuple[str, ...]
    deltakere: tuple[Person, ...]
    leder: Person | None

    @property
    def slutt(self) -> datetime:
        return self.tidspunkt + timedelta(minutes=self.varighet_minutter)


@dataclass(frozen=True)
class Assignment:
    oppgave: str
    ansvarlig: str
    frist: date | None


@dataclass(frozen=True)
class AgendaItem:
    """One point of the innkalling's agenda and what the referat says about it."""

    punkt: str
    beslutning: str | None


@dataclass(frozen=True)
class Minutes:
    """A referat: the agenda's points in order, each with its decision (004 11.4), then as before."""

    kind: str
    moete_id: str
    gjelder: str
    tidspunkt: datetime
    sted: str
    gruppe: str
    beslutninger: tuple[str, ...]
    ansvarsfordeling: tuple[Assignment, ...]
    faglig_uenighet: str | None
    mottakere: tuple[Person, ...]
    neste_moete: datetime | None
    saksliste: tuple[AgendaItem, ...] = ()  # empty from diagrams older than the agenda in the referat


def _blank(value) -> bool:
    """None, empty text, or a row/object whose fields are all empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return True
    if isinstance(value, dict):
        return all(_blank(v) for v in value.values())
    return False


class _Checker:
    def __init__(self, payload):
        self.payload = payload if isinstance(payload, dict) else {}
        self.problems: list[str] = []
        if not isinstance(payload, dict):
            self.problems.append("innholdet må være et objekt med felt")

    def fail(self, message: str) -> None:
        self.problems.append(message)

    def text(self, data: dict, key: str, where: str, max_length: int, required: bool = True,
             multiline: bool = False) -> str | None:
        value = data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.fail(f"{where} mangler")
            return None
        if not isinstance(value, str):
            self.fail(f"{where} må være tekst")
            return None
        value = value.strip()
        if len(value) > max_length:
            self.fail(f"{where} er for lang (høyst {max_length} tegn)")
            return None
        if _CONTROL.search(value) or (not multiline and _LINE_BREAK.search(value)):
            self.fail(f"{where} inneholder linjeskift eller kontrolltegn")
            return None
        if _NATIONAL_ID.search(value):
            self.fail(f"{where} ser ut til å inneholde et fødselsnummer (11 siffer); "
                      f"fødselsnummer sendes ikke på e-post")
            return None
        return value

    def texts(self, data: dict, key: str, where: str, max_length: int, required_items: bool) -> tuple[str, ...]:
        value = data.get(key)
        if value is None:
            self.fail(f"{where} mangler")
            return ()
        if not isinstance(value, (list, tuple)):
            self.fail(f"{where} må være en liste med tekster")
            return ()
        value = [item for item in value if not _blank(item)]  # an empty line in a form is no item
        if required_items and not value:
            self.fail(f"{where} er tom")
        if len(value) > MAX_ITEMS:
            self.fail(f"{where} har for mange punkter (høyst {MAX_ITEMS})")
            return ()
        found = []
        for number, raw in enumerate(value, start=1):
            item = self.text({"v": raw}, "v", f"{where} punkt {number}", max_length, multiline=True)
            if item is not None:
                found.append(item)
        return tuple(found)

    def moment(self, data: dict, key: str, where: str, required: bool = True) -> datetime | None:
        value = data.get(key)
        if value is None or value == "":
            if required:
                self.fail(f"{where} mangler")
            return None
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError:
                self.fail(f"{where} må være dato og klokkeslett (ISO 8601), f.eks. 2027-02-16T10:00:00+01:00")
                return None
        if not isinstance(value, datetime):
            self.fail(f"{where} må være dato og klokkeslett (ISO 8601)")
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            self.fail(f"{where} må ha tidssone, f.eks. 2027-02-16T10:00:00+01:00")
            return None
        return value

    def day(self, data: dict, key: str, where: str) -> date | None:
        value = data.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value.strip())
            except ValueError:
                moment = None
            if moment is not None and moment.tzinfo is not None:
                return moment.astimezone(OSLO).date()  # a date picked in Oslo, stored with its offset
            try:
                return date.fromisoformat(value.strip()[:10])
            except ValueError:
                pass
        self.fail(f"{where} må være en dato (ÅÅÅÅ-MM-DD)")
        return None

    def minutes(self, data: dict, key: str, where: str) -> int:
        value = data.get(key)
        if value is None or value == "":
            return DEFAULT_DURATION_MINUTES
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 5 <= value <= 24 * 60:
            self.fail(f"{where} må være et helt antall minutter mellom 5 og 1440")
            return DEFAULT_DURATION_MINUTES
        return value

    def address(self, value, where: str) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{where} mangler")
            return None
        value = value.strip()
        problem = f"{where} er ikke en gyldig e-postadresse: «{value[:100]}»"
        if value.count("@") != 1 or len(value) > 254:
            self.fail(problem)
            return None
        local, domain = value.split("@")
        if not _LOCAL_PART.match(local) or local.startswith(".") or local.endswith(".") or ".." in local:
            self.fail(problem + " (bare a–z, 0–9 og vanlige tegn før @)")
            return None
        try:
            ascii_domain = domain.encode("idna").decode("ascii").lower()
        except (UnicodeError, ValueError):
            self.fail(problem)
            return None
        labels = ascii_domain.split(".")
        if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
            self.fail(problem)
            return None
        return f"{local}@{ascii_domain}"

    def person(self, value, where: str, title_required: bool) -> Person | None:
        if not isinstance(value, dict):
            self.fail(f"{where} må være et objekt med navn og adresse")
            return None
        before = len(self.problems)
        navn = self.text(value, "navn", f"{where}: navn", 200)
        tittel = self.text(value, "tittel", f"{where}: tittel", 200, required=title_required)
        adresse = self.address(value.get("adresse"), f"{where}: adresse")
        tjeneste = self.text(value, "tjeneste", f"{where}: tjeneste", 50, required=False)
        if len(self.problems) > before:
            return None
        return Person(navn=navn, adresse=adresse, tittel=tittel, tjeneste=tjeneste)

    def people(self, data: dict, key: str, where: str) -> tuple[Person, ...]:
        value = data.get(key)
        if not isinstance(value, (list, tuple)) or not value:
            self.fail(f"{where} mangler (minst én person med tittel, navn og adresse)")
            return ()
        if len(value) > MAX_PEOPLE:
            self.fail(f"{where} har for mange personer (høyst {MAX_PEOPLE})")
            return ()
        value = [item for item in value if not _blank(item)]  # an empty row in a form is no person
        if not value:
            self.fail(f"{where} mangler (minst én person med tittel, navn og adresse)")
            return ()
        found: dict[str, Person] = {}
        for number, item in enumerate(value, start=1):
            person = self.person(item, f"{where} nr. {number}", title_required=True)
            if person is not None:
                found.setdefault(person.key, person)  # the same address twice: one e-mail
        return tuple(found.values())

    def meeting_id(self, data: dict) -> str | None:
        value = data.get("moete_id")
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not _MEETING_ID.match(value.strip()):
            self.fail("«moete_id» mangler eller er ugyldig (1–200 tegn uten mellomrom)")
            return None
        return value.strip()

    def raise_if_failed(self, kind: str) -> None:
        if self.problems:
            label = KIND_LABELS.get(kind, kind)
            raise StepFailed(f"{label} kan ikke sendes: " + "; ".join(self.problems) + ".")


def meeting(kind: str, payload) -> Meeting:
    """An innkalling (`innkalling`, `innkalling_endret`) or a cancellation (`moete_avlyst`)."""
    check = _Checker(payload)
    data = check.payload
    moete_id = check.meeting_id(data)
    gjelder = check.text(data, "gjelder", "«gjelder» (hvem møtet gjelder)", 200)
    tidspunkt = check.moment(data, "tidspunkt", "«tidspunkt»")
    varighet = check.minutes(data, "varighet_minutter", "«varighet_minutter»")
    sted = check.text(data, "sted", "«sted»", 300)
    gruppe = check.text(data, "gruppe", "«gruppe»", 200)
    if kind == MOETE_AVLYST:
        saksliste = check.texts(data, "saksliste", "«saksliste»", 500, False) if data.get("saksliste") else ()
    else:
        saksliste = check.texts(data, "saksliste", "«saksliste»", 500, required_items=True)
    deltakere = check.people(data, "deltakere", "«deltakere»")
    leder = None
    if not _blank(data.get("leder")):
        leder = check.person(data.get("leder"), "«leder»", title_required=False)
    check.raise_if_failed(kind)
    return Meeting(kind=kind, moete_id=moete_id, gjelder=gjelder, tidspunkt=tidspunkt,
                   varighet_minutter=varighet, sted=sted, gruppe=gruppe, saksliste=saksliste,
                   deltakere=deltakere, leder=leder)


def minutes(payload) -> Minutes:
    """A referat."""
    check = _Checker(payload)
    data = check.payload
    moete_id = check.meeting_id(data)
    gjelder = check.text(data, "gjelder", "«gjelder» (hvem møtet gjaldt)", 200)
    tidspunkt = check.moment(data, "tidspunkt", "«tidspunkt»")
    sted = check.text(data, "sted", "«sted»", 300)
    gruppe = check.text(data, "gruppe", "«gruppe»", 200)
    beslutninger = check.texts(data, "beslutninger", "«beslutninger»", 2000, required_items=False)
    fordeling = []
    raw = data.get("ansvarsfordeling")
    if raw is None:
        check.fail("«ansvarsfordeling» mangler (en tom liste om ingen fikk oppgaver)")
    elif not isinstance(raw, (list, tuple)):
        check.fail("«ansvarsfordeling» må være en liste")
    elif len(raw) > MAX_ITEMS:
        check.fail(f"«ansvarsfordeling» har for mange punkter (høyst {MAX_ITEMS})")
    else:
        for number, item in enumerate([item for item in raw if not _blank(item)], start=1):
            where = f"«ansvarsfordeling» nr. {number}"
            if not isinstance(item, dict):
                check.fail(f"{where} må være et objekt med oppgave og ansvarlig")
                continue
            oppgave = check.text(item, "oppgave", f"{where}: oppgave", 1000, multiline=True)
            ansvarlig = check.text(item, "ansvarlig", f"{where}: ansvarlig", 200)
            frist = check.day(item, "frist", f"{where}: frist")
            if oppgave and ansvarlig:
                fordeling.append(Assignment(oppgave, ansvarlig, frist))
    uenighet = check.text(data, "faglig_uenighet", "«faglig_uenighet»", 5000, required=False, multiline=True)
    mottakere = check.people(data, "mottakere", "«mottakere»")
    neste = check.moment(data, "neste_moete", "«neste_moete»", required=False)
    agenda = _agenda(check, data.get("saksliste"))
    check.raise_if_failed(REFERAT)
    return Minutes(kind=REFERAT, moete_id=moete_id, gjelder=gjelder, tidspunkt=tidspunkt, sted=sted,
                   gruppe=gruppe, beslutninger=beslutninger, ansvarsfordeling=tuple(fordeling),
                   faglig_uenighet=uenighet, mottakere=mottakere, neste_moete=neste, saksliste=agenda)


def _agenda(check: _Checker, raw) -> tuple[AgendaItem, ...]:
    """The agenda's points in the innkalling's order, each with its decision (optional in the payload)."""
    if raw is None:
        return ()
    if not isinstance(raw, (list, tuple)):
        check.fail("«saksliste» må være en liste med punkter")
        return ()
    rows = [row for row in raw if not _blank(row)]
    if len(rows) > MAX_ITEMS:
        check.fail(f"«saksliste» har for mange punkter (høyst {MAX_ITEMS})")
        return ()
    items = []
    for number, row in enumerate(rows, start=1):
        where = f"«saksliste» punkt {number}"
        if not isinstance(row, dict):
            check.fail(f"{where} må være et objekt med punkt og beslutning")
            continue
        punkt = check.text(row, "punkt", f"{where}: punkt", 500, multiline=True)
        beslutning = check.text(row, "beslutning", f"{where}: beslutning", 2000, required=False, multiline=True)
        if punkt:
            items.append(AgendaItem(punkt, beslutning))
    return tuple(items)

