"""The read-access log (issue 13 item 2, decision 0023): one entry per view, kept as written."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from orchestrator.services import tilgangslogg
from orchestrator.services.access import Actor
from orchestrator.store.models import AccessLogEntry

KARI = Actor("kari", frozenset({"koordinerende_enhet"}))


def entries(orc) -> list[AccessLogEntry]:
    with orc.db.read() as session:
        return list(session.scalars(select(AccessLogEntry).order_by(AccessLogEntry.id)))


# --- the database keeps it as written ---------------------------------------------------------------
def test_an_update_by_sql_is_refused_by_the_database(orc, clock):
    tilgangslogg.record(orc, KARI, tilgangslogg.SAK, "9999/0001", 1)
    with pytest.raises(DBAPIError, match="tilgangsloggen kan ikke endres"):
        with orc.db.write() as session:
            session.execute(text("UPDATE access_log SET username = 'noen_andre'"))
    assert [e.username for e in entries(orc)] == ["kari"]


def test_a_delete_by_sql_is_refused_by_the_database_even_of_old_rows(orc, clock):
    tilgangslogg.record(orc, KARI, tilgangslogg.SAK, "9999/0001", 1)
    clock.advance(timedelta(days=10 * 365))
    with pytest.raises(DBAPIError, match="tilgangsloggen kan ikke endres"):
        with orc.db.write() as session:
            session.execute(text("DELETE FROM access_log"))
    assert len(entries(orc)) == 1


def test_retention_deletes_only_rows_older_than_its_cutoff_and_leaves_no_permit_behind(orc, clock):
    tilgangslogg.record(orc, KARI, tilgangslogg.SAK, "9999/0001", 1)
    clock.advance(timedelta(days=400))
    tilgangslogg.record(orc, KARI, tilgangslogg.OPPGAVE, "9999/0001", 1)
    with orc.db.write() as session:
        deleted = tilgangslogg.delete_expired(session, clock.now() - timedelta(days=365))
    assert deleted == 1
    assert [e.view for e in entries(orc)] == [tilgangslogg.OPPGAVE]
    with orc.db.read() as session:
        assert session.execute(text("SELECT count(*) FROM access_log_purge")).scalar_one() == 0
    with pytest.raises(DBAPIError, match="tilgangsloggen kan ikke endres"):  # the permit is gone again
        with orc.db.write() as session:
            session.execute(text("DELETE FROM access_log"))


def test_a_permit_does_not_let_newer_rows_go(orc, clock):
    tilgangslogg.record(orc, KARI, tilgangslogg.SAK, "9999/0001", 1)
    with pytest.raises(DBAPIError, match="tilgangsloggen kan ikke endres"):
        with orc.db.write() as session:
            session.execute(text("INSERT INTO access_log_purge (cutoff) VALUES ('2000-01-01 00:00:00')"))
            session.execute(text("DELETE FROM access_log"))
    assert len(entries(orc)) == 1
