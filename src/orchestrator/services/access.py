"""Who is asking, and what they may do. Every service call gets an `Actor`."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..engine.authoring import STAFF_ROLES
from .errors import Forbidden
from .wording import role_name, roles_text

PROCESS_OWNER = "process_owner"
MANAGER = "manager"
ALL_ROLES = (*STAFF_ROLES, PROCESS_OWNER, MANAGER)
# Koordinerende enhet holds the overall responsibility for plans and coordinators (hol § 7-3).
READS_ALL_INSTANCES = frozenset({MANAGER, "koordinerende_enhet"})


@dataclass(frozen=True)
class Actor:
    username: str
    roles: frozenset[str] = field(default_factory=frozenset)
    system: bool = False
    services: frozenset[str] = field(default_factory=frozenset)  # tjenester the user belongs to (skole, nav …)

    def has(self, role: str) -> bool:
        return self.system or role in self.roles

    @property
    def reads_all_instances(self) -> bool:
        return self.system or bool(self.roles & READS_ALL_INSTANCES)

    @property
    def is_staff(self) -> bool:
        return self.system or bool(self.roles & set(STAFF_ROLES))


SYSTEM = Actor("system", frozenset(ALL_ROLES), system=True)
TIMER = Actor("tidtaker", frozenset(ALL_ROLES), system=True)


def require(actor: Actor, role: str, doing: str) -> None:
    if not actor.has(role):
        raise Forbidden(f"{doing} krever rollen «{role_name(role)}»")


def require_any(actor: Actor, roles, doing: str) -> None:
    if not actor.system and not (actor.roles & set(roles)):
        raise Forbidden(f"{doing} krever en av rollene {roles_text(roles)}")
