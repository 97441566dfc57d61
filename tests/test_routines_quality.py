"""The seed routines are real, linted BPMN with a form per user task, documented and traced."""
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
    result = subprocess.run([npx, "--no-install", "bpmnlint", *map(str, DIAGRAMS)], cwd=ROOT,
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
