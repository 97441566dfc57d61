"""Instances: the filtered list, one instance on its diagram, and starting a new case."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from ... import clock
from ...services import instances, processes, samtykke, samtykkeregister, slettesperre, tjenester, wording
from ...services.errors import Conflict, Forbidden, Invalid, NotFound, StepFailed
from ..auth import current_actor, orchestrator
from ..formatting import when
from ..forms_render import FormView, parse_submission
from . import PER_PAGE, int_arg
from .tilgangslogg import recent_reads

bp = Blueprint("instances", __name__)
BUSINESS_KEY_FIELD = "__saksnummer"


@bp.get("/instances")
def instance_list():
    actor, ctx = current_actor(), orchestrator()
    filters = {
        "process_key": (request.args.get("process_key") or "").strip()[:200] or None,
        "status": request.args.get("status") or None,
        "business_key": (request.args.get("business_key") or "").strip()[:100] or None,
    }
    if filters["status"] not in (None, *instances.STATUSES):
        filters["status"] = None
    for name in ("process_key", "business_key"):
        if filters[name] and "\x00" in filters[name]:
            filters[name] = None
    page = instances.list_instances(ctx, actor, page=int_arg("page"), per_page=PER_PAGE, **filters)
    known = processes.list_processes(ctx, actor, kind="bpmn", per_page=200).items
    return render_template("instances/list.html", page=page, filters=filters, known=known,
                           statuses=instances.STATUSES)


@bp.get("/instances/<id:instance_id>")
def instance_page(instance_id):
    actor = current_actor()
    detail = instances.get(orchestrator(), instance_id, actor)
    may_resume = bool(actor.roles & set(instances.INCIDENT_OPERATORS))
    return render_template("instances/detail.html", instance=detail, overlays=_overlays(detail), may_resume=may_resume,
                           element_history=_element_history(detail),
                           reads=recent_reads(detail.business_key), **_consent(detail.business_key),
                           **_hold(detail.business_key))


def _hold(business_key: str | None) -> dict:
    """The case's slettesperre panel, for managers and koordinerende enhet (decision 0024)."""
    actor = current_actor()
    if not business_key or not slettesperre.may_hold(actor) or actor.system:
        return {"may_hold": False}
    return {"may_hold": True, "hold": slettesperre.get(orchestrator(), actor, business_key)}


@bp.post("/instances/<id:instance_id>/slettesperre")
def hold(instance_id):
    """Place or lift the slettesperre of the case this instance belongs to."""
    actor, ctx = current_actor(), orchestrator()
    detail = instances.get(ctx, instance_id, actor)
    if not detail.business_key:
        raise NotFound("saken har ikke noe saksnummer")
    try:
        if request.form.get("handling") == "opphev":
            slettesperre.lift(ctx, actor, detail.business_key)
            flash("Slettesperren er opphevet. Saken følger oppbevaringstiden igjen.", "success")
        else:
            slettesperre.place(ctx, actor, detail.business_key, request.form.get("grunn"))
            flash("Saken er sperret mot sletting.", "success")
    except (Invalid, Conflict) as error:
        flash(error.message, "error")
    return redirect(url_for("instances.instance_page", instance_id=instance_id) + "#slettesperre")


def _consent(business_key: str | None) -> dict:
    """The case's consent panel (decision 0016), for those who may see it."""
    if not business_key:
        return {"consent": None}
    ctx = orchestrator()
    try:
        consent = samtykke.view(ctx, business_key, current_actor(), logged_as=None)  # the case page's read is logged
    except (NotFound, Invalid):
        return {"consent": None}
    return {"consent": consent, "covers": samtykkeregister.COVERS, "givers": samtykkeregister.GIVERS,
            "how": samtykkeregister.HOW, "services": tjenester.catalogue(ctx.settings).names,
            "actions": CONSENT_ACTIONS}


CONSENT_ACTIONS = {"gitt": "Samtykke gitt", "utvidet": "Samtykket utvidet", "endret": "Samtykket endret",
                   "trukket": "Samtykket trukket tilbake"}


