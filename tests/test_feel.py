"""DMN tables and form conditions are FEEL, translated by one module (engine/feel.py) into Python
the sandbox runs; deploy refuses what it cannot translate, naming the rule and column."""
from __future__ import annotations

from datetime import datetime, timezone
from xml.sax.saxutils import escape

import pytest

import diagrams
from orchestrator import clock
from orchestrator.engine import feel, sandbox
from orchestrator.forms import feel as form_feel
from orchestrator.services import instances
from orchestrator.services.access import SYSTEM
from orchestrator.services.errors import DeployRefused
from orchestrator.store.models import ProcessDefinition


def matches(entry: str, value) -> bool:
    python = feel.unary_tests(entry)
    return True if python is None else bool(sandbox.evaluate(python, {}, {feel.INPUT: value}))


@pytest.mark.parametrize("entry, value, expected", [
    ('"ja"', "ja", True), ('"ja"', "nei", False),
    ('not("ja")', "nei", True), ('not("ja")', "ja", False),
    ("< 18", 17, True), ("< 18", 18, False), ("<= 18", 18, True), (">= 67", 70, True),
    ("[1..5]", 1, True), ("[1..5]", 5, True), ("[1..5]", 6, False),
    ("]1..5[", 1, False), ("(1..5]", 5, True), ("[1..5)", 5, False),
    ("-", "hva som helst", True), ("", None, True),
    ('"skole", "barnehage"', "barnehage", True), ('"skole", "barnehage"', "nav", False),
    ('not("skole", "barnehage")', "nav", True),
    ("true", True, True), ("false", True, False), ("null", None, True),
    ("[2, 3]", 3, True), ("? > 3 and ? < 9", 5, True), ("? > 3 and ? < 9", 9, False),
    ('"Er det mulig?"', "Er det mulig?", True),  # a ? inside a string is text, not the input
    ("-1", -1, True), ("1.5", 1.5, True),
])
def test_unary_tests_a_process_owner_writes(entry, value, expected):
    assert matches(entry, value) is expected


@pytest.mark.parametrize("text, python", [
    ('vilkar_barn = "ja"', "(vilkar_barn == 'ja')"),
    ("alder >= 18 and not(venter_barn)", "((alder >= 18) and (not venter_barn))"),
    ("count(tjenester) > 1", "(len(tjenester) > 1)"),
    ('if alder < 18 then "barn" else "voksen"', "('barn' if (alder < 18) else 'voksen')"),
    ("kontakt.navn", "kontakt['navn']"),
    ("x in [1..3]", "(1 <= x <= 3)"),
    ("true", "True"), ("null", "None"),
])
def test_feel_expressions_become_python(text, python):
    assert feel.expression(text) == python


@pytest.mark.parametrize("text, reason", [
    ('vilkar_barn == "ja"', "forventet"),  # Python's ==, which no DMN editor or engine accepts
    ("__class__", "kan ikke brukes som navn"),
    ("open(x)", "ukjent funksjon «open»"),
    ('"a".format(b)', "forventet slutten"),
    ("[1..", "forventet"),
    ("alder >", "forventet"),
    ("lambda", "kan ikke brukes som navn"),
])
def test_what_is_not_feel_is_refused_with_a_reason(text, reason):
    with pytest.raises(feel.FeelError) as refused:
        feel.unary_tests(text)
    assert reason in str(refused.value)


def test_form_conditions_use_the_same_translator():
    assert form_feel.to_python('=andre_tjenester != "ja"') == feel.expression('andre_tjenester != "ja"')
    assert form_feel.holds('=moete_status != "gjennomfort" or moete_nr > 1', {"moete_status": "gjennomfort", "moete_nr": 2})


def _table(input_expression="alder", entry="< 18", output='"barn"'):
    input_expression, entry, output = (escape(x) for x in (input_expression, entry, output))
    return ("test_regler.dmn", diagrams.DMN.replace("<text>alder</text>", f"<text>{input_expression}</text>")
            .replace("<text>&lt; 18</text>", f"<text>{entry}</text>").replace('<text>"barn"</text></outputEntry></rule>\n      <rule id="r3">',
                                                                            f'<text>{output}</text></outputEntry></rule>\n      <rule id="r3">'))


def test_a_table_with_ranges_and_lists_decides(orc, deploy):
    table = _table(entry="[0..17]")
    deploy(table, diagrams.business_rule()[1])
    started = instances.start(orc, "test_dmn", SYSTEM, "SAK-FEEL-86", data={"alder": 12, "venter_barn": False})
    assert instances.get(orc, started.id, SYSTEM).data["gruppe"] == "barn"


@pytest.mark.parametrize("table, where", [
    (_table(input_expression='alder == 18'), "inndata «Alder»"),
    (_table(entry="alder < 18 <"), "regel 2, «Alder»"),
    (_table(output='"{}".format(alder)'), "regel 2, resultat «Gruppe»"),
    (_table(output="__import__('os')"), "regel 2, resultat «Gruppe»"),
])
def test_deploy_refuses_a_cell_it_cannot_translate_naming_rule_and_column(deploy, table, where):
    with pytest.raises(DeployRefused) as refused:
        deploy(table, diagrams.business_rule()[1])
    assert any(where in p.message for p in refused.value.problems), refused.value.problems


def test_a_cell_that_translates_but_the_sandbox_refuses_is_refused_at_deploy(deploy):
    with pytest.raises(DeployRefused) as refused:
        deploy(_table(output="globals"), diagrams.business_rule()[1])
    [problem] = [p for p in refused.value.problems if "globals" in p.message]
    assert problem.element_id == "r2o"


LEGACY = diagrams.DMN.replace("<text>alder</text>", "<text>alder &lt; 18</text>").replace(
    "<text>&lt; 18</text>", "<text>True</text>").replace("<text>&gt;= 18</text>", "<text>False</text>").replace(
    "<text>venter_barn</text>", "<text>venter_barn == True</text>")


def test_a_version_deployed_before_tables_were_feel_still_runs_for_its_instances(orc, deploy):
    # Python-style tables deployed by an earlier release stay readable: instances are pinned to them
    with pytest.raises(DeployRefused):
        deploy(("test_regler.dmn", LEGACY))
    with orc.write() as session:
        session.add(ProcessDefinition(
            key="test_regler", version=1, kind="dmn", name="Test-regler", filename="test_regler.dmn",
            content=LEGACY.encode(), content_hash="legacy", decisions_provided=["test_alder"], called_processes=[],
            decisions_used=[], message_starts=[], deployed_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
            deployed_by="cli", origin="file"))
    deploy(diagrams.business_rule()[1])
    adult = instances.start(orc, "test_dmn", SYSTEM, "SAK-FEEL-125", data={"alder": 40, "venter_barn": False})
    child = instances.start(orc, "test_dmn", SYSTEM, "SAK-FEEL-126", data={"alder": 9, "venter_barn": False})
    assert instances.get(orc, adult.id, SYSTEM).data["gruppe"] == "voksen"
    assert instances.get(orc, child.id, SYSTEM).data["gruppe"] == "barn"
