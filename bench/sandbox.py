"""What diagram code costs where it runs (decisions/0012): in-process, or a round trip to a sandbox process.

With ~3 KB of task data (ten participants and a text, as an ansvarsgruppe step has):
- a provably small expression (`x + 2 > 1`), evaluated in the server's process;
- an expression that is not (`x * 2`): one round trip to a sandbox process;
- a script task's code (`y = x * 2`): one round trip, the changed fields sent back;
- five form conditions that are not provably small, in one batch (one round trip);
- starting a pool and the first evaluation (once per server or worker process).
Each is the median of many calls after warm-up; the ms figures are also given in raw SpiffWorkflow
steps (`raw.per_calibration`), which is what one script task adds to a step.
"""
from __future__ import annotations

import time

from orchestrator.engine import sandbox, sandbox_pool

from .env import Run, log
from .measure import median, summary_ms
from .report import Figure

DATA = {"x": 1, "tekst": "a" * 2000,
        "deltakere": [{"navn": f"Deltaker {n}", "adresse": f"d{n}@lund.kommune.invalid"} for n in range(10)]}
CONDITIONS = [f"x * {n} > 3" for n in range(5)]


def expected(run: Run) -> list[str]:
    return ["sandbox.in_process", "sandbox.expression", "sandbox.script", "sandbox.form_batch", "sandbox.start"]


def _times(fn, n: int) -> list[float]:
    for _ in range(max(20, n // 10)):
        fn()
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def run(run: Run) -> list[Figure]:
    n = run.pick(300, 3000)
    log("sandbox: pool start")
    sandbox_pool.shutdown()
    start = time.perf_counter()
    sandbox.evaluate("x * 2", {"x": 1})
    started_ms = (time.perf_counter() - start) * 1000
    cases = {
        "sandbox.in_process": ("Diagram expression in-process (provably small)", lambda: sandbox.evaluate("x + 2 > 1", DATA)),
        "sandbox.expression": ("Diagram expression in a sandbox process", lambda: sandbox.evaluate("x * 2", DATA)),
        "sandbox.script": ("Script task code in a sandbox process", lambda: sandbox.execute("y = x * 2", dict(DATA))),
        "sandbox.form_batch": ("Five form conditions, one batch", lambda: sandbox.evaluate_many(CONDITIONS, DATA)),
    }
    figures = []
    for key, (title, fn) in cases.items():
        log(f"sandbox: {key}")
        seconds = _times(fn, n * (10 if key == "sandbox.in_process" else 1))
        figures.append(Figure(key, title, round(median(seconds) * 1000, 5), "ms", None,
                              raw=summary_ms(seconds), notes="3 KB of task data; median"))
    figures.append(Figure("sandbox.start", "Sandbox pool start + first evaluation", round(started_ms, 1), "ms", None,
                          raw={"processes": sandbox_pool.limits().processes},
                          notes="once per server or worker process"))
    return figures
