"""The case register (saksregister): who coordinates a person's case, and whether it has an IP.

Diagrams write to it only through explicit message throws («Koordinator registreres på saken»,
«Planverktøy registreres på saken»), handled here in the step's own transaction. The limit of
five individual plans per coordinator (Lund § 6) is a query across cases joined with the live
status of the instance that chose the plan: a plan stops counting the moment its oppstart
instance ends, so the count cannot drift.

The limit is an invariant, kept in one place (`within_plan_limit`): every write that gives a coordinator
a plan — an appointment (11.1, a barnekoordinator), IP chosen at trinn 8, a change of coordinator
(11.2) — passes through it, and it refuses unless the coordinator has accepted this case themselves.
A plan whose instance stopped on an incident still counts: the person still has the plan, so resuming
the case (re-establishing it) cannot carry anyone over the limit unasked (docs/decisions/0017).
"""
from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .. import clock
from ..store.models import Case, Instance, OpenTask, User
from .errors import StepFailed

PLAN_LIMIT = 5
PLAN_PROCESS = "oppstart"
IP = "ip"
# The plan's oppstart instance is running, or stopped on an incident (a technical state, not an end).
ACTIVE_STATUSES = ("running", "error")


def active_plans(session: Session, username: str, exclude_business_key: str | None = None) -> int:
    """Individual plans `username` coordinates now (cases without an IP do not count)."""
    query = (
        select(func.count())
        .select_from(Case)
        .join(Instance, Instance.id == Case.plan_instance_id)
        .where(Case.koordinator == username, Case.planverktoy == IP, Instance.status.in_(ACTIVE_STATUSES))
    )
    if exclude_business_key:
        query = query.where(Case.business_key != exclude_business_key)
    return session.scalar(query) or 0


def load_by_coordinator(session: Session) -> list[tuple[str, str | None, int]]:
    """(username, display name, active plans) for everyone who coordinates at least one plan."""
    rows = session.execute(
        select(Case.koordinator, User.display_name, func.count())
        .join(Instance, Instance.id == Case.plan_instance_id)
        .outerjoin(User, User.username == Case.koordinator)
        .where(Case.koordinator.is_not(None), Case.planverktoy == IP, Instance.status.in_(ACTIVE_STATUSES))
        .group_by(Case.koordinator, User.display_name)
        .order_by(func.count().desc(), Case.koordinator)
    )
    return [(username, name, count) for username, name, count in rows]


def coordinator_of(session: Session, business_key: str | None) -> str | None:
    if not business_key:
        return None
    case = session.get(Case, business_key)
    return case.koordinator if case else None


def get(session: Session, business_key: str | None) -> Case | None:
    return session.get(Case, business_key) if business_key else None


def running_plan_case(session: Session, business_key: str | None) -> Case | None:
    """The case if it has a running oppstart instance and an appointed coordinator."""
    case = get(session, business_key)
    if case is None or not case.koordinator:
        return None
    running = session.scalar(select(func.count()).select_from(Instance).where(
        Instance.business_key == business_key, Instance.process_key == PLAN_PROCESS, Instance.status == "running"))
    return case if running else None


def display_name(session: Session, username: str) -> str:
    user = session.scalar(select(User).where(User.username == username))
    return user.display_name or username if user else username


def active_user(session: Session, username: str) -> User | None:
    user = session.scalar(select(User).where(User.username == username))
    return user if user is not None and user.active else None


def _case(session: Session, business_key: str | None) -> Case:
    if not business_key:
        raise StepFailed("Saken mangler saksnummer, så den kan ikke registreres i saksregisteret.")
    case = session.get(Case, business_key)
    if case is None:
        case = Case(business_key=business_key, koordinator_accepted_over_limit=False, updated_at=clock.now())
        session.add(case)
    return case


def accepted_for_case(session: Session, username: str, business_key: str | None) -> bool:
    """Has `username` already accepted this case over the limit themselves (recorded in the register)?"""
    case = get(session, business_key)
    return bool(case and case.koordinator == username and case.koordinator_accepted_over_limit)


def within_plan_limit(session: Session, username: str, business_key: str | None, accepted: bool) -> tuple[int, bool]:
    """Lund § 6 as an invariant: may `username` be given (or keep being given) the plan of this case?

    Counts their active individual plans, this case excluded. Under the limit: allowed. At or over it:
    allowed only with the coordinator's own acceptance, given in this step (`accepted`: their answer on a task
    assigned to them) or recorded for this case before. Otherwise refused, naming them and their count.
    Returns (count, whether the case is one they accepted over the limit) for the register and the audit.
    """
    count = active_plans(session, username, exclude_business_key=business_key)
    if count < PLAN_LIMIT:
        return count, False
    if accepted or accepted_for_case(session, username, business_key):
        return count, True
    raise StepFailed(
        f"{display_name(session, username)} ({username}) er allerede koordinator for {count} aktive individuelle "
        f"planer og kan ikke pålegges flere (Lund § 6), med mindre hen selv påtar seg oppdraget.")


def register_coordinator(step, payload: dict) -> None:
    """«Koordinator registreres på saken»: the coordinator gets the case's coordinator tasks."""
    session = step.session
    username = (payload.get("koordinator") or "").strip()
    if not username or active_user(session, username) is None:
        raise StepFailed(f"Koordinatoren «{username}» er ikke en aktiv bruker.")
    business_key = step.row.business_key
    count, over_limit = within_plan_limit(session, username, business_key, bool(payload.get("godtatt_over_grense")))
    case = _case(session, business_key)
    previous = case.koordinator
    case.koordinator, case.koordinator_since = username, clock.now()
    case.koordinator_accepted_over_limit = over_limit
    case.gjelder = payload.get("gjelder") or case.gjelder
    case.updated_at = clock.now()
    _reassign_coordinator_tasks(session, business_key, previous, username)
    step.audit("koordinator_registrert", data={
        "koordinator": username, "forrige": previous, "aktive_planer_for": count,
        "godtatt_over_grense": case.koordinator_accepted_over_limit})


def _reassign_coordinator_tasks(session: Session, business_key: str, previous: str | None, new: str) -> None:
    # Open coordinator-lane tasks of this case follow the role, unless someone claimed them.
    session.flush()
    session.execute(
        update(OpenTask)
        .where(OpenTask.business_key == business_key, OpenTask.role == "koordinator", OpenTask.claimed_at.is_(None),
               (OpenTask.assignee.is_(None)) | (OpenTask.assignee == previous))
        .values(assignee=new)
        .execution_options(synchronize_session="fetch")
    )


def register_plan_tool(step, payload: dict) -> None:
    """«Planverktøy registreres på saken» (Lund § 7 trinn 8). Choosing IP gives the coordinator a plan."""
    session = step.session
    tool = payload.get("verktoy")
    if tool not in (IP, "referat"):
        raise StepFailed(f"Ukjent planverktøy «{tool}» (bruk ip eller referat).")
    business_key = step.row.business_key
    case = _case(session, business_key)
    recorded = {"verktoy": tool}
    if tool == IP and case.koordinator:
        count, over_limit = within_plan_limit(session, case.koordinator, business_key,
                                              bool(payload.get("godtatt_over_grense")))
        case.koordinator_accepted_over_limit = over_limit
        recorded |= {"koordinator": case.koordinator, "aktive_planer_for": count, "godtatt_over_grense": over_limit}
    case.planverktoy, case.plan_instance_id, case.updated_at = tool, step.row.id, clock.now()
    step.audit("planverktoy_registrert", data=recorded)

