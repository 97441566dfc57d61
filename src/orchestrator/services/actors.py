"""Who a user is as an `Actor` (roles and services), remembered per process by access version.

Every change of a user's roles, services or active flag bumps `users.access_version` in the same
transaction (`changed`). A session or token lookup reads the user's current version with the
session row (one indexed query per request), and the Actor is remembered under
(user id, version): a change is seen by the next request in every process, and an unchanged user
costs no further query.
"""
from __future__ import annotations

from sqlalchemy import select

from ..store.models import User
from .access import Actor
from .context import Orchestrator


def of(user: User) -> Actor:
    return Actor(user.username, frozenset(user.role_names), services=frozenset(user.service_keys))


def for_version(ctx: Orchestrator, user_id: int, version: int) -> Actor | None:
    return ctx.actors.get(("actor", user_id, version), lambda: _load(ctx, user_id))


def changed(user: User) -> None:
    """Call in the unit of work that changes who `user` is: cached Actors of theirs are stale from its commit."""
    user.access_version = (user.access_version or 0) + 1


def _load(ctx: Orchestrator, user_id: int) -> Actor | None:
    with ctx.db.read() as session:
        user = session.scalar(select(User).where(User.id == user_id))
        return of(user) if user is not None and user.active else None
