"""The seed routines driven step by step, with the form data the routine tests use.

The same paths as tests/test_routine_*.py (the data is repeated here so the benchmark does not
depend on the test package).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from orchestrator.engine.helpers import OSLO, add_days
from orchestrator.services import instances, tasks, timers
from orchestrator.services.access import SYSTEM

# --- samarbeid (tests/test_routine_samarbeid.py) ------------------------------------------------
# Each step 3 contact is in the queue of the service it is for (decision 0022). Both are tina's own service
# here, so one client walks the whole check through the API's `next_tasks`, as the benchmark measures.
TJENESTER = [{"tjeneste": "helsestasjon", "kontaktperson": "Helsesykepleier"}, {"tjeneste": "helsestasjon"}]
STEG1 = {"gjelder": "Emma S.", "andre_tjenester": "ja", "tjenester": TJENESTER,
         "konklusjon_steg1": "Helsestasjonen er involvert."}
STEG2 = {"samarbeid_nodvendig": "ja", "begrunnelse_steg2": "Felles mål."}
STEG3 = {"kontakt": {"kontakt_dato": "2027-01-06", "kontaktperson": "Kontakt", "samtykke_til_deling": "samtykke"}}
ADULT_LONG_TERM = {"vilkar_barn": "nei", "vilkar_langvarig": "ja", "vurdering_barnekoordinator": "Voksen."}
SAMORDNING = {"enige": "ja", "samordnende_tjeneste": "NAV"}

# The full samarbeid check as (element id, data): start, steg1, steg2, one steg3 per service,
# barnekoordinator_vurdering, samordning; the last ends with the melding to KE that starts oppstart.
SAMARBEID_PATH = [("steg1", STEG1), ("steg2", STEG2), *[("steg3", STEG3) for _ in TJENESTER],
                  ("barnekoordinator_vurdering", ADULT_LONG_TERM), ("samordning", SAMORDNING)]

# --- oppstart (tests/routines.py) -----------------------------------------------------------------
OPPSTART_START = {"gjelder": "Ola N.", "meldt_av": "Helsestasjonen", "behov": "Flere tjenester trenger å samarbeide."}
ONSKE_1 = {"informert_om_rettigheter": True, "bruker_onsker_koordinering": "ja", "soknad_fra": "parorende",
           "soknad_dato": "2027-01-04"}
CONSENT = {
    "samtale_dato": "2027-01-05", "oppsummering_samtale": "Familien ønsker koordinator og IP.",
    "samtykke_gitt": "ja", "samtykke_av": "foresatte", "samtykke_form": "skriftlig",
    "samtykke_omfatter": ["koordinator", "individuell_plan", "ansvarsgruppe", "informasjonsutveksling"],
    "opplysninger_som_deles": "Opplysninger om behov for tilrettelegging.",
    "deles_med": ["skole", "helsestasjon", "nav"],
}
# a group started on its own records the consent it needs (decision 0016)
GROUP_CONSENT = {"kilde": "gis_naa", "dato": "2027-01-05", "gitt_av": "bruker", "form": "muntlig",
                 "omfatter": ["ansvarsgruppe"], "deles_med": ["skole", "helsestasjon", "nav"]}
WISH = {"har_onske": "ja", "onsket_koordinator": "Kora", "onske_innfris": "ja"}
KARTLEGGING = {"oppstartmote_dato": "2027-01-20", "situasjon": "Går i 3. klasse.",
               "ressurser": "Engasjerte foreldre.", "mal": "Trives på skolen.",
               "behov": "Tilrettelegging og avlastning.", "barn_som_parorende": "ja",
               "barn": [{"relasjon": "sosken", "alder": 6, "oppfolging": "Informasjon tilpasset alder."}]}

# --- ansvarsgruppe (tests/test_routine_ansvarsgruppe.py) -----------------------------------------
MEMBERS = [
    {"tittel": "Kontaktlærer", "tjeneste": "skole", "navn": "Tor Lærer", "adresse": "tor@skole.example"},
    {"tittel": "Helsesykepleier", "tjeneste": "helsestasjon", "navn": "Tina Helse", "adresse": "tina@kommune.example"},
    {"tittel": "Rådgiver NAV", "tjeneste": "nav", "navn": "Nils Nav", "adresse": "nils@nav.example"},
]
FIRST_MEETING = {"gruppeleder": "kora", "mal": "Trygg skolehverdag."}


def oslo(moment: datetime) -> str:
    return moment.astimezone(OSLO).replace(microsecond=0).isoformat()


def task_id(orc, instance_id: int, element_id: str) -> str:
    found = [t for t in tasks.list_tasks(orc, SYSTEM, scope="roles", instance_id=instance_id, per_page=200).items
             if t.element_id == element_id]
    if not found:
        raise RuntimeError(f"no open task {element_id} in instance {instance_id}")
    return found[0].id


def do(orc, instance_id: int, element_id: str, actor, data=None):
    return tasks.complete(orc, task_id(orc, instance_id, element_id), data or {}, actor)


def start_samarbeid(orc, actors, business_key: str):
    return instances.start(orc, "samarbeid", actors["tina"], business_key=business_key)


def start_oppstart(orc, actors, business_key: str):
    return instances.start(orc, "oppstart", actors["kari"], business_key=business_key, data=OPPSTART_START)


def oppstart_steps(actors, coordinator: str = "kora"):
    """Oppstart from trinn 1 to trinn 10 (the coordinator appointed, IP chosen): (element, actor, data)."""
    coord = actors[coordinator]
    return [
        ("onske", actors["kari"], ONSKE_1),
        ("samtale", actors["kari"], CONSENT),
        ("onske", actors["kari"], {**WISH, "koordinator": coordinator}),
        ("oppstartsamtale", coord, {"oppstartsamtale_dato": "2027-01-10", "arbeidsform": "Møtes hver måned."}),
        ("kartlegging", coord, KARTLEGGING),
        ("verktoy", coord, {"verktoy": "ip", "verktoy_begrunnelse": "Flere tjenester."}),
    ]


def start_ansvarsgruppe(orc, actors, business_key: str):
    """A group started directly (no plan case): its tasks go to the koordinator queue."""
    return instances.start(orc, "ansvarsgruppe", actors["kora"], business_key=business_key,
                           data={"gjelder": "Per P.", "samtykke": GROUP_CONSENT})


def create_group(orc, actors, instance_id: int, meeting: datetime, notice_days: int = 14):
    return do(orc, instance_id, "opprettelse", actors["kora"], {
        "gjelder": "Ola N.", "faste_medlemmer": MEMBERS, "varslingsfrist_dager": notice_days,
        "moetetid": oslo(meeting), "sted": "Rådhuset, møterom 2"})


def prepare_meeting(orc, actors, instance_id: int):
    return do(orc, instance_id, "forberede_innkalling", actors["kora"], {
        "saksliste": [{"punkt": "Status i skolen"}, {"punkt": "Avlastning"}], "tjenestemottaker_deltar": "ja"})


def meeting_answer(next_meeting: datetime) -> dict:
    return {"moete_status": "gjennomfort", "faste_medlemmer": MEMBERS,
            "saksliste": [{"punkt": "Status i skolen", "beslutning": "Fortsetter som før."},
                          {"punkt": "Avlastning", "beslutning": "Søknad sendes."}],
            "beslutninger": [{"beslutning": "Assistent i 10 timer"}],
            "ansvarsfordeling": [{"oppgave": "Søke avlastning", "ansvarlig": "Tina Helse", "frist": "2027-03-01"}],
            "tjenestemottaker_svar": "ikke_aktuelt", "beslutninger_bekreftet": True,
            "videre": "fortsette", "neste_moetetid": oslo(next_meeting), **FIRST_MEETING}


def meeting_cycle(orc, actors, manual_clock, instance_id: int, meeting: datetime, before_meeting=None):
    """One cycle: prepare the innkalling, let its timer fire, hold the meeting and agree the next.

    `before_meeting(task_id, data)` replaces the plain completion of the meeting task (to time it).
    Returns the next meeting's time.
    """
    prepare_meeting(orc, actors, instance_id)
    manual_clock.set(add_days(meeting, -14))  # the innkalling leaves at D-14 (never for a past meeting)
    timers.fire_due(orc)
    manual_clock.set(meeting + timedelta(hours=2))
    timers.fire_due(orc)
    following = meeting + timedelta(days=60)
    answer = meeting_answer(following)
    meeting_task = task_id(orc, instance_id, "moete")
    if before_meeting is None:
        tasks.complete(orc, meeting_task, answer, actors["kora"])
    else:
        before_meeting(meeting_task, answer)
    return following
