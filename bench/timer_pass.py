"""One timer-worker pass with many waiting instances and none due (goal ≤ 2 ms, flat 1k → 100k).

What one turn of the worker loop does: `Worker.turn()`: fire due timers and deliver due notices,
then when to wake. The instances are copies of one real
ansvarsgruppe instance waiting on its timers (bench/clone.py), with their timers spread from one
day ahead, so nothing is due. The database grows 1k → 10k → 100k; at each size the median of
many passes is taken. The same on PostgreSQL when it is available.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from orchestrator.services.worker import Worker

from . import clone, routines
from .env import Env, Run, log
from .measure import SqlCounter, profile, summary_ms, timed
from .report import Figure, skipped

GOAL_MS = "<= 2"
GOAL_FLAT = "<= 1.5"


def sizes(run: Run) -> list[int]:
    return run.pick([200, 2000], [1000, 10_000, 100_000])


def label(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def backends(run: Run) -> list[str]:
    return ["sqlite", "postgresql"]


def expected(run: Run) -> list[str]:
    keys = []
    for backend in backends(run):
        keys += [f"timer_pass.{backend}.{label(n)}" for n in sizes(run)] + [f"timer_pass.{backend}.flatness"]
    return keys


def run(run: Run) -> list[Figure]:
    figures = []
    for backend in backends(run):
        if backend == "postgresql" and not run.pg_url:
            for key in expected(run):
                if key.startswith("timer_pass.postgresql"):
                    figures.append(skipped(key, _title(backend, key.rsplit(".", 1)[1]), "ms", GOAL_MS,
                                           "no PostgreSQL (--pg-url)"))
            continue
        figures += _run_backend(run, backend)
    return figures


def _title(backend: str, what: str) -> str:
    name = "SQLite" if backend == "sqlite" else "PostgreSQL"
    if what == "flatness":
        return f"Timer pass, largest ÷ smallest, {name}"
    return f"Timer pass, {what} waiting, none due, {name}"


def _run_backend(run: Run, backend: str) -> list[Figure]:
    passes = run.pick(40, 200)
    results = {}
    with Env(f"timer_pass_{backend}", backend=backend, pg_url=run.pg_url) as env:
        orc = env.orc
        template = _template(env)
        log(f"timer_pass/{backend}: template state {template.state_bytes} bytes")
        worker = Worker(orc, owner="bench-worker")
        worker.run_pass()
        inserted = 0
        for n in sizes(run):
            log(f"timer_pass/{backend}: inserting up to {n} waiting instances")
            clone.insert_copies(orc, template, n - inserted, business_key=lambda i, base=inserted: f"VENT-{base + i}",
                                timer_shift=lambda i, base=inserted: timedelta(days=1, seconds=base + i),
                                progress=_progress(backend, inserted))
            inserted = n
            clone.analyze(orc)
            for _ in range(5):
                _one_pass(worker)  # warm the caches and the connection pool
            times = [timed(_one_pass, worker)[0] for _ in range(passes)]
            with SqlCounter(orc.db.engine, keep_text=True) as counter:
                fired, _ = _one_pass(worker)
            if fired:
                raise RuntimeError("nothing should be due")
            results[n] = {"pass": summary_ms(times), "sql_per_pass": counter.per(1),
                          "statements_ms": counter.timings()}
            if n == sizes(run)[-1]:
                results[n]["plans"] = counter.explain()
            if run.profile and n == sizes(run)[-1]:
                results[n]["profile"] = profile(lambda: [_one_pass(worker) for _ in range(20)], ops=20)
            log(f"timer_pass/{backend}: {n}: median {results[n]['pass']['median_ms']:.3f} ms")
    figures = []
    for n, r in results.items():
        ms = r["pass"]["median_ms"]
        figures.append(Figure(
            key=f"timer_pass.{backend}.{label(n)}", title=_title(backend, label(n)), value=round(ms, 3), unit="ms",
            goal=GOAL_MS, ratio=run.per_calibration(ms), raw={**r, "waiting_instances": n},
            notes=f"p95 {r['pass']['p95_ms']:.2f} ms; {r['sql_per_pass']['total']:g} SQL statements/pass",
        ))
    small, large = sizes(run)[0], sizes(run)[-1]
    ratio = results[large]["pass"]["median_ms"] / results[small]["pass"]["median_ms"]
    figures.append(Figure(
        key=f"timer_pass.{backend}.flatness", title=_title(backend, "flatness"), value=round(ratio, 3), unit="×",
        goal=GOAL_FLAT, ratio=round(ratio, 3),
        raw={"small": small, "large": large, "small_median_ms": results[small]["pass"]["median_ms"],
             "large_median_ms": results[large]["pass"]["median_ms"]},
        notes=f"{label(large)} ÷ {label(small)}; flat means ≤ 1.5×",
    ))
    return figures


def _one_pass(worker: Worker):
    return worker.turn()


def _template(env: Env) -> clone.Template:
    """A real ansvarsgruppe waiting on its timers (innkalling overdue, six months without a meeting)."""
    meeting = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=30)
    group = routines.start_ansvarsgruppe(env.orc, env.actors, "MAL-1")
    routines.create_group(env.orc, env.actors, group.id, meeting)
    return clone.Template(env.orc, group.id)


def _progress(backend: str, base: int):
    def report(done: int) -> None:
        if done % 20_000 == 0:
            log(f"timer_pass/{backend}: {base + done} inserted")
    return report
