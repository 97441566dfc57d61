"""Retention and erasure (issue 13 item 3, decision 0024): what has expired goes, the dry run says exactly
what, a slettesperre keeps a case, and nothing of a deleted case is left in any table."""
from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import inspect, select, text

from orchestrator.services import demo, instances, retention, runtime, slettesperre, users
from orchestrator.services.access import SYSTEM, Actor
from orchestrator.services.errors import Forbidden, Invalid, NotFound
from orchestrator.services.notices import delivery, queries
from orchestrator.store.models import AuditEntry, Base, Instance, Notice
from routines import seeded  # noqa: F401  (fixture: processes/ and forms/ deployed)

MONA = Actor("mona", frozenset({"manager"}))
KARI = Actor("kari", frozenset({"koordinerende_enhet"}))
TINA = Actor("tina", frozenset({"tjenesteyter"}))
YEAR = timedelta(days=365)


@pytest.fixture
def world(orc, seeded, clock, tmp_path):
    """The seven demo cases, their e-mails delivered to the local folder."""
    users.bootstrap(orc, tmp_path / "demo-brukere.txt")
    demo.seed(orc, if_empty=False)
    delivery.deliver_due(orc)
    return orc


def end_case(orc, business_key: str) -> None:
    """Every process of the case ends (as a withdrawal or the routine's own end would)."""
    with orc.db.read() as session:
        ids = session.scalars(select(Instance.id).where(Instance.business_key == business_key,
                                                        Instance.status.in_(("running", "error")))).all()
    for instance_id in ids:
        with orc.write() as session:
            runtime.terminate(runtime.load(orc, session, instance_id, SYSTEM, running=False), "avsluttet i testen")


def all_rows(orc) -> dict[str, list[str]]:
    """Every row of every table in the database, as text."""
    with orc.db.read() as session:
        names = inspect(session.connection()).get_table_names()
        return {name: [str(tuple(row)) for row in session.execute(text(f"SELECT * FROM {name}"))] for name in names}


def comparable(report) -> dict:
    """The report kind by kind, without the one field a dry run differs in by design."""
    return {"at": report.at, **{k.kind: dataclasses.asdict(k) for k in report.kinds}}


# --- every table is accounted for ------------------------------------------------------------------
def test_every_table_in_the_database_is_deleted_with_a_case_kept_for_a_reason_or_holds_no_case_data(orc):
    with orc.db.read() as session:
        in_database = set(inspect(session.connection()).get_table_names())
    tables = in_database | set(Base.metadata.tables)
    listed = [set(retention.CASE_TABLES), set(retention.KEPT_TABLES), set(retention.NOT_CASE_DATA)]
    unlisted = sorted(t for t in tables if not any(t in group for group in listed))
    assert not unlisted, (f"New table(s) {unlisted}: say in services/retention.py whether an ended case's rows in "
                          f"them are deleted (CASE_TABLES), kept on purpose (KEPT_TABLES), or hold no case data")
    twice = [t for t in tables if sum(t in group for group in listed) > 1]
    assert not twice
    for name, columns in retention.CASE_TABLES.items():
        assert set(columns) <= set(Base.metadata.tables[name].c.keys()), name
        assert set(columns.values()) <= {"instance", "case"}


def test_every_column_naming_a_case_or_an_instance_is_one_retention_deletes_by(orc):
    """A new column pointing at a case (business_key, *instance_id) in a case table must tie its rows too."""
    for name, columns in retention.CASE_TABLES.items():
        table = Base.metadata.tables[name]
        pointing = {c.name for c in table.c if c.name == "business_key" or c.name.endswith("instance_id")}
        assert pointing <= set(columns), f"{name}: {sorted(pointing - set(columns))} not in CASE_TABLES"


