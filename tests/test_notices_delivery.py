"""Delivery to a real SMTP server on loopback: once, retried, failed and escalated, deduplicated."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from helpers import open_tasks
from notice_support import (KARI, LISE, PER, SmtpServer, meeting_data, meeting_series, password_checker,
                            run_delivery, self_signed_certificate, server_tls_context)
from notice_support import mailbox, smtp  # noqa: F401  (fixtures)
from orchestrator.services import dashboard, instances, tasks
from orchestrator.services.access import SYSTEM, Actor
from orchestrator.services.errors import Forbidden
from orchestrator.services.notices import delivery, faults, queries
from orchestrator.services.worker import Worker, WorkerThread
from orchestrator.store.models import AuditEntry, Notice


MANAGER = Actor("mona", frozenset({"manager"}))
EVERYONE = sorted(p["adresse"] for p in (KARI, PER, LISE))


class WorkerKilled(BaseException):
    """Stands for the worker process dying (not an error delivery could handle)."""


def _rows(orc) -> list[Notice]:
    with orc.db.read() as session:
        return list(session.scalars(select(Notice).order_by(Notice.id)))


def _start(orc, clock, business_key="SAK-2027-14", days=30, **extra):
    return instances.start(orc, "test_moeteserie", SYSTEM, business_key=business_key,
                           data=meeting_data(clock.now() + timedelta(days=days), **extra))


@pytest.fixture
def series(deploy):
    deploy(*meeting_series())


def test_an_innkalling_reaches_each_participant_once_with_subject_bodies_and_invite(orc, series, clock, smtp, mailbox):
    _start(orc, clock)
    results = run_delivery(orc)
    assert [r.status for r in results] == ["sent"] * 3
    assert mailbox.recipients() == EVERYONE
    kari = mailbox.to(KARI["adresse"])
    assert len(kari) == 1
    mail = kari[0]
    assert mail.rcpt_tos == [KARI["adresse"]]
    assert mail.mail_from == "ke@lund.kommune.invalid"
    assert mail.subject == "Innkalling: Ansvarsgruppe SAK-2027-14 – onsdag 3. februar 2027 kl. 09.00"
    assert mail.message["To"].addresses[0].display_name == "Kari Nordmann"
    assert mail.message["Reply-To"].addresses[0].addr_spec == LISE["adresse"]
    for body in (mail.text, mail.html):
        assert "Ola N." in body                                   # whom the meeting concerns
        assert "onsdag 3. februar 2027 kl. 09.00–10.30" in body   # time
        assert "Lund rådhus, møterom 2" in body                   # place
        assert "Skole: tilrettelegging" in body                   # agenda
        for person in (KARI, PER, LISE):                          # participants: title, name, address
            assert person["tittel"] in body and person["navn"] in body and person["adresse"] in body
    assert mail.calendar_part().get_param("method") == "REQUEST"
    row_ids = {r.message_id for r in _rows(orc)}
    assert {m.message_id for m in mailbox.accepted} == row_ids
    assert all(r.status == "sent" and r.attempts == 1 and r.sent_at == clock.now() and r.next_attempt_at is None
               for r in _rows(orc))
    # nothing is due any more: another pass sends nothing
    assert run_delivery(orc) == []
    assert len(mailbox.accepted) == 3 and mailbox.refused_duplicates == []
    with orc.db.read() as session:
        sent = session.scalars(select(AuditEntry).where(AuditEntry.action == "notice_sent")).all()
    assert len(sent) == 3 and {e.actor for e in sent} == {"utsender"}


def test_the_worker_pass_delivers_notices_and_plans_to_wake_for_them(orc, series, clock, smtp, mailbox):
    orc.settings.worker_max_sleep_seconds = 10 ** 6
    _start(orc, clock)
    worker = Worker(orc, owner="w1")
    assert worker.seconds_until_next() == 0.0  # queued now: due now
    worker.run_pass()
    assert mailbox.recipients() == EVERYONE
    assert worker.seconds_until_next() == 10 ** 6  # nothing left to do


def test_a_server_that_is_down_is_retried_with_growing_backoff_and_delivered_once(orc, series, clock, smtp, mailbox):
    orc.settings.worker_max_sleep_seconds = 10 ** 6
    _start(orc, clock)
    mailbox.server.stop()
    worker = Worker(orc, owner="w1")
    waits = []
    for expected_minutes in (1, 5, 15):
        results = run_delivery(orc)
        assert {r.outcome for r in results} == {"retry"} and len(results) == 3
        assert all("Får ikke kontakt med e-postserveren" in r.detail for r in results)
        rows = _rows(orc)
        assert {r.status for r in rows} == {"queued"}
        assert {r.next_attempt_at - clock.now() for r in rows} == {timedelta(minutes=expected_minutes)}
        waits.append(worker.seconds_until_next())
        # not due yet: a pass just before the back-off has passed does nothing
        clock.advance(timedelta(minutes=expected_minutes) - timedelta(seconds=1))
        assert run_delivery(orc) == []
        clock.advance(timedelta(seconds=1))
    assert [round(w) for w in waits] == [60, 300, 900]
    mailbox.server.start()
    results = run_delivery(orc)
    assert [r.status for r in results] == ["sent"] * 3
    assert mailbox.recipients() == EVERYONE and mailbox.refused_duplicates == []
    assert {r.attempts for r in _rows(orc)} == {4}
    assert run_delivery(orc) == []


def _fail_every_attempt(orc, clock, attempts):
    for _ in range(attempts):
        run_delivery(orc)
        due = [r.next_attempt_at for r in _rows(orc) if r.next_attempt_at is not None]
        if due:
            clock.set(max(due))


def test_after_the_last_attempt_the_notice_fails_and_the_leader_gets_an_escalation(orc, series, clock, smtp, mailbox):
    orc.settings.notice_max_attempts = 3
    started = _start(orc, clock)
    mailbox.server.stop()
    _fail_every_attempt(orc, clock, 3)
    rows = _rows(orc)
    assert {(r.status, r.attempts) for r in rows} == {("failed", 3)}
    assert all("Får ikke kontakt" in r.last_error for r in rows)
    assert all(r.next_attempt_at is None and r.lease_owner is None for r in rows)
    assert run_delivery(orc) == []  # failed notices are not attempted again
    # utsending_feilet reached the instance: its event subprocess opened one leader task per notice
    escalations = [t for t in open_tasks(orc, started.id) if t.element_id == "eskalering_utsending"]
    assert len(escalations) == 3 and {t.role for t in escalations} == {"leder"}
    detail = tasks.get(orc, escalations[0].id, SYSTEM)
    assert detail.data["type"] == "innkalling"
    assert detail.data["utsending_id"] in {r.id for r in rows}
    assert "Får ikke kontakt" in detail.data["feil"]
    assert "neste" in [t.element_id for t in open_tasks(orc, started.id)]  # the routine itself goes on
    # and it is on the managers' dashboard
    failed = dashboard.overview(orc, MANAGER).failed_notices
    assert len(failed) == 3
    assert {f.business_key for f in failed} == {"SAK-2027-14"}
    assert {f.instance_id for f in failed} == {started.id}
    assert {f.process_key for f in failed} == {"test_moeteserie"}
    assert any("Kari Nordmann" in f.what for f in failed)
    assert {f.due_at for f in failed} == {rows[0].meeting_at}
    overview = dashboard.overview(orc, MANAGER)
    assert len([e for e in overview.escalations_open if e.what.startswith("Følg opp utsending")]) == 3


def test_a_failed_notice_nobody_waits_for_is_still_marked_failed_and_listed(orc, deploy, clock, smtp, mailbox, caplog):
    deploy(*meeting_series(escalation=False, key="test_uten_eskalering"))
    orc.settings.notice_max_attempts = 1
    instances.start(orc, "test_uten_eskalering", SYSTEM, business_key="SAK-9",
                    data=meeting_data(clock.now() + timedelta(days=30)))
    mailbox.server.stop()
    results = run_delivery(orc)
    assert {(r.status, r.escalated) for r in results} == {("failed", False)}
    assert {r.status for r in _rows(orc)} == {"failed"}
    assert len(dashboard.overview(orc, MANAGER).failed_notices) == 3
    assert "shown on the dashboard only" in caplog.text


def test_an_address_the_server_refuses_fails_at_once_without_retrying(orc, series, clock, smtp, mailbox):
    mailbox.refuse_recipients[PER["adresse"]] = "550 5.1.1 Mailbox unknown"
    started = _start(orc, clock)
    results = {r.notice_id: r for r in run_delivery(orc)}
    rows = {r.recipient: r for r in _rows(orc)}
    per = rows[PER["adresse"]]
    assert (per.status, per.attempts) == ("failed", 1)
    assert "550 5.1.1 Mailbox unknown" in per.last_error
    assert results[per.id].escalated
    assert rows[KARI["adresse"]].status == rows[LISE["adresse"]].status == "sent"
    assert [t.element_id for t in open_tasks(orc, started.id)].count("eskalering_utsending") == 1


def test_a_worker_killed_between_send_and_mark_sent_causes_no_second_copy(orc, series, clock, smtp, mailbox):
    _start(orc, clock)

    def kill_after_first_send(point, notice):
        if point == "after_send_before_mark":
            raise WorkerKilled()

    with faults.hook(kill_after_first_send):
        with pytest.raises(WorkerKilled):
            run_delivery(orc, owner="worker-a")
    assert len(mailbox.accepted) == 1  # the server has it ...
    first = mailbox.accepted[0]
    rows = _rows(orc)
    crashed = next(r for r in rows if r.message_id == first.message_id)
    assert (crashed.status, crashed.attempts, crashed.lease_owner) == ("queued", 1, "worker-a")  # ... we don't know
    # while worker-a's lease lasts, nobody else takes its notices
    assert run_delivery(orc, owner="worker-b") == []
    clock.set(crashed.lease_until + timedelta(seconds=1))
    results = {r.notice_id: r for r in run_delivery(orc, owner="worker-b")}
    assert results[crashed.id].outcome == "duplicate"  # the server refused the retry as a duplicate
    assert mailbox.refused_duplicates == [first.message_id]
    for address in EVERYONE:
        assert len(mailbox.to(address)) == 1  # exactly one copy in every mailbox
    after = {r.id: r for r in _rows(orc)}
    assert {r.status for r in after.values()} == {"sent"}
    assert after[crashed.id].attempts == 2
    assert "allerede" in after[crashed.id].last_error


def test_a_stopping_worker_finishes_the_notice_it_sends_and_gives_the_rest_back_unattempted(orc, series, clock,
                                                                                           smtp, mailbox):
    _start(orc, clock)
    stop = threading.Event()

    def stop_after_first_mark(point, notice):
        if point == "after_mark":
            stop.set()  # SIGTERM arrives while the first notice is sent

    with faults.hook(stop_after_first_mark):
        results = delivery.deliver_due(orc, "stopping", stop=stop)
    assert [r.status for r in results] == ["sent"] and len(mailbox.accepted) == 1
    rest = [r for r in _rows(orc) if r.status == "queued"]
    assert [(r.lease_owner, r.attempts, r.next_attempt_at) for r in rest] == [(None, 0, clock.now())] * 2
    assert [r.status for r in delivery.deliver_due(orc, "other")] == ["sent"] * 2  # taken at once
    assert mailbox.recipients() == EVERYONE and mailbox.refused_duplicates == []


def test_two_workers_claiming_at_once_never_send_a_notice_twice(orc, series, clock, smtp, mailbox):
    for number in range(8):
        _start(orc, clock, business_key=f"SAK-{number}", moete_id=f"SAK-{number}-m1")
    assert len(_rows(orc)) == 24
    barrier = threading.Barrier(2)
    outcomes: dict[str, list] = {}
    errors = []

    def work(owner):
        try:
            barrier.wait(5)
            outcomes[owner] = delivery.deliver_due(orc, owner, limit=3)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(owner,)) for owner in ("worker-a", "worker-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    delivered = [r.notice_id for results in outcomes.values() for r in results]
    assert sorted(delivered) == sorted(r.id for r in _rows(orc))  # each notice attempted exactly once
    assert len(mailbox.accepted) == 24 and mailbox.refused_duplicates == []
    assert {r.status for r in _rows(orc)} == {"sent"}


def test_starttls_with_login_delivers_over_an_encrypted_connection(orc, series, clock, smtp, mailbox, tmp_path):
    cert, key = self_signed_certificate(tmp_path)
    secure = SmtpServer(mailbox, tls_context=server_tls_context(cert, key), require_starttls=True,
                        authenticator=password_checker("ke-utsending", "hemmelig"), auth_require_tls=True)
    secure.start()
    try:
        orc.settings.smtp_port = secure.port
        orc.settings.smtp_security = "starttls"
        orc.settings.smtp_username, orc.settings.smtp_password = "ke-utsending", "hemmelig"
        orc.settings.smtp_ca_file = str(cert)
        _start(orc, clock)
        assert {r.status for r in run_delivery(orc)} == {"sent"}
    finally:
        secure.stop()
    assert {(m.tls, m.authenticated_as) for m in mailbox.accepted} == {(True, "ke-utsending")}


def test_implicit_tls_delivers_and_verifies_the_server_certificate(orc, series, clock, smtp, mailbox, tmp_path):
    cert, key = self_signed_certificate(tmp_path)
    secure = SmtpServer(mailbox, ssl_context=server_tls_context(cert, key))
    secure.start()
    try:
        orc.settings.smtp_port = secure.port
        orc.settings.smtp_security = "tls"
        _start(orc, clock)
        # without our CA the certificate is not trusted: nothing is sent, it is retried
        refused = run_delivery(orc)
        assert {r.outcome for r in refused} == {"retry"}
        assert all("CERTIFICATE_VERIFY_FAILED" in r.detail for r in refused)
        assert mailbox.accepted == []
        orc.settings.smtp_ca_file = str(cert)
        clock.advance(timedelta(minutes=1))
        assert {r.status for r in run_delivery(orc)} == {"sent"}
    finally:
        secure.stop()
    assert {m.tls for m in mailbox.accepted} == {True}
    assert len(mailbox.accepted) == 3


def test_credentials_are_never_sent_unencrypted_to_another_machine(orc, series, clock, smtp, mailbox):
    orc.settings.smtp_host = "mail.lund.kommune.invalid"
    orc.settings.smtp_username, orc.settings.smtp_password = "ke", "hemmelig"
    _start(orc, clock)
    results = run_delivery(orc)
    assert {r.outcome for r in results} == {"retry"}
    assert all("sendes ikke ukryptert" in r.detail for r in results)


def test_without_an_smtp_server_notices_go_to_the_local_sink_and_are_listed(orc, series, clock, settings):
    assert settings.smtp_host is None  # the default of `make run`
    _start(orc, clock)
    results = run_delivery(orc)
    assert {(r.status, r.outcome) for r in results} == {("sink", "sink")}
    folder = settings.var_dir / "utsendinger"
    files = sorted(folder.glob("*.eml"))
    assert [f.name for f in files] == [f"{r.id:06d}-innkalling.eml" for r in _rows(orc)]
    assert files[0].read_bytes().decode("ascii") == _rows(orc)[0].message
    assert run_delivery(orc) == []  # written once
    page = queries.list_notices(orc, MANAGER, status="sink")
    assert page.total == 3 and page.counts["sink"] == 3 and page.counts["queued"] == 0
    item = page.items[0]
    assert (item.kind_label, item.attempts, item.sent_at) == ("Innkalling", 1, clock.now())
    assert item.status_label.startswith("Lagt i lokal utsendingsmappe")
    detail = queries.get_notice(orc, MANAGER, item.id)
    assert "Møtet gjelder: Ola N." in detail.content.text
    assert "Ola N." in detail.content.html
    assert "METHOD:REQUEST" in detail.content.calendar
    assert detail.content.headers["Subject"] == item.subject


def test_the_utsendinger_list_filters_paginates_and_is_for_managers(orc, series, clock, settings):
    _start(orc, clock, business_key="SAK-A", moete_id="A-1")
    _start(orc, clock, business_key="SAK-B", moete_id="B-1")
    page = queries.list_notices(orc, MANAGER, per_page=4)
    assert (page.total, len(page.items), page.pages) == (6, 4, 2)
    assert page.items[0].id > page.items[-1].id  # newest first
    assert len(queries.list_notices(orc, MANAGER, per_page=4, page=2).items) == 2
    only_b = queries.list_notices(orc, MANAGER, business_key="SAK-B")
    assert {i.business_key for i in only_b.items} == {"SAK-B"} and only_b.total == 3
    assert queries.list_notices(orc, MANAGER, status="failed").total == 0
    assert queries.list_notices(orc, MANAGER, kind="referat").total == 0
    with pytest.raises(Forbidden):
        queries.list_notices(orc, Actor("tina", frozenset({"tjenesteyter"})))


def test_a_failed_notice_can_be_sent_again_with_the_same_message_id(orc, series, clock, smtp, mailbox):
    mailbox.refuse_recipients[PER["adresse"]] = "550 5.1.1 Mailbox unknown"
    _start(orc, clock)
    run_delivery(orc)
    per = next(r for r in _rows(orc) if r.recipient == PER["adresse"])
    assert per.status == "failed"
    del mailbox.refuse_recipients[PER["adresse"]]  # the address was fixed at the receiving end
    with pytest.raises(Forbidden):
        delivery.requeue(orc, Actor("tina", frozenset({"tjenesteyter"})), per.id)
    delivery.requeue(orc, MANAGER, per.id)
    assert [r.status for r in run_delivery(orc)] == ["sent"]
    assert [m.message_id for m in mailbox.to(PER["adresse"])] == [per.message_id]
    assert dashboard.overview(orc, MANAGER).failed_notices == []


def test_a_queued_notice_wakes_a_sleeping_worker(orc, series, clock, smtp, mailbox):
    orc.settings.worker_max_sleep_seconds = 10 ** 6
    orc.settings.retention_daily = False  # else the nightly retention run is what it waits for
    worker = Worker(orc, owner="w1")
    passes = threading.Condition()
    count = []

    def record(fired):
        with passes:
            count.append(1)
            passes.notify_all()

    worker.on_pass.append(record)
    thread = WorkerThread(orc, worker).start()
    try:
        with passes:
            assert passes.wait_for(lambda: len(count) >= 1, timeout=10)
        assert worker.planned_sleep > 10 ** 5  # nothing to do: it sleeps (almost) for ever
        _start(orc, clock)  # the innkalling is queued and the worker woken after commit
        with passes:
            assert passes.wait_for(lambda: len(mailbox.accepted) == 3, timeout=10)
    finally:
        thread.stop()
    assert mailbox.recipients() == EVERYONE
