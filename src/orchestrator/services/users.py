"""Local users with roles, argon2 password hashes, and bearer tokens for API clients."""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from .. import clock
from ..store.models import ApiToken, User, UserRole
from .access import ALL_ROLES, Actor
from .context import Orchestrator
from .errors import Conflict, Invalid, NotFound

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("ingen-bruker")
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 10


@dataclass(frozen=True)
class UserView:
    username: str
    display_name: str | None
    email: str | None
    roles: list[str]
    active: bool


def add(ctx: Orchestrator, username: str, roles: list[str], password: str | None,
        display_name: str | None = None, email: str | None = None) -> UserView:
    username = (username or "").strip().lower()
    if not _USERNAME.match(username):
        raise Invalid("Ugyldig brukernavn", {"username": ["2–64 tegn: små bokstaver, tall, . _ -"]})
    unknown = sorted(set(roles) - set(ALL_ROLES))
    if unknown or not roles:
        raise Invalid("Ukjente roller", {"roles": [f"Bruk en eller flere av {', '.join(ALL_ROLES)}."]})
    if password is not None and len(password) < MIN_PASSWORD:
        raise Invalid("For kort passord", {"password": [f"Minst {MIN_PASSWORD} tegn."]})
    with ctx.write() as session:
        if session.scalar(select(User).where(User.username == username)) is not None:
            raise Conflict(f"Brukeren «{username}» finnes allerede")
        user = User(username=username, display_name=display_name, email=email, active=True,
                    password_hash=_hasher.hash(password) if password else None, created_at=clock.now(),
                    roles=[UserRole(role=r) for r in sorted(set(roles))])
        session.add(user)
        session.flush()
        ctx.actors.clear()
        return _view(user)


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
        return _actor(user)


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def actor_for(ctx: Orchestrator, username: str) -> Actor:
    # asked on every request: remembered briefly (ctx.actors); a change is seen within seconds
    actor = ctx.actors.get(("user", username), lambda: _load_actor(ctx, username))
    if actor is None:
        raise NotFound(f"brukeren «{username}» finnes ikke")
    return actor


def _load_actor(ctx: Orchestrator, username: str) -> Actor | None:
    with ctx.db.read() as session:
        user = session.scalar(select(User).where(User.username == username))
        return _actor(user) if user is not None and user.active else None


def create_token(ctx: Orchestrator, username: str, label: str | None = None) -> str:
    token = "orc_" + secrets.token_urlsafe(32)
    with ctx.write() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"brukeren «{username}» finnes ikke")
        session.add(ApiToken(user_id=user.id, token_hash=_token_hash(token), label=label, created_at=clock.now()))
    return token


def actor_for_token(ctx: Orchestrator, token: str) -> Actor | None:
    return ctx.actors.get(("token", _token_hash(token)), lambda: _load_token_actor(ctx, token))


def _load_token_actor(ctx: Orchestrator, token: str) -> Actor | None:
    with ctx.db.read() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
        if row is None:
            return None
        user = session.get(User, row.user_id)
        return _actor(user) if user is not None and user.active else None


def list_users(ctx: Orchestrator) -> list[UserView]:
    with ctx.db.read() as session:
        return [_view(u) for u in session.scalars(select(User).order_by(User.username))]


DEMO_USERS = [
    ("tina", "Tina Tjenesteyter", ["tjenesteyter"]),
    ("kari", "Kari fra koordinerende enhet", ["koordinerende_enhet"]),
    ("kora", "Kora Koordinator", ["koordinator", "tjenesteyter"]),
    ("lars", "Lars Leder", ["leder"]),
    ("kim", "Kim i kommuneledelsen", ["kommuneledelse"]),
    ("petra", "Petra Prosesseier", ["process_owner"]),
    ("mona", "Mona Manager", ["manager"]),
]


def bootstrap(ctx: Orchestrator, credentials_file: Path) -> list[tuple[str, str, list[str]]]:
    """On an empty installation, make one user per role and keep their passwords in var/."""
    with ctx.db.read() as session:
        empty = session.scalar(select(User).limit(1)) is None
    if empty:
        lines = []
        for username, name, roles in DEMO_USERS:
            password = secrets.token_urlsafe(9)
            add(ctx, username, roles, password, display_name=name)
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


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _actor(user: User) -> Actor:
    return Actor(user.username, frozenset(user.role_names))


def _view(user: User) -> UserView:
    return UserView(user.username, user.display_name, user.email, sorted(user.role_names), user.active)
