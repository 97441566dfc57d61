"""Diagram code cannot stop, freeze or fill the process that runs it (issue 11, items 1 and 2).

Scripts and every expression that is not provably small run in sandbox processes with a CPU,
wall-time and memory limit; what they write is capped; whatever they raise ends as the step's
ordinary error, in Norwegian, naming the element.
"""
from __future__ import annotations

import json
import os
import signal
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

import diagrams
from orchestrator.config import SandboxLimits
from orchestrator.engine import bounded, sandbox, sandbox_pool
from orchestrator.engine.helpers import OSLO
from orchestrator.engine.sandbox import SandboxViolation
from orchestrator.forms.model import FormError, parse_form
from orchestrator.forms.schema import FormConditionFailed, validate_submission, visible_components
from orchestrator.services import instances
from orchestrator.services.access import SYSTEM
from orchestrator.services.errors import StepFailed


@pytest.fixture
def limits():
    """Set the sandbox's limits for one test (a fresh pool), and put the previous ones back."""
    previous = sandbox_pool.limits()

    def _use(**changes) -> SandboxLimits:
        chosen = replace(previous, **changes)
        sandbox_pool.configure(chosen)
        return chosen

    yield _use
    sandbox_pool.configure(previous)


@pytest.fixture
def unchecked_deploy(deploy, monkeypatch):
    """Deploy as if the deploy-time checks had been bypassed: the run-time boundary must hold alone."""
    monkeypatch.setattr("orchestrator.services.deployment._check_expressions", lambda definition: [])
    return deploy


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a child of ours that exited but was not reaped yet counts as gone
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def _zombie(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] == "Z"


# --- nothing a diagram raises stops the process (item 1) --------------------------------------


def test_system_exit_in_a_script_task_fails_the_step_and_names_the_element(orc, unchecked_deploy, make_user):
    unchecked_deploy(*diagrams.script("raise SystemExit(4)"))
    with pytest.raises(StepFailed) as failed:
        instances.start(orc, "test_skript", make_user("tina", "tjenesteyter"), "SAK-SANDBOX-PROC-75")
    assert "«Regn ut» (skript)" in str(failed.value) and "SystemExit" in str(failed.value)
    assert instances.list_instances(orc, SYSTEM, process_key="test_skript").items == []


def test_a_generator_thrown_system_exit_in_a_condition_fails_the_step(orc, unchecked_deploy, make_user):
    unchecked_deploy(*diagrams.condition("(y for y in []).throw(SystemExit(7))"))
    with pytest.raises(StepFailed) as failed:
        instances.start(orc, "test_betingelse", make_user("tina", "tjenesteyter"), "SAK-SANDBOX-PROC-83")
    assert "Uttrykket i «Port» (port)" in str(failed.value) and "SystemExit" in str(failed.value)


def test_a_timer_expression_raising_system_exit_fails_the_step(orc, unchecked_deploy, make_user):
    unchecked_deploy(*diagrams.timer_expression("(y for y in []).throw(SystemExit(7))"))
    with pytest.raises(StepFailed, match="vent"):
        instances.start(orc, "test_tidsuttrykk", make_user("tina", "tjenesteyter"), "SAK-SANDBOX-PROC-90")


@pytest.mark.parametrize("source", [
    "raise SystemExit(4)", "raise KeyboardInterrupt()", "raise GeneratorExit()", "raise BaseException()",
    "g = (y for y in [1])\ng.close()", "g = (y for y in [1])\ng.throw(ValueError())",
])
def test_process_stopping_exceptions_and_generator_control_are_not_available(source):
    with pytest.raises(SandboxViolation, match="ikke"):
        sandbox.execute(source, {})


def test_deploy_refuses_system_exit_in_a_script(deploy):
    from orchestrator.services.errors import DeployRefused
    with pytest.raises(DeployRefused, match="SystemExit"):
        deploy(*diagrams.script("raise SystemExit(4)"))


def test_a_form_condition_that_fails_is_a_form_error_naming_the_field():
    with pytest.raises(FormError):  # not FEEL at all: refused when the form is read (at deploy)
        parse_form("skjema", json.dumps({"components": [
            {"type": "textfield", "key": "hemmelig", "label": "Merknad",
             "conditional": {"hide": "=(y for y in []).throw(SystemExit(7))"}}]}).encode())
    form = parse_form("skjema", json.dumps({"components": [  # FEEL, but it fails on the data it meets
        {"type": "textfield", "key": "navn", "label": "Navn"},
        {"type": "textfield", "key": "hemmelig", "label": "Merknad", "conditional": {"hide": "=navn > 3"}},
    ]}).encode())
    with pytest.raises(FormConditionFailed, match="«Merknad»"):
        visible_components(form, {"navn": "Kari"})
    with pytest.raises(FormConditionFailed, match="«Merknad»"):
        validate_submission(form, {"navn": "Kari"})


