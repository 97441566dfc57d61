"""/api/v1/tasks: my tasks and my roles' queues; claim, release and complete a task."""
from __future__ import annotations

from ...services import tasks
from . import schemas as s
from .base import bp, current_actor, dump, operation, orchestrator


@bp.get("/tasks")
@operation(summary="Open tasks: assigned to me (scope=mine), in my roles' queues (scope=roles), or all (scope=all)",
           tag="Oppgaver", query=s.TaskQuery, responses={200: s.TaskPageSchema}, errors=(403, 422),
           description="Narrow with `instance_id`, `business_key` (the case) and `process_key` (also matches the "
                       "called process a task is in). Each task says its process (`process_key`, `called_process`) "
                       "and who took it and when (`claimed_by`, `claimed_at`).")
def list_tasks(query):
    page = tasks.list_tasks(orchestrator(), current_actor(), query["scope"], query["page"], query["per_page"],
                            instance_id=query.get("instance_id"), business_key=query.get("business_key"),
                            process_key=query.get("process_key"))
    return dump(s.TaskPageSchema, page)


@bp.get("/tasks/<task:task_id>")
@operation(summary="One open task with its form definition and current data", tag="Oppgaver",
           responses={200: s.TaskDetailSchema}, errors=(404,))
def get_task(task_id):
    actor = current_actor()
    detail = tasks.get(orchestrator(), task_id, actor)
    return dump(s.TaskDetailSchema, {**vars(detail), "may_act": tasks.may_act_now(actor, detail)})


@bp.post("/tasks/<task:task_id>/claim")
@operation(summary="Take a task from the queue", tag="Oppgaver", responses={200: s.TaskSchema},
           description="403 when the task belongs to a role you do not have (or to the case's coordinator); "
                       "409 when someone else has taken it or it is already completed.", errors=(403, 404, 409))
def claim(task_id):
    return dump(s.TaskSchema, tasks.claim(orchestrator(), task_id, current_actor()))


@bp.post("/tasks/<task:task_id>/release")
@operation(summary="Put a task you took back in its role's queue", tag="Oppgaver", responses={200: s.TaskSchema},
           errors=(403, 404, 409))
def release(task_id):
    return dump(s.TaskSchema, tasks.release(orchestrator(), task_id, current_actor()))


@bp.post("/tasks/<task:task_id>/complete")
@operation(summary="Complete a task with its form data", tag="Oppgaver", body=s.CompleteSchema,
           body_required=False, responses={200: s.CompletedSchema},
           description="403: not your lane's role (or not the case's coordinator). 409: already completed, or "
                       "taken by someone else. 422: the data does not pass the form (`errors` per field path, "
                       "e.g. `medlemmer.0.navn`).", errors=(403, 404, 409, 422))
def complete(task_id, body):
    return dump(s.CompletedSchema, tasks.complete(orchestrator(), task_id, body.get("data") or {}, current_actor()))
