"""The read-access log (tilgangslogg, decision 0023): every read of a case's personal data, one row.

Who (the user, an API token's user, or the system's part marked as the system), when (the one
clock), which case (business key) and instance, what view, and from where (channel, IP address,
user agent cut short). The service functions that hand a case's personal data to an entry point
call `record`, so every entry point — page, API, command line, export, the worker — is covered;
templates never do.

Where a read came from is set once per request by the entry point (`requested_from`): the web
layer for every request, the command line for its commands. The service layer reads it here and
knows nothing of HTTP.

The log cannot be altered by the application: this module only inserts, and the database refuses
UPDATE and DELETE of its rows (triggers, migration 0013) — except `delete_expired`, the one way
retention removes rows older than a cutoff: it writes the cutoff into `access_log_purge`, deletes,
and removes the cutoff again, all in the caller's transaction.
"""
from __future__ import annotations

import contextlib
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Iterator

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from .. import clock
from ..store.models import AccessLogEntry, AccessLogPurge, User
from .access import MANAGER, Actor, require
from .context import Orchestrator
from .errors import Invalid
from .paging import Page

# what was read (the view), in the words the log page shows
SAK, OPPGAVE, SAMTYKKE, UTSENDING, UTSENDING_SENDT, INNSYN = (
    "sak", "oppgave", "samtykke", "utsending", "utsending_sendt", "innsyn")
VIEWS = {
    SAK: "Saken (data, oppgaver, historikk)",
    OPPGAVE: "Oppgave med skjema og saksopplysninger",
    SAMTYKKE: "Samtykket",
    UTSENDING: "Innholdet i en utsending",
    UTSENDING_SENDT: "Utsending sendt (lest for å sendes)",
    INNSYN: "Innsynsuttrekk (alt om personen)",
}
# through what
SIDE, API, KOMMANDOLINJE, SYSTEM, UKJENT = "side", "api", "kommandolinje", "system", "ukjent"
CHANNELS = {SIDE: "Nettside", API: "API", KOMMANDOLINJE: "Kommandolinje", SYSTEM: "Systemet",
            UKJENT: "Ukjent (internt kall)"}
READERS = (MANAGER,)  # leder med innsyn; a data protection officer is given this role (decision 0023)
ADDRESS_LENGTH, AGENT_LENGTH = 64, 120


@dataclass(frozen=True)
class Origin:
    channel: str
    address: str | None = None
    agent: str | None = None


_origin: ContextVar[Origin | None] = ContextVar("orchestrator_access_origin", default=None)


@contextlib.contextmanager
def requested_from(channel: str, address: str | None = None, agent: str | None = None) -> Iterator[Origin]:
    """Within the block, reads are recorded as coming through `channel` from `address` with `agent`."""
    token = begin(channel, address, agent)
    try:
        yield _origin.get()
    finally:
        _origin.reset(token)


def begin(channel: str, address: str | None = None, agent: str | None = None):
    """Set where this context's reads come from (the web layer's before-request); returns the reset token."""
    return _origin.set(Origin(channel, _short(address, ADDRESS_LENGTH), _short(agent, AGENT_LENGTH)))


def end(token) -> None:
    _origin.reset(token)


@dataclass
class Entry:
    id: int
    at: datetime
    username: str
    display_name: str | None
    system: bool
    business_key: str | None
    instance_id: int | None
    view: str
    view_label: str
    channel: str
    channel_label: str
    address: str | None
    agent: str | None


