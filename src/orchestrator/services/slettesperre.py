"""Slettesperre (legal hold): a case the retention job must leave alone, with why, who and when.

A complaint to statsforvalteren, a supervision case (tilsyn), a claim or a police request can need a
case kept past its retention period. Managers and koordinerende enhet place and lift a hold; each is
recorded in the audit log (who, which case, why). The retention job (services/retention.py) skips
every kind of data of a held case. Decision 0024.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, insert, select
from sqlalchemy.orm import Session

from .. import clock
from ..store.models import AuditEntry, Instance, LegalHold
from . import runtime, validation
from .access import MANAGER, Actor, require_any
from .context import Orchestrator
from .errors import Conflict, Invalid, NotFound

HOLDERS = (MANAGER, "koordinerende_enhet")
MAX_REASON = 2000
PLACED, LIFTED = "slettesperre_satt", "slettesperre_opphevet"


@dataclass(frozen=True)
class Hold:
    business_key: str
    reason: str
    placed_by: str
    placed_at: datetime


def may_hold(actor: Actor) -> bool:
    return actor.system or bool(actor.roles & set(HOLDERS))


def held_keys(session: Session) -> set[str]:
    return set(session.scalars(select(LegalHold.business_key)))


def get(ctx: Orchestrator, actor: Actor, business_key: str) -> Hold | None:
    """The case's hold, or None; NotFound for a case that does not exist."""
    require_any(actor, HOLDERS, "Å se slettesperrer")
    with ctx.db.read() as session:
        _require_case(session, business_key)
        row = session.get(LegalHold, business_key)
        return _hold(row) if row is not None else None


def list_holds(ctx: Orchestrator, actor: Actor) -> list[Hold]:
    require_any(actor, HOLDERS, "Å se slettesperrer")
    with ctx.db.read() as session:
        return [_hold(row) for row in session.scalars(select(LegalHold).order_by(LegalHold.business_key))]


def place(ctx: Orchestrator, actor: Actor, business_key: str, reason: str | None) -> Hold:
    """Keep the case (every kind of its data) until the hold is lifted."""
    require_any(actor, HOLDERS, "Å sette slettesperre")
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("Oppgi hvorfor saken skal sperres mot sletting", {"grunn": ["Skriv en begrunnelse."]})
    if len(reason) > MAX_REASON:
        raise Invalid("Begrunnelsen er for lang", {"grunn": [f"Høyst {MAX_REASON} tegn."]})
    with ctx.write("slettesperre.place") as session:
        _require_case(session, business_key)
        if session.get(LegalHold, business_key) is not None:
            raise Conflict(f"Sak {business_key} har allerede slettesperre. Opphev den først for å endre begrunnelsen.")
        row = LegalHold(business_key=business_key, reason=reason, placed_by=actor.username, placed_at=clock.now())
        session.add(row)
        session.flush()
        _audit(session, actor, PLACED, business_key, reason)
        return _hold(row)


def lift(ctx: Orchestrator, actor: Actor, business_key: str) -> None:
    """The case follows the retention periods again (what has expired goes at the next run)."""
    require_any(actor, HOLDERS, "Å oppheve slettesperre")
    with ctx.write("slettesperre.lift") as session:
        _require_case(session, business_key)
        row = session.get(LegalHold, business_key)
        if row is None:
            raise NotFound(f"Sak {business_key} har ingen slettesperre.")
        session.delete(row)
        session.flush()
        _audit(session, actor, LIFTED, business_key, None)


def _require_case(session: Session, business_key: str) -> None:
    """A case is a business key with at least one process; the same answer for malformed and unknown."""
    try:
        key = validation.business_key(business_key)
    except Invalid:
        key = None
    if not key or not session.scalar(select(exists().where(Instance.business_key == key))):
        raise NotFound(f"sak {business_key} finnes ikke")


def _audit(session: Session, actor: Actor, action: str, business_key: str, reason: str | None) -> None:
    data = {"saksnummer": business_key, **({"grunn": reason} if reason else {})}
    session.execute(insert(AuditEntry).values(runtime.audit_row(
        None, actor, action, element_name="Slettesperre", data=data)))


def _hold(row: LegalHold) -> Hold:
    return Hold(row.business_key, row.reason, row.placed_by, row.placed_at)
