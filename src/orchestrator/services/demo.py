"""Demo cases for a fresh installation: clearly fictional people, in the states a newcomer should see.

`make run` calls `orchestrator demo --if-empty` after making the demo users, so each of them finds
work, deadlines and notices on first login: a samarbeid check waiting at step 2, one whose step 3
contacts wait in the queues of the services contacted (helsestasjon: Kora, NAV: Nina; Tina, who
assesses for the school, sees only her own), an oppstart at step 2 and one at step 7, a samarbeid
check the services could not agree on (for kommuneledelsen), an
ansvarsgruppe whose innkalling is due in a few days, one whose innkalling is overdue and escalated to
the leader, and one whose innkalling went out with one notice that failed.

Every case is driven through the routines themselves (the same use cases as a person's clicks),
some of it "as of" earlier days with the injectable clock, so what a page shows is what the routines
made of it. The people are fictional (Demo …, addresses in the reserved domains kommune.example and
feil.invalid) and their case numbers are in the year 9999.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from .. import clock
from ..clock import OSLO
from ..store.models import Instance
from . import instances, tasks, timers, users
from .access import SYSTEM, Actor
from .context import Orchestrator
from .errors import ServiceError
from .notices import delivery

NEEDED = ("tina", "kari", "kora", "nina", "lars", "kim")
SERVICES = ["skole", "helsestasjon", "nav", "helse_omsorg"]


@dataclass(frozen=True)
class Seeded:
    business_key: str
    what: str


def seed(ctx: Orchestrator, if_empty: bool = True) -> list[Seeded]:
    """Make the demo cases; with `if_empty`, only on an installation without any case."""
    if if_empty and _has_cases(ctx):
        return []
    people = _people(ctx)
    now = clock.now()
    made = [
        _samarbeid_at_step_2(ctx, people, now),
        _oppstart_at_step_2(ctx, people, now),
        _oppstart_at_step_7(ctx, people, now),
        _samarbeid_without_agreement(ctx, people, now),
        _group_with_innkalling_soon(ctx, people, now),
        _group_with_overdue_innkalling(ctx, people, now),
        _group_with_failed_notice(ctx, people, now),
        _samarbeid_contacts_waiting(ctx, people, now),  # last: the others keep their instance numbers
    ]
    timers.fire_due(ctx)  # what came due while the cases were made "as of" earlier days
    delivery.deliver_due(ctx)
    return made


def _has_cases(ctx: Orchestrator) -> bool:
    with ctx.db.read() as session:
        return (session.scalar(select(func.count()).select_from(Instance)) or 0) > 0


def _people(ctx: Orchestrator) -> dict[str, Actor]:
    try:
        return {name: users.actor_for(ctx, name) for name in NEEDED}
    except ServiceError:
        raise ServiceError("Demosakene trenger demobrukerne (orchestrator users bootstrap på en tom installasjon): "
                           f"{', '.join(NEEDED)}.") from None


def _do(ctx: Orchestrator, instance_id: int, element_id: str, actor: Actor, data: dict | None = None) -> None:
    """Complete the open task `element_id` of the case as `actor` (one in their queue, when there are several)."""
    found = sorted((t for t in tasks.list_tasks(ctx, SYSTEM, "all", instance_id=instance_id, per_page=200).items
                    if t.element_id == element_id), key=lambda t: not tasks.may_do(actor, t))
    if not found:
        raise ServiceError(f"demo: fant ingen åpen oppgave «{element_id}» i sak {instance_id}")
    tasks.complete(ctx, found[0].id, data or {}, actor)


def _day(moment: datetime) -> str:
    return moment.astimezone(OSLO).date().isoformat()


def _at(moment: datetime, hour: int = 10) -> str:
    return moment.astimezone(OSLO).replace(hour=hour, minute=0, second=0, microsecond=0).isoformat()


# --- samarbeid ----------------------------------------------------------------------------------
def _steg1(name: str) -> dict:
    """Tina assesses for the school (her service); the health station and NAV are involved too: each gets
    its step 3 contact in its own queue."""
    return {"gjelder": name, "andre_tjenester": "ja",
            "tjenester": [{"tjeneste": "helsestasjon", "kontaktperson": "Helsesykepleier"}, {"tjeneste": "nav"}],
            "konklusjon_steg1": "Helsestasjonen og NAV gir tjenester til familien."}


def _steg2() -> dict:
    return {"samarbeid_nodvendig": "ja", "begrunnelse_steg2": "Skole, helse og arbeid henger sammen."}


def _samarbeid_at_step_2(ctx, people, now) -> Seeded:
    with clock.frozen(now - timedelta(days=2)):
        case = instances.start(ctx, "samarbeid", people["tina"], business_key="9999/0001")
        _do(ctx, case.id, "steg1", people["tina"], _steg1("Demo Emil (fiktiv, 9 år)"))
    return Seeded(case.business_key, "samarbeidssjekk som venter på steg 2 (Tina)")


def _samarbeid_contacts_waiting(ctx, people, now) -> Seeded:
    with clock.frozen(now - timedelta(days=3)):
        case = instances.start(ctx, "samarbeid", people["tina"], business_key="9999/0008")
        _do(ctx, case.id, "steg1", people["tina"], _steg1("Demo Ola (fiktiv, 10 år)"))
        _do(ctx, case.id, "steg2", people["tina"], _steg2())
    return Seeded(case.business_key, "samarbeidssjekk på steg 3: kontakten venter i køen til helsestasjonen (Kora) "
                                     "og NAV (Nina)")


def _samarbeid_without_agreement(ctx, people, now) -> Seeded:
    contact = {"kontakt": {"kontakt_dato": _day(now - timedelta(days=6)), "kontaktperson": "Demo Kontakt",
                            "samtykke_til_deling": "samtykke"}}
    with clock.frozen(now - timedelta(days=7)):
        case = instances.start(ctx, "samarbeid", people["tina"], business_key="9999/0004")
        _do(ctx, case.id, "steg1", people["tina"], _steg1("Demo Sara (fiktiv, 34 år)"))
        _do(ctx, case.id, "steg2", people["tina"], _steg2())
        _do(ctx, case.id, "steg3", people["kora"], contact)  # in the health station's queue
        _do(ctx, case.id, "steg3", people["nina"], contact)  # in NAV's queue
        _do(ctx, case.id, "barnekoordinator_vurdering", people["tina"], {
            "vilkar_barn": "nei", "vilkar_alvorlig": "nei", "vilkar_langvarig": "ja",
            "vurdering_barnekoordinator": "Voksen; langvarige og koordinerte tjenester."})
        _do(ctx, case.id, "samordning", people["tina"], {
            "enige": "nei", "samordnende_tjeneste": "Uavklart",
            "samordning_merknad": "NAV og helse- og omsorgstjenesten mener begge at den andre bør samordne."})
    return Seeded(case.business_key, "samarbeidssjekk der tjenestene ikke ble enige (kommuneledelsen bestemmer)")


# --- oppstart -----------------------------------------------------------------------------------
def _melding(name: str) -> dict:
    return {"gjelder": name, "meldt_av": "Helsestasjonen", "behov": "Flere tjenester trenger å samarbeide."}


def _oppstart_at_step_2(ctx, people, now) -> Seeded:
    with clock.frozen(now - timedelta(days=1)):
        case = instances.start(ctx, "oppstart", people["kari"], business_key="9999/0002",
                               data=_melding("Demo Nora (fiktiv, 6 år)"))
    return Seeded(case.business_key, "ny melding til koordinerende enhet, trinn 2 (Kari)")


def _oppstart_at_step_7(ctx, people, now) -> Seeded:
    start = now - timedelta(days=21)
    with clock.frozen(start):
        case = instances.start(ctx, "oppstart", people["kari"], business_key="9999/0003",
                               data=_melding("Demo Jonas (fiktiv, 11 år)"))
        _do(ctx, case.id, "onske", people["kari"], {"informert_om_rettigheter": True,
                                                     "bruker_onsker_koordinering": "ja", "soknad_fra": "parorende",
                                                     "soknad_dato": _day(start)})
        _do(ctx, case.id, "samtale", people["kari"], {
            "samtale_dato": _day(start), "oppsummering_samtale": "Familien ønsker koordinator og individuell plan.",
            "samtykke_gitt": "ja", "samtykke_av": "foresatte", "samtykke_form": "skriftlig",
            "samtykke_omfatter": ["koordinator", "individuell_plan", "ansvarsgruppe", "informasjonsutveksling"],
            "opplysninger_som_deles": "Behov for tilrettelegging på skolen og avlastning.", "deles_med": SERVICES})
        _do(ctx, case.id, "onske", people["kari"], {"har_onske": "ja", "onsket_koordinator": "Kora",
                                                     "onske_innfris": "ja", "koordinator": "kora"})
    with clock.frozen(now - timedelta(days=14)):
        _do(ctx, case.id, "oppstartsamtale", people["kora"], {
            "oppstartsamtale_dato": _day(now - timedelta(days=14)), "arbeidsform": "Møtes hver måned, e-post ellers."})
    return Seeded(case.business_key, "oppstart på trinn 7, kartlegging (Kora er koordinator)")


# --- ansvarsgruppe ------------------------------------------------------------------------------
def _group(ctx, people, business_key: str, name: str, started: datetime, meeting: datetime, members: list[dict]):
    consent = {"kilde": "gis_naa", "dato": _day(started), "gitt_av": "bruker", "form": "muntlig",
               "omfatter": ["ansvarsgruppe"], "deles_med": SERVICES}
    with clock.frozen(started):
        group = instances.start(ctx, "ansvarsgruppe", people["kora"], business_key=business_key,
                                data={"gjelder": name, "samtykke": consent})
        _do(ctx, group.id, "opprettelse", people["kora"], {
            "gjelder": name, "faste_medlemmer": members, "varslingsfrist_dager": 14,
            "moetetid": _at(meeting), "sted": "Rådhuset, møterom 2"})
    return group


def _member(title: str, service: str, name: str, address: str) -> dict:
    return {"tittel": title, "tjeneste": service, "navn": name, "adresse": address}


MEMBERS = [
    _member("Kontaktlærer", "skole", "Demo Lærer", "laerer@skole.kommune.example"),
    _member("Helsesykepleier", "helsestasjon", "Demo Helse", "helse@kommune.example"),
]


def _prepare(ctx, people, group_id: int) -> None:
    _do(ctx, group_id, "forberede_innkalling", people["kora"], {
        "saksliste": [{"punkt": "Status på skolen"}, {"punkt": "Avlastning i helgene"}],
        "tjenestemottaker_deltar": "ja"})


def _group_with_innkalling_soon(ctx, people, now) -> Seeded:
    group = _group(ctx, people, "9999/0005", "Demo Ida (fiktiv, 15 år)", now - timedelta(days=2),
                   now + timedelta(days=20), MEMBERS)
    with clock.frozen(now - timedelta(days=1)):
        _prepare(ctx, people, group.id)
    return Seeded(group.business_key, "ansvarsgruppe: innkallingen går om 6 dager")


def _group_with_overdue_innkalling(ctx, people, now) -> Seeded:
    group = _group(ctx, people, "9999/0006", "Demo Mats (fiktiv, 8 år)", now - timedelta(days=25),
                   now + timedelta(days=4), MEMBERS)
    return Seeded(group.business_key, "ansvarsgruppe: innkallingen er ikke forberedt og fristen er passert "
                                      "(eskalert til leder)")


def _group_with_failed_notice(ctx, people, now) -> Seeded:
    members = [*MEMBERS, _member("Rådgiver", "nav", "Demo Nav", "radgiver@feil.invalid")]
    group = _group(ctx, people, "9999/0007", "Demo Lea (fiktiv, 12 år)", now - timedelta(days=5),
                   now + timedelta(days=12), members)
    with clock.frozen(now - timedelta(days=4)):
        _prepare(ctx, people, group.id)
    return Seeded(group.business_key, "ansvarsgruppe: innkallingen er sendt; én adresse feilet (varsel til leder)")
