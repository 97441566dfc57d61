"""The worker: fires due timers (and delivers notices), then sleeps until the next is due.

It never polls on a fixed period: it asks the index when the next timer is due and sleeps
until then, or until it is woken because an earlier timer appeared (in-process signal, and
PostgreSQL NOTIFY from other processes). A ceiling on the sleep guards against a lost wake-up.
"""
from __future__ import annotations

import logging
import select
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import select as sql_select

@dataclass(frozen=True)
class Source:
    """A kind of due work: when the next item is due (one indexed query) and how to do what is due."""

    name: str
    next_due: Callable  # () -> a select of one value: when the next item is due (None: nothing waits)
    run: Callable  # (ctx, owner, stop) -> list; stops between batches once `stop` is set


# Timers come first; notice delivery registers itself here (services/notices). Defined before the
# imports below, which lead to services/notices.
SOURCES: list[Source] = []

from .. import clock  # noqa: E402
from . import timers  # noqa: E402
from .context import Orchestrator  # noqa: E402

log = logging.getLogger(__name__)
# looked up when called: timers may still be importing when this module runs
SOURCES.insert(0, Source("timers", lambda: timers.next_due(),
                         lambda ctx, owner, stop=None: timers.fire_due(ctx, owner, stop=stop)))


class Worker:
    def __init__(self, ctx: Orchestrator, owner: str | None = None):
        self.ctx = ctx
        self.owner = owner or timers.worker_id()
        self._listener = None
        self.planned_sleep: float | None = None  # seconds, for operators and tests
        self.on_pass: list[Callable[[list[timers.Fired]], object]] = []
        self.stop: threading.Event | None = None

    def turn(self) -> tuple[list[timers.Fired], float]:
        """One turn of the loop: do what is due, then how long to sleep. An idle turn is one statement:
        its plan is still true when it ends (a timer created meanwhile wakes the sleep)."""
        fired, plan = self._pass()
        return fired, self.seconds_until_next(plan)

    def run_pass(self) -> list[timers.Fired]:
        """Do what is due. An idle pass is one statement: one indexed lookup per source."""
        return self._pass()[0]

    def _pass(self) -> tuple[list[timers.Fired], list | None]:
        """What fired, and when each source is next due if nothing ran (else None: ask again)."""
        fired: list[timers.Fired] = []
        plan, ran = self._next_due(), False
        for index, (source, at) in enumerate(plan):
            if at is None or at > clock.now():
                continue
            if self.stop is not None and self.stop.is_set():
                break
            done = source.run(self.ctx, self.owner, self.stop) or []
            ran = True
            if source.name == "timers":
                fired = done
            # what ran may have made later work due (a fired timer queues its innkalling)
            plan[index + 1:] = self._next_due(plan[index + 1:])
        return fired, None if ran else plan

    def seconds_until_next(self, plan: list | None = None) -> float:
        """How long to sleep: until the earliest due item, from `plan` or asked now; at most the ceiling."""
        due = min((at for _, at in (plan if plan is not None else self._next_due()) if at is not None), default=None)
        ceiling = self.ctx.settings.worker_max_sleep_seconds
        if due is None:
            return ceiling
        # SpiffWorkflow fires strictly after the due time: wake a hair later.
        wait = (due + timedelta(milliseconds=5) - clock.now()).total_seconds()
        return max(0.0, min(wait, ceiling))

    def _next_due(self, among=None) -> list[tuple[Source, datetime | None]]:
        sources = SOURCES if among is None else [source for source, _ in among]
        if not sources:
            return []
        row = self.ctx.db.peek(sql_select(*(source.next_due().scalar_subquery() for source in sources)))
        return list(zip(sources, row))

    def run(self, stop: threading.Event) -> None:
        log.info("worker %s started", self.owner)
        self.stop = stop
        while not stop.is_set():
            if self._listener is None:
                self._listen()  # again after a lost connection (database restart, failover, proxy)
            try:
                fired, self.planned_sleep = self.turn()
                for callback in self.on_pass:
                    callback(fired)
            except Exception:  # keep the worker alive; the failure is in the log and retried
                log.exception("worker pass failed")
                self.planned_sleep = 1.0
            self._sleep(self.planned_sleep, stop)
        self._close()

    def _sleep(self, seconds: float, stop: threading.Event) -> None:
        if seconds <= 0 or stop.is_set():
            return
        signal = self.ctx.timer_signal
        sources = [signal.fileno()] + ([self._listener.fileno()] if self._listener is not None else [])
        try:
            ready, _, _ = select.select(sources, [], [], seconds)
        except (OSError, ValueError):
            log.exception("waiting for timers failed; retrying shortly")
            stop.wait(1.0)
            return
        signal.drain()
        if self._listener is not None and self._listener.fileno() in ready:
            try:
                for _ in self._listener.notifies(timeout=0):
                    pass
            except Exception:
                log.exception("LISTEN connection lost; continuing with the in-process signal")
                self._close()

    def _listen(self) -> None:
        if self.ctx.db.dialect != "postgresql":
            return
        import psycopg

        url = self.ctx.db.engine.url.set(drivername="postgresql")
        try:
            self._listener = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True,
                                             connect_timeout=5)
            self._listener.execute(f"LISTEN {self.ctx.timer_signal.CHANNEL}")
        except Exception:
            log.exception("LISTEN failed; other processes' timers wake this worker at the latest after "
                          "the sleep ceiling until it works again")
            self._close()

    def _close(self) -> None:
        if self._listener is not None:
            try:
                self._listener.close()
            finally:
                self._listener = None


def start_in_thread(ctx: Orchestrator, worker: Worker | None = None) -> tuple[threading.Thread, threading.Event]:
    """The worker beside the web server in one process (`orchestrator serve`)."""
    stop = threading.Event()
    worker = worker or Worker(ctx)
    thread = threading.Thread(target=worker.run, args=(stop,), name="timer-worker", daemon=True)
    thread.start()
    return thread, stop


def stop_thread(thread: threading.Thread, stop: threading.Event, ctx: Orchestrator) -> None:
    stop.set()
    ctx.timer_signal.notify(None)
    thread.join(10)
