"""Users: roles, services (tjenester), argon2 password hashes, deactivation.

Sessions are in services/sessions.py, API tokens in services/tokens.py, sign-in through an
OpenID Connect provider in services/identity.py.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from .. import clock
from ..store.models import User, UserRole, UserService
from . import actors, sessions, tjenester, tokens
from .access import ALL_ROLES, Actor
from .context import Orchestrator
from .errors import Conflict, Invalid, NotFound

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("ingen-bruker")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,99}$")  # @: a provider's user names are often e-mail addresses
MIN_PASSWORD = 10


@dataclass(frozen=True)
class UserView:
    username: str
    display_name: str | None
    email: str | None
    roles: list[str]
    active: bool
    services: list[str] = field(default_factory=list)
    signs_in_with: str = "passord"  # passord | oidc


def add(ctx: Orchestrator, username: str, roles: list[str], password: str | None,
        display_name: str | None = None, email: str | None = None, services=()) -> UserView:
    username = (username or "").strip().lower()
    if not USERNAME.match(username):
        raise Invalid("Ugyldig brukernavn", {"username": ["2–100 tegn: små bokstaver, tall, . _ - @"]})
    roles = check_roles(roles)
    services = tjenester.catalogue(ctx.settings).check(services)
    if password is not None and len(password) < MIN_PASSWORD:
        raise Invalid("For kort passord", {"password": [f"Minst {MIN_PASSWORD} tegn."]})
    with ctx.write() as session:
        if session.scalar(select(User).where(User.username == username)) is not None:
            raise Conflict(f"Brukeren «{username}» finnes allerede")
        user = User(username=username, display_name=display_name, email=email, active=True,
                    password_hash=_hasher.hash(password) if password else None, created_at=clock.now(),
                    access_version=1, roles=[UserRole(role=r) for r in roles],
                    services=[UserService(service=k) for k in services])
        session.add(user)
        session.flush()
        return _view(user)


def update(ctx: Orchestrator, username: str, roles=None, services=None) -> UserView:
    """Replace a user's roles and/or services (None: leave as is); in force from the next request."""
    roles = check_roles(roles) if roles is not None else None
    services = tjenester.catalogue(ctx.settings).check(services) if services is not None else None
    with ctx.write() as session:
        user = _user(session, username)
        replace_access(user, roles, services)
        return _view(user)


def replace_access(user: User, roles: list[str] | None, services: list[str] | None) -> bool:
    """In the caller's unit of work: new roles/services for `user`; whether anything changed."""
    changed = False
    if roles is not None and set(roles) != user.role_names:
        user.roles = [r for r in user.roles if r.role in roles] + [UserRole(role=r) for r in roles
                                                                   if r not in user.role_names]
        changed = True
    if services is not None and set(services) != user.service_keys:
        user.services = [s for s in user.services if s.service in services] + [
            UserService(service=k) for k in services if k not in user.service_keys]
        changed = True
    if changed:
        actors.changed(user)
    return changed


def set_active(ctx: Orchestrator, username: str, active: bool) -> UserView:
    """Deactivate (or activate again). Deactivation ends every session and revokes every API token
    at once, in every process; activating again gives no old session or token back."""
    now = clock.now()
    with ctx.write() as session:
        user = _user(session, username)
        if user.active != active:
            user.active = active
            actors.changed(user)
        if not active:
            sessions.end_all_of(session, user.id, now)
            tokens.revoke_all_of(session, user.id, now)
        return _view(user)


def check_roles(roles) -> list[str]:
    unknown = sorted(set(roles or ()) - set(ALL_ROLES))
    if unknown or not roles:
        raise Invalid("Ukjente roller", {"roles": [f"Bruk en eller flere av {', '.join(ALL_ROLES)}."]})
    return sorted(set(roles))


def authenticate(ctx: Orchestrator, username: str, password: str) -> Actor | None:
    with ctx.write() as session:
        user = session.scalar(select(User).where(User.username == (username or "").strip().lower()))
        if user is None or not user.active or not user.password_hash:
            _verify(_DUMMY_HASH, password or "")  # same work whether or not the user exists
            return None
        if not _verify(user.password_hash, password or ""):
            return None
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        return actors.of(user)


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def actor_for(ctx: Orchestrator, username: str) -> Actor:
    """The active user `username` as an Actor, read now (the command line's --as, tests)."""
    with ctx.db.read() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None or not user.active:
            raise NotFound(f"brukeren «{username}» finnes ikke")
        return actors.of(user)


# API tokens live in services/tokens.py; this name is kept for the callers that create them here.
create_token = tokens.create


def list_users(ctx: Orchestrator) -> list[UserView]:
    with ctx.db.read() as session:
        return [_view(u) for u in session.scalars(select(User).order_by(User.username))]


DEMO_USERS = [
    ("tina", "Tina Tjenesteyter", ["tjenesteyter"], ["skole"]),
    ("kari", "Kari fra koordinerende enhet", ["koordinerende_enhet"], ["helse_omsorg"]),
    ("kora", "Kora Koordinator", ["koordinator", "tjenesteyter"], ["helsestasjon"]),
    ("nina", "Nina i NAV", ["tjenesteyter"], ["nav"]),
    ("lars", "Lars Leder", ["leder"], ["skole"]),
    ("kim", "Kim i kommuneledelsen", ["kommuneledelse"], []),
    ("petra", "Petra Prosesseier", ["process_owner"], []),
    ("mona", "Mona Manager", ["manager"], []),
]


def bootstrap(ctx: Orchestrator, credentials_file: Path) -> list[tuple[str, str, list[str]]]:
    """On an empty installation, make one user per role and keep their passwords in var/."""
    with ctx.db.read() as session:
        empty = session.scalar(select(User).limit(1)) is None
    if empty:
        lines = []
        offered = tjenester.catalogue(ctx.settings).names
        for username, name, roles, services in DEMO_USERS:
            password = secrets.token_urlsafe(9)
            add(ctx, username, roles, password, display_name=name, services=[k for k in services if k in offered])
            lines.append(f"{username}\t{password}\t{','.join(roles)}")
        credentials_file.parent.mkdir(parents=True, exist_ok=True)
        credentials_file.write_text("\n".join(lines) + "\n")
        credentials_file.chmod(0o600)
    if not credentials_file.exists():
        return []
    out = []
    for line in credentials_file.read_text().splitlines():
        username, password, roles = line.split("\t")
        out.append((username, password, roles.split(",")))
    return out


def _user(session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == (username or "").strip().lower()))
    if user is None:
        raise NotFound(f"brukeren «{username}» finnes ikke")
    return user


def _view(user: User) -> UserView:
    return UserView(user.username, user.display_name, user.email, sorted(user.role_names), user.active,
                    sorted(user.service_keys), "oidc" if user.oidc_subject else "passord")
