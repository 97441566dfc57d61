"""Retention and erasure: what has been kept as long as its kind may be kept is deleted or erased.

Four kinds of data, each with its own period (Settings.retention_*_days; docs/privacy.md, decision 0024):

- **avsluttede saker** (ended cases): a business key all of whose processes have ended (completed or
  terminated; an incident has not ended), measured from the end of the last one. Everything about the
  case is *deleted* from every table that holds case rows (`CASE_TABLES`), and its e-mails from the
  local sink folder. The orchestrator is a working tool, not the journal or the archive: what must be
  kept is kept there (seed 004: «Referat oppbevares i forskriftsmessig journal»).
- **utsendinger** (notice bodies): a sent, sunk or cancelled e-mail, from when it was sent (or
  cancelled). Body, subject, addresses, names and place are *erased*; kind, status, the recipient's
  service and the times stay, so the case still shows that an innkalling went to «Skole» on that date.
- **revisjonsdata** (audit data): an audit row, from when it was written. What was entered (`data`)
  is *erased*; who did what, when, stays. The retention job's own records are kept.
- **tilgangslogg** (the read-access log, decision 0023): rows are *deleted*, through the log's own
  module (`tilgangslogg.delete_expired`), the only deletion its database triggers allow.

A case under a slettesperre (services/slettesperre.py) is skipped by every kind. `run(..., dry_run=True)`
reads what `run(...)` would do and changes nothing; the real run decides again inside its own
transaction and reports what it did, so the two agree when nothing changed in between. Each real
run writes one audit record: counts and business keys, no personal data.
"""
from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable, Iterator

from sqlalchemy import Table, case, delete, func, insert, null, select, update
from sqlalchemy.orm import Session

from .. import clock
from ..store.models import AuditEntry, Base, Instance, Notice
from . import runtime, slettesperre, tilgangslogg
from .access import ALL_ROLES, MANAGER, Actor, require_any
from .context import Orchestrator
from .notices import transport
from .notices.constants import CANCELLED, SENT, SINK

log = logging.getLogger(__name__)

RETENTION = Actor("sletting", frozenset(ALL_ROLES), system=True)  # the worker's nightly run
RUNNERS = (MANAGER,)
ACTION = "sletting"  # the audit record of a real run
CASES, NOTICES, AUDIT, ACCESS_LOG = "avsluttede_saker", "utsendinger", "revisjonsdata", "tilgangslogg"
LABELS = {
    CASES: "Avsluttede saker (slettes helt)",
    NOTICES: "Innhold og adresser i sendte og avbrutte e-poster (slettes, status beholdes)",
    AUDIT: "Registrerte opplysninger i revisjonssporet (slettes, hvem/hva/når beholdes)",
    ACCESS_LOG: "Tilgangsloggen (slettes)",
}
ENDED = (runtime.COMPLETED, runtime.TERMINATED)
ENDED_LABELS = {runtime.COMPLETED: "fullført", runtime.TERMINATED: "avsluttet"}
ERASED_NOTICE_STATUSES = (SENT, SINK, CANCELLED)
ACCESS_LOG_TABLE, ACCESS_LOG_PERMITS = tilgangslogg.TABLES
FOREVER = "oppbevares uten tidsgrense"
CHUNK = 500  # values per IN (…): well inside every database's parameter limit

# Every table that holds rows of a case, and the columns that tie a row to it: "instance" (an id of
# one of the case's instances) or "case" (its business key). Deleting an ended case deletes from
# each, in this order (children before the instances they point to). tests/test_retention.py fails
# on a table that is in none of CASE_TABLES, KEPT_TABLES and NOT_CASE_DATA.
CASE_TABLES: dict[str, dict[str, str]] = {
    "tasks": {"instance_id": "instance", "business_key": "case"},
    "timers": {"instance_id": "instance", "business_key": "case"},
    "message_waits": {"instance_id": "instance", "business_key": "case"},
    "audit_log": {"instance_id": "instance"},
    "notices": {"instance_id": "instance", "business_key": "case"},
    "consent_events": {"instance_id": "instance", "business_key": "case"},
    "consents": {"business_key": "case"},
    "cases": {"business_key": "case", "plan_instance_id": "instance"},
    "instances": {"id": "instance", "business_key": "case"},
}
# Tables with rows about a case that are deliberately not deleted with it, and why.
KEPT_TABLES = {
    ACCESS_LOG_TABLE: "Tilgangsloggen har sin egen oppbevaringstid: personen skal kunne få vite hvem som "
                      "leste saken også etter at saken er slettet.",
    "legal_holds": "En sperret sak slettes ikke; sperren oppheves av en leder eller koordinerende enhet.",
}
# Tables without case data.
NOT_CASE_DATA = frozenset({
    "alembic_version", "process_definitions", "drafts", "users", "user_roles", "user_services", "api_tokens",
    "user_sessions", "login_attempts", "scheduled_jobs",
    ACCESS_LOG_PERMITS,  # the log's deletion permit: a cutoff, held for the length of one transaction
})


