"""The worker: does the due background work of every queue (timers, notices, the nightly retention run),
then sleeps until the next.

It never polls on a fixed period: it asks the queues' indexes when the next item is due and sleeps
until then, or until it is woken because earlier work appeared (in-process signal, and PostgreSQL
NOTIFY from other processes). A ceiling on the sleep guards against a lost wake-up. The queues and
their order come from the composition root (services/bootstrap.py); the worker knows none by name.

Nothing an item does can stop the worker: each item is its own unit of work that counts its
failures (services/jobs.py), a pass that fails is logged and tried again, and the built-in worker
of `orchestrator serve` is restarted by its `WorkerThread` if it dies anyway.
"""
from __future__ import annotations

import logging
import select
import threading
import time
from datetime import datetime
from typing import Callable

from sqlalchemy import select as sql_select

from .. import clock
from . import jobs
from .context import Orchestrator

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, ctx: Orchestrator, owner: str | None = None):
        self.ctx = ctx
        self.owner = owner or jobs.worker_id()
        self._listener = None
        self.planned_sleep: float | None = None  # seconds, for operators and tests
        self.on_pass: list[Callable[[list], object]] = []
        self.stop: threading.Event | None = None
        self.last_turn: float | None = None  # time.monotonic() of the last finished turn (liveness)

    def turn(self) -> tuple[list, float]:
        """One turn of the loop: do what is due, then how long to sleep. An idle turn is one statement:
        its plan is still true when it ends (work created meanwhile wakes the sleep)."""
        done, plan = self._pass()
        return done, self.seconds_until_next(plan)

    def run_pass(self) -> list:
        """Do what is due in every queue; what each item came to. An idle pass is one statement."""
        return self._pass()[0]

    def _pass(self) -> tuple[list, list | None]:
        """What was done, and when each queue is next due if nothing ran (else None: ask again)."""
        done: list = []
        plan, ran = self._next_due(), False
        for index, (queue, at) in enumerate(plan):
            if at is None or at > clock.now():
                continue
            if self.stop is not None and self.stop.is_set():
                break
            done += jobs.run(self.ctx, queue, self.owner, self.stop, max_batches=queue.max_batches)
            ran = True
            # what ran may have made later work due (a fired timer queues its innkalling)
            plan[index + 1:] = self._next_due(plan[index + 1:])
        return done, None if ran else plan

    def seconds_until_next(self, plan: list | None = None) -> float:
        """How long to sleep: until the earliest due item, from `plan` or asked now; at most the ceiling."""
        due = min((at for _, at in (plan if plan is not None else self._next_due()) if at is not None), default=None)
        ceiling = self.ctx.settings.worker_max_sleep_seconds
        if due is None:
            return ceiling
        return max(0.0, min((due - clock.now()).total_seconds(), ceiling))

    def _next_due(self, among=None) -> list[tuple[jobs.Queue, datetime | None]]:
        queues = list(self.ctx.queues.values()) if among is None else [queue for queue, _ in among]
        if not queues:
            return []
        row = self.ctx.db.peek(sql_select(*(queue.next_due().scalar_subquery() for queue in queues)))
        return list(zip(queues, row))

    def prepare(self) -> None:
        """Let each kind set up its standing items (the nightly retention run schedules itself)."""
        for queue in self.ctx.queues.values():
            if queue.prepare is not None:
                try:
                    queue.prepare(self.ctx)
                except Exception:  # the other kinds' work goes on; the next start tries again
                    log.exception("preparing the %s queue failed", queue.name)

    def run(self, stop: threading.Event) -> None:
        log.info("worker %s started", self.owner)
        self.stop = stop
        self.prepare()
        while not stop.is_set():
            if self._listener is None:
                self._listen()  # again after a lost connection (database restart, failover, proxy)
            try:
                done, self.planned_sleep = self.turn()
                for callback in self.on_pass:
                    callback(done)
            except Exception:  # keep the worker alive; the failure is in the log and retried
                log.exception("worker pass failed")
                self.planned_sleep = 1.0
            self.last_turn = time.monotonic()
            self._sleep(self.planned_sleep, stop)
        self._close()

    def _sleep(self, seconds: float, stop: threading.Event) -> None:
        if seconds <= 0 or stop.is_set():
            return
        signal = self.ctx.signal
        sources = [signal.fileno()] + ([self._listener.fileno()] if self._listener is not None else [])
        try:
            ready, _, _ = select.select(sources, [], [], seconds)
        except (OSError, ValueError):
            log.exception("waiting for work failed; retrying shortly")
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
            self._listener.execute(f"LISTEN {self.ctx.signal.CHANNEL}")
        except Exception:
            log.exception("LISTEN failed; other processes' work wakes this worker at the latest after "
                          "the sleep ceiling until it works again")
            self._close()

    def _close(self) -> None:
        if self._listener is not None:
            try:
                self._listener.close()
            finally:
                self._listener = None


class WorkerThread:
    """The worker beside the web server in one process (`orchestrator serve`), restarted if it dies.

    `alive` is what /healthz reports: the thread runs and finished a turn within the sleep ceiling
    (plus a margin for a long batch).
    """

    MARGIN_SECONDS = 120.0

    def __init__(self, ctx: Orchestrator, worker: Worker | None = None):
        self.ctx = ctx
        self.worker = worker or Worker(ctx)
        self.restarts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name="worker", daemon=True)

    def start(self) -> "WorkerThread":
        self._thread.start()
        return self

    def _supervise(self) -> None:
        while not self._stop.is_set():
            try:
                self.worker.run(self._stop)
            except BaseException:  # noqa: B036 - not even SystemExit from a diagram ends the built-in worker
                self.restarts += 1
                log.exception("the worker stopped unexpectedly; restarting it (restart %d)", self.restarts)
                self._stop.wait(min(60.0, 2.0 ** min(self.restarts, 6)))

    @property
    def alive(self) -> bool:
        if not self._thread.is_alive():
            return False
        last = self.worker.last_turn
        limit = self.ctx.settings.worker_max_sleep_seconds + self.MARGIN_SECONDS
        return last is None or time.monotonic() - last < limit

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.ctx.signal.notify()
        self._thread.join(timeout)
