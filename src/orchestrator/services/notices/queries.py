"""Reading the outbox: the "Utsendinger" page.

Everything here reads the `notices` table only (never an instance). The content shown is the
stored message itself, taken apart again, so the page shows exactly what was (or will be) sent.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_string
from email.policy import default as default_policy

from sqlalchemy import func, select

from ... import clock
from ...store.models import Instance, Notice
from .. import tilgangslogg
from ..access import MANAGER, Actor, require_any
from ..context import Orchestrator
from ..paging import Page as InstancePage
from ..errors import Invalid, NotFound
from .constants import FAILED, KIND_LABELS, KINDS, QUEUED, STATUS_LABELS, STATUSES

READERS = (MANAGER, "koordinerende_enhet")


@dataclass
class NoticeSummary:
    id: int
    instance_id: int | None
    business_key: str | None
    process_key: str | None
    kind: str
    kind_label: str
    meeting_id: str
    meeting_uid: str
    meeting_at: datetime | None
    meeting_place: str | None
    sequence: int | None
    method: str | None  # REQUEST | CANCEL | None
    recipient: str
    recipient_name: str | None
    subject: str
    status: str
    status_label: str
    attempts: int
    max_attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    message_id: str
    sending_now: bool  # leased to a worker that is attempting it
    erased_at: datetime | None = None  # body, subject, addresses and place erased after the retention period
    recipient_service: str | None = None  # the service the recipient represents (kept after erasure)


@dataclass
class NoticeContent:
    headers: dict[str, str]
    text: str
    html: str | None
    calendar: str | None  # the iCalendar text, when the notice carries an invite
    raw: str


@dataclass
class NoticeDetail(NoticeSummary):
    content: NoticeContent | None = None


@dataclass
class Page(InstancePage):
    counts: dict[str, int] = field(default_factory=dict)  # per status, over the same filters but status


def _summary(row: Notice, process_key: str | None, max_attempts: int, now: datetime) -> NoticeSummary:
    return NoticeSummary(
        id=row.id, instance_id=row.instance_id, business_key=row.business_key, process_key=process_key,
        kind=row.kind, kind_label=KIND_LABELS.get(row.kind, row.kind), meeting_id=row.meeting_id,
        meeting_uid=row.meeting_uid, meeting_at=row.meeting_at, meeting_place=row.meeting_place,
        sequence=row.sequence, method=row.method, recipient=row.recipient, recipient_name=row.recipient_name,
        subject=row.subject, status=row.status, status_label=STATUS_LABELS.get(row.status, row.status),
        attempts=row.attempts, max_attempts=max_attempts, next_attempt_at=row.next_attempt_at,
        last_error=row.last_error, created_at=row.created_at, updated_at=row.updated_at, sent_at=row.sent_at,
        message_id=row.message_id,
        sending_now=row.status == QUEUED and row.lease_until is not None and row.lease_until > now,
        erased_at=row.erased_at, recipient_service=row.recipient_service,
    )


def list_notices(ctx: Orchestrator, actor: Actor, status: str | None = None, business_key: str | None = None,
                 kind: str | None = None, instance_id: int | None = None, page: int = 1,
                 per_page: int = 50) -> Page:
    """Notices, newest first, filtered by status, business key, kind and/or instance; paginated."""
    require_any(actor, READERS, "Utsendinger")
    if status and status not in STATUSES:
        raise Invalid("Ukjent status", {"status": [f"Velg en av {', '.join(STATUSES)}."]})
    if kind and kind not in KINDS:
        raise Invalid("Ukjent type utsending", {"kind": [f"Velg en av {', '.join(KINDS)}."]})
    page, per_page = max(1, page), min(max(1, per_page), 200)
    filters = []
    if business_key:
        filters.append(Notice.business_key == business_key)
    if kind:
        filters.append(Notice.kind == kind)
    if instance_id is not None:
        filters.append(Notice.instance_id == instance_id)
    with_status = filters + ([Notice.status == status] if status else [])
    now = clock.now()
    with ctx.db.read() as session:
        total = session.scalar(select(func.count(Notice.id)).where(*with_status)) or 0
        counts = dict(session.execute(select(Notice.status, func.count(Notice.id)).where(*filters)
                                      .group_by(Notice.status)).all())
        rows = session.execute(
            select(Notice, Instance.process_key).outerjoin(Instance, Instance.id == Notice.instance_id)
            .where(*with_status).order_by(Notice.id.desc()).offset((page - 1) * per_page).limit(per_page)
        ).all()
    max_attempts = ctx.settings.notice_max_attempts
    return Page([_summary(row, key, max_attempts, now) for row, key in rows], total, page, per_page,
                {s: counts.get(s, 0) for s in STATUSES})


def get_notice(ctx: Orchestrator, actor: Actor, notice_id: int) -> NoticeDetail:
    """One notice with its content (text, HTML, invite) as stored."""
    require_any(actor, READERS, "Utsendinger")
    with ctx.db.read() as session:
        found = session.execute(
            select(Notice, Instance.process_key).outerjoin(Instance, Instance.id == Notice.instance_id)
            .where(Notice.id == notice_id)
        ).first()
    if found is None:
        raise NotFound(f"utsending {notice_id} finnes ikke")
    row, key = found
    summary = _summary(row, key, ctx.settings.notice_max_attempts, clock.now())
    tilgangslogg.record(ctx, actor, tilgangslogg.UTSENDING, row.business_key, row.instance_id)
    return NoticeDetail(**vars(summary), content=content_of(row.message))


def content_of(raw: str) -> NoticeContent:
    message = message_from_string(raw, policy=default_policy)
    headers = {name: str(message[name]) for name in ("From", "To", "Reply-To", "Subject", "Date", "Message-ID")
               if message[name] is not None}
    text = html = calendar = None
    for part in message.walk():
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        if content_type == "text/plain" and text is None:
            text = part.get_content()
        elif content_type == "text/html" and html is None:
            html = part.get_content()
        elif content_type == "text/calendar" and calendar is None:
            value = part.get_content()
            calendar = value.decode("utf-8") if isinstance(value, bytes) else value
    return NoticeContent(headers=headers, text=text or "", html=html, calendar=calendar, raw=raw)
