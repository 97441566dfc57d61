"""Who a new task goes to, beyond its lane's role queue.

1. `camunda:assignee` on the task (e.g. `${koordinator}`): that person, evaluated on the task data.
2. A task in the Koordinator lane: the case's appointed coordinator (case register); for an
   ansvarsgruppe without one, the group's leader chosen at the first meeting (`gruppeleder`).
3. Otherwise nobody: the task waits in its role's queue for someone to claim it.
A task assigned by rule (not claimed) can only be done by that person.
"""
from __future__ import annotations

from ..engine import workflow as engine
from . import cases
from .errors import StepFailed

COORDINATOR_ROLE = "koordinator"


def assignee_for(step, task) -> str | None:
    if task.assignee_expression:
        try:
            value = engine.evaluate(step.workflow, task.id, task.assignee_expression)
        except engine.EngineError as error:
            raise StepFailed(f"Tildelingen av «{task.name}» kunne ikke beregnes: {error}") from error
        return str(value).strip() or None if value else None
    if task.role == COORDINATOR_ROLE:
        coordinator = cases.coordinator_of(step.session, step.row.business_key)
        if coordinator:
            return coordinator
        leader = engine.task_data(step.workflow, task.id).get("gruppeleder")
        return leader or None
    return None