def test_all_conditions_of_a_form_take_one_round_trip(monkeypatch):
    form = parse_form("skjema", json.dumps({"components": [
        {"type": "textfield", "key": f"felt{n}", "label": f"Felt {n}", "conditional": {"hide": f"=x * {n} > 3"}}
        for n in range(5)]}).encode())
    calls = []
    original = sandbox_pool.call
    monkeypatch.setattr(sandbox_pool, "call", lambda message: calls.append(message[0]) or original(message))
    shown = visible_components(form, {"x": 1})
    assert [c.key for c in shown] == ["felt0", "felt1", "felt2", "felt3"] and calls == ["many"]


# --- nothing a diagram computes freezes or fills the process (item 2) --------------------------


def test_builtin_pow_is_bounded_like_the_operator():
    started = time.monotonic()
    with pytest.raises(SandboxViolation, match="for stort"):
        sandbox.evaluate("pow(7, 2*10**7)", {})
    assert time.monotonic() - started < 60
    assert sandbox.evaluate("pow(2, 10) + pow(3, 4, 5)", {}) == 1025


def test_a_c_level_computation_is_stopped_by_the_cpu_limit(limits):
    limits(cpu_seconds=1, wall_seconds=60)
    with pytest.raises(SandboxViolation, match="1 sekunder CPU-tid"):
        sandbox.evaluate("sum(map(sum, [range(10**6)]*1500))", {})
    assert sandbox.evaluate("x * 2", {"x": 21}) == 42  # a fresh process took its place


def test_a_run_over_the_wall_time_is_killed_and_its_process_replaced(limits):
    limits(cpu_seconds=60, wall_seconds=1, processes=1)
    assert sandbox.evaluate("x * 2", {"x": 1}) == 2
    [before] = sandbox_pool.pool().pids()
    with pytest.raises(SandboxViolation, match="brukte mer enn 1 sekunder"):
        sandbox.evaluate("sum(map(sum, [range(10**6)]*1500))", {})
    assert not _alive(before)
    assert sandbox.evaluate("x * 2", {"x": 2}) == 4
    [after] = sandbox_pool.pool().pids()
    assert after != before


def test_a_huge_allocation_hits_the_memory_limit(limits):
    limits(memory_mb=256)
    with pytest.raises(SandboxViolation, match="256 MB minne"):
        sandbox.evaluate("len('a'.ljust(3 * 10**9))", {})
    assert sandbox.evaluate("len('a'.ljust(1000))", {}) == 1000


def test_a_script_may_not_write_more_than_the_data_limit(orc, deploy, make_user):
    deploy(*diagrams.script("x = 'a'.ljust(30 * 10**6)"))
    with pytest.raises(StepFailed) as failed:
        instances.start(orc, "test_skript", make_user("tina", "tjenesteyter"), "SAK-SANDBOX-PROC-174")
    assert "«Regn ut» (skript)" in str(failed.value) and "30,0 MB" in str(failed.value)
    assert "grensen er 1,0 MB" in str(failed.value)
    assert instances.list_instances(orc, SYSTEM, process_key="test_skript").items == []


def test_a_script_may_not_write_data_nested_deeper_than_can_be_stored():
    with pytest.raises(SandboxViolation, match="nestet"):
        sandbox.execute("x = []\nfor i in range(5000):\n    x = [x]", {})


def test_a_step_whose_state_would_exceed_the_limit_is_refused_naming_the_field(orc, deploy, make_user, limits):
    limits(max_state_bytes=160_000)
    deploy(*diagrams.script("kopi = notat + notat"))  # each under the limits; copied along, too much
    with pytest.raises(StepFailed) as failed:
        instances.start(orc, "test_skript", make_user("tina", "tjenesteyter"), "SAK-SANDBOX-PROC-189", data={"notat": "x" * 60_000})
    assert "grensen er 0,2 MB" in str(failed.value)
    assert "feltet «kopi» (0,1 MB) fra «Regn ut»" in str(failed.value)
    assert instances.list_instances(orc, SYSTEM, process_key="test_skript").items == []


# --- the pool itself -------------------------------------------------------------------------


