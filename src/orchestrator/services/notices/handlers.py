"""Queueing notices in the workflow step's own transaction (the transactional outbox).

The commit path (services/runtime.commit) hands every message an instance throws under one of the
names in `constants.KINDS` to a handler here (`handler(step, payload)`, wired in services/bootstrap.py),
inside the unit of work that saves the step. We validate, render and add one `Notice` row per recipient to that same
session; nothing leaves the building here. So the step and its notices commit together or not at
all: no notice for a step that rolled back, no step done without its notice.

One row per recipient, not one per notice: each recipient has their own delivery fate (one
address refused, the others accepted), their own Message-ID to recognise duplicates by, their own
retry and escalation ("the innkalling to X failed"), and, for a changed meeting, their own
variant (a participant taken off the list gets a cancellation, the others an update).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ... import clock
from ...clock import OSLO
from ...store.models import Notice
from .. import jobs, runtime, samtykkeregister, tjenester
from ..context import Orchestrator
from ..errors import StepFailed
from . import calendar, content, mime, payload
from .constants import CANCEL, INNKALLING, INNKALLING_ENDRET, KIND_LABELS, MOETE_AVLYST, QUEUED, REFERAT, REQUEST

# What the consent must cover for an ansvarsgruppe's notices to leave (decision 0016).
PURPOSE = "ansvarsgruppe"

log = logging.getLogger(__name__)


@dataclass
class History:
    """What the outbox already holds for one meeting (by UID)."""

    max_sequence: int | None
    holders: list[payload.Person]  # who got the latest version as an invite (they hold the event)
    previous: content.Previous | None


def innkalling(step: runtime.Step, data: dict) -> None:
    queue_meeting(step.ctx, step.session, step, INNKALLING, data)


def innkalling_endret(step: runtime.Step, data: dict) -> None:
    queue_meeting(step.ctx, step.session, step, INNKALLING_ENDRET, data)


def moete_avlyst(step: runtime.Step, data: dict) -> None:
    queue_meeting(step.ctx, step.session, step, MOETE_AVLYST, data)


def referat(step: runtime.Step, data: dict) -> None:
    queue_minutes(step.ctx, step.session, step, data)


def _sender(ctx: Orchestrator) -> tuple[str, str, str]:
    """(display name, address, domain) of the configured sender."""
    settings = ctx.settings
    try:
        name, address = mime.sender_address(settings.mail_from)
    except ValueError as error:
        raise StepFailed(f"Utsendingen kan ikke lages: {error}") from None
    return name or "Koordinerende enhet", address, mime.mail_domain(settings.mail_from, settings.public_url)


def history(session: Session, uid: str) -> History:
    max_sequence = session.scalar(select(func.max(Notice.sequence)).where(Notice.meeting_uid == uid))
    if max_sequence is None:
        return History(None, [], None)
    latest = session.scalars(
        select(Notice).where(Notice.meeting_uid == uid, Notice.sequence == max_sequence).order_by(Notice.id)
    ).all()
    invited = [row for row in latest if row.method == REQUEST and row.erased_at is None]  # erased: no address
    holders = [payload.Person(navn=row.recipient_name or row.recipient, adresse=row.recipient) for row in invited]
    previous = content.Previous(invited[0].meeting_at, invited[0].meeting_place) if invited else None
    return History(max_sequence, holders, previous)


def queue_meeting(ctx: Orchestrator, session: Session, step: runtime.Step, kind: str, data: dict) -> list[Notice]:
    """An innkalling, a changed innkalling or a cancellation: one row per recipient."""
    meeting = payload.meeting(kind, data)
    if kind != MOETE_AVLYST:  # a cancellation tells no more than the invite its recipients hold
        _within_consent(ctx, session, step, kind, meeting.deltakere)
    sender_name, sender_address, domain = _sender(ctx)
    uid = calendar.meeting_uid(meeting.moete_id, step.row.id, domain)
    now = clock.now()
    past = history(session, uid)
    sequence = 0 if past.max_sequence is None else past.max_sequence + 1
    organizer = meeting.leder or payload.Person(navn=sender_name, adresse=sender_address)
    participants = {person.key for person in meeting.deltakere}

    targets: list[tuple[payload.Person, str, bool]] = []  # (recipient, method, taken off the list)
    if kind == MOETE_AVLYST:
        everyone = {person.key: person for person in (*meeting.deltakere, *past.holders)}
        targets = [(person, CANCEL, False) for person in everyone.values()]
        cancelled_attendees = list(everyone.values())
    else:
        targets = [(person, REQUEST, False) for person in meeting.deltakere]
        targets += [(person, CANCEL, True) for person in past.holders if person.key not in participants]
        cancelled_attendees = []

    rows = []
    for person, method, removed in targets:
        rendered = content.meeting_notice(meeting, person, sender_name, removed=removed,
                                          previous=past.previous if kind == INNKALLING_ENDRET else None)
        if method == REQUEST:
            attendees = list(meeting.deltakere)
        else:
            attendees = [person] if removed else cancelled_attendees
        invite = calendar.invite(meeting, uid=uid, sequence=sequence, method=method, organizer=organizer,
                                 sent_by=sender_address, attendees=attendees, stamp=now)
        rows.append(_row(ctx, step, kind, meeting.moete_id, uid, meeting.tidspunkt, meeting.sted, person,
                         rendered, domain, now, reply_to=meeting.leder, invite=invite, method=method,
                         sequence=sequence))
    # How long before the meeting it goes out (the routine asks for at least 14 days), in calendar days in
    # Norway: a worker a second past D-14 at 09:00 still sends it 14 days before a meeting at 09:00.
    _queue(ctx, session, step, kind, meeting.moete_id, rows, now,
           {"dager_foer_moetet": days_before(meeting.tidspunkt, now)})
    return rows


def days_before(meeting: datetime, now: datetime) -> int:
    """Calendar days from `now` to the meeting, counted on Norwegian dates."""
    return (meeting.astimezone(OSLO).date() - now.astimezone(OSLO).date()).days


def queue_minutes(ctx: Orchestrator, session: Session, step: runtime.Step, data: dict) -> list[Notice]:
    """A referat: one row per recipient, no calendar invite."""
    minutes = payload.minutes(data)
    _within_consent(ctx, session, step, REFERAT, minutes.mottakere)
    sender_name, _, domain = _sender(ctx)
    uid = calendar.meeting_uid(minutes.moete_id, step.row.id, domain)
    now = clock.now()
    rows = []
    for person in minutes.mottakere:
        rendered = content.minutes_notice(minutes, person, sender_name)
        rows.append(_row(ctx, step, REFERAT, minutes.moete_id, uid, minutes.tidspunkt, minutes.sted, person,
                         rendered, domain, now))
    _queue(ctx, session, step, REFERAT, minutes.moete_id, rows, now)
    return rows


def _within_consent(ctx: Orchestrator, session: Session, step: runtime.Step, kind: str, people) -> None:
    """Nothing leaves for a recipient whose service the case's consent does not cover (forskrift § 17)."""
    catalogue = tjenester.catalogue(ctx.settings)
    samtykkeregister.check_recipients(session, step.row.business_key, PURPOSE, f"{KIND_LABELS[kind]} kan ikke sendes",
                                      people, catalogue.name)