# --- writing: the one function ---------------------------------------------------------------------
def record(ctx: Orchestrator, actor: Actor, view: str, business_key: str | None, instance_id: int | None = None,
           *, session: Session | None = None) -> None:
    """Log one read of a case's personal data by `actor`: in `session` when the read is part of a unit of
    work (the worker), else in a short unit of its own. A read that cannot be logged fails."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}")
    origin = _origin.get()
    channel = origin.channel if origin else (SYSTEM if actor.system else UKJENT)
    row = {"at": clock.now(), "username": actor.username[:100], "system": actor.system,
           "business_key": business_key, "instance_id": instance_id, "view": view, "channel": channel,
           "address": origin.address if origin else None, "agent": origin.agent if origin else None}
    if session is not None:
        session.execute(insert(AccessLogEntry).values(**row))
        return
    with ctx.write("tilgangslogg.record") as own:
        own.execute(insert(AccessLogEntry).values(**row))


# The log's tables, for retention's list of every table (services/retention.py names no other module's tables).
TABLES = (AccessLogEntry.__tablename__, AccessLogPurge.__tablename__)


def expired(session: Session, cutoff: datetime) -> list[tuple[int, str | None]]:
    """(id, business key) of the rows older than `cutoff`, oldest first: what retention may delete."""
    return [tuple(row) for row in session.execute(
        select(AccessLogEntry.id, AccessLogEntry.business_key).where(AccessLogEntry.at < cutoff)
        .order_by(AccessLogEntry.id))]


def delete_expired(session: Session, cutoff: datetime, ids: Iterable[int] | None = None) -> int:
    """Retention's one way to delete log rows: those older than `cutoff` (optionally only `ids`).

    The cutoff is written into access_log_purge for the triggers to see, and removed again, in the
    caller's transaction: no other transaction ever sees it.
    """
    permit = session.execute(insert(AccessLogPurge).values(cutoff=cutoff).returning(AccessLogPurge.id)).scalar_one()
    try:
        query = delete(AccessLogEntry).where(AccessLogEntry.at < cutoff)
        if ids is not None:
            query = query.where(AccessLogEntry.id.in_(list(ids)))
        return session.execute(query.execution_options(synchronize_session=False)).rowcount
    finally:
        session.execute(delete(AccessLogPurge).where(AccessLogPurge.id == permit))


# --- reading: for managers ------------------------------------------------------------------------
def search(ctx: Orchestrator, actor: Actor, username: str | None = None, business_key: str | None = None,
           since: datetime | None = None, until: datetime | None = None, page: int = 1,
           per_page: int = 50) -> Page:
    """Log entries, newest first, filtered by user, case and time (since inclusive, until exclusive)."""
    require(actor, MANAGER, "Å se tilgangsloggen")
    if since and until and until <= since:
        raise Invalid("Ugyldig tidsrom", {"til": ["«Til» må være etter «fra»."]})
    page, per_page = max(1, page), min(max(1, per_page), 200)
    filters = []
    if username:
        filters.append(AccessLogEntry.username == username)
    if business_key:
        filters.append(AccessLogEntry.business_key == business_key)
    if since:
        filters.append(AccessLogEntry.at >= since)
    if until:
        filters.append(AccessLogEntry.at < until)
    with ctx.db.read() as session:
        total = session.scalar(select(func.count(AccessLogEntry.id)).where(*filters)) or 0
        rows = session.execute(
            select(AccessLogEntry, User.display_name).outerjoin(User, User.username == AccessLogEntry.username)
            .where(*filters).order_by(AccessLogEntry.id.desc()).offset((page - 1) * per_page).limit(per_page)).all()
    return Page([_entry(row, name) for row, name in rows], total, page, per_page)


def for_case(session: Session, business_key: str) -> list[Entry]:
    """Every read of one case, oldest first (the innsyn export; its caller has checked who asks)."""
    rows = session.execute(
        select(AccessLogEntry, User.display_name).outerjoin(User, User.username == AccessLogEntry.username)
        .where(AccessLogEntry.business_key == business_key).order_by(AccessLogEntry.id)).all()
    return [_entry(row, name) for row, name in rows]


def may_read(actor: Actor) -> bool:
    return actor.has(MANAGER)


def _entry(row: AccessLogEntry, display_name: str | None) -> Entry:
    return Entry(row.id, row.at, row.username, display_name, row.system, row.business_key, row.instance_id,
                 row.view, VIEWS.get(row.view, row.view), row.channel, CHANNELS.get(row.channel, row.channel),
                 row.address, row.agent)


def _short(value: str | None, length: int) -> str | None:
    return value[:length] if value else None