@dataclass
class KindReport:
    """What one kind came to: the cases and rows it affects (dry run) or affected (real run)."""

    kind: str
    label: str
    days: int | None
    cutoff: datetime | None
    business_keys: list[str] = field(default_factory=list)
    instances: list[int] = field(default_factory=list)  # ended cases: every instance deleted
    ids: list = field(default_factory=list)  # notices, audit rows, access-log rows: the rows' ids
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows deleted or erased
    held: list[str] = field(default_factory=list)  # cases skipped for a slettesperre
    note: str | None = None
    # ended cases: how many of their processes ended how ("oppstart avsluttet": 3), kept as the statistics
    processes: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


@dataclass
class Report:
    dry_run: bool
    at: datetime
    kinds: list[KindReport]

    def kind(self, name: str) -> KindReport:
        return next(k for k in self.kinds if k.kind == name)

    @property
    def total(self) -> int:
        return sum(k.total for k in self.kinds)


@dataclass(frozen=True)
class Gone:
    """The ended cases this run deletes: the other kinds leave their rows to it."""

    business_keys: set[str]
    instances: set[int]

    def has(self, business_key: str | None, instance_id: int | None) -> bool:
        return business_key in self.business_keys or instance_id in self.instances


def run(ctx: Orchestrator, actor: Actor, dry_run: bool = False) -> Report:
    """Delete and erase what has expired as of the clock's now (or, with `dry_run`, only say what)."""
    require_any(actor, RUNNERS, "Sletting etter oppbevaringstid")
    now = clock.now()
    settings = ctx.settings
    sink_files: list[tuple[int, str]] = []
    with _unit(ctx, dry_run) as session:
        held = slettesperre.held_keys(session)
        cases = _ended_cases(session, _report(CASES, settings.retention_case_days, now), held, dry_run, sink_files)
        # what goes with an ended case is not counted again (a dry run has not deleted it)
        gone = Gone(set(cases.business_keys), set(cases.instances))
        notices = _notice_bodies(session, _report(NOTICES, settings.retention_notice_days, now), held, gone,
                                 dry_run, now, sink_files)
        audit = _audit_data(session, _report(AUDIT, settings.retention_audit_days, now), held, gone, dry_run, now)
        access = _access_log(session, _report(ACCESS_LOG, settings.retention_access_log_days, now), held, dry_run)
        report = Report(dry_run, now, [cases, notices, audit, access])
        if not dry_run:
            session.execute(insert(AuditEntry).values(runtime.audit_row(
                None, actor, ACTION, element_name="Sletting etter oppbevaringstid", data=record(report))))
    if not dry_run:
        for instance_id in cases.instances:
            ctx.instances.forget(instance_id)
        _remove_sink_files(ctx, sink_files)
        log.info("retention: %s", ", ".join(f"{k.kind} {k.total}" for k in report.kinds))
    return report


def record(report: Report) -> dict:
    """The audit record of a run: per kind the period, the counts and the business keys; no personal data."""
    kinds = {}
    for k in report.kinds:
        kinds[k.kind] = {"dager": k.days, "grense": k.cutoff.isoformat() if k.cutoff else None, "rader": k.rows,
                         "saker": k.business_keys, "sperret": k.held, **({"merknad": k.note} if k.note else {})}
        if k.kind == CASES:
            kinds[k.kind]["instanser"] = len(k.instances)
            kinds[k.kind]["prosesser"] = k.processes
    return {"torrkjoring": report.dry_run, "tidspunkt": report.at.isoformat(), "slag": kinds}


