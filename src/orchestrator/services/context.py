"""What every use case is handed: settings, the database, caches, the worker's signal, and the wiring.

The wiring (which handler takes which outbound message, which kinds of background work the worker
runs) is decided in one place, services/bootstrap.py, and injected here.
"""
from __future__ import annotations

import contextlib
import logging
import os
from collections import OrderedDict
import threading
import time
from datetime import datetime
from typing import Callable, Iterator, Mapping

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from ..config import Settings
from ..store.db import Database
from .errors import Conflict
from .specs import SpecCache

CONFLICT_MESSAGE = "Saken ble endret av noen andre samtidig; last siden på nytt og prøv igjen."
# PostgreSQL's deadlock_detected and serialization_failure: the transaction lost a race and was undone
LOST_RACE_SQLSTATES = frozenset({"40P01", "40001"})

log = logging.getLogger(__name__)


class WorkerSignal:
    """Wakes the worker when work due earlier than its planned wake-up appears (a timer, a notice).

    A self-pipe, so the worker can wait on it and on PostgreSQL's LISTEN socket at once
    (other processes wake it with NOTIFY; see services/worker.py).
    """

    CHANNEL = "orchestrator_work"

    def __init__(self):
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    def notify(self, due: datetime | None = None) -> None:
        try:
            os.write(self._write, b"!")
        except (BlockingIOError, OSError):
            pass  # a wake-up is already pending (or we are shutting down)

    def fileno(self) -> int:
        return self._read

    def drain(self) -> None:
        try:
            while os.read(self._read, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def close(self) -> None:
        for fd in (self._read, self._write):
            try:
                os.close(fd)
            except OSError:
                pass


class InstanceCache:
    """Live workflows of recently saved instances, so the next step skips deserialising.

    Safe by construction: `take` removes the entry (one step owns a workflow at a time) and only
    returns it when the stored row still has the version it was saved as; `keep` runs after the
    commit, so a rolled-back step never leaves its half-changed workflow behind. Another process
    that changes the instance bumps its version, which makes the cached copy unusable here.
    """

    def __init__(self, size: int = 500):
        self._entries: OrderedDict[int, tuple[int, object, object]] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def take(self, instance_id: int, version: int, bundle) -> object | None:
        with self._lock:
            entry = self._entries.pop(instance_id, None)
        if entry is None:
            return None
        cached_version, cached_bundle, workflow = entry
        return workflow if cached_version == version and cached_bundle is bundle else None

    def keep(self, instance_id: int, version: int, bundle, workflow) -> None:
        if self._size <= 0:
            return
        with self._lock:
            self._entries[instance_id] = (version, bundle, workflow)
            self._entries.move_to_end(instance_id)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def forget(self, instance_id: int) -> None:
        """Drop a deleted instance (retention): on SQLite a new instance may get its id again."""
        with self._lock:
            self._entries.pop(instance_id, None)

    def __len__(self) -> int:
        return len(self._entries)


class Remembered:
    """A small time-limited memo (who a session or token is), per process."""

    def __init__(self, seconds: float, size: int = 10_000):
        self._entries: dict = {}
        self._lock = threading.Lock()
        self._seconds, self._size = seconds, size

    def get(self, key, load):
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and now - hit[0] < self._seconds:
            return hit[1]
        value = load()
        with self._lock:
            if len(self._entries) >= self._size:
                self._entries.clear()
            self._entries[key] = (now, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class Orchestrator:
    """Build it with `services.bootstrap.build(settings)`, which wires it."""

    def __init__(self, settings: Settings, database: Database | None, *, outbound: Mapping[str, Callable],
                 route: Callable, queues: Mapping):
        self.settings = settings
        self.db = database or Database(settings.database_url)
        self.specs = SpecCache()
        self.instances = InstanceCache(settings.instance_cache_size)
        # Actors keyed by (user id, users.access_version): a change is seen at the next request (services/actors.py)
        self.actors = Remembered(seconds=30.0)
        self.signal = WorkerSignal()
        # message name -> handler(step, payload) for what leaves the building (e-mail, the case register)
        self.outbound = dict(outbound)
        # handler(step, message) -> deliveries: any other message goes to the instances of the case
        self.route = route
        self.queues = dict(queues)  # name -> the kind of background work (services/jobs.py), in the worker's order

    def close(self) -> None:
        self.db.dispose()
        self.signal.close()

    @contextlib.contextmanager
    def write(self, label: str | None = None) -> Iterator[Session]:
        """A unit of work; losing a race (the optimistic lock, or a deadlock the database broke) is a
        Conflict for the caller: nothing of it was kept, and trying again is safe."""
        try:
            with self.db.write(label) as session:
                yield session
        except StaleDataError:
            raise Conflict(CONFLICT_MESSAGE) from None
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) not in LOST_RACE_SQLSTATES:
                raise
            log.warning("unit of work %s lost a race and was rolled back: %s", label or "", error.orig)
            raise Conflict(CONFLICT_MESSAGE) from None
