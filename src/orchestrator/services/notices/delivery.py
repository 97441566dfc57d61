"""Delivering queued notices, from any number of workers: claim with a lease, send, record.

Notices are one kind of the job queue (services/jobs.py):

1. **Claim** (one short transaction): up to `BATCH_SIZE` due notices leased to this worker, the
   attempt counted; a notice whose worker dies becomes due again when the lease runs out.
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
from datetime import datetime

from sqlalchemy.orm import Session

from ... import clock
from ...config import Settings
from ...store.models import AuditEntry, Notice
from .. import jobs, messages, tilgangslogg
from ..access import MANAGER, Actor, require_any
from ..context import Orchestrator
from ..errors import Conflict, Invalid, NotFound, ServiceError
from . import faults, mime
from .constants import BATCH_SIZE, CANCELLED, FAILED, FAILED_MESSAGE, KIND_LABELS, QUEUED, SENT, SINK, WORKER
from .transport import DUPLICATE, PERMANENT, RETRY, SUNK, Claimed, Outcome, for_settings

log = logging.getLogger(__name__)

NAME = "notice"
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


def queue(settings: Settings) -> jobs.Queue:
    return jobs.Queue(
        name=NAME, model=Notice, due=Notice.next_attempt_at, lease_owner=Notice.lease_owner,
        lease_until=Notice.lease_until, attempts=Notice.attempts, ready=Notice.status == QUEUED,
        returning=(Notice.id, Notice.kind, Notice.instance_id, Notice.business_key, Notice.meeting_id,
                   Notice.recipient, Notice.recipient_name, Notice.message_id, Notice.message, Notice.attempts,
                   Notice.lease_until),
        # the lease covers the whole batch: two SMTP timeouts per notice on top of the base
        lease_seconds=lambda n: settings.notice_lease_seconds + n * 2 * settings.smtp_timeout_seconds,
        batch_size=lambda: BATCH_SIZE, max_attempts=lambda: max(1, settings.notice_max_attempts), work=_work,
        give_up=_give_up,
        max_batches=MAX_BATCHES_PER_PASS,
    )


def deliver_due(ctx: Orchestrator, owner: str | None = None, limit: int | None = None, stop=None) -> list[Delivered]:
    """Attempt the notices due now (as the clock says), batch by batch, until none is due
    (or MAX_BATCHES_PER_PASS batches are done)."""
    return jobs.run(ctx, ctx.queues[NAME], owner or jobs.worker_id(), stop, limit, MAX_BATCHES_PER_PASS)


def _work(ctx: Orchestrator, rows: list, owner: str, stop) -> list[Delivered]:
    transport = for_settings(ctx.settings)  # one connection for the batch
    try:
        return jobs.each(ctx, ctx.queues[NAME], rows, owner, stop,
                         lambda row: _deliver(ctx, transport, Claimed(*row), owner))
    finally:
        transport.close()


def _give_up(ctx: Orchestrator, notice_id: int, owner: str, message: str) -> Delivered:
    return _record(ctx, notice_id, Outcome(PERMANENT, f"{message}; den er kanskje levert – sjekk med mottakeren"),
                   owner)


def _deliver(ctx: Orchestrator, transport, notice: Claimed, owner: str) -> Delivered:
    faults.fire("claimed", notice)
    try:
        envelope_from = mime.sender_address(ctx.settings.mail_from)[1]
    except ValueError as error:
        outcome = Outcome(RETRY, str(error))
    else:
        outcome = transport.send(notice, envelope_from)
    faults.fire("after_send_before_mark", notice)
    result = _record(ctx, notice.id, outcome, owner)
    faults.fire("after_mark", notice)
    return result


def _record(ctx: Orchestrator, notice_id: int, outcome: Outcome, owner: str) -> Delivered:
    for attempt in range(1, RECORD_TRIES + 1):
        try:
            with ctx.write() as session:
                return _record_in(ctx, session, notice_id, outcome, owner)
        except Conflict:
            # The escalation raced another change of the instance: record it all again.
            if attempt == RECORD_TRIES:
                raise
            log.info("recording notice %s raced a change of its instance; trying again", notice_id)
    raise AssertionError("unreachable")


def _record_in(ctx: Orchestrator, session: Session, notice_id: int, outcome: Outcome, owner: str) -> Delivered:
    now = clock.now()
    row = session.get(Notice, notice_id, with_for_update=True)
    if row is not None and row.status == CANCELLED and outcome.delivered:
        # cancelled (consent withdrawn) while this attempt was under way: it left all the same, say so
        row.status, row.sent_at = (SINK if outcome.result == SUNK else SENT), now
        row.last_error = f"Sendt før avbrytelsen nådde utsendingen. {row.last_error or ''}".strip()
        _release(row, now)
        _audit(session, row, "notice_sent", now, {"status": row.status, "etter_avbrytelse": True})
        tilgangslogg.record(ctx, WORKER, tilgangslogg.UTSENDING_SENDT, row.business_key, row.instance_id,
                            session=session)
        return Delivered(row.id, row.status, outcome.result, outcome.detail)
    if row is None or row.status != QUEUED:
        # Another worker (after our lease expired) got there first.
        return Delivered(notice_id, row.status if row else "gone", outcome.result, outcome.detail)
    if outcome.delivered:
        # Recorded even if our lease expired meanwhile: what was sent was sent.
        row.status = SINK if outcome.result == SUNK else SENT
        row.sent_at = now
        row.last_error = outcome.detail if outcome.result == DUPLICATE else None
        _release(row, now)
        _audit(session, row, "notice_sent", now, {"status": row.status, "duplikat": outcome.result == DUPLICATE})
        tilgangslogg.record(ctx, WORKER, tilgangslogg.UTSENDING_SENDT, row.business_key, row.instance_id,
                            session=session)
        log.info("notice %s (%s) %s after %d attempt(s)", row.id, row.kind,
                 "written to the sink" if row.status == SINK else "sent", row.attempts)
        return Delivered(row.id, row.status, outcome.result, outcome.detail)
    if row.lease_owner != owner:
        return Delivered(row.id, row.status, outcome.result, outcome.detail, row.next_attempt_at)
    max_attempts = ctx.queues[NAME].max_attempts()
    if outcome.result == RETRY and row.attempts < max_attempts:
        row.last_error = outcome.detail
        _release(row, now)
        row.next_attempt_at = now + jobs.backoff(row.attempts)
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
        jobs.wake(ctx, session, now)
