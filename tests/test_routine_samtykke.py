"""Consent for the whole case (issue 10 items 1–3, 6, 9; decision 0016; seed 002 § 17 and kap. 5, 004 11.2, 11.4).

Through the service layer, with the real routines of processes/ and forms/ and e-mail to a loopback
SMTP server. The API walk is in test_samtykke_api.py.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from notice_support import mailbox, smtp  # noqa: F401  (fixtures: aiosmtpd on loopback)
from routines import (  # noqa: F401
    CONSENT, GROUP_CONSENT, do, instance_of, people, plan_case, seeded, start_oppstart, to_plan,
)
from helpers import open_tasks
from test_routine_ansvarsgruppe import FIRST, MEMBERS, oslo
from orchestrator.services import instances, processes, samtykke, timers
from orchestrator.services.access import SYSTEM
from orchestrator.services.errors import Forbidden, Invalid, NotFound, StepFailed
from orchestrator.services.worker import Worker
from orchestrator.store.models import Instance, MessageWait, Notice, OpenTask, WaitingTimer

WITHDRAWAL = {"dato": "2027-02-01", "informert_om_folger": True}
TOR = MEMBERS[0]  # Kontaktlærer, skole
# the person changes the consent: no longer NAV (a recorded change, decision 0016)
NARROWED = {"handling": "endre", "dato": "2027-01-20", "gitt_av": "foresatte", "form": "skriftlig",
            "omfatter": ["koordinator", "individuell_plan", "ansvarsgruppe"], "deles_med": ["skole", "helsestasjon"]}


def _meeting(orc, group, people, clock, members=MEMBERS, days_ahead=30):
    """The first meeting agreed and its innkalling prepared: the innkalling waits for its timer."""
    meeting = clock.now().replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=days_ahead)
    do(orc, group.id, "opprettelse", people.kora, {"gjelder": "Ola N.", "faste_medlemmer": members,
                                                    "varslingsfrist_dager": 14, "moetetid": oslo(meeting),
                                                    "sted": "Rådhuset, møterom 2"})
    do(orc, group.id, "forberede_innkalling", people.kora, {"saksliste": [{"punkt": "Skolehverdagen"}],
                                                             "tjenestemottaker_deltar": "ja"})
    return meeting


def _left_in_queues(orc, business_key) -> dict:
    with orc.db.read() as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model)
                                                    .where(model.business_key == business_key))
                for model in (OpenTask, WaitingTimer, MessageWait)}


def _notices(orc, business_key):
    with orc.db.read() as session:
        return session.scalars(select(Notice).where(Notice.business_key == business_key).order_by(Notice.id)).all()


def _statuses(orc, business_key) -> dict:
    with orc.db.read() as session:
        return dict(session.execute(select(Instance.process_key, Instance.status)
                                    .where(Instance.business_key == business_key)).all())


# --- 1. consent is case data of its own, read by every routine -------------------------------------------------


def test_consent_is_recorded_for_the_whole_case_and_read_when_the_ansvarsgruppe_is_created(orc, seeded, people):
    started = start_oppstart(orc, people, "SAK-10")
    narrow = {**CONSENT, "samtykke_omfatter": ["koordinator", "individuell_plan"]}  # no ansvarsgruppe
    do(orc, started.id, "onske", people.kari, {"informert_om_rettigheter": True, "bruker_onsker_koordinering": "ja",
                                                "soknad_fra": "bruker", "soknad_dato": "2027-01-04"})
    do(orc, started.id, "samtale", people.kari, narrow)
    do(orc, started.id, "onske", people.kari, {"har_onske": "ja", "onsket_koordinator": "Kora", "onske_innfris": "ja",
                                                "koordinator": "kora"})
    consent = samtykke.view(orc, "SAK-10", people.kora)
    assert consent.status == "gitt" and {c["key"] for c in consent.omfatter} == {"koordinator", "individuell_plan"}
    # trinn 9 would start an ansvarsgruppe the consent does not cover: refused, in Norwegian
    with pytest.raises(StepFailed) as refused:
        to_plan(orc, started.id, people.kora, "ip")
    assert "omfatter ikke «Ansvarsgruppe»" in refused.value.message
    assert _statuses(orc, "SAK-10") == {"oppstart": "running"}
    # the person agrees; the extension is recorded (who, when) and the same step goes through
    samtykke.change(orc, "SAK-10", {"handling": "utvid", "dato": "2027-01-12", "omfatter": ["ansvarsgruppe"]},
                    people.kora)
    do(orc, started.id, "verktoy", people.kora, {"verktoy": "ip", "verktoy_begrunnelse": "Flere tjenester."})
    assert _statuses(orc, "SAK-10") == {"oppstart": "running", "ansvarsgruppe": "running"}
    history = samtykke.view(orc, "SAK-10", people.kari).historikk
    assert [(h["handling"], h["actor"]) for h in history] == [("gitt", "kari"), ("utvidet", "kora")]


def test_an_ansvarsgruppe_started_on_its_own_records_consent_or_is_not_started(orc, seeded, people):
    with pytest.raises(StepFailed) as refused:  # «already recorded on the case», but it is not
        instances.start(orc, "ansvarsgruppe", people.kari, business_key="SAK-11",
                        data={"gjelder": "Per P.", "samtykke": {"kilde": "saken"}})
    assert "ikke registrert noe samtykke" in refused.value.message
    assert _statuses(orc, "SAK-11") == {}
    with pytest.raises(StepFailed) as incomplete:
        instances.start(orc, "ansvarsgruppe", people.kari, business_key="SAK-11",
                        data={"gjelder": "Per P.", "samtykke": {**GROUP_CONSENT, "deles_med": []}})
    assert "deles_med" in incomplete.value.message
    group = instances.start(orc, "ansvarsgruppe", people.kari, business_key="SAK-11",
                            data={"gjelder": "Per P.", "samtykke": GROUP_CONSENT})
    consent = samtykke.view(orc, "SAK-11", people.kari)
    assert (consent.status, consent.gitt_av, consent.form, consent.registrert_av) == (
        "gitt", "bruker", "muntlig", "kari")
    assert {c["key"] for c in consent.omfatter} == {"ansvarsgruppe"}
    assert [t.element_id for t in open_tasks(orc, group.id)] == ["opprettelse"]


# --- 2. withdrawal stops everything that depends on it, in one transaction ----------------------------------------


def test_withdrawal_after_the_innkalling_was_queued_ends_every_dependent_process_and_nothing_leaves(
        orc, seeded, people, clock, smtp, mailbox):
    oppstart = plan_case(orc, people, "SAK-1", coordinator="kora")
    group = instance_of(orc, "ansvarsgruppe", "SAK-1")
    change = instances.start(orc, "skifte_av_koordinator", people.kora, business_key="SAK-1",
                             data={"skifte_arsak": "Bytter stilling."})
    samarbeid = instances.start(orc, "samarbeid", people.tina, business_key="SAK-1", data={})
    meeting = _meeting(orc, group, people, clock)
    clock.set(meeting - timedelta(days=14, seconds=-1))
    timers.fire_due(orc)  # the innkalling is queued (three recipients), not yet delivered
    queued = _notices(orc, "SAK-1")
    assert [n.status for n in queued] == ["queued"] * 3

    with pytest.raises(Invalid) as refused:  # the person must be told what it means (pbrl. § 4-1)
        samtykke.trekk_tilbake(orc, "SAK-1", {"dato": "2027-02-01"}, people.kari)
    assert "informert_om_folger" in refused.value.fields
    samtykke.trekk_tilbake(orc, "SAK-1", WITHDRAWAL, people.kari)

    assert _statuses(orc, "SAK-1") == {"oppstart": "completed", "ansvarsgruppe": "terminated",
                                       "skifte_av_koordinator": "terminated", "samarbeid": "running"}
    assert "samtykke_trukket_slutt" in instances.get(orc, oppstart.id, SYSTEM).completed_elements
    for ended in (group.id, change.id):
        [entry] = [h for h in instances.get(orc, ended, SYSTEM).history if h["action"] == "terminated"]
        assert entry["data"]["grunn"] == "Samtykket er trukket tilbake (01.02.2027)."
    # nothing of the dependent processes is left in any queue; the samarbeid check (a duty) goes on
    with orc.db.read() as session:
        dependent = [group.id, change.id, oppstart.id]
        assert session.scalar(select(func.count()).select_from(OpenTask)
                              .where(OpenTask.instance_id.in_(dependent))) == 0
        assert session.scalar(select(func.count()).select_from(WaitingTimer)
                              .where(WaitingTimer.instance_id.in_(dependent))) == 0
        assert session.scalar(select(func.count()).select_from(MessageWait)
                              .where(MessageWait.instance_id.in_(dependent))) == 0
    assert [t.element_id for t in open_tasks(orc, samarbeid.id)]
    cancelled = _notices(orc, "SAK-1")
    assert [(n.status, n.last_error) for n in cancelled] == [
        ("cancelled", "Samtykket er trukket tilbake (01.02.2027).")] * 3
    worker = Worker(orc, owner="worker-1")
    for moment in (clock.now(), meeting, meeting + timedelta(days=200)):
        clock.set(moment)
        worker.run_pass()
    assert mailbox.accepted == []  # nothing left after the withdrawal
    assert samtykke.view(orc, "SAK-1", people.kari).status == "trukket"


def test_those_who_hold_an_invite_get_a_cancellation_that_tells_no_more_than_the_invite(
        orc, seeded, people, clock, smtp, mailbox):
    plan_case(orc, people, "SAK-12", coordinator="kora")
    group = instance_of(orc, "ansvarsgruppe", "SAK-12")
    meeting = _meeting(orc, group, people, clock, members=[TOR])
    clock.set(meeting - timedelta(days=14, seconds=-1))
    worker = Worker(orc, owner="worker-1")
    worker.run_pass()
    (invite,) = mailbox.accepted
    assert "Ola N." in invite.text and "Skolehverdagen" in invite.text

    samtykke.trekk_tilbake(orc, "SAK-12", WITHDRAWAL, people.kora)  # the case's coordinator may record it
    worker.run_pass()
    (_, cancellation) = mailbox.accepted
    assert cancellation.rcpt_tos == ["tor@skole.example"] and cancellation.subject.startswith("Avlyst")
    assert cancellation.invite()["METHOD"] == "CANCEL"
    assert cancellation.event()["UID"] == invite.event()["UID"]
    assert cancellation.event()["SEQUENCE"] > invite.event()["SEQUENCE"]
    assert cancellation.event()["DTSTART"].dt == meeting
    for private in ("Ola N.", "Skolehverdagen", "Møtet gjelder", "Deltakere"):
        assert private not in cancellation.text and private not in cancellation.html
    assert len(cancellation.event().get("ATTENDEE") if isinstance(cancellation.event().get("ATTENDEE"), list)
               else [cancellation.event().get("ATTENDEE")]) == 1
    worker.run_pass()
    assert len(mailbox.accepted) == 2  # once


# --- 3. consent scope is enforced where data leaves -------------------------------------------------------------


def test_a_member_whose_service_the_consent_does_not_cover_is_refused_by_name(orc, seeded, people, clock):
    plan_case(orc, people, "SAK-13", coordinator="kora")
    group = instance_of(orc, "ansvarsgruppe", "SAK-13")
    samtykke.change(orc, "SAK-13", NARROWED, people.kari)
    with pytest.raises(Invalid) as refused:  # the form says so before anything is planned
        _meeting(orc, group, people, clock)
    assert "Nils Nav (NAV)" in refused.value.fields["faste_medlemmer"][0]
    without_service = [{k: v for k, v in TOR.items() if k != "tjeneste"}]
    with pytest.raises(Invalid) as unknown:
        _meeting(orc, group, people, clock, members=without_service)
    assert "faste_medlemmer.0.tjeneste" in unknown.value.fields  # every member carries the service they represent


def test_the_innkalling_step_is_refused_for_a_recipient_outside_the_consent_until_it_is_extended(
        orc, seeded, people, clock):
    plan_case(orc, people, "SAK-14", coordinator="kora")
    group = instance_of(orc, "ansvarsgruppe", "SAK-14")
    meeting = _meeting(orc, group, people, clock)  # NAV is covered now
    # the person takes NAV out of the consent before the innkalling goes
    samtykke.change(orc, "SAK-14", NARROWED, people.kari)
    clock.set(meeting - timedelta(days=14, seconds=-1))
    timers.fire_due(orc)
    detail = instances.get(orc, group.id, SYSTEM)
    assert detail.status == "running" and _notices(orc, "SAK-14") == []
    assert "Innkalling kan ikke sendes" in detail.error and "Nils Nav (NAV)" in detail.error
    samtykke.change(orc, "SAK-14", {"handling": "utvid", "dato": "2027-01-21", "deles_med": ["nav"]}, people.kari)
    clock.set(clock.now() + timedelta(minutes=2))  # the retry after the first back-off
    timers.fire_due(orc)
    assert sorted(n.recipient for n in _notices(orc, "SAK-14")) == sorted(m["adresse"] for m in MEMBERS)
    assert sorted(n.recipient_service for n in _notices(orc, "SAK-14")) == ["helsestasjon", "nav", "skole"]


# --- 6. who may start an ansvarsgruppe --------------------------------------------------------------------------


def test_any_service_provider_with_the_case_may_start_an_ansvarsgruppe_not_only_the_coordinator(
        orc, seeded, people, make_user):
    plan_case(orc, people, "SAK-15", coordinator="kora")
    nina = make_user("nina", "tjenesteyter", services=["barnevern"])  # not in the case, not covered
    assert "ansvarsgruppe" in [p.key for p in processes.startable(orc, people.tor)]
    started = instances.start(orc, "ansvarsgruppe", people.tor, business_key="SAK-15",
                              data={"gjelder": "Ola N.", "gjenoppretting": False, "samtykke": {"kilde": "saken"}})
    assert started.status == "running"  # tor's service (skole) is one the consent lets information be shared with
    with pytest.raises(Forbidden):
        instances.start(orc, "ansvarsgruppe", nina, business_key="SAK-15",
                        data={"gjelder": "Ola N.", "samtykke": {"kilde": "saken"}})
    # the service a need is reported to opens a new case itself, with the person's consent
    own = instances.start(orc, "ansvarsgruppe", nina, business_key="SAK-16",
                          data={"gjelder": "Kim K.",
                                "samtykke": {**GROUP_CONSENT, "deles_med": ["barnevern", "skole"]}})
    assert own.status == "running" and samtykke.view(orc, "SAK-16", nina).registrert_av == "nina"


# --- 9. a coordinator change asks for consent again ---------------------------------------------------------------


def test_a_new_coordinator_from_a_service_outside_the_consent_needs_an_extension_before_the_role_switch(
        orc, seeded, people, make_user):
    plan_case(orc, people, "SAK-17", coordinator="kora")
    kent = make_user("kent", "koordinator", "tjenesteyter", services=["barnevern"])
    change = instances.start(orc, "skifte_av_koordinator", people.kora, business_key="SAK-17",
                             data={"skifte_arsak": "Bytter stilling."})
    do(orc, change.id, "leder_avklaring", people.lars, {"skifte_godkjent": "ja"})
    do(orc, change.id, "planeier", people.kora, {"planeier_kontaktet": "2027-02-01"})
    do(orc, change.id, "deltakere", people.kora, {"noen_tar_over": "ja", "ny_koordinator": "kent"})
    do(orc, change.id, "ny_koordinator_leder", kent, {"leder_har_godkjent": "ja"})
    with pytest.raises(Invalid) as refused:
        do(orc, change.id, "informere", people.kora, {"planeier_informert": True, "lagt_til_i_planen": True})
    assert "Barnevern" in refused.value.fields["samtykke_utvidet"][0]
    assert instances.get(orc, change.id, SYSTEM).status == "running"
    do(orc, change.id, "informere", people.kora, {"planeier_informert": True, "lagt_til_i_planen": True,
                                                   "samtykke_utvidet": True, "samtykke_utvidet_dato": "2027-02-03"})
    assert instances.get(orc, change.id, SYSTEM).status == "completed"
    consent = samtykke.view(orc, "SAK-17", people.kari)
    assert "barnevern" in {s["key"] for s in consent.deles_med}
    assert consent.historikk[-1]["handling"] == "utvidet" and consent.historikk[-1]["data"]["dato"] == "2027-02-03"


def test_the_consent_is_shown_to_those_who_may_see_the_case_and_recorded_by_ke_or_the_coordinator(
        orc, seeded, people, make_user):
    plan_case(orc, people, "SAK-18", coordinator="kora")
    outsider = make_user("olga", "tjenesteyter", services=["krisesenter"])
    assert samtykke.view(orc, "SAK-18", people.kora).status == "gitt"  # the case's coordinator
    assert samtykke.view(orc, "SAK-18", people.kari).status == "gitt"  # koordinerende enhet
    # skole is covered, but a school employee sees the case only through a task of theirs (decision 0022)
    with pytest.raises(NotFound):
        samtykke.view(orc, "SAK-18", people.tor)
    with pytest.raises(NotFound):
        samtykke.view(orc, "SAK-18", outsider)
    with pytest.raises(NotFound):
        samtykke.change(orc, "SAK-18", {"handling": "utvid", "dato": "2027-02-01", "deles_med": ["nav"]}, people.tor)
    with pytest.raises(NotFound):
        samtykke.trekk_tilbake(orc, "SAK-18", WITHDRAWAL, outsider)
