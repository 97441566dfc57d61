"""Signed-in browsers, kept in the database so that ending one holds in every web process at once.

The browser holds a random session id (in Flask's signed cookie); the table holds its SHA-256.
A session ends at logout, when its user is deactivated, after `session_idle_minutes` without a
request, and `session_hours` after sign-in whatever happens (ASVS 3.3). docs/identity.md.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.exc import NoResultFound

from .. import clock
from ..store.models import User, UserSession
from . import actors
from .access import Actor
from .context import Orchestrator
from .errors import NotFound

TOUCH_EVERY = timedelta(minutes=1)  # `last_seen_at` is written at most this often: the idle clock's precision


def start(ctx: Orchestrator, username: str, method: str) -> str:
    """A new session for the (already authenticated) user; returns the id for the cookie."""
    session_id = secrets.token_urlsafe(32)
    now = clock.now()
    with ctx.write() as session:
        user_id = session.scalar(select(User.id).where(User.username == username, User.active.is_(True)))
        if user_id is None:
            raise NotFound(f"brukeren «{username}» finnes ikke eller er deaktivert")
        session.execute(delete(UserSession).where(UserSession.expires_at < now))  # forget ended sessions
        session.add(UserSession(token_hash=_hash(session_id), user_id=user_id, method=method, created_at=now,
                                last_seen_at=now, expires_at=now + timedelta(hours=ctx.settings.session_hours)))
    return session_id


# asked on every page request: built once, bound per call
_LOOKUP = (select(UserSession.id, UserSession.last_seen_at, UserSession.expires_at, UserSession.revoked_at,
                  User.id, User.active, User.access_version)
           .join(User, User.id == UserSession.user_id).where(UserSession.token_hash == bindparam("token_hash")))


def actor_for_session(ctx: Orchestrator, session_id: str) -> Actor | None:
    """The session's user, or None when it has ended (logout, deactivation, idle or absolute timeout)."""
    try:
        row_id, last_seen, expires, revoked, user_id, active, version = ctx.db.peek(
            _LOOKUP, {"token_hash": _hash(session_id)})
    except NoResultFound:
        return None
    now = clock.now()
    idle = timedelta(minutes=ctx.settings.session_idle_minutes)
    if revoked is not None or not active or now >= expires or now - last_seen >= idle:
        return None
    if now - last_seen >= TOUCH_EVERY:
        with ctx.write() as session:
            session.execute(update(UserSession).where(UserSession.id == row_id).values(last_seen_at=now))
    return actors.for_version(ctx, user_id, version)


def end(ctx: Orchestrator, session_id: str) -> None:
    """Logout: the session id is refused from now on, whoever presents it."""
    with ctx.write() as session:
        session.execute(update(UserSession).where(UserSession.token_hash == _hash(session_id),
                                                  UserSession.revoked_at.is_(None)).values(revoked_at=clock.now()))


def end_all_of(session, user_id: int, now: datetime) -> None:
    """In the caller's unit of work: every session of the user ends (deactivation)."""
    session.execute(update(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
                    .values(revoked_at=now))


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()
