"""A brake on password guessing that holds across processes and cannot be used to lock a user out.

Failures are counted in the database (so every web process sees them) under three keys, each
with a number of free tries per hour and then a growing wait (30 s, doubling, at most 15 min):

- (user name, address): 5 free tries. Guessing one account from one address is slowed at once.
- address: 50 free tries across user names (one guesser trying many accounts).
- user name: 100 free tries across addresses (ASVS 2.2.1: no more than 100 failures an hour on
  one account), but NOT for an address the user has signed in from in the last 90 days: the
  real user at their own address is never held back by someone guessing elsewhere.

A success forgets that pair's failures and remembers the address as known for that user.
Failures are forgotten after an hour, known addresses after 90 days; keys are HMACs of the user
name and address under the installation's secret, so the table holds neither in clear.
docs/identity.md; tested in tests/test_login_throttle.py.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, func, select

from .. import clock
from ..store.models import LoginAttempt
from .context import Orchestrator

WINDOW = timedelta(hours=1)
KNOWN_FOR = timedelta(days=90)
FIRST_WAIT = timedelta(seconds=30)
LONGEST_WAIT = timedelta(minutes=15)


@dataclass(frozen=True)
class Limit:
    name: str
    free: int


PAIR, ADDRESS, USER = Limit("pair", 5), Limit("address", 50), Limit("user", 100)


def wait(ctx: Orchestrator, username: str, address: str | None) -> timedelta:
    """How long this (user name, address) must wait before the next try; zero: it may try now."""
    now = clock.now()
    keys = _keys(ctx, username, address)
    with ctx.db.read() as session:
        limits = [PAIR] if _known(session, keys, now) else [PAIR, ADDRESS, USER]
        longest = timedelta(0)
        for limit in limits:
            count, last = session.execute(
                select(func.count(LoginAttempt.id), func.max(LoginAttempt.at))
                .where(LoginAttempt.key == keys[limit.name], LoginAttempt.kind == "failure",
                       LoginAttempt.at > now - WINDOW)).one()
            if count >= limit.free and last is not None:
                delay = min(FIRST_WAIT * 2 ** (count - limit.free), LONGEST_WAIT)
                longest = max(longest, _aware(last) + delay - now)
    return longest


def failed(ctx: Orchestrator, username: str, address: str | None) -> None:
    now = clock.now()
    keys = _keys(ctx, username, address)
    with ctx.write() as session:
        session.execute(delete(LoginAttempt).where(LoginAttempt.expires_at < now))  # forget what is old
        for limit in (PAIR, ADDRESS, USER):
            session.add(LoginAttempt(key=keys[limit.name], kind="failure", at=now, expires_at=now + WINDOW))


def succeeded(ctx: Orchestrator, username: str, address: str | None) -> None:
    now = clock.now()
    keys = _keys(ctx, username, address)
    with ctx.write() as session:
        session.execute(delete(LoginAttempt).where(LoginAttempt.key.in_([keys["pair"], keys["known"]])))
        session.add(LoginAttempt(key=keys["known"], kind="known", at=now, expires_at=now + KNOWN_FOR))


def _known(session, keys: dict[str, str], now: datetime) -> bool:
    return session.scalar(select(LoginAttempt.id).where(LoginAttempt.key == keys["known"], LoginAttempt.kind == "known",
                                                        LoginAttempt.expires_at > now).limit(1)) is not None


def _keys(ctx: Orchestrator, username: str, address: str | None) -> dict[str, str]:
    name, where = (username or "").strip().lower(), address or "-"
    secret = ctx.settings.secret_key.encode()

    def key(*parts: str) -> str:
        return hmac.new(secret, "\0".join(parts).encode(), hashlib.sha256).hexdigest()

    return {"pair": key("pair", name, where), "address": key("address", where), "user": key("user", name),
            "known": key("known", name, where)}


def _aware(value: datetime) -> datetime:
    # max() keeps the column's type, so this is only a guard against a driver handing back text
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