@contextlib.contextmanager
def _unit(ctx: Orchestrator, dry_run: bool) -> Iterator[Session]:
    if dry_run:
        with ctx.db.read() as session:
            yield session
    else:
        with ctx.write("retention.run") as session:
            yield session


def _report(kind: str, days: int | None, now: datetime) -> KindReport:
    cutoff = now - timedelta(days=days) if days else None
    return KindReport(kind, LABELS[kind], days, cutoff, note=None if days else FOREVER)


# --- ended cases ----------------------------------------------------------------------------------
def _ended_cases(session: Session, report: KindReport, held: set[str], dry_run: bool,
                 sink_files: list) -> KindReport:
    if report.cutoff is None:
        return report
    keys, keyless = expired_cases(session, report.cutoff)
    report.held = sorted(k for k in keys if k in held)
    keys = sorted(k for k in keys if k not in held)
    instance_ids = keyless + list(session.scalars(
        select(Instance.id).where(Instance.business_key.in_(keys)).order_by(Instance.id))) if keys else keyless
    report.business_keys, report.instances = keys, sorted(instance_ids)
    if not report.instances:
        return report
    for chunk in _chunks(report.instances):
        for process_key, status, count in session.execute(
                select(Instance.process_key, Instance.status, func.count()).where(Instance.id.in_(chunk))
                .group_by(Instance.process_key, Instance.status)):
            label = f"{process_key} {ENDED_LABELS.get(status, status)}"
            report.processes[label] = report.processes.get(label, 0) + count
    ties = {"case": keys, "instance": report.instances}
    sink_files += [(row.id, row.kind) for row in _rows_in(session, Notice.__table__, "notices", ties,
                                                          (Notice.id, Notice.kind, Notice.status))
                   if row.status == SINK]
    for name, columns in CASE_TABLES.items():
        table = Base.metadata.tables[name]
        key = _primary_key(table)
        found = sorted({row[0] for row in _rows_in(session, table, name, ties, (key,))})
        report.rows[name] = _delete(session, table, key, found) if not dry_run else len(found)
    return report


def expired_cases(session: Session, cutoff: datetime) -> tuple[list[str], list[int]]:
    """Business keys whose processes have all ended, the last before `cutoff`; and ended instances without
    a business key (each its own case) that ended before it."""
    ended_at = func.max(func.coalesce(Instance.completed_at, Instance.updated_at))
    still_open = func.sum(case((Instance.status.in_(ENDED), 0), else_=1))
    keys = session.scalars(
        select(Instance.business_key).where(Instance.business_key.is_not(None)).group_by(Instance.business_key)
        .having(still_open == 0).having(ended_at < cutoff).order_by(Instance.business_key)).all()
    keyless = session.scalars(
        select(Instance.id).where(Instance.business_key.is_(None), Instance.status.in_(ENDED),
                                  func.coalesce(Instance.completed_at, Instance.updated_at) < cutoff)
        .order_by(Instance.id)).all()
    return list(keys), list(keyless)


def _rows_in(session: Session, table: Table, name: str, ties: dict, columns) -> list:
    """The rows of `table` tied to the case by any of its columns in CASE_TABLES, once each
    (`columns` starts with the primary key)."""
    found, seen = [], set()
    for column, tie in CASE_TABLES[name].items():
        for chunk in _chunks(ties[tie]):
            for row in session.execute(select(*columns).where(table.c[column].in_(chunk))):
                if row[0] not in seen:
                    seen.add(row[0])
                    found.append(row)
    return found


# --- notice bodies --------------------------------------------------------------------------------
def _notice_bodies(session: Session, report: KindReport, held: set[str], gone: Gone, dry_run: bool, now: datetime,
                   sink_files: list) -> KindReport:
    if report.cutoff is None:
        return report
    rows = session.execute(
        select(Notice.id, Notice.kind, Notice.status, Notice.business_key, Notice.instance_id)
        .where(Notice.status.in_(ERASED_NOTICE_STATUSES), Notice.erased_at.is_(None),
               func.coalesce(Notice.sent_at, Notice.updated_at) < report.cutoff)
        .order_by(Notice.id)).all()
    rows = [r for r in rows if not gone.has(r.business_key, r.instance_id)]
    report.held = sorted({r.business_key for r in rows if r.business_key in held})
    rows = [r for r in rows if r.business_key not in held]
    report.ids = [r.id for r in rows]
    report.business_keys = sorted({r.business_key for r in rows if r.business_key})
    if dry_run:
        report.rows["notices"] = len(rows)
        return report
    report.rows["notices"] = _erase(session, Notice, report.ids, message="", subject="", recipient="",
                                    recipient_name=None, meeting_place=None, last_error=None, erased_at=now,
                                    updated_at=now)
    sink_files += [(r.id, r.kind) for r in rows if r.status == SINK]
    return report


