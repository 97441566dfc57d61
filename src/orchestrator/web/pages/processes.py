"""Process owners: processes and their versions, diagrams, the browser modeler, uploads."""
from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for

from ...services import processes
from ...services.access import PROCESS_OWNER, require
from ...services.errors import DeployRefused
from ..api.processes import source_response
from ..auth import current_actor, orchestrator
from ..security import MODELER_POLICY
from . import PER_PAGE, int_arg

bp = Blueprint("processes", __name__)


@bp.get("/processes")
def process_list():
    return _list_page()


def _list_page(problems=None, status: int = 200):
    actor, ctx = current_actor(), orchestrator()
    page = processes.list_processes(ctx, actor, request.args.get("kind") if request.args.get("kind") in processes.KINDS
                                    else None, int_arg("page"), PER_PAGE)
    return render_template("processes/list.html", page=page, problems=problems or [],
                           may_deploy=actor.has(PROCESS_OWNER)), status


@bp.post("/processes/upload")
def upload():
    actor = current_actor()
    files = [(f.filename or "", f.read()) for f in request.files.getlist("file") if f and (f.filename or f.content_length)]
    try:
        deployed = processes.deploy_files(orchestrator(), files, actor)
    except DeployRefused as error:
        return _list_page(error.problems, 422)
    changed = [d for d in deployed if d.changed]
    if changed:
        flash("Rullet ut: " + ", ".join(f"{d.key} versjon {d.version}" for d in changed) + ".", "success")
    else:
        flash("Ingen endringer: filene er like de siste versjonene.", "info")
    return redirect(url_for("processes.process_list"))


@bp.get("/processes/<key:key>")
def process_page(key):
    process = processes.get_process(orchestrator(), key, current_actor())
    return render_template("processes/detail.html", process=process, may_deploy=current_actor().has(PROCESS_OWNER))


@bp.get("/processes/<key:key>/versions/<id:version>")
def version_page(key, version):
    actor = current_actor()
    process = processes.get_process(orchestrator(), key, actor)
    source = processes.source(orchestrator(), key, version, actor)
    text = None if source.kind == "bpmn" else source.content.decode("utf-8", errors="replace")
    return render_template("processes/version.html", process=process, source=source, text=text,
                           may_deploy=actor.has(PROCESS_OWNER))


@bp.get("/processes/<key:key>/versions/<id:version>/xml")
def version_xml(key, version):
    source = processes.source(orchestrator(), key, version, current_actor())
    return source_response(source, download=request.args.get("download") == "1")


@bp.get("/modeler")
def modeler_new():
    require(current_actor(), PROCESS_OWNER, "Modellereren")
    return _modeler_page(None, url_for("static", filename="app/ny-prosess.bpmn"))


@bp.get("/modeler/<key:key>")
def modeler(key):
    actor = current_actor()
    require(actor, PROCESS_OWNER, "Modellereren")
    process = processes.get_process(orchestrator(), key, actor)
    if process.kind != "bpmn":
        flash("Modellereren redigerer BPMN-prosesser; last opp DMN- og skjemafiler som filer.", "info")
        return redirect(url_for("processes.process_page", key=key))
    return _modeler_page(process, url_for("processes.version_xml", key=key, version=process.latest_version))


def _modeler_page(process, source_url: str):
    response = make_response(render_template("processes/modeler.html", process=process, source_url=source_url))
    response.headers["Content-Security-Policy"] = MODELER_POLICY
    return response
