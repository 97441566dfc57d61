"""Deploy: versions, validation with file/element/line, all or nothing, pinned instances."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

import diagrams
from bpmnbuilder import Process
from helpers import open_tasks
from orchestrator.services import deployment, instances
from orchestrator.services.access import SYSTEM, Actor
from orchestrator.services.errors import DeployRefused, Forbidden
from orchestrator.store.models import ProcessDefinition


def _count(orc) -> int:
    with orc.db.read() as session:
        return session.scalar(select(func.count()).select_from(ProcessDefinition))


def _renamed(files, old, new):
    return [(name, xml.replace(old, new)) for name, xml in files]


def test_a_new_version_is_stored_only_when_the_content_changed(deploy):
    files = diagrams.user_task_with_gateway()
    first = {d.key: d for d in deploy(*files)}
    assert (first["test_gateway"].version, first["test_gateway"].changed) == (1, True)
    again = {d.key: d for d in deploy(*files)}
    assert (again["test_gateway"].version, again["test_gateway"].changed) == (1, False)
    changed = {d.key: d for d in deploy(*_renamed(files, "Vurder behov", "Vurder behovet"))}
    assert (changed["test_gateway"].version, changed["test_gateway"].changed) == (2, True)
    assert (changed["test_vurdering"].version, changed["test_vurdering"].changed) == (1, False)


def test_running_instances_stay_on_the_version_they_started_with(orc, deploy, make_user):
    actor = make_user("tina", "tjenesteyter")
    files = diagrams.user_task_with_gateway()
    deploy(*files)
    old = instances.start(orc, "test_gateway", actor, "SAK-DEPLOY-40")
    deploy(*_renamed(files, "Vurder behov", "Vurder behovet (ny)"))
    new = instances.start(orc, "test_gateway", actor, "SAK-DEPLOY-42")
    assert (old.process_version, new.process_version) == (1, 2)
    assert [t.name for t in open_tasks(orc, old.id)] == ["Vurder behov"]
    assert [t.name for t in open_tasks(orc, new.id)] == ["Vurder behovet (ny)"]


def test_parsed_specs_are_cached_per_version(orc, deploy):
    deploy(*diagrams.user_task_with_gateway())
    with orc.db.read() as session:
        pins = orc.specs.pins_for(session, "test_gateway")
        assert orc.specs.bundle(session, "test_gateway", pins) is orc.specs.bundle(session, "test_gateway", pins)


def _problems(deploy, *files):
    with pytest.raises(DeployRefused) as refused:
        deploy(*files)
    return refused.value.problems


def test_unknown_called_process_is_refused_naming_the_element(deploy):
    [problem] = _problems(deploy, diagrams.called_process()[1])
    assert (problem.file, problem.element_id) == ("test_forelder.bpmn", "kall")
    assert "test_barn" in problem.message and problem.line


def test_referenced_form_that_does_not_exist_is_refused(deploy):
    [problem] = _problems(deploy, diagrams.user_task_with_gateway()[0])
    assert problem.element_id == "vurder" and "test_vurdering" in problem.message


def test_unsupported_element_is_refused(deploy):
    xml = diagrams.script("x = 1")[0][1].replace("bpmn:scriptTask", "bpmn:serviceTask")
    problems = _problems(deploy, ("tjeneste.bpmn", xml))
    assert any(p.element_id == "skript" and "serviceTask" in p.message for p in problems)


def test_lane_that_is_not_a_role_is_refused(deploy):
    p = Process("test_lane", "Test", lanes=["Rektor"])
    p.start("s", "Start", lane="Rektor")
    p.user("u", "Oppgave", lane="Rektor")
    p.end("e", "Slutt", lane="Rektor")
    p.chain("s", "u", "e")
    [problem] = _problems(deploy, ("lane.bpmn", p.to_xml()))
    assert problem.element_id == "u" and "Rektor" in problem.message


def test_xml_error_reports_file_and_line(deploy):
    [problem] = _problems(deploy, ("brudd.bpmn", '<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">\n<oops>\n</definitions>'))
    assert (problem.file, problem.line) == ("brudd.bpmn", 3)


def test_schema_error_reports_the_line(deploy):
    xml = diagrams.script("x = 1")[0][1].replace('name="Se resultat"', 'name="Se resultat" isForCompensation="kanskje"')
    [problem] = _problems(deploy, ("skjema.bpmn", xml))
    line = next(n for n, text in enumerate(xml.splitlines(), 1) if "kanskje" in text)
    assert (problem.file, problem.line, problem.element_id) == ("skjema.bpmn", line, "se")
    assert "motoren kan ikke kjøre diagrammet" in problem.message  # said plainly, the parser's words folded away
    assert "kanskje" in problem.detail


def test_nothing_is_stored_when_one_file_of_the_batch_is_bad(orc, deploy):
    good = diagrams.user_task_with_gateway()
    bad = ("ødelagt.bpmn", "<ikke xml")
    _problems(deploy, *good, bad)
    assert _count(orc) == 0


def test_the_same_key_twice_in_one_batch_is_refused(deploy):
    files = diagrams.user_task_with_gateway()
    problems = _problems(deploy, *files, ("kopi.bpmn", files[0][1]))
    assert any("test_gateway" in p.message for p in problems)


def test_only_process_owners_deploy(orc):
    files = [(n, x.encode()) for n, x in diagrams.user_task_with_gateway()]
    with pytest.raises(Forbidden):
        deployment.deploy(orc, files, Actor("kari", frozenset({"koordinerende_enhet", "manager"})))


def test_camunda_7_form_keys_are_understood(orc, deploy, make_user):
    files = diagrams.user_task_with_gateway()
    files = _renamed(files, 'camunda:formKey="test_vurdering"', 'camunda:formKey="camunda-forms:deployment:test_vurdering.form"')
    deploy(*files)
    started = instances.start(orc, "test_gateway", make_user("tina", "tjenesteyter"), "SAK-DEPLOY-124")
    assert open_tasks(orc, started.id)[0].form_key == "test_vurdering"


def test_deploy_from_folders_reads_bpmn_dmn_and_forms(orc, deploy, tmp_path):
    for name, content in diagrams.business_rule() + diagrams.user_task_with_gateway():
        (tmp_path / name).write_text(content)
    results = deploy(tmp_path)
    assert sorted((d.kind, d.key) for d in results) == [
        ("bpmn", "test_dmn"), ("bpmn", "test_gateway"), ("dmn", "test_alder"), ("form", "test_vurdering")]
    assert instances.start(orc, "test_dmn", SYSTEM, "SAK-DEPLOY-134", data={"alder": 3, "venter_barn": False}).status == "running"


def test_a_linked_camunda_form_reference_is_understood(orc, deploy, make_user):
    files = _renamed(diagrams.user_task_with_gateway(), 'camunda:formKey="test_vurdering"', 'camunda:formRef="test_vurdering"')
    deploy(*files)
    started = instances.start(orc, "test_gateway", make_user("tina", "tjenesteyter"), "SAK-DEPLOY-140")
    assert open_tasks(orc, started.id)[0].form_key == "test_vurdering"


def _loop(closing, key="test_loekke"):
    """start -> a -> (something) -> back to a; `closing` adds what lies between."""
    p = Process(key, "Test: løkke", lanes=[diagrams.TY])
    p.start("start", "Start", lane=diagrams.TY)
    p.user("a", "Skriv referat", lane=diagrams.TY)
    p.chain("start", "a")
    closing(p)
    return (f"{key}.bpmn", p.to_xml())


def _through_a_task(p):
    p.user("b", "Send referat", lane=diagrams.TY)
    p.chain("a", "b", "a")


def _through_a_timer_and_a_parallel_gateway(p):
    p.catch("vent", "Vent et halvår", lane=diagrams.TY, timer=("timeDuration", "P6M"))
    p.and_("del", "Del", lane=diagrams.TY)
    p.end("slutt", "Slutt", lane=diagrams.TY)
    p.chain("a", "vent", "del", "a")
    p.flow("del", "slutt")


def _inside_a_subprocess(p):
    inner = Process("runde", "Runde")
    inner.start("runde_start", "Start")
    inner.user("x", "Forbered møte")
    inner.user("y", "Hold møte")
    inner.chain("runde_start", "x", "y", "x")
    p.subprocess("moeter", "Møter", inner, lane=diagrams.TY)
    p.end("slutt", "Slutt", lane=diagrams.TY)
    p.chain("a", "moeter", "slutt")


@pytest.mark.parametrize("closing, element, names", [
    (_through_a_task, "a", "Skriv referat → Send referat → Skriv referat"),
    (_through_a_timer_and_a_parallel_gateway, "a", "Skriv referat → Vent et halvår → Del → Skriv referat"),
    (_inside_a_subprocess, "x", "Forbered møte → Hold møte → Forbered møte"),
])
def test_a_loop_without_an_exclusive_gateway_is_refused_naming_its_elements(deploy, closing, element, names):
    # SpiffWorkflow would predict such a loop forever: a RecursionError when the first instance starts
    [problem] = [p for p in _problems(deploy, _loop(closing)) if "går i ring" in p.message]
    assert (problem.file, problem.element_id) == ("test_loekke.bpmn", element)
    assert names in problem.message and "eksklusiv port" in problem.message and problem.line


def _through_a_gateway(p):
    p.user("b", "Send referat", lane=diagrams.TY)
    p.xor("igjen", "Nytt møte?", lane=diagrams.TY)
    p.end("slutt", "Slutt", lane=diagrams.TY)
    p.chain("a", "b", "igjen")
    p.flow("igjen", "a", name="Ja", condition='igjen == "ja"')
    p.flow("igjen", "slutt", name="Nei", default=True)


def _closed_by_a_boundary_event(p):
    p.user("b", "Send referat", lane=diagrams.TY)
    p.boundary("frist", "Fristen gikk ut", attached_to="b", timer=("timeDuration", "P14D"))
    p.end("slutt", "Slutt", lane=diagrams.TY)
    p.chain("a", "b", "slutt")
    p.chain("frist", "a")


@pytest.mark.parametrize("closing", [_through_a_gateway, _closed_by_a_boundary_event])
def test_loops_the_engine_can_run_are_deployed_and_start(orc, deploy, closing):
    deploy(_loop(closing))
    started = instances.start(orc, "test_loekke", SYSTEM, business_key="SAK-1")
    assert [t.name for t in open_tasks(orc, started.id)] == ["Skriv referat"]


def test_an_unguarded_loop_that_reached_the_engine_is_an_engine_error_not_a_crash():
    # e.g. deployed before the check existed: starting it fails with a message, not a RecursionError
    from orchestrator.engine import authoring, parser, workflow, xmlsafe

    name, xml = _loop(_through_a_task)
    definition = authoring.read(name, xmlsafe.parse(xml.encode()), xml.encode())
    bundle = parser.build_bundle(definition.key, [definition], {})
    with pytest.raises(workflow.EngineError, match="løkke uten eksklusiv port"):
        workflow.create(bundle)


def test_a_task_inside_a_subprocess_belongs_to_the_lane_the_subprocess_is_drawn_in(orc, deploy, make_user):
    # bpmn-js lists only a process's own level in its lanes; what a subprocess holds lies in its lane
    inner = Process("vurdering", "Vurdering")
    inner.start("vurdering_start", "Start")
    inner.user("vurder", "Vurder søknaden")
    inner.end("vurdering_slutt", "Slutt")
    inner.chain("vurdering_start", "vurder", "vurdering_slutt")
    p = Process("test_delprosess_lane", "Test: lane for delprosess", lanes=[diagrams.TY, diagrams.LEDER])
    p.start("start", "Start", lane=diagrams.TY)
    p.subprocess("vurdering", "Vurdering", inner, lane=diagrams.LEDER)
    p.end("slutt", "Slutt", lane=diagrams.TY)
    p.chain("start", "vurdering", "slutt")
    deploy(("test_delprosess_lane.bpmn", p.to_xml()))
    started = instances.start(orc, "test_delprosess_lane", SYSTEM, business_key="SAK-1")
    assert [(t.name, t.role) for t in open_tasks(orc, started.id)] == [("Vurder søknaden", "leder")]