# --- ended cases -----------------------------------------------------------------------------------
def test_an_ended_case_is_deleted_from_every_table_after_its_period_and_the_dry_run_said_exactly_that(world, clock):
    orc = world
    end_case(orc, "9999/0007")  # the group whose innkalling went out (one address failed)
    end_case(orc, "9999/0001")
    with orc.db.read() as session:
        doomed = set(session.scalars(select(Instance.id).where(Instance.business_key == "9999/0007")))
    sink_files = sorted((orc.settings.var_dir / "utsendinger").glob("*.eml"))
    assert sink_files and "Demo Lea" in "".join(f.read_text() for f in sink_files)

    clock.advance(3 * YEAR - timedelta(days=1))
    assert retention.run(orc, MONA, dry_run=True).kind(retention.CASES).business_keys == []  # not yet

    clock.advance(timedelta(days=2))
    planned = retention.run(orc, MONA, dry_run=True)
    assert all_rows(orc)  # the dry run changed nothing:
    assert planned.kind(retention.CASES).business_keys == ["9999/0001", "9999/0007"]
    done = retention.run(orc, MONA)
    assert comparable(done) == comparable(planned)
    cases = done.kind(retention.CASES)
    assert set(cases.instances) >= doomed
    assert cases.rows["instances"] == len(cases.instances) and cases.rows["notices"] >= 3
    assert cases.rows["audit_log"] > 0 and cases.rows["consents"] >= 1 and cases.rows["consent_events"] >= 1

    rows = all_rows(orc)
    for table, texts in rows.items():
        for row in texts:
            assert "Demo Lea" not in row, (table, row)
            if ("9999/0007" in row or "9999/0001" in row) and table not in retention.KEPT_TABLES:
                assert table == "audit_log" and f"'{retention.ACTION}'" in row, (table, row)
    with orc.db.read() as session:
        assert not session.scalars(select(Instance.id).where(Instance.id.in_(doomed))).all()
        assert session.scalar(select(Instance.id).where(Instance.business_key == "9999/0005"))  # still running
    assert not [f for f in sink_files if f.exists() and "Demo Lea" in f.read_text()]
    assert retention.run(orc, MONA, dry_run=True).kind(retention.CASES).instances == []  # nothing left to do


def test_a_real_run_writes_one_audit_record_of_counts_and_business_keys_without_personal_data(world, clock):
    orc = world
    end_case(orc, "9999/0007")
    clock.advance(3 * YEAR + timedelta(days=1))
    done = retention.run(orc, MONA)
    with orc.db.read() as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == retention.ACTION)).all()
    assert entry.actor == "mona" and entry.instance_id is None and entry.at == clock.now()
    kinds = entry.data["slag"]
    assert kinds["avsluttede_saker"]["saker"] == ["9999/0007"]
    assert kinds["avsluttede_saker"]["rader"] == done.kind(retention.CASES).rows
    assert kinds["avsluttede_saker"]["prosesser"] == {"ansvarsgruppe avsluttet": 1}  # what is left as statistics
    assert kinds["utsendinger"]["dager"] == 183 and kinds["tilgangslogg"]["dager"] == 5 * 365
    assert "Demo" not in str(entry.data) and "@" not in str(entry.data)
    retention.run(orc, MONA, dry_run=True)
    with orc.db.read() as session:  # a dry run leaves no record
        assert session.scalar(select(text("count(*)")).select_from(AuditEntry).where(
            AuditEntry.action == retention.ACTION)) == 1


def test_a_case_with_one_process_still_running_is_not_ended(world, clock):
    orc = world
    end_case(orc, "9999/0007")  # the group ends; a new oppstart on the same case goes on
    instances.start(orc, "oppstart", users.actor_for(orc, "kari"), business_key="9999/0007", data={
        "gjelder": "Demo Lea", "meldt_av": "Skolen", "behov": "Flere tjenester trenger å samarbeide."})
    clock.advance(10 * YEAR)
    assert "9999/0007" not in retention.run(orc, MONA, dry_run=True).kind(retention.CASES).business_keys


def test_a_period_set_to_never_keeps_that_kind_for_ever(world, clock):
    orc = world
    end_case(orc, "9999/0007")
    orc.settings.retention_case_days = None
    clock.advance(30 * YEAR)
    report = retention.run(orc, MONA)
    assert report.kind(retention.CASES).note == retention.FOREVER and report.kind(retention.CASES).total == 0


# --- notice bodies ---------------------------------------------------------------------------------
def test_a_sent_notice_loses_body_and_addresses_after_its_period_but_keeps_kind_status_service_and_time(world, clock):
    orc = world
    with orc.db.read() as session:
        sent = session.scalars(select(Notice).where(Notice.business_key == "9999/0007", Notice.status == "sink")).all()
    assert sent and all("Demo Lea" in n.message for n in sent)
    clock.advance(timedelta(days=182))
    assert not retention.run(orc, MONA, dry_run=True).kind(retention.NOTICES).ids
    clock.advance(timedelta(days=2))
    planned = retention.run(orc, MONA, dry_run=True)
    done = retention.run(orc, MONA)
    assert comparable(done) == comparable(planned)
    assert set(done.kind(retention.NOTICES).ids) >= {n.id for n in sent}
    assert "9999/0007" in done.kind(retention.NOTICES).business_keys
    with orc.db.read() as session:
        for before in sent:
            after = session.get(Notice, before.id)
            assert (after.message, after.subject, after.recipient, after.recipient_name, after.meeting_place) == \
                ("", "", "", None, None)
            assert (after.kind, after.status, after.recipient_service, after.sent_at, after.meeting_at) == \
                (before.kind, before.status, before.recipient_service, before.sent_at, before.meeting_at)
            assert after.erased_at == clock.now()
        failed = session.scalars(select(Notice).where(Notice.status == "failed")).all()
        assert failed and all(n.erased_at is None for n in failed)  # waits for the leader, goes with the case
    assert not any("Demo Lea" in f.read_text() for f in (orc.settings.var_dir / "utsendinger").glob("*.eml"))
    detail = queries.get_notice(orc, MONA, sent[0].id)  # the Utsendinger page still shows what it was
    assert detail.erased_at == clock.now() and detail.status == "sink"


