"""Bearer tokens for API clients: created with an expiry, listed, revoked; only their SHA-256 is kept.

Who may list and revoke: everyone their own tokens; a `manager` (virksomhetsleder) anyone's, so a
leaked token or one of someone who left can be stopped without operator access; the command line
(operators) any. docs/identity.md.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import NoResultFound

from .. import clock
from ..store.models import ApiToken, User
from . import actors
from .access import MANAGER, Actor
from .context import Orchestrator
from .errors import Forbidden, Invalid, NotFound

PREFIX = "orc_"
MAX_DAYS = 3650
TOUCH_EVERY = timedelta(minutes=5)  # `last_used_at` is written at most this often per token


@dataclass(frozen=True)
class TokenView:
    id: int
    username: str
    label: str | None
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime
    revoked_at: datetime | None
    status: str  # gyldig | utløpt | tilbakekalt


def create(ctx: Orchestrator, username: str, label: str | None = None, expires_in_days: int | None = None) -> str:
    """A new token for `username`, valid `expires_in_days` (default: the installation's token_days)."""
    days = ctx.settings.token_days if expires_in_days is None else expires_in_days
    if not 1 <= days <= MAX_DAYS:
        raise Invalid("Ugyldig levetid", {"expires_in_days": [f"Mellom 1 og {MAX_DAYS} dager."]})
    token = PREFIX + secrets.token_urlsafe(32)
    now = clock.now()
    with ctx.write() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"brukeren «{username}» finnes ikke")
        if not user.active:
            raise Invalid(f"Brukeren «{username}» er deaktivert")
        session.add(ApiToken(user_id=user.id, token_hash=_hash(token), label=(label or "").strip()[:200] or None,
                             created_at=now, expires_at=now + timedelta(days=days)))
    return token


# asked on every API request: built once, bound per call
_LOOKUP = (select(ApiToken.id, ApiToken.created_at, ApiToken.expires_at, ApiToken.revoked_at,
                  ApiToken.last_used_at, User.id, User.active, User.access_version)
           .join(User, User.id == ApiToken.user_id).where(ApiToken.token_hash == bindparam("token_hash")))


def actor_for_token(ctx: Orchestrator, token: str) -> Actor | None:
    """The token's user, or None when the token is unknown, expired or revoked or its user is deactivated."""
    try:
        token_id, created, expires, revoked, last_used, user_id, active, version = ctx.db.peek(
            _LOOKUP, {"token_hash": _hash(token)})
    except NoResultFound:
        return None
    now = clock.now()
    if revoked is not None or not active or now >= _expiry(ctx, created, expires):
        return None
    if last_used is None or now - last_used >= TOUCH_EVERY:
        with ctx.write() as session:
            session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
    return actors.for_version(ctx, user_id, version)


def list_tokens(ctx: Orchestrator, actor: Actor, username: str | None = None) -> list[TokenView]:
    """`actor`'s own tokens; everyone's (or `username`'s) for managers and the system."""
    if username is None and not sees_all(actor):
        username = actor.username
    if username != actor.username and not sees_all(actor):
        raise Forbidden("Bare egne API-nøkler kan vises")
    query = select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
    if username is not None:
        query = query.where(User.username == username)
    now = clock.now()
    with ctx.db.read() as session:
        rows = session.execute(query.order_by(User.username, ApiToken.created_at.desc(), ApiToken.id.desc())).all()
        return [_view(ctx, row, name, now) for row, name in rows]


def revoke(ctx: Orchestrator, actor: Actor, token_id: int) -> TokenView:
    """Revoke one token: the next request with it is refused (401) in every process."""
    now = clock.now()
    with ctx.write() as session:
        found = session.execute(select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
                                .where(ApiToken.id == token_id)).one_or_none()
        if found is None or (found[1] != actor.username and not sees_all(actor)):
            raise NotFound("API-nøkkelen finnes ikke")  # another's token: not even its existence is told
        row, name = found
        if row.revoked_at is None:
            row.revoked_at = now
        return _view(ctx, row, name, now)


def revoke_all_of(session, user_id: int, now: datetime) -> None:
    """In the caller's unit of work: every token of the user stops working (deactivation)."""
    session.execute(update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
                    .values(revoked_at=now))


def sees_all(actor: Actor) -> bool:
    """Managers and the system see and revoke everyone's tokens."""
    return actor.system or MANAGER in actor.roles


def _expiry(ctx: Orchestrator, created: datetime, expires: datetime | None) -> datetime:
    # a token a previous release wrote during the upgrade has no expiry: the default from its creation
    return expires if expires is not None else created + timedelta(days=ctx.settings.token_days)


def _view(ctx: Orchestrator, row: ApiToken, username: str, now: datetime) -> TokenView:
    expires = _expiry(ctx, row.created_at, row.expires_at)
    status = "tilbakekalt" if row.revoked_at else ("utløpt" if now >= expires else "gyldig")
    return TokenView(row.id, username, row.label, row.created_at, row.last_used_at, expires, row.revoked_at, status)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
