"""The one clock. Every read of "now" goes through here, the engine's timers included.

Tests and operators act "as of" a time with `frozen(...)` (per context/thread) or by
installing another clock process-wide with `use(...)`; nobody sleeps for a timer.
"""
from __future__ import annotations

import contextlib
import threading
from contextvars import ContextVar
from datetime import datetime, timedelta, timezone
from typing import Iterator, Protocol
from zoneinfo import ZoneInfo

# The one time zone of the product: staff write and read times in Norwegian time.
OSLO = ZoneInfo("Europe/Oslo")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class ManualClock:
    """A clock that only moves when told to; safe to share between threads."""

    def __init__(self, start: datetime):
        self._now = _aware(start)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = _aware(when)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now = self._now + delta
            return self._now


_process_clock: Clock = SystemClock()
_as_of: ContextVar[datetime | None] = ContextVar("orchestrator_as_of", default=None)


def now() -> datetime:
    """The current time (UTC, aware) as this context sees it."""
    pinned = _as_of.get()
    return pinned if pinned is not None else _process_clock.now()


def use(clock: Clock) -> Clock:
    """Install `clock` for the whole process; returns the previous one."""
    global _process_clock
    previous, _process_clock = _process_clock, clock
    return previous


@contextlib.contextmanager
def frozen(when: datetime) -> Iterator[datetime]:
    """Within the block, this context's "now" is `when`."""
    token = _as_of.set(_aware(when))
    try:
        yield _aware(when)
    finally:
        _as_of.reset(token)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("the clock needs a time with a UTC offset")
    return value.astimezone(timezone.utc)