# --- audit data ------------------------------------------------------------------------------------
def test_audit_rows_lose_what_was_entered_after_their_period_but_keep_who_did_what_when(world, clock):
    orc = world
    with orc.db.read() as session:
        before = {e.id: e for e in session.scalars(select(AuditEntry))}
    assert any(e.data for e in before.values())
    clock.advance(3 * YEAR + timedelta(days=1))
    planned = retention.run(orc, MONA, dry_run=True)
    done = retention.run(orc, MONA)
    assert comparable(done) == comparable(planned)
    assert set(done.kind(retention.AUDIT).ids) == set(before)
    with orc.db.read() as session:
        for entry in session.scalars(select(AuditEntry).where(AuditEntry.id.in_(list(before)))):
            old = before[entry.id]
            assert entry.data is None and entry.erased_at == clock.now()
            assert (entry.actor, entry.action, entry.at, entry.element_id, entry.instance_id) == \
                (old.actor, old.action, old.at, old.element_id, old.instance_id)
    some = next(e for e in before.values() if e.instance_id is not None)
    shown = instances.get(orc, some.instance_id, SYSTEM).history  # the case page says what became of it
    assert all(h["data"] is None and h["erased_at"] == clock.now() for h in shown)
    clock.advance(10 * YEAR)  # the run's own record is what proves the erasure: it stays
    with orc.db.read() as session:
        record = session.scalar(select(AuditEntry.id).where(AuditEntry.action == retention.ACTION))
    assert record not in retention.run(orc, MONA).kind(retention.AUDIT).ids
    with orc.db.read() as session:
        assert session.get(AuditEntry, record).data["slag"]


# --- slettesperre ----------------------------------------------------------------------------------
def test_a_held_case_is_skipped_by_every_kind_until_the_hold_is_lifted(world, clock):
    orc = world
    end_case(orc, "9999/0007")
    hold = slettesperre.place(orc, KARI, "9999/0007", "Klage til statsforvalteren er under behandling.")
    assert (hold.placed_by, hold.placed_at) == ("kari", clock.now())
    clock.advance(4 * YEAR)
    report = retention.run(orc, MONA)
    for kind in (retention.CASES, retention.NOTICES, retention.AUDIT):
        assert "9999/0007" in report.kind(kind).held and "9999/0007" not in report.kind(kind).business_keys
    with orc.db.read() as session:
        assert session.scalar(select(Instance.id).where(Instance.business_key == "9999/0007"))
        assert all(n.erased_at is None for n in session.scalars(select(Notice).where(
            Notice.business_key == "9999/0007")))
        [placed] = session.scalars(select(AuditEntry).where(AuditEntry.action == slettesperre.PLACED)).all()
    assert placed.data == {"saksnummer": "9999/0007", "grunn": "Klage til statsforvalteren er under behandling."}
    slettesperre.lift(orc, MONA, "9999/0007")
    assert "9999/0007" in retention.run(orc, MONA).kind(retention.CASES).business_keys
    with orc.db.read() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).where(AuditEntry.instance_id.is_(None)))]
    assert slettesperre.PLACED in actions and slettesperre.LIFTED in actions


def test_only_managers_and_koordinerende_enhet_hold_a_case_with_a_reason_and_only_an_existing_one(world):
    orc = world
    with pytest.raises(Forbidden):
        slettesperre.place(orc, TINA, "9999/0007", "grunn")
    with pytest.raises(Invalid):
        slettesperre.place(orc, MONA, "9999/0007", "  ")
    with pytest.raises(NotFound):
        slettesperre.place(orc, MONA, "9999/9999", "grunn")
    with pytest.raises(Forbidden):
        retention.run(orc, KARI, dry_run=True)  # running the job is the manager's (and the worker's)
    assert slettesperre.get(orc, MONA, "9999/0007") is None


