"""Timer lateness on one node: due time → fired, p50/p99 (goal p99 ≤ 1 s).

A real `Worker` runs in a thread, sleeping until the next due time and woken by the in-process
signal, exactly as `orchestrator serve` runs it. Real ansvarsgruppe instances (started and
created through the services) carry «innkalling not prepared in time» timers due at spread times
over the measuring window. Lateness is the `timer_fired` audit entry's `at` minus the timer's
due time.

Setting the instances up takes longer than the window, so their due times are laid out an hour
ahead and then the process clock is moved by a constant: `OffsetClock` is the system clock plus
a fixed offset. It runs at the wall clock's rate, so the worker's sleeps, wake-ups and firing
take exactly the real time they take; only the dates are shifted.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from orchestrator.services.worker import Worker, WorkerThread
from orchestrator.store.models import AuditEntry, WaitingTimer

from . import routines
from .env import Env, Run, log, use_clock
from .measure import percentile
from .report import Figure

GOAL_P99 = "<= 1"


class OffsetClock:
    """The system clock plus a constant (changeable between phases, never while timing)."""

    def __init__(self):
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset


def expected(run: Run) -> list[str]:
    return ["lateness.p50", "lateness.p99"]


def run(run: Run) -> list[Figure]:
    n = run.pick(20, 200)
    window = run.pick(5.0, 15.0)
    lead = 3.0  # seconds between starting the worker and the first due time
    offset_clock = OffsetClock()
    with Env("lateness") as env, use_clock(offset_clock):
        orc = env.orc
        base = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=1)
        dues = {}
        log(f"lateness: creating {n} groups with timers spread over {window:.0f} s")
        for i in range(n):
            due = base + timedelta(seconds=window * i / n)
            group = routines.start_ansvarsgruppe(orc, env.actors, f"FRIST-{i}")
            # the innkalling is due varslingsfrist_dager (14) days before the meeting
            routines.create_group(orc, env.actors, group.id, due + timedelta(days=14))
            dues[group.id] = due
        # the form keeps whole seconds in Oslo time: read back what the timers really say
        with orc.db.read() as session:
            rows = session.scalars(select(WaitingTimer).where(WaitingTimer.element_id == "innkalling_forsinket"))
            dues = {t.instance_id: t.due_at for t in rows}
        first = min(dues.values())
        offset_clock.offset = first - timedelta(seconds=lead) - datetime.now(timezone.utc)
        worker = Worker(orc, owner="bench-lateness")
        thread = WorkerThread(orc, worker).start()
        try:
            deadline = time.monotonic() + lead + window + 30
            while time.monotonic() < deadline:
                if _fired_count(orc) >= n:
                    break
                time.sleep(0.25)
        finally:
            thread.stop()
        fired = _fired(orc)
    late = [(fired[i] - dues[i]).total_seconds() for i in dues if i in fired]
    missing = n - len(late)
    p50, p99 = percentile(late, 50), percentile(late, 99)
    raw = {"timers": n, "fired": len(late), "missing": missing, "window_s": window,
           "p50_s": round(p50, 4), "p90_s": round(percentile(late, 90), 4), "p99_s": round(p99, 4),
           "max_s": round(max(late), 4) if late else None, "min_s": round(min(late), 4) if late else None}
    note = f"{len(late)} timers over {window:.0f} s, one worker" + (f"; {missing} NOT fired" if missing else "")
    return [
        Figure("lateness.p50", "Timer lateness p50 (due → fired)", round(p50, 4), "s", None, raw=raw, notes=note),
        Figure("lateness.p99", "Timer lateness p99 (due → fired)", round(p99, 4), "s", GOAL_P99, raw=raw,
               notes=f"max {raw['max_s']} s"),
    ]


def _fired_count(orc) -> int:
    with orc.db.read() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "timer_fired"))


def _fired(orc) -> dict[int, datetime]:
    with orc.db.read() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "timer_fired").order_by(AuditEntry.id))
        out = {}
        for row in rows:
            out.setdefault(row.instance_id, row.at)
        return out
