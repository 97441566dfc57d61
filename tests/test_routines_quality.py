"""The seed routines are real, linted BPMN with a form per user task, documented and traced; each
user task tells the person doing it how, and the interplay diagram matches the routines' messages."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from routines import ROOT, seeded  # noqa: F401

BPMN = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "camunda": "http://camunda.org/schema/1.0/bpmn",
        "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}
DIAGRAMS = sorted((ROOT / "processes").glob("*.bpmn"))
SAMSPILL = ROOT / "src" / "orchestrator" / "web" / "static" / "app" / "samspill.bpmn"
# words of the notation, not of the work; and anything that looks like a variable or a placeholder
JARGON = re.compile(r"\b(port(en|er)?|hendelse\w*|lane\w*|instans(en|er)?|flerinstans\w*|gateway\w*|token\w*|bpmn|dmn|"
                    r"subprosess\w*|kallaktivitet\w*|sekvensflyt\w*|flyt|variabel\w*)\b", re.I)
IDENTIFIER = re.compile(r"\w+_\w+|\$\{|\{\{|\b[a-zæøå]+[A-Z]\w*")
SOURCE_LINE = re.compile(r"^Kilde: [^()\n]+ \(00[0-4]\)(; [^()\n]+ \(00[0-4]\))*$")
CITED = ("userTask", "manualTask", "scriptTask", "businessRuleTask", "callActivity", "subProcess", "startEvent",
         "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent", "exclusiveGateway",
         "parallelGateway")


def _nodes(path: Path, *tags):
    root = etree.parse(str(path)).getroot()
    return [n for n in root.iter() if isinstance(n.tag, str) and etree.QName(n).localname in tags]


def test_all_four_routines_deploy(seeded):
    keys = {d.key for d in seeded if d.kind == "bpmn"}
    assert keys == {"samarbeid", "oppstart", "opprettelse_av_koordinator", "skifte_av_koordinator", "ansvarsgruppe"}
    assert "rett_til_barnekoordinator" in {d.key for d in seeded if d.kind == "dmn"}


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda p: p.stem)
def test_every_user_task_has_a_form_that_exists(path):
    forms = {p.stem for p in (ROOT / "forms").glob("*.form")}
    for task in _nodes(path, "userTask"):
        key = task.get(f"{{{BPMN['camunda']}}}formKey")
        assert key in forms, f"{path.name}: {task.get('id')} has form {key!r}"


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda p: p.stem)
def test_every_named_element_cites_its_seed_section(path):
    for node in _nodes(path, *CITED):
        if not node.get("name"):
            continue
        doc = node.find("bpmn:documentation", BPMN)
        assert doc is not None and re.search(r"\b00[0-4]\b", doc.text or ""), f"{path.name}: {node.get('id')}"


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda p: p.stem)
def test_every_user_task_guides_the_person_doing_it_and_ends_with_its_source(path):
    for task in _nodes(path, "userTask"):
        doc = task.find("bpmn:documentation", BPMN)
        lines = (doc.text or "").strip().splitlines() if doc is not None else []
        where = f"{path.name}: {task.get('id')}"
        assert len(lines) >= 3, f"{where} has no guidance"
        *guidance, source = lines
        assert SOURCE_LINE.match(source), f"{where} does not end with «Kilde: … (00x)»: {source!r}"
        body = "\n".join(guidance)
        assert not JARGON.search(body), f"{where} speaks notation: {JARGON.search(body).group(0)!r}"
        assert not IDENTIFIER.search(body), f"{where} shows an identifier: {IDENTIFIER.search(body).group(0)!r}"
        assert any(line.startswith("- ") for line in guidance), f"{where}: say what to do, point by point"


def _messages(path: Path) -> tuple[set[str], set[str]]:
    """The message names a routine sends and the ones it waits for."""
    root = etree.parse(str(path)).getroot()
    names = {m.get("id"): m.get("name") for m in root.iter(f"{{{BPMN['bpmn']}}}message")}
    sent, received = set(), set()
    for definition in root.iter(f"{{{BPMN['bpmn']}}}messageEventDefinition"):
        event = etree.QName(definition.getparent()).localname
        (sent if event in ("intermediateThrowEvent", "endEvent") else received).add(names[definition.get("messageRef")])
    return sent, received


def test_the_interplay_diagram_shows_every_message_as_the_routines_send_and_receive_it():
    root = etree.parse(str(SAMSPILL)).getroot()
    assert root.find("bpmn:process", BPMN) is None, "the interplay diagram documents; it runs nothing"
    pools = {p.get("id") for p in root.iter(f"{{{BPMN['bpmn']}}}participant")}
    assert {f"Rutine_{p.stem}" for p in DIAGRAMS} <= pools
    routines = {p.stem: _messages(p) for p in DIAGRAMS}
    shown = set()
    for flow in root.iter(f"{{{BPMN['bpmn']}}}messageFlow"):
        name = re.fullmatch(r"Meldingsnavn: (\w+)", flow.find("bpmn:documentation", BPMN).text.strip()).group(1)
        shown.add(name)
        source, target = flow.get("sourceRef"), flow.get("targetRef")
        if source.startswith("Rutine_"):
            assert name in routines[source.removeprefix("Rutine_")][0], f"{source} does not send {name}"
        if target.startswith("Rutine_"):
            assert name in routines[target.removeprefix("Rutine_")][1], f"{target} does not receive {name}"
    used = set().union(*(sent | received for sent, received in routines.values()))
    assert used == shown, f"missing from the interplay diagram: {sorted(used - shown)}; not in any routine: {sorted(shown - used)}"


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda p: p.stem)
def test_every_element_is_drawn(path):
    root = etree.parse(str(path)).getroot()
    drawn = {s.get("bpmnElement") for s in root.iter(f"{{{BPMN['bpmndi']}}}BPMNShape", f"{{{BPMN['bpmndi']}}}BPMNEdge")}
    flow = [n.get("id") for n in root.iter() if isinstance(n.tag, str) and etree.QName(n).localname in
            (*CITED, "sequenceFlow", "inclusiveGateway", "eventBasedGateway")]
    assert set(flow) <= drawn


def test_bpmnlint_recommended_rules_pass():
    npx = shutil.which("npx")
    if npx is None or not (ROOT / "node_modules" / ".bin" / "bpmnlint").exists():
        pytest.fail("bpmnlint is not installed: run `make assets` (npm ci)")
    result = subprocess.run([npx, "--no-install", "bpmnlint", *map(str, DIAGRAMS), str(SAMSPILL)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_routines_md_names_only_tests_that_exist():
    text = (ROOT / "docs" / "routines.md").read_text()
    named = set(re.findall(r"`(test_[a-z0-9_]+)`", text))
    defined = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        defined |= set(re.findall(r"^def (test_[a-z0-9_]+)", path.read_text(), re.M))
    assert named, "docs/routines.md cites no tests"
    assert named <= defined, sorted(named - defined)


def test_routines_md_traces_every_form_rule():
    text = (ROOT / "docs" / "routines.md").read_text()
    from orchestrator.services.rules import RULES
    assert all(f"`{name}`" in text for name in RULES), [n for n in RULES if f"`{n}`" not in text]