# --- the read-access log ---------------------------------------------------------------------------
def test_access_log_rows_older_than_their_period_are_deleted_but_not_those_of_a_held_case(world, clock):
    from orchestrator.services import tilgangslogg

    orc = world
    with orc.db.read() as session:
        before = {row_id for row_id, _ in tilgangslogg.expired(session, clock.now() + timedelta(seconds=1))}
    for business_key in ("9999/0001", "9999/0007"):
        tilgangslogg.record(orc, MONA, tilgangslogg.SAK, business_key)
    clock.advance(5 * YEAR - timedelta(days=30))
    tilgangslogg.record(orc, MONA, tilgangslogg.SAK, "9999/0001")  # a newer read: stays
    clock.advance(timedelta(days=31))
    slettesperre.place(orc, MONA, "9999/0007", "Tilsynssak.")
    planned = retention.run(orc, MONA, dry_run=True)
    done = retention.run(orc, MONA)
    assert comparable(done) == comparable(planned)
    access = done.kind(retention.ACCESS_LOG)
    assert access.held == ["9999/0007"] and "9999/0001" in access.business_keys
    with orc.db.read() as session:
        left = tilgangslogg.for_case(session, "9999/0001")
    assert [e.at for e in left if e.id not in before] == [clock.now() - timedelta(days=31)]
    assert access.rows[retention.ACCESS_LOG_TABLE] == len(access.ids) > 0


# --- every night, from the worker ------------------------------------------------------------------
def test_the_worker_schedules_retention_when_it_starts_and_runs_it_every_night_at_two(world, clock):
    from orchestrator.services import nightly
    from orchestrator.services.worker import Worker
    from orchestrator.store.models import ScheduledJob

    orc = world
    end_case(orc, "9999/0007")
    worker = Worker(orc)
    stop = __import__("threading").Event()
    worker.on_pass.append(lambda done: stop.set())
    worker.run(stop)  # one turn: it prepares its queues first
    worker = Worker(orc)  # (that one was told to stop)
    with orc.db.read() as session:
        row = session.get(ScheduledJob, nightly.NAME)
    assert row.next_run_at == nightly.next_run(clock.now()) == clock.now().replace(day=5, hour=1)  # 02:00 Oslo
    assert not [d for d in worker.run_pass() if isinstance(d, retention.Report)]

    clock.set(row.next_run_at + 3 * YEAR)  # a night after the case's period ran out
    [report] = [d for d in worker.run_pass() if isinstance(d, retention.Report)]
    assert report.kind(retention.CASES).business_keys == ["9999/0007"] and not report.dry_run
    with orc.db.read() as session:
        row = session.get(ScheduledJob, nightly.NAME)
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == retention.ACTION)).all()
    assert entry.actor == retention.RETENTION.username
    assert (row.last_run_at, row.next_run_at, row.attempts) == (clock.now(), clock.now() + timedelta(days=1), 0)
    assert not [d for d in worker.run_pass() if isinstance(d, retention.Report)]  # once a night


def test_a_failing_nightly_run_is_retried_with_back_off_and_then_waits_for_the_next_night(world, clock, monkeypatch):
    from orchestrator.services import nightly
    from orchestrator.services.worker import Worker
    from orchestrator.store.models import ScheduledJob

    orc = world
    nightly.schedule(orc)
    with orc.db.read() as session:
        night = session.get(ScheduledJob, nightly.NAME).next_run_at
    clock.set(night)

    def broken(*args, **kwargs):
        raise RuntimeError("disken er full")

    monkeypatch.setattr(retention, "run", broken)
    worker = Worker(orc)
    worker.run_pass()
    with orc.db.read() as session:
        row = session.get(ScheduledJob, nightly.NAME)
    assert (row.attempts, row.last_error, row.next_run_at) == (1, "RuntimeError: disken er full",
                                                               night + timedelta(minutes=1))
    for _ in range(nightly.MAX_ATTEMPTS - 1):
        clock.set(row.next_run_at)
        worker.run_pass()
        with orc.db.read() as session:
            row = session.get(ScheduledJob, nightly.NAME)
    assert row.next_run_at == night + timedelta(days=1) and row.attempts == 0 and "disken er full" in row.last_error


def test_with_the_nightly_run_switched_off_the_worker_removes_its_schedule(world, clock):
    from orchestrator.services import nightly
    from orchestrator.store.models import ScheduledJob

    orc = world
    nightly.schedule(orc)
    orc.settings.retention_daily = False
    nightly.schedule(orc)
    with orc.db.read() as session:
        assert session.get(ScheduledJob, nightly.NAME) is None
