"""Fixtures for the seed routines in processes/ and forms/: deployed, with one person per role."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import open_tasks, task_named
from orchestrator.services import instances, messages, tasks, users
from orchestrator.services.access import SYSTEM

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def seeded(deploy):
    return deploy(ROOT / "processes", ROOT / "forms")


class People:
    """Named staff, as in a small municipality."""

    def __init__(self, make_user):
        self.tina = make_user("tina", "tjenesteyter", services=["helsestasjon"])  # helsesykepleier
        self.tor = make_user("tor", "tjenesteyter", services=["skole"])           # lærer
        self.kari = make_user("kari", "koordinerende_enhet")   # koordinerende enhet
        self.kora = make_user("kora", "koordinator", "tjenesteyter", services=["helsestasjon"])
        self.kai = make_user("kai", "koordinator", "tjenesteyter", services=["ppt"])
        self.lars = make_user("lars", "leder")
        self.kim = make_user("kim", "kommuneledelse")


@pytest.fixture
def people(make_user, orc):
    return People(make_user)


def do(orc, instance_id, element_id, actor, data=None):
    """Complete the open task `element_id` of an instance as `actor`: one in their queue when there are
    several (each service's contact of samarbeid step 3), else the first (to see it refused)."""
    found = [t for t in open_tasks(orc, instance_id) if t.element_id == element_id]
    assert found, f"no open task {element_id} in instance {instance_id}: {open_elements(orc, instance_id)}"
    task = next((t for t in found if tasks.may_do(actor, t)), found[0])
    return tasks.complete(orc, task.id, data or {}, actor)


def open_elements(orc, instance_id):
    return sorted(t.element_id for t in open_tasks(orc, instance_id))


def instance_of(orc, process_key, business_key):
    found = instances.list_instances(orc, SYSTEM, process_key=process_key, business_key=business_key).items
    assert found, f"no {process_key} instance for {business_key}"
    return found[0]


def data(orc, instance_id) -> dict:
    return instances.get(orc, instance_id, SYSTEM).data


def start_oppstart(orc, people, business_key="SAK-1", gjelder="Ola N."):
    return instances.start(orc, "oppstart", people.kari, business_key=business_key, data={
        "gjelder": gjelder, "meldt_av": "Helsestasjonen", "behov": "Flere tjenester trenger å samarbeide."})


CONSENT = {
    "samtale_dato": "2027-01-05", "oppsummering_samtale": "Familien ønsker koordinator og IP.",
    "samtykke_gitt": "ja", "samtykke_av": "foresatte", "samtykke_form": "skriftlig",
    "samtykke_omfatter": ["koordinator", "individuell_plan", "ansvarsgruppe", "informasjonsutveksling"],
    "opplysninger_som_deles": "Opplysninger om behov for tilrettelegging.", "deles_med": ["skole", "helsestasjon", "nav", "ppt", "habilitering"],
}
# an ansvarsgruppe started on its own records the consent it needs (decision 0016)
GROUP_CONSENT = {"kilde": "gis_naa", "dato": "2027-01-05", "gitt_av": "bruker", "form": "muntlig",
                 "omfatter": ["ansvarsgruppe"], "deles_med": ["skole", "helsestasjon", "nav"]}
# the family's consent given with their wish for a barnekoordinator (samarbeid, decision 0016)
BARNEKOORDINATOR_CONSENT = {"samtykke_av": "foresatte", "samtykke_form": "skriftlig",
                            "deles_med": ["skole", "helsestasjon", "ppt"]}
WISH = {"har_onske": "ja", "onsket_koordinator": "Kora", "onske_innfris": "ja"}


def appoint(orc, instance_id, people, koordinator="kora", **extra):
    """Oppstart to trinn 5: wish granted, `koordinator` appointed (11.1 punkt 1)."""
    do(orc, instance_id, "onske", people.kari, {"informert_om_rettigheter": True, "bruker_onsker_koordinering": "ja",
                                                 "soknad_fra": "parorende", "soknad_dato": "2027-01-04"})
    do(orc, instance_id, "samtale", people.kari, CONSENT)
    do(orc, instance_id, "onske", people.kari, {**WISH, "koordinator": koordinator, **extra})


KARTLEGGING = {"oppstartmote_dato": "2027-01-20", "situasjon": "Går i 3. klasse.", "ressurser": "Engasjerte foreldre.",
               "mal": "Trives på skolen.", "behov": "Tilrettelegging og avlastning.", "barn_som_parorende": "ja",
               "barn": [{"relasjon": "sosken", "alder": 6, "oppfolging": "Informasjon tilpasset alder."}]}


def to_plan(orc, instance_id, coordinator, verktoy="ip"):
    """Oppstart trinn 6–8 as the coordinator, ending at trinn 10."""
    do(orc, instance_id, "oppstartsamtale", coordinator, {"oppstartsamtale_dato": "2027-01-10",
                                                            "arbeidsform": "Møtes hver måned."})
    do(orc, instance_id, "kartlegging", coordinator, KARTLEGGING)
    do(orc, instance_id, "verktoy", coordinator, {"verktoy": verktoy, "verktoy_begrunnelse": "Flere tjenester."})


def plan_case(orc, people, business_key, coordinator="kora", verktoy="ip"):
    """A running oppstart case whose plan (IP by default) is coordinated by `coordinator`."""
    started = start_oppstart(orc, people, business_key)
    appoint(orc, started.id, people, koordinator=coordinator)
    to_plan(orc, started.id, getattr(people, coordinator), verktoy)
    return started


def evaluation_opens(orc, clock, instance_id):
    """Let the plan's evaluation timer (revisjonsdato − varsel, trinn 12) fire: the clock moves to it."""
    from orchestrator.services import timers

    for timer in [t for t in instances.get(orc, instance_id, SYSTEM).timers if t["element_id"] == "evalueringstid"]:
        clock.set(max(timer["due_at"], clock.now()))  # none waiting: the date had come, it opened at once
        timers.fire_due(orc)


def send(orc, name, business_key, actor, payload=None):
    return messages.send(orc, name, business_key, payload or {}, actor)


def user_view(orc, username):
    return next(u for u in users.list_users(orc) if u.username == username)


def notices(orc, instance_id, kind):
    """The outbox rows (one per recipient) an instance queued of one kind, with their plain text."""
    import email
    from email import policy

    from sqlalchemy import select

    from orchestrator.store.models import Notice

    with orc.db.read() as session:
        rows = session.scalars(select(Notice).where(Notice.instance_id == instance_id, Notice.kind == kind)
                               .order_by(Notice.id)).all()
    found = []
    for row in rows:
        message = email.message_from_string(row.message, policy=policy.default)
        text = message.get_body(preferencelist=("plain",)).get_content()
        found.append({"recipient": row.recipient, "meeting_at": row.meeting_at, "place": row.meeting_place,
                      "method": row.method, "sequence": row.sequence, "uid": row.meeting_uid, "text": text})
    return found