def _row(ctx: Orchestrator, step: runtime.Step, kind: str, moete_id: str, uid: str, meeting_at: datetime,
         place: str, person: payload.Person, rendered: content.Rendered, domain: str, now: datetime,
         reply_to: payload.Person | None = None, invite: bytes | None = None, method: str | None = None,
         sequence: int | None = None) -> Notice:
    message_id = mime.new_message_id(domain)
    message = mime.compose(mail_from=ctx.settings.mail_from, recipient=person, subject=rendered.subject,
                           text=rendered.text, html=rendered.html, message_id=message_id, date=now,
                           reply_to=reply_to, calendar=invite, method=method)
    return Notice(
        instance_id=step.row.id, business_key=step.row.business_key, kind=kind, meeting_id=moete_id,
        meeting_uid=uid, meeting_at=meeting_at, meeting_place=place, sequence=sequence, method=method,
        recipient=person.adresse, recipient_name=person.navn, recipient_service=person.tjeneste,
        subject=rendered.subject, message=message,
        message_id=message_id, status=QUEUED, attempts=0, next_attempt_at=now, created_at=now, updated_at=now,
    )


def _queue(ctx: Orchestrator, session: Session, step: runtime.Step, kind: str, moete_id: str,
           rows: list[Notice], now: datetime, extra: dict | None = None) -> None:
    session.add_all(rows)
    session.flush()
    step.audit("notice_queued", data={"type": kind, "mottakere": len(rows), "moete_id": moete_id,
                                      "utsendinger": [row.id for row in rows], **(extra or {})})
    # Wake the worker once this transaction commits (this process, and others through NOTIFY).
    jobs.wake(ctx, session, now)
    log.info("queued %s for meeting %s to %d recipient(s) (instance %s)", kind, moete_id, len(rows), step.row.id)

