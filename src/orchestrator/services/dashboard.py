"""The managers' deadline dashboard: what is due, what is late, who carries how many plans.

Built from the indexed tables only (timers, tasks, cases), never by loading instances.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from .. import clock
from ..store.models import Instance, Notice, OpenTask, WaitingTimer
from . import cases
from .access import MANAGER, Actor, require_any
from .context import Orchestrator
from .notices import constants as notice_names


@dataclass
class DueItem:
    instance_id: int
    business_key: str | None
    process_key: str
    what: str
    due_at: datetime | None
    task_id: str | None = None
    assignee: str | None = None


@dataclass
class CoordinatorLoad:
    username: str
    display_name: str | None
    active_plans: int
    limit: int

    @property
    def over_limit(self) -> bool:
        return self.active_plans > self.limit

    @property
    def at_limit(self) -> bool:
        return self.active_plans >= self.limit


@dataclass
class Overview:
    generated_at: datetime
    innkallinger_due_soon: list[DueItem] = field(default_factory=list)
    innkallinger_overdue: list[DueItem] = field(default_factory=list)
    groups_without_meeting: list[DueItem] = field(default_factory=list)
    coordinator_load: list[CoordinatorLoad] = field(default_factory=list)
    escalations_open: list[DueItem] = field(default_factory=list)
    failed_notices: list[DueItem] = field(default_factory=list)
    instances_in_error: list[DueItem] = field(default_factory=list)


# Element ids in processes/ansvarsgruppe.bpmn the dashboard reads (kept stable across versions).
INNKALLING_TIMER = "innkallingsfrist"
SEND_INNKALLING_TASK = "forberede_innkalling"  # due at meeting date − notice period
ESCALATION_PREFIX = "eskalering_"
SIX_MONTH_ESCALATIONS = ("eskalering_seks_maaneder_leder", "eskalering_seks_maaneder_ke")


def overview(ctx: Orchestrator, actor: Actor) -> Overview:
    require_any(actor, (MANAGER, "koordinerende_enhet"), "Fristoversikten")
    now = clock.now()
    result = Overview(generated_at=now)
    with ctx.db.read() as session:
        upcoming = session.scalars(
            select(WaitingTimer)
            .where(WaitingTimer.element_id == INNKALLING_TIMER, WaitingTimer.due_at <= now + timedelta(days=14))
            .order_by(WaitingTimer.due_at)
        )
        result.innkallinger_due_soon = [
            DueItem(t.instance_id, t.business_key, t.process_key, "Innkalling skal sendes", t.due_at) for t in upcoming
        ]
        open_tasks = session.scalars(select(OpenTask).where(
            (OpenTask.element_id == SEND_INNKALLING_TASK) | OpenTask.element_id.startswith(ESCALATION_PREFIX)
        ).order_by(OpenTask.due_at))
        for task in open_tasks:
            item = DueItem(task.instance_id, task.business_key, task.process_key, task.name or task.element_id,
                           task.due_at, task.id, task.assignee)
            if task.element_id == SEND_INNKALLING_TASK:
                if task.due_at is not None and task.due_at < now:
                    result.innkallinger_overdue.append(item)
            else:
                result.escalations_open.append(item)
                if task.element_id in SIX_MONTH_ESCALATIONS:
                    result.groups_without_meeting.append(item)
        broken = session.scalars(select(Instance).where(Instance.status == "error").order_by(Instance.updated_at.desc())
                                 .limit(100))
        result.instances_in_error = [
            DueItem(i.id, i.business_key, i.process_key, i.error or "Ukjent feil", i.updated_at) for i in broken
        ]
        result.coordinator_load = [
            CoordinatorLoad(username, name, count, cases.PLAN_LIMIT)
            for username, name, count in cases.load_by_coordinator(session)
        ]
        result.failed_notices = failed_notices(session, now)
    # a group escalated to both the leader and KE is one group without a meeting
    seen: set[int] = set()
    result.groups_without_meeting = [
        i for i in result.groups_without_meeting if not (i.instance_id in seen or seen.add(i.instance_id))
    ]
    return result


def failed_notices(session, now: datetime, days: int = 30, limit: int = 100) -> list[DueItem]:
    """Notices that finally failed in the last `days` days (one sent again leaves the list).

    `due_at` is the meeting's time (how urgent it is to reach the person some other way).
    """
    rows = session.execute(
        select(Notice, Instance.process_key).outerjoin(Instance, Instance.id == Notice.instance_id)
        .where(Notice.status == notice_names.FAILED, Notice.updated_at >= now - timedelta(days=days))
        .order_by(Notice.updated_at.desc()).limit(limit)
    ).all()
    return [
        DueItem(instance_id=row.instance_id, business_key=row.business_key, process_key=key or "",
                what=f"{notice_names.KIND_LABELS.get(row.kind, row.kind)} kom ikke fram til "
                     f"{row.recipient_name or row.recipient}: {row.last_error or 'ukjent feil'}",
                due_at=row.meeting_at)
        for row, key in rows
    ]