# --- audit data -----------------------------------------------------------------------------------
def _audit_data(session: Session, report: KindReport, held: set[str], gone: Gone, dry_run: bool,
                now: datetime) -> KindReport:
    if report.cutoff is None:
        return report
    rows = session.execute(
        select(AuditEntry.id, Instance.business_key, AuditEntry.instance_id)
        .outerjoin(Instance, Instance.id == AuditEntry.instance_id)
        .where(AuditEntry.at < report.cutoff, AuditEntry.erased_at.is_(None), AuditEntry.action != ACTION)
        .order_by(AuditEntry.id)).all()
    rows = [r for r in rows if not gone.has(r.business_key, r.instance_id)]
    # a hold's own record names its case in its data, not through an instance
    holds = dict(session.execute(select(AuditEntry.id, AuditEntry.data).where(
        AuditEntry.at < report.cutoff, AuditEntry.erased_at.is_(None),
        AuditEntry.action.in_((slettesperre.PLACED, slettesperre.LIFTED)))).all())
    rows = [(r.id, r.business_key or (holds.get(r.id) or {}).get("saksnummer")) for r in rows]
    report.held = sorted({key for _, key in rows if key in held})
    rows = [(row_id, key) for row_id, key in rows if key not in held]
    report.ids = [row_id for row_id, _ in rows]
    report.business_keys = sorted({key for _, key in rows if key})
    if dry_run:
        report.rows["audit_log"] = len(rows)
        return report
    report.rows["audit_log"] = _erase(session, AuditEntry, report.ids, data=null(), erased_at=now)
    return report


# --- the read-access log ---------------------------------------------------------------------------
def _access_log(session: Session, report: KindReport, held: set[str], dry_run: bool) -> KindReport:
    """Through the log's own module: the database refuses any other deletion of its rows (decision 0023)."""
    if report.cutoff is None:
        return report
    rows = tilgangslogg.expired(session, report.cutoff)
    report.held = sorted({key for _, key in rows if key in held})
    rows = [(row_id, key) for row_id, key in rows if key not in held]
    report.ids = [row_id for row_id, _ in rows]
    report.business_keys = sorted({key for _, key in rows if key})
    deleted = 0
    if not dry_run:
        for chunk in _chunks(report.ids):
            deleted += tilgangslogg.delete_expired(session, report.cutoff, ids=chunk)
    report.rows[ACCESS_LOG_TABLE] = deleted if not dry_run else len(rows)
    return report


# --- helpers --------------------------------------------------------------------------------------
def _primary_key(table: Table):
    (key,) = table.primary_key.columns
    return key


def _delete(session: Session, table: Table, key, values: list) -> int:
    done = 0
    for chunk in _chunks(values):
        done += session.execute(delete(table).where(key.in_(chunk))).rowcount
    return done


def _erase(session: Session, model, ids: list[int], **values) -> int:
    """Blank the personal fields of rows not erased yet (notices, audit rows); how many were."""
    erased = 0
    for chunk in _chunks(ids):
        erased += session.execute(
            update(model).where(model.id.in_(chunk), model.erased_at.is_(None)).values(**values)
            .execution_options(synchronize_session=False)).rowcount
    return erased


def _chunks(values: Iterable) -> Iterator[list]:
    values = list(values)
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


def _remove_sink_files(ctx: Orchestrator, files: list[tuple[int, str]]) -> None:
    """The local sink's copies of deleted or erased e-mails (after the commit: a rollback keeps them)."""
    sink = transport.sink(ctx.settings)
    for notice_id, kind in files:
        with contextlib.suppress(FileNotFoundError):
            sink.path_for(notice_id, kind).unlink()
