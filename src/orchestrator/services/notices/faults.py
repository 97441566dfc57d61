"""Fault-injection points for tests. In production `HOOKS` is empty and `fire` does nothing.

Delivery calls `fire(point, notice)` at these points:

- ``"claimed"``: the notice is leased to this worker; nothing has been sent.
- ``"after_send_before_mark"``: the SMTP server (or the sink) has answered, the outcome is not
  yet recorded. A hook that raises here is a worker killed between "sent" and "marked sent".
- ``"after_mark"``: the outcome is committed.

Hooks run outside delivery's error handling: whatever a hook raises propagates out of the
worker pass exactly like a crash, leaving the notice leased (the lease then expires and another
pass takes it over). `notice` is a `delivery.Claimed` snapshot (id, message_id, recipient, ...).
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator

from ... import faults as _process_faults

POINTS = ("claimed", "after_send_before_mark", "after_mark")

HOOKS: list[Callable[[str, object], None]] = []


def fire(point: str, notice: object) -> None:
    for hook in list(HOOKS):
        hook(point, notice)
    _process_faults.point(f"notice.{point}")  # ORCHESTRATOR_FAULT=notice.<point> (multi-process tests)


@contextlib.contextmanager
def hook(callback: Callable[[str, object], None]) -> Iterator[None]:
    """Install `callback` for the duration of a block (tests)."""
    HOOKS.append(callback)
    try:
        yield
    finally:
        HOOKS.remove(callback)
