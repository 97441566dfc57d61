"""Staff: "Mine oppgaver", the queues of my roles, and one task with its form."""
from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for

from ...services import processes, tasks, wording
from ...services.errors import Conflict, Invalid, NotFound, StepFailed
from ..auth import current_actor, orchestrator
from ..forms_render import FormView, hidden_keys, parse_submission
from . import PER_PAGE, int_arg

bp = Blueprint("tasks", __name__)


@bp.get("/tasks")
def task_list():
    actor, ctx = current_actor(), orchestrator()
    scope = request.args.get("scope")
    page = int_arg("page")
    mine = tasks.list_tasks(ctx, actor, "mine", page if scope == "mine" else 1, PER_PAGE)
    queue = tasks.list_tasks(ctx, actor, "roles", page if scope == "roles" else 1, PER_PAGE)
    everything = (tasks.list_tasks(ctx, actor, "all", page if scope == "all" else 1, PER_PAGE)
                  if actor.reads_all_instances else None)
    if scope not in ("mine", "roles") and not (scope == "all" and everything is not None):
        scope = "mine" if mine.total else "roles"
    shown = {"mine": mine, "roles": queue, "all": everything}[scope]
    names = {p.key: p.name for p in processes.list_processes(ctx, actor, kind="bpmn", per_page=200).items}
    return render_template("tasks/list.html", scope=scope, mine=mine, queue=queue, everything=everything, shown=shown,
                           process_names=names,
                           may_claim=lambda t: tasks.may_claim(actor, t))


@bp.get("/tasks/<task:task_id>")
def task_page(task_id):
    actor = current_actor()
    detail = tasks.get(orchestrator(), task_id, actor)
    return _render(detail, dict(detail.data), {})


@bp.post("/tasks/<task:task_id>")
def submit(task_id):
    actor, ctx = current_actor(), orchestrator()
    try:
        detail = tasks.get(ctx, task_id, actor)
    except NotFound as error:  # typically sent twice: the first one completed it
        flash(error.message[:1].upper() + error.message[1:] + ".", "error")
        return redirect(url_for("tasks.task_list"))
    values = parse_submission(detail.form, request.form, detail.data) if detail.form else {}
    try:
        done = tasks.complete(ctx, task_id, values, actor)
    except Invalid as error:
        return _render(detail, values, error.fields, message=error.message), 422
    except StepFailed as error:
        return _render(detail, values, {}, message=error.message), 422
    except Conflict as error:
        flash(error.message, "error")
        return redirect(url_for("tasks.task_list"))
    name = detail.name or detail.element_id
    nxt = done.continues_with
    if nxt is not None:
        taken = " Den er tatt til deg; legg den tilbake i køen om en kollega skal gjøre den." \
            if nxt.claimed_at is not None else ""
        flash(f"«{name}» er sendt inn. Neste oppgave i saken: «{nxt.name or nxt.element_id}».{taken}", "success")
        return redirect(url_for("tasks.task_page", task_id=nxt.id))
    closing = f" {wording.status_sentence(done.instance_status)}" if done.instance_status != "running" else ""
    flash(f"«{name}» er sendt inn.{closing}", "success")
    return redirect(url_for("tasks.task_list"))


@bp.post("/tasks/<task:task_id>/claim")
def claim(task_id):
    try:
        tasks.claim(orchestrator(), task_id, current_actor())
    except Conflict as error:
        flash(error.message, "error")
        return redirect(url_for("tasks.task_list"))
    flash("Du har tatt oppgaven. Den ligger nå under «Mine oppgaver».", "success")
    return redirect(url_for("tasks.task_page", task_id=task_id))


@bp.post("/tasks/<task:task_id>/release")
def release(task_id):
    tasks.release(orchestrator(), task_id, current_actor())
    flash("Oppgaven er lagt tilbake i køen.", "info")
    return redirect(url_for("tasks.task_list", scope="roles"))


@bp.post("/tasks/<task:task_id>/visibility")
def visibility(task_id):
    """Which fields the form's conditions hide for the values typed so far (the page's script asks)."""
    detail = tasks.get(orchestrator(), task_id, current_actor(), logged_as=None)  # answers field names only
    if detail.form is None:
        return jsonify(hidden=[])
    values = parse_submission(detail.form, request.form, {})
    return jsonify(hidden=sorted(hidden_keys(detail.form, {**detail.data, **values})))


def _render(detail, values: dict, errors: dict, message: str | None = None):
    actor = current_actor()
    may_act = tasks.may_act_now(actor, detail)
    view = FormView(detail.form, values, errors, detail.data, disabled=not may_act) if detail.form else None
    unplaced = {k: v for k, v in errors.items() if view is None or k not in view.known_names()}
    if errors and view is not None and not unplaced:
        message = None  # the error summary says it, field by field
    return render_template(
        "tasks/detail.html", task=detail, view=view, may_act=may_act,
        may_claim=tasks.may_claim(actor, detail), context_data=detail.case_data, message=message,
        unplaced_errors=unplaced,
    )
