"""Who sees and acts on a case: the rule every list, page and API read of cases and tasks applies.

Services (tjenester) are part of access (issue 13, decision 0022). A task is in a role's queue, or,
when its element names a service (`tjeneste`), in that service's queue: only the role's holders
who belong to the service see and do it. A tjenesteyter sees a case only through such tasks or
their own (assigned to, taken or done by them); everything else answers as if it did not exist.

How much of a case someone sees:
- FULL: koordinerende enhet and managers (READS_ALL_INSTANCES: the overall responsibility and
  inspection), the system, and the case's appointed coordinator (their cases).
- TASKS: anyone else who sees it, through their tasks: the diagram with those tasks, what they did
  themselves, and on a task only the data that task's form and guidance need.
"""
from __future__ import annotations

import re

from sqlalchemy import exists, or_, select, true
from sqlalchemy.orm import Session

from ..forms.model import Field, FormDefinition
from ..store.models import AuditEntry, Case, Instance, OpenTask
from .access import Actor

FULL, TASKS = "full", "tasks"


# --- tasks ----------------------------------------------------------------------------------------
def in_service(actor: Actor, task) -> bool:
    """A task without a service is the role's; one with a service only its members'."""
    service = getattr(task, "service", None)
    return service is None or service in actor.services


def may_do(actor: Actor, task) -> bool:
    """Whether `actor` may see, claim and complete `task` (an OpenTask, a TaskView or a row)."""
    if actor.system or task.assignee == actor.username:
        return True
    if task.assignee is not None and task.claimed_at is None:
        return False  # assigned by a rule (the case's coordinator, camunda:assignee): only that person
    if not in_service(actor, task):
        return False
    if task.role is None:
        return actor.is_staff
    return task.role in actor.roles


def may_see_task(actor: Actor, task) -> bool:
    return actor.reads_all_instances or may_do(actor, task)


def queues(actor: Actor) -> list:
    """Disjoint conditions on open tasks, each one ordered index range: the person's own tasks, each
    role's common queue, and each (service, role) queue of the services the person belongs to."""
    found = [OpenTask.assignee == actor.username]
    unassigned = OpenTask.assignee.is_(None)
    roles = [*sorted(actor.roles)] + ([None] if actor.is_staff else [])
    for role in roles:
        has_role = OpenTask.role.is_(None) if role is None else OpenTask.role == role
        found.append(unassigned & OpenTask.service.is_(None) & has_role)
        found += [unassigned & (OpenTask.service == service) & has_role for service in sorted(actor.services)]
    return found


# --- cases ----------------------------------------------------------------------------------------
def sees_through_tasks(actor: Actor):
    """SQL on Instance: the actor has an open task there they may do, did something there, or
    coordinates the case."""
    mine = [OpenTask.assignee == actor.username]
    if actor.roles:
        mine.append(OpenTask.assignee.is_(None) & OpenTask.role.in_(sorted(actor.roles)) &
                    _service_condition(actor))
    has_task = exists().where(OpenTask.instance_id == Instance.id, or_(*mine))
    acted = exists().where(AuditEntry.instance_id == Instance.id, AuditEntry.actor == actor.username)
    coordinates = exists().where(Case.business_key == Instance.business_key, Case.koordinator == actor.username)
    return or_(has_task, acted, coordinates)


def _service_condition(actor: Actor):
    if actor.services:
        return OpenTask.service.is_(None) | OpenTask.service.in_(sorted(actor.services))
    return OpenTask.service.is_(None)


def visible_instances(actor: Actor):
    """SQL on Instance: the instances `actor` may see at all."""
    if actor.reads_all_instances:
        return true()
    return sees_through_tasks(actor)


def view_of(session: Session, actor: Actor, instance: Instance) -> str | None:
    """FULL, TASKS, or None (not visible: answer 404)."""
    if actor.reads_all_instances:
        return FULL
    if instance.business_key and session.scalar(select(Case.koordinator).where(
            Case.business_key == instance.business_key)) == actor.username:
        return FULL
    seen = session.scalar(select(exists().where(Instance.id == instance.id, sees_through_tasks(actor))))
    return TASKS if seen else None


def sees_case(session: Session, actor: Actor, business_key: str | None) -> bool:
    """Whether `actor` sees any instance of the case (the case's own pages: its consent)."""
    if not business_key:
        return False
    if actor.reads_all_instances:
        return session.scalar(select(exists().where(Instance.business_key == business_key))) or False
    return session.scalar(select(exists().where(Instance.business_key == business_key,
                                                sees_through_tasks(actor)))) or False


# --- what a task needs ----------------------------------------------------------------------------
_TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)")
_NAME = re.compile(r"(?<![.\w\"'])([A-Za-z_][A-Za-z0-9_]*)")


def needed_names(form: FormDefinition | None, documentation: str | None) -> set[str]:
    """The case data names a task's form and guidance read or write: its fields, the values its texts
    and guidance show (`{{ navn }}`), and what its conditions test."""
    names = set(_TEMPLATE.findall(documentation or ""))
    if form is not None:
        _walk(form.components, names)
    return names


def _walk(components: list[Field], names: set[str], top: bool = True) -> None:
    for component in components:
        if top and component.key and (component.is_input or component.is_container):
            names.add(component.key)
        names.update(_TEMPLATE.findall(component.text or ""))
        if component.hide_if:
            names.update(_NAME.findall(component.hide_if.lstrip("=")))
        # a group without a path puts its fields at this level; others nest theirs under their key
        _walk(component.children, names, top and component.type == "group" and not component.key)


def needed_data(data: dict, form: FormDefinition | None, documentation: str | None) -> dict:
    names = needed_names(form, documentation)
    return {k: v for k, v in data.items() if k in names}
