"""Issue «Notices that leave the building», done when: the real ansvarsgruppe routine, a meeting agreed
30 days ahead, exactly one e-mail with an invite at the loopback SMTP server 16 days later, and the
referat after the meeting. Injected clock; the worker pass is the one `make run` runs."""
from __future__ import annotations

from datetime import timedelta

from notice_support import mailbox, smtp  # noqa: F401  (fixtures: aiosmtpd on loopback)
from routines import do, instance_of, people, plan_case, seeded  # noqa: F401
from test_routine_ansvarsgruppe import FIRST, oslo
from orchestrator.services.worker import Worker

MEMBER = {"tittel": "Kontaktlærer", "tjeneste": "skole", "navn": "Tor Lærer", "adresse": "tor@skole.example"}


def test_innkalling_arrives_once_16_days_after_scheduling_and_the_referat_after_the_meeting(
        orc, seeded, people, clock, smtp, mailbox):
    plan_case(orc, people, "SAK-2027-14", coordinator="kora")
    group = instance_of(orc, "ansvarsgruppe", "SAK-2027-14")
    worker = Worker(orc, owner="worker-1")
    orc.settings.worker_max_sleep_seconds = 10 ** 8
    scheduled = clock.now()
    meeting = scheduled.replace(hour=9, minute=0) + timedelta(days=30)
    do(orc, group.id, "opprettelse", people.kora, {"gjelder": "Ola N.", "faste_medlemmer": [MEMBER],
                                                    "varslingsfrist_dager": 14, "moetetid": oslo(meeting),
                                                    "sted": "Rådhuset"})
    do(orc, group.id, "forberede_innkalling", people.kora, {"saksliste": [{"punkt": "Skolehverdagen"}],
                                                             "tjenestemottaker_deltar": "ja"})
    worker.run_pass()
    due = meeting - timedelta(days=14)
    assert worker.seconds_until_next() == (due - clock.now()).total_seconds()  # sleeps until then
    clock.set(due - timedelta(minutes=1))
    worker.run_pass()
    assert mailbox.accepted == []

    clock.set(due + timedelta(seconds=1))
    worker.run_pass()
    (mail,) = mailbox.accepted  # exactly one e-mail
    assert mail.rcpt_tos == ["tor@skole.example"]
    assert (due - scheduled).days == 16 and mail.subject.startswith("Innkalling")
    assert mail.invite()["METHOD"] == "REQUEST" and mail.event()["DTSTART"].dt == meeting
    assert "Ola N." in mail.text and "Skolehverdagen" in mail.text and "Rådhuset" in mail.text
    for days in (1, 7, 13):  # no second copy on later passes
        clock.set(due + timedelta(days=days))
        worker.run_pass()
    assert len(mailbox.accepted) == 1

    clock.set(meeting + timedelta(hours=2))
    worker.run_pass()
    do(orc, group.id, "moete", people.kora, {
        "moete_status": "gjennomfort", "faste_medlemmer": [MEMBER], "beslutninger": [{"beslutning": "Søke assistent"}],
        "saksliste": [{"punkt": "Skolehverdagen", "beslutning": "Kontaktlærer tilpasser lekser."}],
        "ansvarsfordeling": [{"oppgave": "Søknad", "ansvarlig": "Tor Lærer"}], "tjenestemottaker_svar": "ikke_aktuelt",
        "beslutninger_bekreftet": True, "videre": "fortsette", "neste_moetetid": oslo(meeting + timedelta(days=90)),
        **FIRST})
    worker.run_pass()
    referat = [m for m in mailbox.accepted if m.subject.startswith("Referat")]
    assert len(referat) == 1 and referat[0].rcpt_tos == ["tor@skole.example"]
    assert "Søke assistent" in referat[0].text
    assert len(mailbox.accepted) == 2 and mailbox.refused_duplicates == []
