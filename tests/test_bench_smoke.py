"""`make bench` in its quickest mode: the harness runs and writes every figure, well-formed.

A benchmark is not a timed test: nothing here looks at how fast anything was.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MACHINE_KEYS = {"date", "cpu_count", "python", "sqlite", "postgresql", "packages"}


@pytest.mark.slow
def test_the_benchmark_harness_writes_every_figure_it_promises(tmp_path):
    output = tmp_path / "results.json"
    env = {**os.environ, "ORCHESTRATOR_BENCH_TMP": str(tmp_path / "work")}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "storage,timer_pass", "--pg-url", "none",
         "--output", str(output)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(output.read_text())

    assert MACHINE_KEYS <= set(results["machine"])
    assert results["machine"]["cpu_count"] >= 1 and results["machine"]["postgresql"] is None
    assert results["run"]["quick"] is True and results["run"]["failed"] == []
    assert results["run"]["calibration"]["raw_step_median_ms"] > 0

    figures = results["figures"]
    expected = results["run"]["expected"]
    assert {"storage.median", "storage.max", "timer_pass.sqlite.flatness"} <= set(expected)
    assert set(expected) == set(figures)
    for key, figure in figures.items():
        assert figure["key"] == key and figure["title"] and figure["unit"] is not None
        assert figure["goal"] is None or figure["goal"].split()[0] in ("<=", ">=")
        if figure["skipped"]:  # PostgreSQL is off in this run: said so, not measured
            assert "postgresql" in key and figure["value"] is None and figure["met"] is None and figure["notes"]
            continue
        assert isinstance(figure["value"], (int, float)) and math.isfinite(figure["value"]), key
        assert figure["met"] in (True, False) if figure["goal"] else figure["met"] is None
        assert isinstance(figure["raw"], dict) and figure["raw"], key

    table = done.stdout
    assert "figure" in table and "goal" in table
    for figure in figures.values():
        assert figure["title"] in table
