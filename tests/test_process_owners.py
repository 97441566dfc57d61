"""The process owners' loop at the service and API level: the check that stores nothing, drafts,
what deploy refuses (a process no case can finish, the untouched template, ids too long for the
database, `.format`), file deploys that do not undo a browser edit, export, and version diffs."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import os

import pytest
from sqlalchemy import func, select

import diagrams
from bpmnbuilder import Process
from orchestrator.services import deploy_checks, deployment, drafts, export, processes
from orchestrator.services.access import SYSTEM, Actor, PROCESS_OWNER
from orchestrator.services.errors import DeployRefused, Forbidden
from orchestrator.store.models import ProcessDefinition

pytest_plugins = ["webtools"]
PETRA = Actor("petra", frozenset({PROCESS_OWNER}))
TEMPLATE = deploy_checks.template()


def _versions(orc, key):
    return [v.version for v in processes.get_process(orc, key, SYSTEM).versions]


def _count(orc) -> int:
    with orc.db.read() as session:
        return session.scalar(select(func.count()).select_from(ProcessDefinition))


def _gateway_xml(old="Vurder behov", new="Vurder behov"):
    return dict(diagrams.user_task_with_gateway())["test_gateway.bpmn"].replace(old, new).encode()


def _refused(call, *args, **kwargs):
    with pytest.raises(DeployRefused) as refused:
        call(*args, **kwargs)
    return refused.value.problems


# --- what deploy refuses ---------------------------------------------------------------------
def test_the_untouched_new_process_template_is_refused_with_a_reason(orc):
    [problem] = _refused(processes.deploy_document, orc, TEMPLATE, PETRA)
    assert "tomme malen" in problem.message
    assert _count(orc) == 0


def test_the_template_with_other_ids_and_layout_is_still_the_template(orc):
    moved = (TEMPLATE.replace(b'x="212"', b'x="300"').replace(b'id="start"', b'id="begynn"')
             .replace(b"<bpmn:flowNodeRef>start<", b"<bpmn:flowNodeRef>begynn<")
             .replace(b'bpmnElement="start"', b'bpmnElement="begynn"'))
    [problem] = _refused(processes.deploy_document, orc, moved, PETRA)
    assert "tomme malen" in problem.message


def _no_way_to_the_end():
    p = Process("test_blindvei", "Test: blindvei", lanes=[diagrams.TY])
    p.start("start", "Start", lane=diagrams.TY)
    p.user("vurder", "Vurder", lane=diagrams.TY)
    p.end("slutt", "Slutt", lane=diagrams.TY)
    p.chain("start", "vurder")  # nothing leads to «slutt»
    return ("test_blindvei.bpmn", p.to_xml())


def test_a_process_whose_start_cannot_reach_an_end_is_refused_naming_the_start(deploy):
    with pytest.raises(DeployRefused) as refused:
        deploy(_no_way_to_the_end())
    [problem] = refused.value.problems
    assert problem.element_id == "start" and "ingen vei fra starten «Start» til en slutthendelse" in problem.message


def test_a_process_without_an_end_event_is_refused(deploy):
    p = Process("test_uten_slutt", "Test: uten slutt", lanes=[diagrams.TY])
    p.start("start", "Start", lane=diagrams.TY)
    p.user("vurder", "Vurder", lane=diagrams.TY)
    p.chain("start", "vurder")
    with pytest.raises(DeployRefused) as refused:
        deploy(("test_uten_slutt.bpmn", p.to_xml()))
    assert any("ingen slutthendelse" in p.message for p in refused.value.problems)


def test_an_end_reached_only_through_a_boundary_event_counts(deploy):
    p = Process("test_grense", "Test: grensehendelse", lanes=[diagrams.TY])
    p.start("start", "Start", lane=diagrams.TY)
    p.user("vent", "Vent", lane=diagrams.TY)
    p.boundary("frist", "Frist", attached_to="vent", timer=("timeDuration", "P14D"))
    p.end("slutt", "Slutt", lane=diagrams.TY)
    p.chain("start", "vent")
    p.chain("frist", "slutt")
    assert deploy(("test_grense.bpmn", p.to_xml()))[0].version == 1


@pytest.mark.parametrize("where", ["process id", "element id", "name", "message"])
def test_names_longer_than_the_database_holds_are_refused_at_deploy(deploy, where):
    long = "x" * 201
    files = diagrams.user_task_with_gateway() if where != "message" else diagrams.messages()
    name, xml = files[0] if where != "message" else next(f for f in files if "mottak" in f[0])
    if where == "process id":
        xml = xml.replace('"test_gateway"', f'"{long}"')
        expected = ("prosess-id-en", None)
    elif where == "element id":
        xml = xml.replace('"vurder"', f'"{long}"').replace(">vurder<", f">{long}<")
        expected = ("element-id-en", long)
    elif where == "name":
        xml = xml.replace('name="Vurder behov"', f'name="{"n" * 301}"')
        expected = ("navnet", "vurder")
    else:
        message = next(part.split('"')[0] for part in xml.split('<bpmn:message ')[1:2] for part in [part.split('name="')[1]])
        xml = xml.replace(f'name="{message}"', f'name="{"m" * 201}"')
        expected = ("meldingsnavnet", None)
    with pytest.raises(DeployRefused) as refused:
        deploy((name, xml), *[f for f in files if f[0] != name])
    found = [p for p in refused.value.problems if expected[0] in p.message]
    assert found, refused.value.problems
    if expected[1]:
        assert found[0].element_id == expected[1]


def test_a_format_call_in_a_script_is_refused_at_deploy_not_when_it_runs(deploy):
    p = Process("test_format", "Test: format", lanes=[diagrams.TY])
    p.start("start", "Start", lane=diagrams.TY)
    p.script("lag_tekst", "Lag tekst", 'tekst = "{0.__class__}".format(gjelder)', lane=diagrams.TY)
    p.end("slutt", "Slutt", lane=diagrams.TY)
    p.chain("start", "lag_tekst", "slutt")
    with pytest.raises(DeployRefused) as refused:
        deploy(("test_format.bpmn", p.to_xml()))
    [problem] = refused.value.problems
    assert problem.element_id == "lag_tekst" and "«.format(…)» er ikke tillatt" in problem.message


# --- the check -------------------------------------------------------------------------------
def test_the_check_reports_what_deploy_would_refuse_and_stores_nothing(orc, deploy):
    deploy(*diagrams.user_task_with_gateway())
    broken = _gateway_xml('camunda:formKey="test_vurdering"', 'camunda:formKey="finnes_ikke"')
    problems = processes.check_document(orc, broken, PETRA)
    assert [(p.element_id, "finnes_ikke" in p.message) for p in problems] == [("vurder", True)]
    assert processes.check_document(orc, _gateway_xml("Vurder behov", "Vurder behovet"), PETRA) == []
    assert _versions(orc, "test_gateway") == [1]


def test_the_check_endpoint_answers_problems_for_the_modeler(web, role_users, deploy):
    deploy(*diagrams.user_task_with_gateway())
    answer = web.api("POST", "/api/v1/processes/check", token=role_users.tokens["process_owner"], data=TEMPLATE, content_type="application/xml")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["ok"] is False and "tomme malen" in body["problems"][0]["message"]
    staff = web.api("POST", "/api/v1/processes/check", token=role_users.tokens["tjenesteyter"], data=TEMPLATE, content_type="application/xml")
    assert staff.status_code == 403


def test_a_form_is_checked_and_deployed_as_json_with_its_key(web, role_users, deploy, orc):
    deploy(*diagrams.user_task_with_gateway())
    token = role_users.tokens["process_owner"]
    bad = json.dumps({"components": [{"type": "textfield", "label": "uten nøkkel"}]}).encode()
    body = web.api("POST", "/api/v1/processes/check?key=test_vurdering", token=token, data=bad, content_type="application/json").get_json()
    assert "mangler «key»" in body["problems"][0]["message"]
    good = json.dumps({"components": [{"type": "textfield", "key": "behov", "label": "Behov?"}]}).encode()
    deployed = web.api("POST", "/api/v1/processes?key=test_vurdering", token=token, data=good, content_type="application/json")
    assert deployed.status_code == 201 and deployed.get_json()["version"] == 2
    version = processes.get_process(orc, "test_vurdering", SYSTEM).versions[0]
    assert (version.origin, version.filename) == ("api", "test_vurdering.form")


# --- drafts ----------------------------------------------------------------------------------
def test_a_draft_is_not_a_version_and_deploying_from_the_browser_removes_it(orc, deploy):
    deploy(*diagrams.user_task_with_gateway())
    edited = _gateway_xml("Vurder behov", "Vurder behovet")
    saved = drafts.save(orc, "test_gateway", "bpmn", edited, PETRA, base_version=1)
    assert (saved.base_version, saved.latest_version, saved.behind) == (1, 1, False)
    assert _versions(orc, "test_gateway") == [1]  # nothing startable changed
    assert drafts.get(orc, "test_gateway", PETRA).content == edited
    processes.deploy_document(orc, edited, PETRA)
    assert _versions(orc, "test_gateway") == [2, 1]
    assert drafts.get(orc, "test_gateway", PETRA) is None


def test_a_draft_knows_when_a_newer_version_was_deployed_after_it(orc, deploy):
    deploy(*diagrams.user_task_with_gateway())
    drafts.save(orc, "test_gateway", "bpmn", _gateway_xml("Vurder behov", "Utkast"), PETRA, base_version=1)
    deploy(("test_gateway.bpmn", _gateway_xml("Vurder behov", "Fra filen")))
    assert drafts.get(orc, "test_gateway", PETRA).behind is True


def test_only_process_owners_see_drafts_and_a_draft_must_be_a_readable_document(orc, make_user):
    staff = make_user("tina", "tjenesteyter")
    with pytest.raises(Forbidden):
        drafts.save(orc, "x", "bpmn", TEMPLATE, staff)
    drafts.save(orc, "ny_prosess", "bpmn", TEMPLATE, PETRA)
    with pytest.raises(Forbidden):
        drafts.get(orc, "ny_prosess", staff)
    from orchestrator.services.errors import Invalid

    with pytest.raises(Invalid):
        drafts.save(orc, "y", "bpmn", b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>", PETRA)
    with pytest.raises(Invalid):
        drafts.save(orc, "z", "form", b"[1, 2]", PETRA)


def test_drafts_over_the_api_and_the_modeler_opens_the_draft(web, role_users, deploy):
    deploy(*diagrams.user_task_with_gateway())
    token = role_users.tokens["process_owner"]
    saved = web.api("PUT", "/api/v1/processes/test_gateway/draft?base_version=1", token=token,
                    data=_gateway_xml("Vurder behov", "Utkast"), content_type="application/xml")
    assert saved.status_code == 200 and saved.get_json()["kind"] == "bpmn"
    content = web.get("/api/v1/processes/test_gateway/draft/content", headers={"Authorization": f"Bearer {token}"})
    assert b"Utkast" in content.data
    web.login("petra")
    page = web.get("/modeler/test_gateway").get_data(as_text=True)
    assert 'data-source-url="/api/v1/processes/test_gateway/draft/content"' in page and "utkast" in page
    listing = web.get("/processes").get_data(as_text=True)
    assert "Utkast – ikke rullet ut" in listing and "test_gateway" in listing
    web.login("tina")
    assert "Utkast – ikke rullet ut" not in web.get("/processes").get_data(as_text=True)
    gone = web.api("DELETE", "/api/v1/processes/test_gateway/draft", token=token)
    assert gone.status_code == 204


# --- file deploys and the browser's edits ----------------------------------------------------
def test_a_file_deploy_does_not_undo_a_browser_edit_and_names_it(orc, deploy):
    deploy(*diagrams.user_task_with_gateway())
    processes.deploy_document(orc, _gateway_xml("Vurder behov", "Vurder behovet"), PETRA)
    # the repository's files have not changed since version 1: skipped with a note, nothing lost
    results = {d.key: d for d in deploy(*diagrams.user_task_with_gateway())}
    skipped = results["test_gateway"]
    assert (skipped.changed, skipped.version) == (False, 2)
    assert "versjon 2" in skipped.note and "petra" in skipped.note and "orchestrator export" in skipped.note
    # a file with new content is a conflict: refused, naming the browser version, who and when
    with pytest.raises(DeployRefused) as refused:
        deploy(("test_gateway.bpmn", _gateway_xml("Vurder behov", "Ny tekst i filen")))
    [problem] = refused.value.problems
    assert "versjon 2" in problem.message and "i nettleseren av petra" in problem.message and "--force" in problem.message
    assert _versions(orc, "test_gateway") == [2, 1]


def test_force_lets_the_files_replace_the_browser_version(orc):
    deployment.deploy(orc, list(diagrams_bytes()), SYSTEM)
    processes.deploy_document(orc, _gateway_xml("Vurder behov", "Vurder behovet"), PETRA)
    changed = _gateway_xml("Vurder behov", "Ny tekst i filen")
    results = deployment.deploy(orc, [("test_gateway.bpmn", changed)], SYSTEM, force=True)
    assert (results[0].version, results[0].changed) == (3, True)
    assert processes.get_process(orc, "test_gateway", SYSTEM).versions[0].origin == "file"


def diagrams_bytes():
    for name, content in diagrams.user_task_with_gateway():
        yield name, content.encode()


def test_export_writes_the_newest_versions_so_a_file_deploy_then_sees_no_change(orc, deploy, tmp_path):
    deploy(*diagrams.user_task_with_gateway(), *diagrams.business_rule())
    processes.deploy_document(orc, _gateway_xml("Vurder behov", "Vurder behovet"), PETRA)
    files = {f.path: f for f in export.newest_files(orc, PETRA)}
    assert set(files) == {"processes/test_gateway.bpmn", "processes/test_dmn.bpmn", "processes/test_regler.dmn",
                          "forms/test_vurdering.form"}
    assert files["processes/test_gateway.bpmn"].version == 2 and b"Vurder behovet" in files["processes/test_gateway.bpmn"].content
    for path, item in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(item.content)
    again = deploy(tmp_path / "processes", tmp_path / "forms")
    assert not any(d.changed or d.note for d in again)  # round trip: the files are the database's newest


def test_orchestrator_export_and_deploy_force_from_the_command_line(orc, tmp_path, database_url):
    env = {**os.environ, "ORCHESTRATOR_HOME": str(tmp_path), "ORCHESTRATOR_DATABASE_URL": database_url}

    def run(*args, expect=0):
        result = subprocess.run([sys.executable, "-m", "orchestrator.cli", *args], capture_output=True, text=True,
                                env=env, timeout=120)
        assert result.returncode == expect, (args, result.stdout, result.stderr)
        return result

    repo = tmp_path / "repo"
    (repo / "processes").mkdir(parents=True)
    for name, content in diagrams.user_task_with_gateway():
        (repo / "processes" / name).write_text(content)
    run("deploy", str(repo / "processes"))
    processes.deploy_document(orc, _gateway_xml("Vurder behov", "Vurder behovet"), PETRA)  # the browser
    skipped = run("deploy", str(repo / "processes"))  # what `make run` does next: no failure, nothing undone
    assert "hoppet over" in skipped.stdout and "orchestrator export" in skipped.stderr
    assert _versions(orc, "test_gateway") == [2, 1]
    (repo / "processes" / "test_gateway.bpmn").write_text(_gateway_xml("Vurder behov", "Endret i repoet").decode())
    refused = run("deploy", str(repo / "processes"), expect=1)
    assert "--force" in refused.stderr and "petra" in refused.stderr
    out = tmp_path / "eksport"
    run("export", str(out))
    assert "Vurder behovet" in (out / "processes" / "test_gateway.bpmn").read_text()
    assert json.loads((out / "forms" / "test_vurdering.form").read_text())["components"]
    forced = json.loads(run("deploy", str(repo / "processes"), "--force", "--json").stdout)
    assert any(d["key"] == "test_gateway" and d["version"] == 3 for d in forced)


# --- version diffs ---------------------------------------------------------------------------
def test_the_version_diff_marks_added_removed_and_changed_elements_not_moves(orc, deploy):
    deploy(*diagrams.user_task_with_gateway())
    xml = _gateway_xml("Vurder behov", "Vurder behovet")
    xml = re.sub(rb'<dc:Bounds x="(\d+)', lambda m: b'<dc:Bounds x="' + str(int(m.group(1)) + 40).encode(), xml)  # moved
    processes.deploy_document(orc, xml, PETRA)
    diff = processes.compare_versions(orc, "test_gateway", 2, 1, SYSTEM)
    assert (diff.added, diff.removed, diff.changed) == ([], [], ["vurder"])


def test_the_version_diff_endpoint(web, role_users, deploy, orc):
    deploy(*diagrams.user_task_with_gateway())
    p = Process("test_gateway", "Test: vurdering med port", lanes=[diagrams.TY, diagrams.KE])
    p.start("start", "Start", lane=diagrams.TY)
    p.user("vurder", "Vurder behov", lane=diagrams.TY, form="test_vurdering")
    p.end("slutt_nei", "Ikke behov", lane=diagrams.TY)
    p.chain("start", "vurder", "slutt_nei")
    processes.deploy_document(orc, p.to_xml().encode(), PETRA)
    token = role_users.tokens["manager"]
    body = web.get("/api/v1/processes/test_gateway/versions/2/diff?against=1",
                   headers={"Authorization": f"Bearer {token}"}).get_json()
    assert {"behov", "folg_opp", "slutt_ja"} <= set(body["removed"]) and "Flow_vurder_slutt_nei" in body["added"]


def test_an_over_long_process_id_is_a_422_at_deploy_not_a_500_at_every_start(web, role_users, orc):
    xml = _gateway_xml().replace(b'"test_gateway"', b'"' + b"p" * 201 + b'"')
    answer = web.api("POST", "/api/v1/processes", role_users.tokens["process_owner"], data=xml,
                     content_type="application/xml")
    assert answer.status_code == 422
    assert any("prosess-id-en" in p["message"] and "høyst 200 tegn" in p["message"] for p in answer.get_json()["problems"])
    assert _count(orc) == 0
