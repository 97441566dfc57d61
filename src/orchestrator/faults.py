"""Named crash points, so tests can prove that a crash at any commit point loses or doubles nothing.

Production never sets them: `point()` is a dictionary lookup and an environment read.

- In-process tests install a callable with `hook(...)`; it runs at every point (it may raise).
- Multi-process tests start a server or worker with ORCHESTRATOR_FAULT=<point>[@n]; the process kills
  itself with SIGKILL the n-th time (default: first) it reaches that point — no cleanup, like a power cut.

Points: "<unit>.before_commit" and "<unit>.after_commit" for the units of work "task.complete",
"instance.start", "message.send", "timer.claim" and "timer.fire", and "notice.<point>" from the notice
delivery (services/notices/faults.py).
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Callable, Iterator

HOOKS: list[Callable[[str], None]] = []
_hits: dict[str, int] = {}
_lock = threading.Lock()


def point(name: str) -> None:
    for callback in list(HOOKS):
        callback(name)
    wanted = os.environ.get("ORCHESTRATOR_FAULT")
    if not wanted:
        return
    target, _, nth = wanted.partition("@")
    if target != name:
        return
    with _lock:
        _hits[name] = _hits.get(name, 0) + 1
        hit = _hits[name]
    if hit >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)


@contextlib.contextmanager
def hook(callback: Callable[[str], None]) -> Iterator[None]:
    HOOKS.append(callback)
    try:
        yield
    finally:
        HOOKS.remove(callback)
