"""When consent no longer covers a case's notices: what has not left never leaves, and whoever
holds an invite is told the meeting is off (decision 0016, docs/notices.md).

Runs in the unit of work that withdraws (or narrows) the consent. Queued notices become
`cancelled` with the reason; a notice being sent right now cannot be called back, and if it does
reach the mail server the worker records it as sent (delivery._record_in). A recipient who holds
an invite (the last notice that reached them for a meeting was an invite) gets a cancellation
that carries less than the invite did: the group's name, time and place as the calendar had them
— no agenda, no participants, not whom the meeting concerns.
"""
from __future__ import annotations

import email
import logging
from datetime import datetime, timedelta
from typing import Callable

import icalendar
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ... import clock
from ...store.models import AuditEntry, Notice
from .. import jobs
from ..access import Actor
from ..context import Orchestrator
from . import calendar, content, mime, payload
from .constants import CANCEL, CANCELLED, MOETE_AVLYST, QUEUED, REQUEST, SENT, SINK

log = logging.getLogger(__name__)
DELIVERED = (SENT, SINK)


def cancel_case(ctx: Orchestrator, session: Session, business_key: str, reason: str, actor: Actor,
                still_covered: Callable[[str | None], bool] = lambda service: False) -> dict:
    """Cancel the case's queued notices to recipients no longer covered, and queue a cancellation to
    those of them who hold an invite. Returns {"avbrutt": [ids], "avlysninger": [ids]}."""
    now = clock.now()
    queued = session.scalars(select(Notice).where(Notice.business_key == business_key, Notice.status == QUEUED)
                             .order_by(Notice.id).with_for_update()).all()
    cancelled = [row for row in queued if not still_covered(row.recipient_service)]
    for row in cancelled:
        row.status, row.last_error, row.next_attempt_at = CANCELLED, reason, None
        row.lease_owner = row.lease_until = None
        row.updated_at = now
    cancellations = _tell_holders(ctx, session, business_key, still_covered, now)
    by_instance: dict[int | None, list[int]] = {}
    for row in cancelled:
        by_instance.setdefault(row.instance_id, []).append(row.id)
    for instance_id, ids in by_instance.items():
        session.add(AuditEntry(instance_id=instance_id, at=now, actor=actor.username, action="notice_cancelled",
                               data={"utsendinger": ids, "grunn": reason}))
    if cancellations:
        session.add(AuditEntry(instance_id=cancellations[0].instance_id, at=now, actor=actor.username,
                               action="notice_queued", data={"type": MOETE_AVLYST, "mottakere": len(cancellations),
                                                             "utsendinger": [r.id for r in cancellations],
                                                             "grunn": reason}))
        jobs.wake(ctx, session, now)
    log.info("case %s: %d queued notice(s) cancelled, %d cancellation(s) queued", business_key, len(cancelled),
             len(cancellations))
    return {"avbrutt": [row.id for row in cancelled], "avlysninger": [row.id for row in cancellations]}


def _tell_holders(ctx: Orchestrator, session: Session, business_key: str, still_covered, now: datetime) -> list:
    rows = []
    uids = session.scalars(select(Notice.meeting_uid).where(
        Notice.business_key == business_key, Notice.method.is_not(None)).distinct()).all()
    for uid in sorted(uids):
        holders = [row for row in _held_invites(session, uid) if not still_covered(row.recipient_service)]
        if not holders:
            continue
        sequence = (session.scalar(select(func.max(Notice.sequence)).where(Notice.meeting_uid == uid)) or 0) + 1
        for invite in holders:
            rows.append(_cancellation(ctx, invite, sequence, now))
    session.add_all(rows)
    session.flush()
    return rows


def _held_invites(session: Session, uid: str) -> list[Notice]:
    """Per recipient, the last notice of the meeting that reached them, if it was an invite."""
    latest: dict[str, Notice] = {}
    # an erased notice (retention) has no address left: its meeting is long past
    for row in session.scalars(select(Notice).where(Notice.meeting_uid == uid, Notice.status.in_(DELIVERED),
                                                    Notice.erased_at.is_(None))
                               .order_by(Notice.sequence, Notice.id)):
        latest[row.recipient.casefold()] = row
    return [row for row in latest.values() if row.method == REQUEST]


def _cancellation(ctx: Orchestrator, invite: Notice, sequence: int, now: datetime) -> Notice:
    group, start, end = _as_invited(invite)
    person = payload.Person(navn=invite.recipient_name or invite.recipient, adresse=invite.recipient)
    meeting = payload.Meeting(kind=MOETE_AVLYST, moete_id=invite.meeting_id, gjelder="", tidspunkt=start,
                              varighet_minutter=max(5, int((end - start).total_seconds() // 60)),
                              sted=invite.meeting_place or "", gruppe=group, saksliste=(), deltakere=(person,),
                              leder=None)
    sender_name, sender_address = mime.sender_address(ctx.settings.mail_from)
    sender_name = sender_name or "Koordinerende enhet"
    domain = mime.mail_domain(ctx.settings.mail_from, ctx.settings.public_url)
    organizer = payload.Person(navn=sender_name, adresse=sender_address)
    rendered = content.meeting_notice(meeting, person, sender_name)
    ical = calendar.invite(meeting, uid=invite.meeting_uid, sequence=sequence, method=CANCEL, organizer=organizer,
                           sent_by=sender_address, attendees=[person], stamp=now)
    message_id = mime.new_message_id(domain)
    message = mime.compose(mail_from=ctx.settings.mail_from, recipient=person, subject=rendered.subject,
                           text=rendered.text, html=rendered.html, message_id=message_id, date=now,
                           calendar=ical, method=CANCEL)
    return Notice(
        instance_id=invite.instance_id, business_key=invite.business_key, kind=MOETE_AVLYST,
        meeting_id=invite.meeting_id, meeting_uid=invite.meeting_uid, meeting_at=invite.meeting_at,
        meeting_place=invite.meeting_place, sequence=sequence, method=CANCEL, recipient=invite.recipient,
        recipient_name=invite.recipient_name, recipient_service=invite.recipient_service, subject=rendered.subject,
        message=message, message_id=message_id, status=QUEUED, attempts=0, next_attempt_at=now, created_at=now,
        updated_at=now,
    )


def _as_invited(invite: Notice) -> tuple[str, datetime, datetime]:
    """(group, start, end) as the invite's calendar said them, so the cancellation matches it."""
    group, start = "ansvarsgruppen", invite.meeting_at
    end = start + timedelta(minutes=payload.DEFAULT_DURATION_MINUTES)
    for part in email.message_from_string(invite.message).walk():
        if part.get_content_type() != "text/calendar":
            continue
        for event in icalendar.Calendar.from_ical(part.get_payload(decode=True)).walk("VEVENT"):
            summary = str(event.get("summary") or "")
            group = summary.removeprefix("Møte i ").strip() or group
            start = event.decoded("dtstart") if event.get("dtstart") else start
            end = event.decoded("dtend") if event.get("dtend") else end
    return group, start, end
