"""Who a new task goes to, beyond its lane's role queue: a person, or a service's queue.

1. `camunda:assignee` on the task (e.g. `${koordinator}`): that person, evaluated on the task data.
2. A task in the Koordinator lane: the case's appointed coordinator (case register); for an
   ansvarsgruppe without one, the group's leader chosen at the first meeting (`gruppeleder`).
3. Otherwise nobody: the task waits in its role's queue for someone to claim it.
A task assigned by rule (not claimed) can only be done by that person.

Separately, a task whose element names a service (the extension property `tjeneste`) is in that
service's queue: only the role's holders who belong to the service see and do it (services/tilgang.py).
"""
from __future__ import annotations

from ..engine import workflow as engine
from ..engine.authoring import is_expression
from . import cases, tjenester
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


def service_for(step, task) -> str | None:
    """The service whose queue the task goes to: the element's `tjeneste`, a catalogue key or an
    expression on the task's data (e.g. the service each multi-instance task of samarbeid step 3 is for).
    A diagram that names a service and yields none, or one the catalogue does not have, stops the step:
    a task meant for one service must never fall into everyone's queue."""
    written = task.service_expression
    if not written:
        return None
    if is_expression(written):
        try:
            value = engine.evaluate(step.workflow, task.id, written)
        except engine.EngineError as error:
            raise StepFailed(f"Tjenesten for «{task.name}» kunne ikke beregnes: {error}") from error
    else:
        value = written
    key = str(value).strip() if value else ""
    catalogue = tjenester.catalogue(step.ctx.settings)
    if not key:
        raise StepFailed(f"«{task.name}» skal til en tjenestes kø, men saken sier ikke hvilken tjeneste.")
    if key not in catalogue.names:
        raise StepFailed(f"«{task.name}» skal til tjenesten «{key}», som ikke finnes i tjenestelisten "
                         f"({', '.join(catalogue.names)}).")
    return key
