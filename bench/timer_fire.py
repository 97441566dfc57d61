"""The cost of firing K due timers (goal: linear in K, i.e. the same cost per timer at every K).

K copies of a real ansvarsgruppe instance (fresh engine ids, so each really runs) whose
«innkalling not prepared in time» timer is due; `timers.fire_due(orc)` fires them all (claim in
batches, load, fire, open the leader's escalation task, save, audit). Smaller K are repeated and
the median taken. Clock: an injected ManualClock, so the timers are due without waiting.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from orchestrator import clock
from orchestrator.services import timers

from . import clone, routines
from .env import Env, Run, log, use_clock
from .measure import SqlCounter, median, profile, timed
from .report import Figure

T0 = datetime(2027, 1, 4, 8, 0, tzinfo=timezone.utc)
GOAL_LINEAR = "<= 1.5"


def plan(run: Run) -> list[tuple[int, int]]:
    """(K, repetitions)."""
    return run.pick([(5, 3), (25, 1)], [(10, 10), (100, 3), (1000, 1)])


def expected(run: Run) -> list[str]:
    return [f"timer_fire.k{k}" for k, _ in plan(run)] + ["timer_fire.linearity"]


def run(run: Run) -> list[Figure]:
    results = {}
    with Env("timer_fire") as env, use_clock(clock.ManualClock(T0)) as manual:
        orc = env.orc
        meeting = T0.replace(hour=9) + timedelta(days=30)
        group = routines.start_ansvarsgruppe(orc, env.actors, "MAL-1")
        routines.create_group(orc, env.actors, group.id, meeting)
        template = clone.Template(orc, group.id)
        due = min(t["due_at"] for t in template.timers)
        manual.set(due + timedelta(seconds=1))
        timers.fire_due(orc)  # the template itself, and warm caches
        serial = 0

        def copies(k: int) -> None:
            nonlocal serial
            clone.insert_copies(orc, template, k, business_key=lambda i, s=serial: f"FRIST-{s + i}", fresh_ids=True)
            serial += k

        def fire(k: int):
            fired = timers.fire_due(orc)
            if len(fired) != k or any(f.error for f in fired):
                raise RuntimeError(f"expected {k} timers fired cleanly, got {len(fired)}: "
                                   f"{[f.error for f in fired if f.error][:3]}")
            return fired

        k0 = plan(run)[0][0]
        copies(k0)
        with SqlCounter(orc.db.engine) as counter:  # statements per fired timer (not timed)
            fire(k0)
        sql = counter.per(k0)
        for k, repetitions in plan(run):
            per_timer = []
            for _ in range(repetitions):
                copies(k)
                per_timer.append(timed(fire, k)[0] / k)
            results[k] = {"per_timer_ms": [round(s * 1000, 4) for s in per_timer],
                          "median_per_timer_ms": round(median(per_timer) * 1000, 4), "repetitions": repetitions}
            log(f"timer_fire: K={k}: {results[k]['median_per_timer_ms']:.2f} ms per timer")
        if run.profile:
            k = plan(run)[1][0] if len(plan(run)) > 1 else plan(run)[0][0]
            copies(k)
            results["profile"] = profile(lambda: fire(k), ops=k)
            results["profile"]["k"] = k
    figures = []
    for k, _ in plan(run):
        ms = results[k]["median_per_timer_ms"]
        figures.append(Figure(
            key=f"timer_fire.k{k}", title=f"Firing K={k} due timers, per timer", value=ms, unit="ms",
            ratio=run.per_calibration(ms), raw={**results[k], "k": k, "total_ms": round(ms * k, 2)},
            notes=f"{ms * k:.0f} ms for all {k}" + (f"; {sql.get('total', 0):g} SQL statements/timer" if sql else ""),
        ))
    small, large = plan(run)[0][0], plan(run)[-1][0]
    ratio = results[large]["median_per_timer_ms"] / results[small]["median_per_timer_ms"]
    figures.append(Figure(
        key="timer_fire.linearity", title=f"Firing: per-timer cost K={large} ÷ K={small}", value=round(ratio, 3),
        unit="×", goal=GOAL_LINEAR, ratio=round(ratio, 3),
        raw={k: v for k, v in results.items() if k == "profile"} | {"sql_per_timer": sql},
        notes="linear in K means ≈ 1×",
    ))
    return figures
