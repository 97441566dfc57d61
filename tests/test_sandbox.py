"""Every expression from a diagram runs sandboxed; each known escape is refused clearly."""
from __future__ import annotations

import sys
import threading

import pytest

import diagrams
from orchestrator.engine import sandbox
from orchestrator.engine.authoring import timer_literal
from orchestrator.engine.sandbox import SandboxViolation
from orchestrator.services import instances
from orchestrator.services.access import SYSTEM
from orchestrator.services.errors import DeployRefused

ATTACKS = {
    "import": "__import__('os').system('touch /tmp/pwned')",
    "open": "open('/etc/passwd').read()",
    "subclasses": "().__class__.__subclasses__()",
    "mro via base": "().__class__.__base__.__subclasses__()",
    "str.format attribute walk": "'{0.__class__.__init__.__globals__}'.format(len)",
    "getattr string": "getattr((), '__class__')",
    "eval": "eval('1+1')",
    "exec": "exec('x=1')",
    "compile": "compile('1', 'f', 'eval')",
    "globals": "globals()",
    "builtins name": "__builtins__",
    "generator frame": "(x for x in []).gi_frame.f_globals",
    "function globals": "(lambda: 0).__globals__",
    "type() class factory": "type('X', (), {})",
    "vars": "vars()",
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_is_refused_with_a_clear_error(name):
    with pytest.raises(SandboxViolation) as refused:
        sandbox.evaluate(ATTACKS[name], {})
    assert "er ikke tillatt" in str(refused.value)


def test_script_attack_is_refused_in_a_script_task_body():
    with pytest.raises(SandboxViolation):
        sandbox.execute("import os\nos.system('id')", {})


def test_ordinary_expressions_and_scripts_work():
    assert sandbox.evaluate('behov == "ja" and len(tjenester) > 1', {"behov": "ja", "tjenester": [1, 2]})
    context = {"tall": [3, 1, 2]}
    sandbox.execute("sortert = sorted(tall)\nsum_ = sum(tall)\nstorst = max(tall)", context)
    assert context == {"tall": [3, 1, 2], "sortert": [1, 2, 3], "sum_": 6, "storst": 3}


def test_date_helpers_are_available():
    assert sandbox.evaluate("iso(subtract_days('2027-03-15T10:00:00+01:00', 14))", {}) == "2027-03-01T10:00:00+01:00"
    assert sandbox.evaluate("iso(add_months('2027-01-31', 1))", {}) == "2027-02-28T09:00:00+01:00"
    assert sandbox.evaluate("days_between('2027-01-01', '2027-01-15')", {}) == 14


@pytest.mark.parametrize("literal", ["P6M", "P14D", "PT1H", "2027-01-01T09:00:00+01:00", "R3/PT1H", "2027-01-01"])
def test_plain_iso_timer_literals_need_no_quotes(literal):
    assert sandbox.evaluate(timer_literal(literal), {}) == literal


def test_timer_expressions_stay_expressions():
    assert timer_literal("iso(add_days(moetetid, -14))") == "iso(add_days(moetetid, -14))"
    assert timer_literal("${frist}") == "frist"


@pytest.mark.parametrize("where,build", [
    ("script task", lambda code: diagrams.script(code)),
    ("gateway condition", lambda code: diagrams.condition(code)),
    ("timer expression", lambda code: diagrams.timer_expression(code)),
])
def test_deploy_refuses_a_diagram_carrying_an_attack(deploy, where, build):
    with pytest.raises(DeployRefused) as refused:
        deploy(*build(ATTACKS["subclasses"]))
    problem = refused.value.problems[0]
    assert problem.element_id in {"skript", "Flow_port_a", "vent"}
    assert "__subclasses__" in problem.message or "__class__" in problem.message


def test_runtime_refuses_what_slipped_past_deploy(orc, deploy, make_user, monkeypatch):
    """Defence in depth: even if deploy-time checks were bypassed, the engine refuses at run time."""
    monkeypatch.setattr("orchestrator.services.deployment._check_expressions", lambda definition: [])
    deploy(*diagrams.condition("open('/etc/passwd').read() != ''"))
    actor = make_user("tina", "tjenesteyter")
    from orchestrator.services.errors import StepFailed
    with pytest.raises(StepFailed, match="«open» er ikke tilgjengelig"):
        instances.start(orc, "test_betingelse", actor, "SAK-SANDBOX-91")


def test_dmn_expressions_run_in_the_sandbox(orc, deploy, make_user, monkeypatch):
    deploy(*diagrams.business_rule())
    calls = []
    original = sandbox.evaluate
    monkeypatch.setattr(sandbox, "evaluate", lambda *a, **k: calls.append(a[0]) or original(*a, **k))
    instances.start(orc, "test_dmn", make_user("kari", "koordinerende_enhet"), "SAK-SANDBOX-99", data={"alder": 7, "venter_barn": False})
    assert any("alder" in expression for expression in calls)


RUNAWAYS = {
    "power tower": ("eval", "10**10**10"),
    "huge string": ("eval", "'x' * 10**9"),
    "huge list": ("eval", "[0] * 10**8"),
    "huge shift": ("eval", "1 << 10**9"),
    "huge range in C": ("eval", "sum(range(10**12))"),
    "nested comprehension": ("eval", "len([y for x in range(10**6) for y in range(10**6)])"),
    "endless loop": ("exec", "while True:\n    pass"),
    "squaring loop": ("exec", "n = 2\nwhile True:\n    n *= n"),
    "counting loop": ("exec", "i = 0\nwhile i >= 0:\n    i += 1"),
}


def _finishes(run, seconds: float = 60):
    """What `run` raised (None if nothing), insisting that it returns at all."""
    outcome = {}

    def target():
        try:
            run()
            outcome["error"] = None
        except Exception as error:  # noqa: BLE001 - the test asserts on what it was
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert "error" in outcome, "still running: the sandbox did not stop it"
    return outcome["error"]


@pytest.mark.parametrize("name", sorted(RUNAWAYS))
def test_runaway_code_is_stopped_with_a_clear_error(name):
    mode, source = RUNAWAYS[name]
    run = (lambda: sandbox.evaluate(source, {})) if mode == "eval" else (lambda: sandbox.execute(source, {}))
    error = _finishes(run)
    assert isinstance(error, SandboxViolation), error
    assert "for stort" in str(error) or "løkke som aldri slutter" in str(error), str(error)


def test_the_limits_leave_ordinary_arithmetic_and_loops_alone():
    assert sandbox.evaluate("2 ** 10 + 3 * 4 - (1 << 4)", {}) == 1020
    assert sandbox.evaluate("'ab' * 3 + str([0] * 2) + str(list(range(3)))", {}) == "ababab[0, 0][0, 1, 2]"
    assert sandbox.evaluate("2 ** -1 + 2.5 ** 2", {}) == 6.75
    context = {"deltakere": [{"navn": f"d{n}"} for n in range(2000)]}
    sandbox.execute("n = 0\nfor d in deltakere:\n    for e in deltakere[:50]:\n        n += 1\nn *= 2", context)
    assert context["n"] == 200_000


def test_the_line_budget_is_per_run_and_leaves_the_tracer_as_it_was():
    before = sys.gettrace()
    almost = f"i = 0\nwhile i < {sandbox.MAX_LINES // 2 - 10}:\n    i += 1"  # two lines per turn: just under
    for _ in range(3):
        sandbox.execute(almost, {})
    assert sys.gettrace() is before


def test_an_endless_script_task_fails_its_step_instead_of_holding_the_server(orc, deploy, make_user):
    deploy(*diagrams.script("n = 0\nwhile n >= 0:\n    n = n + 1"))
    from orchestrator.services.errors import StepFailed
    error = _finishes(lambda: instances.start(orc, "test_skript", make_user("tina", "tjenesteyter"), "SAK-SANDBOX-163"))
    assert isinstance(error, StepFailed) and "løkke som aldri slutter" in str(error), error
    assert instances.list_instances(orc, SYSTEM, process_key="test_skript").items == []  # nothing half-stored