@bp.post("/instances/<id:instance_id>/samtykke")
def record_consent(instance_id):
    """Record a consent, an extension or a withdrawal for the case this instance belongs to."""
    actor, ctx = current_actor(), orchestrator()
    detail = instances.get(ctx, instance_id, actor, logged_as=None)  # answers a redirect, shows nothing
    data = {"handling": request.form.get("handling"), "dato": request.form.get("dato") or None,
            "gitt_av": request.form.get("gitt_av") or None, "form": request.form.get("form") or None,
            "omfatter": request.form.getlist("omfatter"), "deles_med": request.form.getlist("deles_med"),
            "informert_om_folger": request.form.get("informert_om_folger") == "on",
            "kommentar": (request.form.get("kommentar") or "").strip()[:2000] or None}
    try:
        samtykke.change(ctx, detail.business_key or "", data, actor)
    except Invalid as error:
        problems = "; ".join(m for messages in error.fields.values() for m in messages)
        flash(f"{error.message} {problems}".strip(), "error")
    except (StepFailed, Conflict, Forbidden) as error:
        flash(error.message, "error")
    else:
        flash("Samtykket er trukket tilbake. Alt i saken som bygde på det, er avbrutt."
              if data["handling"] == "trekk_tilbake" else "Samtykket er registrert på saken.", "success")
    return redirect(url_for("instances.instance_page", instance_id=instance_id) + "#samtykke")


@bp.post("/instances/<id:instance_id>/resume")
def resume(instance_id):
    instances.resume(orchestrator(), instance_id, current_actor())
    flash("Saken er startet igjen: oppgavene og fristene er tilbake.", "success")
    return redirect(url_for("instances.instance_page", instance_id=instance_id))


def _overlays(detail) -> list[dict]:
    """Labels drawn on the diagram: who has an open task and by when; when a timer fires."""
    items = []
    for t in detail.tasks:
        who = t["assignee"] or (wording.role_name(t["role"]) if t["role"] else "")
        label = f"Frist {when(t['due_at'])}" if t["due_at"] else "Åpen oppgave"
        items.append({"element_id": t["element_id"], "kind": "task", "label": label, "who": who,
                      "overdue": bool(t["due_at"] and t["due_at"] < clock.now())})
    for t in detail.timers:
        items.append({"element_id": t["element_id"], "kind": "timer", "label": f"Utløper {when(t['due_at'])}",
                      "who": "", "overdue": False})
    return items


def _element_history(detail) -> dict[str, list[dict]]:
    """What happened at each step of this case (entered, taken, completed; when and by whom), for the
    diagram: clicking a step shows its lines."""
    steps: dict[str, list[dict]] = {}
    for h in detail.history:
        if h["element_id"]:
            steps.setdefault(h["element_id"], []).append(
                {"at": when(h["at"]), "who": h["actor"] or "", "what": wording.action_name(h["action"])})
    return steps


@bp.app_template_global()
def may_start_cases() -> bool:
    """Whether the signed-in person can start any routine: the menu offers «Start sak» only then."""
    if "startable" not in g:
        actor = current_actor()
        # a server error's page asks nothing of the database (it may be what failed)
        g.startable = processes.startable(orchestrator(), actor) if actor.is_staff and not g.get("failed") else []
    return bool(g.startable)


@bp.get("/instances/new")
def choose_process():
    return render_template("instances/new.html", startable=processes.startable(orchestrator(), current_actor()))


@bp.route("/instances/new/<key:key>", methods=["GET", "POST"])
def start(key):
    actor, ctx = current_actor(), orchestrator()
    process = processes.startable_process(ctx, key, actor)
    values, errors, message, business_key = {}, {}, None, ""
    if request.method == "POST":
        business_key = (request.form.get(BUSINESS_KEY_FIELD) or "").strip()
        values = parse_submission(process.form, request.form, {}) if process.form else {}
        try:
            started = instances.start(ctx, key, actor, business_key or None, values, claim_first=True)
        except Invalid as error:
            errors, message = error.fields, error.message
        except StepFailed as error:
            message = error.message
        else:
            first = started.continues_with
            taken = " Den første oppgaven er tatt til deg." if first is not None and first.claimed_at else ""
            flash(f"Saken er startet ({process.name or key}).{taken}", "success")
            if first is not None:
                return redirect(url_for("tasks.task_page", task_id=started.continues_with.id))
            return redirect(url_for("instances.instance_page", instance_id=started.id))
    form_errors = {k: v for k, v in errors.items() if k != "business_key"}
    view = FormView(process.form, values, form_errors, {}) if process.form else None
    status = 422 if request.method == "POST" else 200
    return render_template("instances/start.html", process=process, view=view, errors=errors, message=message,
                           business_key=business_key, business_key_field=BUSINESS_KEY_FIELD,
                           saksnummer_hint=ctx.settings.saksnummer_hint), status
