"""The figures: one aligned table on stdout, and bench/results.json with every raw number."""
from __future__ import annotations

import json
import math
import os
import platform
import sqlite3
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

GOAL_OPS = {"<=": lambda v, g: v <= g, ">=": lambda v, g: v >= g}


@dataclass
class Figure:
    """One reported number, next to its goal.

    `value` is what the table shows (a ratio, milliseconds or a rate, per `unit`); `ratio` is the
    same-run ratio the figure rests on (for absolute figures: the value divided by this run's
    calibration, one raw SpiffWorkflow step, so runs on different machines can be compared).
    `met` is None when there is no goal or the figure could not be measured (`skipped` says why).
    """

    key: str
    title: str
    value: float | None
    unit: str
    goal: str | None = None  # e.g. "<= 1.5"
    ratio: float | None = None
    raw: dict = field(default_factory=dict)
    notes: str = ""
    skipped: str | None = None
    met: bool | None = None

    def __post_init__(self):
        self.met = self.judge()

    def judge(self) -> bool | None:
        if self.goal is None or self.value is None or self.skipped:
            return None
        if isinstance(self.value, float) and math.isnan(self.value):
            return None
        op, target = self.goal.split()
        return GOAL_OPS[op](self.value, float(target))


def skipped(key: str, title: str, unit: str, goal: str | None, reason: str) -> Figure:
    return Figure(key, title, None, unit, goal, notes=reason, skipped=reason)


def machine_info(pg_version: str | None) -> dict:
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpu": _cpu_model(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "postgresql": pg_version,
        "packages": _versions("SpiffWorkflow", "Flask", "SQLAlchemy", "Werkzeug", "gunicorn", "psycopg"),
    }


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _versions(*names) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def fmt_value(figure: Figure) -> str:
    if figure.skipped:
        return "–"
    value = figure.value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "?"
    if figure.unit == "×":
        return f"{value:.2f}×"
    if figure.unit == "ms":
        return f"{value:.3g} ms" if value < 10 else f"{value:.1f} ms"
    if figure.unit == "s":
        return f"{value:.3f} s"
    if figure.unit == "/s":
        return f"{value:.1f}/s"
    return f"{value:g} {figure.unit}".strip()


def fmt_goal(figure: Figure) -> str:
    if not figure.goal:
        return "–"
    op, target = figure.goal.split()
    symbol = {"<=": "≤", ">=": "≥"}[op]
    unit = {"×": "×", "ms": " ms", "s": " s", "/s": "/s"}.get(figure.unit, f" {figure.unit}")
    return f"{symbol} {target}{unit}"


def fmt_met(figure: Figure) -> str:
    if figure.skipped:
        return "skipped"
    return {True: "yes", False: "NO", None: "–"}[figure.met]


def table(figures: list[Figure]) -> str:
    rows = [("figure", "measured", "goal", "met?", "notes")]
    for f in figures:
        rows.append((f.title, fmt_value(f), fmt_goal(f), fmt_met(f), f.notes))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths) + "  -----")
    return "\n".join(lines)


def markdown(figures: list[Figure]) -> str:
    """The same table for README.md."""
    lines = ["| figure | measured | goal | met? | notes |", "|---|---|---|---|---|"]
    for f in figures:
        cells = [f.title, fmt_value(f), fmt_goal(f), fmt_met(f), f.notes.replace("|", "/")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write(path: Path, figures: list[Figure], machine: dict, run: dict) -> None:
    document = {"machine": machine, "run": run, "figures": {f.key: _clean(asdict(f)) for f in figures}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")


def _clean(value):
    """NaN is not JSON: write null."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value
