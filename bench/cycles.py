"""Completing a task in an ansvarsgruppe after 40 meeting cycles ÷ after 1 (goal ≤ 2; state bounded).

Each instance of processes/ansvarsgruppe.bpmn is driven through meeting cycles as
tests/test_routine_ansvarsgruppe.py does (prepare the innkalling, its timer fires, the meeting
is held and the next agreed 60 days on), with an injected ManualClock. The completion of the
meeting task (`tasks.complete`, the service call the API makes) is timed in cycle 1 and in
cycle 40, median over several instances, with the instance cache on (the default) for half of
them and off for the other half. The stored state's size is recorded at both points, and
deserializing the stored state is timed there too (the cost the cache hides).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from orchestrator import clock
from orchestrator.engine import workflow as engine
from orchestrator.services import tasks
from orchestrator.store.models import Instance

from . import routines
from .env import Env, Run, log, use_clock
from .measure import median, profile, summary_ms, timed
from .report import Figure

T0 = datetime(2027, 1, 4, 8, 0, tzinfo=timezone.utc)
GOAL = "<= 2"


def cycles(run: Run) -> int:
    return run.pick(5, 40)


def expected(run: Run) -> list[str]:
    return ["cycles.completion_cache", "cycles.completion_nocache", "cycles.state_size"]


def run(run: Run) -> list[Figure]:
    last, per_variant = cycles(run), run.pick(2, 4)
    measured = {True: {1: [], last: []}, False: {1: [], last: []}}
    sizes, loads, profiles = {1: [], last: []}, {1: [], last: []}, {}
    with Env("cycles") as env, use_clock(clock.ManualClock(T0)) as manual:
        orc = env.orc
        kora = env.actors["kora"]
        for n in range(per_variant * 2):
            cache = n % 2 == 0
            env.set_cache(env.settings.instance_cache_size if cache else 0)
            manual.set(T0 + timedelta(days=n))  # each instance its own calendar, from a fresh start
            group = routines.start_ansvarsgruppe(orc, env.actors, f"GRUPPE-{n}")
            meeting = manual.now().replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=30)
            routines.create_group(orc, env.actors, group.id, meeting)
            log(f"cycles: instance {n + 1}/{per_variant * 2} (cache {'on' if cache else 'off'}), {last} cycles")
            for cycle in range(1, last + 1):
                if cycle in (1, last):
                    def hold(task_id, answer, cycle=cycle):
                        seconds, _ = timed(tasks.complete, orc, task_id, answer, kora)
                        measured[cache][cycle].append(seconds)
                    meeting = routines.meeting_cycle(orc, env.actors, manual, group.id, meeting, before_meeting=hold)
                    state, load_s = _stored(orc, group.id)
                    sizes[cycle].append(state)
                    loads[cycle].append(load_s)
                    if run.profile and n < 2 and cycle == last:
                        profiles[f"cache_{'on' if cache else 'off'}_cycle_{last}"] = _profile_next(
                            orc, env, manual, group.id, meeting)
                        meeting = None
                        break
                else:
                    meeting = routines.meeting_cycle(orc, env.actors, manual, group.id, meeting)
    figures = []
    for cache in (True, False):
        first, later = median(measured[cache][1]) * 1000, median(measured[cache][last]) * 1000
        ratio = later / first
        figures.append(Figure(
            key=f"cycles.completion_{'cache' if cache else 'nocache'}",
            title=f"Meeting task after {last} cycles ÷ after 1, cache {'on' if cache else 'off'}",
            value=round(ratio, 3), unit="×", goal=GOAL, ratio=round(ratio, 3),
            raw={"cycle_1": summary_ms(measured[cache][1]), f"cycle_{last}": summary_ms(measured[cache][last]),
                 "instances": per_variant, **({"profile": profiles} if profiles and cache else {})},
            notes=f"{first:.1f} ms → {later:.1f} ms",
        ))
    size_first, size_last = median(sizes[1]), median(sizes[last])
    figures.append(Figure(
        key="cycles.state_size", title=f"Stored state after {last} cycles ÷ after 1",
        value=round(size_last / size_first, 3), unit="×", goal="<= 1.1", ratio=round(size_last / size_first, 3),
        raw={"bytes_cycle_1": sizes[1], f"bytes_cycle_{last}": sizes[last],
             "deserialize_cycle_1": summary_ms(loads[1]), f"deserialize_cycle_{last}": summary_ms(loads[last])},
        notes=f"{size_first / 1024:.1f} KB → {size_last / 1024:.1f} KB; bounded (docs/decisions/0009)",
    ))
    return figures


def _stored(orc, instance_id: int) -> tuple[int, float]:
    """The stored state's length, and the median time to deserialize it."""
    with orc.db.read() as session:
        row = session.get(Instance, instance_id)
        bundle = orc.specs.bundle(session, row.process_key, row.pins)
        state = row.state
    times = [timed(engine.load, state, bundle)[0] for _ in range(5)]
    return len(state), median(times)


def _profile_next(orc, env, manual, instance_id, meeting) -> dict:
    """A profile of a few more cycles' meeting completions (after the measured ones)."""
    holds = []

    def hold(task_id, answer):
        holds.append((task_id, answer))

    result = {}
    for _ in range(3):
        meeting = routines.meeting_cycle(orc, env.actors, manual, instance_id, meeting, before_meeting=hold)
        task_id, answer = holds.pop()
        result = profile(lambda: tasks.complete(orc, task_id, answer, env.actors["kora"]), ops=1)
    return result
