"""The done-when run: a meeting agreed 30 days ahead; 16 days later (14 days before it) exactly one
innkalling with an invite reaches each participant at the loopback SMTP server; after the meeting
the referat follows. Time is the injected clock; the worker pass is the one `make run` runs."""
from __future__ import annotations

from datetime import timedelta

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from helpers import complete, open_elements
from notice_support import KARI, LISE, PER, ansvarsgruppe_mini, meeting_data, oslo
from notice_support import mailbox, smtp  # noqa: F401  (fixtures)
from orchestrator.services import instances
from orchestrator.services.access import SYSTEM
from orchestrator.services.worker import Worker
from orchestrator.store import migrate
from orchestrator.store.db import Database
from orchestrator.store.models import Base


EVERYONE = sorted(p["adresse"] for p in (KARI, PER, LISE))


def test_a_meeting_agreed_30_days_ahead_gets_its_innkalling_on_day_16_and_its_referat_after(
        orc, deploy, clock, smtp, mailbox):
    deploy(*ansvarsgruppe_mini())
    start = clock.now()
    meeting_at = start + timedelta(days=30)
    case = instances.start(orc, "test_ansvarsgruppe_mini", SYSTEM, business_key="SAK-2027-14",
                           data=meeting_data(meeting_at))
    worker = Worker(orc, owner="worker-1")
    orc.settings.worker_max_sleep_seconds = 10 ** 8

    # days 0 to 16: the worker sleeps until the innkalling is due, and nothing leaves before
    worker.run_pass()
    assert worker.seconds_until_next() == timedelta(days=16).total_seconds()
    clock.set(start + timedelta(days=16) - timedelta(minutes=1))
    worker.run_pass()
    assert mailbox.accepted == []

    # day 16 = 14 days before the meeting: one innkalling with invite to each participant
    clock.set(start + timedelta(days=16) + timedelta(seconds=1))
    worker.run_pass()
    assert mailbox.recipients() == EVERYONE
    for address in EVERYONE:
        (mail,) = mailbox.to(address)
        assert mail.subject == "Innkalling: Ansvarsgruppe SAK-2027-14 – onsdag 3. februar 2027 kl. 09.00"
        event = mail.event()
        assert mail.invite()["METHOD"] == "REQUEST"
        assert event["DTSTART"].dt == meeting_at
        assert event["DTSTART"].dt - clock.now() > timedelta(days=14) - timedelta(seconds=2)
    assert open_elements(orc, case.id) == ["skriv_referat"]

    # nothing more on later passes
    for days in (1, 7, 13):
        clock.set(start + timedelta(days=16 + days))
        worker.run_pass()
    assert len(mailbox.accepted) == 3

    # after the meeting the minute-taker writes the referat; it reaches the recipients
    clock.set(meeting_at + timedelta(hours=3))
    next_meeting = meeting_at + timedelta(days=120)
    complete(orc, case.id, "skriv_referat", SYSTEM,
             {"beslutning": "Skolen søker om ekstra assistent fra mars.", "neste_moete": oslo(next_meeting)})
    worker.run_pass()
    referater = [m for m in mailbox.accepted if m.subject.startswith("Referat")]
    assert sorted(a for m in referater for a in m.rcpt_tos) == EVERYONE
    text = referater[0].text
    assert "Skolen søker om ekstra assistent fra mars." in text
    assert "Sende søknad om assistent – ansvarlig: Kari Nordmann, frist: 1. mars 2027" in text
    assert "NAV mener arbeidstrening bør vente" in text
    assert "Neste møte: torsdag 3. juni 2027 kl. 10.00" in text
    assert referater[0].calendar_part() is None
    assert len(mailbox.accepted) == 6 and mailbox.refused_duplicates == []


def test_the_outbox_migration_matches_the_model_and_downgrades(orc, tmp_path):
    with orc.db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = [d for d in compare_metadata(context, Base.metadata) if "notices" in repr(d)]
    assert differences == []
    database = Database(f"sqlite:///{tmp_path / 'down.db'}")
    try:
        migrate.upgrade(database, "0002")
        assert "notices" in inspect(database.engine).get_table_names()
        config = migrate.alembic_config(database)
        with database.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0001")
        assert "notices" not in inspect(database.engine).get_table_names()
        migrate.upgrade(database, "0002")
        assert "notices" in inspect(database.engine).get_table_names()
    finally:
        database.dispose()
