"""Sign-in through the municipality's OpenID Connect provider: from verified claims to a user.

The web layer (web/oidc.py, Authlib) runs the authorization code flow and verifies the ID token;
this module decides who that is here. A user is found by (issuer, subject), created at the first
sign-in with the user name from the configured claim, and gets their roles and services from the
groups claim through the installation's mapping at EVERY sign-in, so a change at the provider
takes effect at the next sign-in (and at once for the user's other sessions). No mapped role, a
deactivated user or a user name already taken by a local user: refused, with a Norwegian reason.
docs/identity.md.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from .. import clock
from ..config import OidcSettings
from ..store.models import User, UserRole, UserService
from . import actors, sessions, tjenester
from .access import ALL_ROLES, Actor
from .context import Orchestrator
from .errors import Forbidden, Invalid
from .users import USERNAME, replace_access


class Refused(Forbidden):
    """The provider said who it is, but they may not sign in here (the message says why)."""


@dataclass(frozen=True)
class Grant:
    roles: frozenset[str]
    services: frozenset[str]


def mapping(oidc: OidcSettings, catalogue: tjenester.Catalogue) -> dict[str, Grant]:
    """The configured {group value: Grant}; Invalid when it names a role or service that does not exist."""
    groups = (oidc.mapping or {}).get("groups")
    if not isinstance(groups, dict):
        raise Invalid('OIDC-tilordningen må ha formen {"groups": {"gruppe": {"roles": [...], "services": [...]}}}')
    out = {}
    for group, grant in groups.items():
        roles, services = set(grant.get("roles") or ()), set(grant.get("services") or ())
        unknown = sorted(roles - set(ALL_ROLES))
        if unknown:
            raise Invalid(f"OIDC-tilordningen for «{group}»: ukjente roller {', '.join(unknown)}")
        out[str(group)] = Grant(frozenset(roles), frozenset(catalogue.check(services)))
    return out


def sign_in(ctx: Orchestrator, oidc: OidcSettings, claims: dict) -> Actor:
    """The user these verified claims belong to, created or updated; Refused when they may not sign in."""
    issuer, subject = str(claims.get("iss") or oidc.issuer), str(claims.get("sub") or "")
    username = str(_claim(claims, oidc.username_claim) or "").strip().lower()
    if not subject or not USERNAME.match(username):
        raise Refused(f"Innloggingen ble avvist: {oidc.provider_name} sendte ikke et brukbart brukernavn "
                      f"(kravet «{oidc.username_claim}»).")
    grant = _granted(_groups(_claim(claims, oidc.groups_claim)), mapping(oidc, tjenester.catalogue(ctx.settings)))
    refusal, actor = None, None
    now = clock.now()
    with ctx.write() as session:
        user = session.scalar(select(User).where(User.oidc_issuer == issuer, User.oidc_subject == subject))
        if user is None:
            if session.scalar(select(User.id).where(User.username == username)) is not None:
                refusal = (f"Innloggingen ble avvist: brukernavnet «{username}» er allerede i bruk av en lokal "
                           "bruker. Kontakt den som drifter løsningen.")
            elif grant.roles:
                user = User(username=username, active=True, created_at=now, access_version=1,
                            oidc_issuer=issuer, oidc_subject=subject,
                            roles=[UserRole(role=r) for r in sorted(grant.roles)],
                            services=[UserService(service=k) for k in sorted(grant.services)])
                session.add(user)
        elif not user.active:
            refusal = "Innloggingen ble avvist: brukeren din er deaktivert her."
        else:
            # the provider's groups say who the user is now: roles and services replaced, even to none
            replace_access(user, sorted(grant.roles), sorted(grant.services))
            if not grant.roles:
                sessions.end_all_of(session, user.id, now)
        if user is not None and refusal is None:
            user.display_name = str(claims.get("name") or user.display_name or "")[:200] or None
            user.email = str(claims.get("email") or user.email or "")[:300] or None
            session.flush()
            actor = actors.of(user) if grant.roles else None
    if actor is None:
        raise Refused(refusal or f"Innloggingen ble avvist: brukeren din hos {oidc.provider_name} er ikke med i "
                                 "noen gruppe som gir tilgang til Koordinerte tjenester. Be lederen din om tilgang.")
    return actor


def _granted(groups: list[str], table: dict[str, Grant]) -> Grant:
    roles, services = set(), set()
    for group in groups:
        if group in table:
            roles |= table[group].roles
            services |= table[group].services
    return Grant(frozenset(roles), frozenset(services))


def _claim(claims: dict, path: str):
    """A claim by name, or by a dotted path into nested claims (Keycloak's realm_access.roles)."""
    if path in claims:
        return claims[path]
    value = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _groups(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if isinstance(v, (str, int))]
    return []
