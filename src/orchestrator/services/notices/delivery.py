"""Delivering queued notices, from any number of workers: claim with a lease, send, record.

1. **Claim** (one short transaction): lease up to `BATCH_SIZE` due notices to this worker with
   `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING` (SQLite serialises writers
   instead), counting the attempt and moving `next_attempt_at` to the lease's end, so a notice
   whose worker dies becomes due again by itself when the lease expires.
2. **Send** outside any transaction: SMTP (or the local sink), the stored bytes as they are.
3. **Record** (one transaction): sent, or the next attempt after a growing back-off, or, after
   `notice_max_attempts` attempts or a permanent refusal, failed; a failure delivers the message
   `utsending_feilet` to the instance in that same transaction (the leader gets an escalation).

The guarantee that follows (docs/notices.md): at-least-once hand-over to the SMTP server, with a
Message-ID per notice and recipient that every attempt repeats. A worker that dies between a
server's "250 OK" and step 3 leaves a lease that expires; the next attempt sends the same message
again, and the receiving side recognises it by its Message-ID.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from ... import clock
from ...store.models import AuditEntry, Notice
from .. import messages, runtime
from ..access import MANAGER, Actor, require_any
from ..context import Orchestrator
from ..errors import Conflict, Invalid, NotFound, ServiceError
from . import faults, mime
from .constants import (BATCH_SIZE, FAILED, FAILED_MESSAGE, KIND_LABELS, QUEUED, SENT, SINK, WORKER,
                        backoff_minutes)
from .transport import DUPLICATE, PERMANENT, RETRY, SUNK, Claimed, Outcome, for_settings

log = logging.getLogger(__name__)

RECORD_TRIES = 3
# A pass ends after this many batches even if more is due (the worker then runs again at once):
# timers get their turn, and a runaway producer of notices cannot hold the worker in one pass.
MAX_BATCHES_PER_PASS = 50


@dataclass(frozen=True)
class Delivered:
    """What one attempt came to (for logs and tests)."""

    notice_id: int
    status: str  # the row's status afterwards: queued (retry later) | sent | sink | failed
    outcome: str  # the transport's verdict: sent | duplicate | sink | retry | permanent
    detail: str | None = None
    next_attempt_at: datetime | None = None
    escalated: bool = False


def claim_due(ctx: Orchestrator, owner: str, limit: int | None = None) -> list[Claimed]:
    """Lease up to `limit` due notices to `owner`, counting the attempt."""
    settings = ctx.settings
    limit = limit or BATCH_SIZE
    now = clock.now()
    lease_until = now + timedelta(seconds=settings.timer_lease_seconds + limit * 2 * settings.smtp_timeout_seconds)
    due = (select(Notice.id).where(Notice.status == QUEUED, Notice.next_attempt_at <= now)
           .order_by(Notice.next_attempt_at, Notice.id).limit(limit))
    if ctx.db.dialect == "postgresql":
        due = due.with_for_update(skip_locked=True)
    statement = (
        update(Notice)
        .where(Notice.id.in_(due.scalar_subquery()))
        .values(lease_owner=owner, lease_until=lease_until, next_attempt_at=lease_until,
                attempts=Notice.attempts + 1, updated_at=now)
        .returning(Notice.id, Notice.kind, Notice.instance_id, Notice.business_key, Notice.meeting_id,
                   Notice.recipient, Notice.recipient_name, Notice.message_id, Notice.message, Notice.attempts,
                   Notice.lease_until)
        .execution_options(synchronize_session=False)
    )
    with ctx.write() as session:
        rows = session.execute(statement).all()
    return sorted((Claimed(*row) for row in rows), key=lambda c: c.id)


def deliver_due(ctx: Orchestrator, owner: str | None = None, limit: int | None = None, stop=None) -> list[Delivered]:
    """Attempt the notices due now (as the clock says), batch by batch, until none is due
    (or MAX_BATCHES_PER_PASS batches are done)."""
    if owner is None:
        from ..timers import worker_id  # not at import time: timers imports messages, which imports us

        owner = worker_id()
    transport = for_settings(ctx.settings)
    results: list[Delivered] = []
    try:
        for _ in range(MAX_BATCHES_PER_PASS):
            if stop is not None and stop.is_set():
                break
            claimed = claim_due(ctx, owner, limit)
            if not claimed:
                break
            for position, notice in enumerate(claimed):
                if stop is not None and stop.is_set():
                    _give_back(ctx, [n.id for n in claimed[position:]], owner)
                    return results
                results.append(_deliver(ctx, transport, notice, owner))
    finally:
        transport.close()
    return results


def _give_back(ctx: Orchestrator, ids: list[int], owner: str) -> None:
    """Stopping: claimed but not attempted, so due now again for any worker, the attempt not counted."""
    now = clock.now()
    with ctx.write() as session:
        session.execute(
            update(Notice).where(Notice.id.in_(ids), Notice.lease_owner == owner, Notice.status == QUEUED)
            .values(lease_owner=None, lease_until=None, next_attempt_at=now, attempts=Notice.attempts - 1,
                    updated_at=now)
            .execution_options(synchronize_session=False))


def deliver_pass(ctx: Orchestrator, owner: str, stop=None) -> list[Delivered]:
    """The worker pass (registered in services/worker.SOURCES)."""
    return deliver_due(ctx, owner, stop=stop)


def next_due() -> Select:
    """When the next queued notice is due (a leased one: when its lease expires)."""
    return select(func.min(Notice.next_attempt_at)).where(Notice.status == QUEUED)


def _deliver(ctx: Orchestrator, transport, notice: Claimed, owner: str) -> Delivered:
    faults.fire("claimed", notice)
    max_attempts = max(1, ctx.settings.notice_max_attempts)
    if notice.attempts > max_attempts:
        # Only after attempts that ended without a record (the worker died mid-attempt, again
        # and again): stop rather than loop forever on a message that kills the worker.
        outcome = Outcome(PERMANENT, f"Utsendingen ble avbrutt {notice.attempts - 1} ganger uten at resultatet "
                                     f"ble registrert; den er kanskje levert – sjekk med mottakeren")
    else:
        try:
            envelope_from = mime.sender_address(ctx.settings.mail_from)[1]
        except ValueError as error:
            outcome = Outcome(RETRY, str(error))
        else:
            outcome = transport.send(notice, envelope_from)
    faults.fire("after_send_before_mark", notice)
    result = _record(ctx, notice, outcome, owner)
    faults.fire("after_mark", notice)
    return result


def _record(ctx: Orchestrator, notice: Claimed, outcome: Outcome, owner: str) -> Delivered:
    for attempt in range(1, RECORD_TRIES + 1):
        try:
            with ctx.write() as session:
                return _record_in(ctx, session, notice, outcome, owner)
        except Conflict:
            # The escalation raced another change of the instance: record it all again.
            if attempt == RECORD_TRIES:
                raise
            log.info("recording notice %s raced a change of its instance; trying again", notice.id)
    raise AssertionError("unreachable")


def _record_in(ctx: Orchestrator, session: Session, notice: Claimed, outcome: Outcome, owner: str) -> Delivered:
    now = clock.now()
    row = session.get(Notice, notice.id, with_for_update=True)
    if row is None or row.status != QUEUED:
        # Another worker (after our lease expired) got there first.
        return Delivered(notice.id, row.status if row else "gone", outcome.result, outcome.detail)
    if outcome.delivered:
        # Recorded even if our lease expired meanwhile: what was sent was sent.
        row.status = SINK if outcome.result == SUNK else SENT
        row.sent_at = now
        row.last_error = outcome.detail if outcome.result == DUPLICATE else None
        _release(row, now)
        _audit(session, row, "notice_sent", now, {"status": row.status, "duplikat": outcome.result == DUPLICATE})
        log.info("notice %s (%s) %s after %d attempt(s)", row.id, row.kind,
                 "written to the sink" if row.status == SINK else "sent", row.attempts)
        return Delivered(row.id, row.status, outcome.result, outcome.detail)
    if row.lease_owner != owner:
        return Delivered(row.id, row.status, outcome.result, outcome.detail, row.next_attempt_at)
    max_attempts = max(1, ctx.settings.notice_max_attempts)
    if outcome.result == RETRY and row.attempts < max_attempts:
        row.last_error = outcome.detail
        _release(row, now)
        row.next_attempt_at = now + timedelta(minutes=backoff_minutes(row.attempts))
        log.warning("notice %s (%s) attempt %d/%d failed: %s; next attempt %s", row.id, row.kind, row.attempts,
                    max_attempts, outcome.detail, row.next_attempt_at.isoformat())
        return Delivered(row.id, QUEUED, outcome.result, outcome.detail, row.next_attempt_at)
    row.status = FAILED
    row.last_error = outcome.detail
    _release(row, now)
    row.next_attempt_at = None
    _audit(session, row, "notice_failed", now, {"feil": outcome.detail})
    log.error("notice %s (%s, meeting %s) failed after %d attempt(s): %s", row.id, row.kind, row.meeting_id,
              row.attempts, outcome.detail)
    escalated = _escalate(ctx, session, row)
    return Delivered(row.id, FAILED, outcome.result, outcome.detail, escalated=escalated)


def _release(row: Notice, now: datetime) -> None:
    row.lease_owner = row.lease_until = None
    row.next_attempt_at = None
    row.updated_at = now


def _escalate(ctx: Orchestrator, session: Session, row: Notice) -> bool:
    """Tell the instance (its event subprocess gives the group's leader a task), in this transaction."""
    if not row.business_key:
        log.error("notice %s failed and its instance has no business key: shown on the dashboard only", row.id)
        return False
    recipient = f"{row.recipient_name} <{row.recipient}>" if row.recipient_name else row.recipient
    data = {"utsending_id": row.id, "type": row.kind, "mottaker": recipient, "feil": row.last_error,
            "moete_id": row.meeting_id}
    try:
        with session.begin_nested():
            messages.route(ctx, session, FAILED_MESSAGE, row.business_key, data, WORKER)
        return True
    except Conflict:
        raise
    except NotFound:
        log.warning("notice %s failed; no instance of %s waits for «%s»: shown on the dashboard only",
                    row.id, row.business_key, FAILED_MESSAGE)
    except ServiceError as error:
        log.error("notice %s failed; delivering «%s» to %s failed too (%s): shown on the dashboard only",
                  row.id, FAILED_MESSAGE, row.business_key, error.message)
    return False


def _audit(session: Session, row: Notice, action: str, now: datetime, extra: dict | None = None,
           actor: Actor = WORKER) -> None:
    data = {"utsending_id": row.id, "type": row.kind, "moete_id": row.meeting_id, "forsok": row.attempts}
    session.add(AuditEntry(instance_id=row.instance_id, at=now, actor=actor.username, action=action,
                           element_name=KIND_LABELS.get(row.kind, row.kind), data={**data, **(extra or {})}))


def requeue(ctx: Orchestrator, actor: Actor, notice_id: int) -> None:
    """Send a failed notice again (after the address or the mail server was fixed).

    The message is sent as it was stored, with the same Message-ID: if an earlier attempt did
    reach the recipient after all, their mail system can still recognise the copy.
    """
    require_any(actor, (MANAGER, "koordinerende_enhet"), "Å sende en utsending på nytt")
    now = clock.now()
    with ctx.write() as session:
        row = session.get(Notice, notice_id, with_for_update=True)
        if row is None:
            raise NotFound(f"utsending {notice_id} finnes ikke")
        if row.status != FAILED:
            raise Invalid("Bare utsendinger som har feilet kan sendes på nytt",
                          {"status": [f"Utsendingen har status «{row.status}»."]})
        row.status, row.attempts, row.next_attempt_at, row.updated_at = QUEUED, 0, now, now
        row.lease_owner = row.lease_until = None
        _audit(session, row, "notice_requeued", now, actor=actor)
        runtime.signal_timer(ctx, session, now)