def test_a_killed_child_is_replaced_and_the_pool_shuts_down_cleanly():
    pool = sandbox_pool.Pool(replace(sandbox_pool.limits(), processes=2))
    barrier = threading.Barrier(2)

    def busy():
        barrier.wait()
        return pool.call(("eval", datetime.now(timezone.utc), ("sum(range(10**5))", {}, None)))

    threads = [threading.Thread(target=busy) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first = pool.pids()
    assert len(first) == 2
    for pid in first:
        os.kill(pid, signal.SIGKILL)
    while not all(_zombie(pid) for pid in first):
        time.sleep(0.01)  # the kernel's doing, not a timer: SIGKILL is delivered asynchronously
    for _ in range(3):
        assert pool.call(("eval", datetime.now(timezone.utc), ("x * 3", {"x": 2}, None))) == ("ok", 6)
    assert len(pool.pids()) == 1 and not set(pool.pids()) & set(first)
    every = pool.pids()
    pool.close()
    assert pool.pids() == []
    assert not any(_alive(pid) for pid in every + first)


def test_threads_share_the_pool_without_mixing_answers(limits):
    limits(processes=2)
    results, errors = {}, []

    def work(n):
        try:
            results[n] = sandbox.evaluate("x * 2", {"x": n})
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and results == {n: n * 2 for n in range(12)}
    assert len(sandbox_pool.pool().pids()) <= 2


def test_a_forked_process_starts_its_own_pool_and_leaves_the_parents_alone():
    assert sandbox.evaluate("x * 2", {"x": 1}) == 2
    parent_children = sandbox_pool.pool().pids()
    pid = os.fork()
    if pid == 0:  # the child, as a gunicorn worker after fork
        try:
            ok = sandbox.evaluate("x * 2", {"x": 5}) == 10 and not set(sandbox_pool.pool().pids()) & set(parent_children)
            sandbox_pool.shutdown()
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert sandbox_pool.pool().pids() == parent_children and all(_alive(p) for p in parent_children)
    assert sandbox.evaluate("x * 2", {"x": 3}) == 6


def test_code_in_a_sandbox_process_sees_the_parents_clock(clock):
    context = {}
    sandbox.execute("naa = iso(now())", context)
    assert datetime.fromisoformat(context["naa"]) == clock.now()
    assert sandbox.evaluate("str(now())", {}) == str(clock.now())


def test_a_reply_that_is_not_plain_data_is_refused():
    import pickle

    from orchestrator.engine import sandbox_wire

    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    with pytest.raises(sandbox_wire.UnsafeReply):
        sandbox_wire.unpack_data(pickle.dumps(("ok", Evil())))
    moment = datetime(2027, 1, 1, 9, tzinfo=OSLO)
    assert sandbox_wire.unpack_data(pickle.dumps(("ok", {"t": moment, "s": {1}}))) == ("ok", {"t": moment, "s": {1}})


# --- what runs in-process ------------------------------------------------------------------


@pytest.mark.parametrize("expression", [
    'behov == "ja" and len(tjenester) > 1', "iso(subtract_days(moetetid, varslingsfrist_dager))", '"P14D"',
    'dmninputexpr in ["a", "b"]', 'svar.get("alder", 0) >= 18', "not samtykke",
])
def test_ordinary_conditions_run_in_process(expression):
    assert bounded.is_bounded(expression)


@pytest.mark.parametrize("expression", [
    "pow(7, 2*10**7)", "sum(map(sum, [range(10**6)]*1500))", '"a".ljust(30*10**6)',
    "(y for y in []).throw(SystemExit(7))", "x % 2", "str(x)", "x + x + x + x + x + x + x + x + x + x",
    "[y for y in x]", "round(5, -x)", "a // b", 'f"{x}"',
])
def test_anything_that_could_do_unbounded_work_goes_to_a_sandbox_process(expression):
    assert not bounded.is_bounded(expression)


def test_a_timer_step_whose_script_raises_system_exit_fails_without_stopping_the_worker(orc, unchecked_deploy,
                                                                                      clock):
    from bpmnbuilder import Process
    from orchestrator.services import timers

    p = Process("test_tidsskript", "Test: skript etter tidtaker", lanes=[diagrams.TY])
    p.start("start", "Start", lane=diagrams.TY)
    p.catch("vent", "Vent", lane=diagrams.TY, timer=("timeDuration", "PT1M"))
    p.script("skript", "Avslutt alt", "raise SystemExit(4)", lane=diagrams.TY)
    p.end("slutt", "Slutt", lane=diagrams.TY)
    p.chain("start", "vent", "skript", "slutt")
    unchecked_deploy(("test_tidsskript.bpmn", p.to_xml()))
    started = instances.start(orc, "test_tidsskript", SYSTEM, "SAK-SANDBOX-PROC-315")
    clock.advance(timedelta(minutes=2))
    [fired] = timers.fire_due(orc)  # the worker's pass: a SystemExit here would end the worker process
    assert "«Avslutt alt» (skript)" in fired.error and "SystemExit" in fired.error
    assert fired.error.count("skript") == 1  # the element named once
    assert fired.retry_at is not None  # a failed attempt, tried again after a back-off (decision 0011)
    detail = instances.get(orc, started.id, SYSTEM)
    assert (detail.status, detail.error) == ("running", fired.error)
