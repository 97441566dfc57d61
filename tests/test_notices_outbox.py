"""The transactional outbox: a workflow step and its notices commit together or not at all."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from helpers import complete, open_elements
from notice_support import KARI, LISE, PER, meeting_data, meeting_series
from orchestrator.services import instances
from orchestrator.services.access import SYSTEM
from orchestrator.services.errors import NotFound, StepFailed
from orchestrator.store.models import AuditEntry, Instance, Notice
from bpmnbuilder import Process


def _notices(orc) -> list[Notice]:
    with orc.db.read() as session:
        return list(session.scalars(select(Notice).order_by(Notice.id)))


def _count(orc, model) -> int:
    with orc.db.read() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_reaching_send_innkalling_queues_one_notice_per_participant_in_the_same_step(orc, deploy, clock):
    deploy(*meeting_series())
    started = instances.start(orc, "test_moeteserie", SYSTEM, business_key="SAK-2027-14",
                              data=meeting_data(clock.now() + timedelta(days=30)))
    rows = _notices(orc)
    assert sorted(r.recipient for r in rows) == sorted(p["adresse"] for p in (KARI, PER, LISE))
    assert {r.instance_id for r in rows} == {started.id}
    assert {r.business_key for r in rows} == {"SAK-2027-14"}
    assert {(r.kind, r.status, r.attempts, r.method, r.sequence) for r in rows} == {("innkalling", "queued", 0, "REQUEST", 0)}
    assert all(r.next_attempt_at == clock.now() for r in rows)
    assert len({r.message_id for r in rows}) == 3  # one Message-ID per notice and recipient
    assert open_elements(orc, started.id) == ["neste"]


def test_queueing_is_audited_without_the_message_body(orc, deploy, clock):
    deploy(*meeting_series())
    started = instances.start(orc, "test_moeteserie", SYSTEM, business_key="SAK-1",
                              data=meeting_data(clock.now() + timedelta(days=30)))
    with orc.db.read() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.instance_id == started.id,
                                                         AuditEntry.action == "notice_queued")).one()
    assert entry.data["type"] == "innkalling"
    assert entry.data["mottakere"] == 3
    assert entry.data["moete_id"] == "SAK-2027-14-m1"
    assert entry.data["dager_foer_moetet"] == 30
    assert "Ola N." not in str(entry.data) and "Skole" not in str(entry.data)


def test_a_step_that_rolls_back_after_queueing_leaves_no_notice(orc, deploy, clock):
    """The innkalling is queued, then a later message in the same step finds no receiver: all rolls back."""
    p = Process("test_rulles_tilbake", "Test: utsending og så en feil", lanes=["Koordinerende enhet"])
    p.start("start", "Start")
    p.throw("registrer_samtykke", "Samtykke registreres på saken", message="samtykke_registrert",
            payload={"samtykke": "samtykke"})
    p.throw("send_innkalling", "Send innkalling", message="innkalling",
            payload={k: k for k in ("moete_id", "gjelder", "tidspunkt", "sted", "saksliste", "deltakere", "gruppe")})
    p.end("slutt", "Meld videre", message="ingen_venter_paa_denne", payload={"moete_id": "moete_id"})
    p.chain("start", "registrer_samtykke", "send_innkalling", "slutt")
    deploy(("test_rulles_tilbake.bpmn", p.to_xml()))
    with pytest.raises(NotFound):
        instances.start(orc, "test_rulles_tilbake", SYSTEM, business_key="SAK-2",
                        data=meeting_data(clock.now() + timedelta(days=30)))
    assert _notices(orc) == []
    assert _count(orc, Instance) == 0


def test_a_committed_step_always_has_its_notice_and_a_failed_commit_has_neither(orc, deploy, clock):
    deploy(*meeting_series())

    def refuse(session):
        raise RuntimeError("the database went away at commit")

    event.listen(Session, "before_commit", refuse)
    try:
        with pytest.raises(RuntimeError):
            instances.start(orc, "test_moeteserie", SYSTEM, business_key="SAK-3",
                            data=meeting_data(clock.now() + timedelta(days=30)))
    finally:
        event.remove(Session, "before_commit", refuse)
    assert _notices(orc) == [] and _count(orc, Instance) == 0

    started = instances.start(orc, "test_moeteserie", SYSTEM, business_key="SAK-3",
                              data=meeting_data(clock.now() + timedelta(days=30)))
    assert {r.instance_id for r in _notices(orc)} == {started.id}
    assert len(_notices(orc)) == 3


def test_an_invalid_payload_fails_the_step_in_norwegian_and_queues_nothing(orc, deploy, clock):
    deploy(*meeting_series())
    data = meeting_data(clock.now() + timedelta(days=30), saksliste=[],
                        deltakere=[{**KARI, "adresse": "kari(at)skole"}, {"navn": "Uten tittel", "adresse": "a@b.no"}])
    data["tidspunkt"] = "neste tirsdag"
    with pytest.raises(StepFailed) as failure:
        instances.start(orc, "test_moeteserie", SYSTEM, business_key="SAK-4", data=data)
    message = failure.value.message
    assert message.startswith("Innkalling kan ikke sendes:")
    assert "«tidspunkt» må være dato og klokkeslett" in message
    assert "«saksliste» er tom" in message
    assert "«deltakere» nr. 1: adresse er ikke en gyldig e-postadresse" in message
    assert "«deltakere» nr. 2: tittel mangler" in message
    assert _notices(orc) == [] and _count(orc, Instance) == 0


def test_a_national_identity_number_in_the_agenda_stops_the_innkalling(orc, deploy, clock):
    deploy(*meeting_series())
    data = meeting_data(clock.now() + timedelta(days=30),
                        saksliste=["Vedtak for Ola (fnr 010203 12345)", "Eventuelt"])
    with pytest.raises(StepFailed, match="fødselsnummer"):
        instances.start(orc, "test_moeteserie", SYSTEM, business_key="SAK-5", data=data)
    assert _notices(orc) == []


def test_a_failing_handler_rolls_back_a_completed_task(orc, deploy, clock):
    """Moving the meeting to a time without offset fails the step: the task stays open, nothing queued."""
    deploy(*meeting_series())
    started = instances.start(orc, "test_moeteserie", SYSTEM, business_key="SAK-6",
                              data=meeting_data(clock.now() + timedelta(days=30)))
    before = len(_notices(orc))
    with pytest.raises(StepFailed, match="tidssone"):
        complete(orc, started.id, "neste", SYSTEM, {"valg": "flytt", "nytt_tidspunkt": "2027-02-10T10:00:00",
                                                    "nytt_sted": "", "fjern_adresse": "", "beslutning": ""})
    assert len(_notices(orc)) == before
    assert open_elements(orc, started.id) == ["neste"]


def test_the_same_address_twice_gets_one_email(orc, deploy, clock):
    deploy(*meeting_series())
    twice = [KARI, {**KARI, "adresse": KARI["adresse"].upper(), "tittel": "Kontaktlærer"}, PER]
    instances.start(orc, "test_moeteserie", SYSTEM, business_key="SAK-7",
                    data=meeting_data(clock.now() + timedelta(days=30), deltakere=twice))
    assert sorted(r.recipient for r in _notices(orc)) == sorted([KARI["adresse"], PER["adresse"]])
