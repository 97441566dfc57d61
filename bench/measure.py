"""Timing, statistics, SQL statement counts and profiles: the tools every measurement uses."""
from __future__ import annotations

import cProfile
import io
import math
import pstats
import statistics
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent


def now() -> float:
    return time.perf_counter()


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def percentile(values, p: float) -> float:
    """Linear interpolation between closest ranks (p in 0..100)."""
    data = sorted(values)
    if not data:
        return math.nan
    if len(data) == 1:
        return data[0]
    k = (len(data) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def summary_ms(seconds) -> dict:
    """Median, p5/p95, min/max and count of durations given in seconds, as milliseconds."""
    values = [s * 1000 for s in seconds]
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median_ms": round(statistics.median(values), 4),
        "mean_ms": round(statistics.fmean(values), 4),
        "p5_ms": round(percentile(values, 5), 4),
        "p95_ms": round(percentile(values, 95), 4),
        "min_ms": round(min(values), 4),
        "max_ms": round(max(values), 4),
    }


def median(values) -> float:
    return statistics.median(values) if values else math.nan


class SqlCounter:
    """Counts statements sent to the database by kind (SELECT, INSERT, UPDATE, DELETE, ...).

    With `keep_text`, keeps each statement (shortened), its parameters and how long it took, so
    a figure can say which statement costs what (and `explain` can show its plan).
    """

    def __init__(self, engine, keep_text: bool = False):
        self.engine = engine
        self.counts: Counter = Counter()
        self.statements: list[str] = []
        self.executed: list[dict] = []
        self.keep_text = keep_text
        self.commits = 0

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        kind = statement.lstrip().lstrip("(").split(None, 1)[0].upper() if statement.strip() else "?"
        self.counts[kind] += 1
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        started = conn.info.get("bench_started", [])
        seconds = time.perf_counter() - started.pop() if started else float("nan")
        if self.keep_text:
            text = " ".join(statement.split())
            self.statements.append(text[:200])
            self.executed.append({"sql": text, "parameters": parameters, "ms": round(seconds * 1000, 4)})

    def _on_commit(self, conn):
        self.commits += 1

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        event.listen(self.engine, "commit", self._on_commit)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)
        event.remove(self.engine, "commit", self._on_commit)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def per(self, n: int) -> dict:
        """Average statements per operation, by kind."""
        n = max(n, 1)
        out = {kind: round(count / n, 2) for kind, count in sorted(self.counts.items())}
        out["total"] = round(self.total / n, 2)
        out["commits"] = round(self.commits / n, 2)
        return out

    def timings(self) -> list[dict]:
        """Each kept statement with its time (ms), slowest first."""
        return sorted(({"sql": e["sql"][:300], "ms": e["ms"]} for e in self.executed), key=lambda e: -e["ms"])

    def explain(self, kinds=("SELECT", "UPDATE", "DELETE")) -> list[dict]:
        """The database's plan for each kept statement (EXPLAIN, nothing is executed)."""
        out = []
        sqlite = self.engine.dialect.name == "sqlite"
        with self.engine.connect() as conn:
            for e in self.executed:
                if e["sql"].lstrip("(").split(None, 1)[0].upper() not in kinds:
                    continue
                prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
                try:
                    rows = conn.exec_driver_sql(prefix + e["sql"], e["parameters"]).fetchall()
                    plan = [" ".join(str(c) for c in (r[1:] if sqlite else r)) for r in rows]
                except Exception as error:  # a plan is information, not a requirement
                    plan = [f"(no plan: {type(error).__name__}: {error})"[:200]]
                out.append({"sql": e["sql"][:300], "plan": plan})
            conn.rollback()
        return out


def _where(filename: str, line: int, name: str) -> str:
    path = filename
    for marker in ("site-packages/", "/src/", str(ROOT) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{line}({name})" if line else f"{path}({name})"


def _package(filename: str) -> str:
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins (C calls)"
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0]
    if "/src/orchestrator/" in filename:
        return "orchestrator"
    if str(ROOT) in filename:
        return "bench"
    return "python stdlib"


def profile(fn, top: int = 15, ops: int | None = None) -> dict:
    """Run `fn` under cProfile; the top functions by own time and by cumulative time.

    Also own time summed by package (sqlalchemy, SpiffWorkflow, marshmallow, ...): where the time
    goes, in shares of the profiled total. With `ops`, the profiled milliseconds per operation.
    (cProfile slows Python code more than C code: read shares, not absolute times.)
    """
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        fn()
    finally:
        profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO())
    total = sum(entry[2] for entry in stats.stats.values()) or 1e-9  # own times sum to the total
    rows, packages = [], Counter()
    for (filename, line, name), (cc, nc, tt, ct, _callers) in stats.stats.items():
        rows.append((_where(filename, line, name), nc, tt, ct))
        packages[_package(filename)] += tt
    by_own = sorted(rows, key=lambda r: r[2], reverse=True)[:top]
    ours = [r for r in rows if r[0].startswith("orchestrator/")]
    by_cum = sorted(ours, key=lambda r: r[3], reverse=True)[:top]

    def fmt(r):
        return {"function": r[0], "calls": r[1], "own_s": round(r[2], 4), "cumulative_s": round(r[3], 4),
                "own_share": round(r[2] / total, 3), "cumulative_share": round(min(r[3] / total, 1.0), 3)}

    out = {"total_s": round(total, 4),
           "own_time_by_package": {k: round(v / total, 3) for k, v in packages.most_common(12)},
           "top_own_time": [fmt(r) for r in by_own], "top_orchestrator_cumulative": [fmt(r) for r in by_cum]}
    if ops:
        out["profiled_ms_per_op"] = round(total * 1000 / ops, 3)
    return out
