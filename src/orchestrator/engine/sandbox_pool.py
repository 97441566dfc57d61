"""Sandbox processes: where diagram code runs that the server cannot bound itself.

RestrictedPython decides what diagram code may name; it cannot stop one C call from running for
hours (`pow(7, 10**9)`) or taking all memory. So every script, and every expression that is not
provably small (engine/bounded.py), runs in one of a few pre-started child processes
(`python -m orchestrator.engine.sandbox_child`) with an address-space and a CPU-time limit set by
the kernel, and the server kills and replaces a child that has not answered within the wall-time
limit. See decisions/0012.

Pools are per process and start lazily: a gunicorn worker forked from a master that had one
starts its own (the inherited pipes are closed in the fork), threads share their process's
pool (each call takes one child for itself), and every child exits when its pipe closes, so a
server that dies leaves none behind.
"""
from __future__ import annotations

import atexit
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..config import SandboxLimits
from . import sandbox_wire as wire

_REPLY_SLACK = 64 * 1024  # framing and the error text around the largest allowed data


class PoolFailure(Exception):
    """The child did not answer: it ran out of time, was killed, or sent something unreadable."""


def _norwegian(number: float) -> str:
    return f"{number:,.0f}".replace(",", " ")


class _Child:
    """One sandbox process and the two ends of its pipes."""

    def __init__(self, limits: SandboxLimits):
        source_root = str(Path(__file__).resolve().parents[2])
        environment = {"PYTHONPATH": source_root, "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"}
        self.process = subprocess.Popen(
            [sys.executable, "-s", "-m", "orchestrator.engine.sandbox_child",
             str(limits.memory_mb), str(limits.cpu_seconds), str(limits.max_data_bytes)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=environment, cwd="/",
            start_new_session=True,  # Ctrl-C on the CLI stops the parent, which then closes the child
        )
        self.to_child = self.process.stdin.fileno()
        self.from_child = self.process.stdout.fileno()
        self._poller = select.poll()
        self._poller.register(self.from_child, select.POLLIN)
        self.calls = 0

    def call(self, request: bytes, limits: SandboxLimits):
        try:
            wire.write_all(self.to_child, request)
        except OSError as error:
            raise BrokenPipeError(str(error)) from error  # died while idle: the caller may retry
        deadline = time.monotonic() + limits.wall_seconds
        header = self._read(wire.header_size(), deadline, limits)
        length = wire.body_length(header)
        if length > limits.max_data_bytes + _REPLY_SLACK:
            self.kill()
            raise PoolFailure("svaret fra sandkassen var for stort")
        body = self._read(length, deadline, limits)
        self.calls += 1
        try:
            return wire.unpack_data(body)
        except wire.UnsafeReply as refused:
            self.kill()
            raise PoolFailure(f"svaret inneholdt en type som ikke er data ({refused})") from None
        except Exception as error:  # noqa: BLE001 - a garbled reply is the child's fault, not ours
            self.kill()
            raise PoolFailure(f"svaret fra sandkassen kunne ikke leses ({type(error).__name__})") from None

    def _read(self, count: int, deadline: float, limits: SandboxLimits) -> bytes:
        chunks, missing = [], count
        while missing:
            left = deadline - time.monotonic()
            if left <= 0 or not self._poller.poll(left * 1000):  # poll, not select: fds may exceed 1024
                self.kill()
                raise PoolFailure(f"brukte mer enn {_norwegian(limits.wall_seconds)} sekunder")
            chunk = os.read(self.from_child, min(missing, 1 << 20))
            if not chunk:
                raise PoolFailure(self._death(limits))
            chunks.append(chunk)
            missing -= len(chunk)
        return b"".join(chunks)

    def _death(self, limits: SandboxLimits) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            code = None
        if code == -signal.SIGXCPU:  # the soft limit; the hard one is unlimited
            return f"brukte mer enn {_norwegian(limits.cpu_seconds)} sekunder CPU-tid"
        if code == 3:  # sandbox_child.MEMORY_EXIT: it could not even report the MemoryError
            return f"brukte mer enn {_norwegian(limits.memory_mb)} MB minne"
        return f"sandkasseprosessen stoppet uventet (kode {code})"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._close_pipes()

    def close(self, timeout: float = 2.0) -> None:
        """Ask the child to stop (end of input); kill it if it does not."""
        self._close_pipes()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def forget(self) -> None:
        """In a forked copy of the parent: drop our copies of the pipes, leave the child alone."""
        self._close_pipes()

    def _close_pipes(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass


class Pool:
    """Up to `limits.processes` children; a call takes an idle one, starts one, or waits for a slot."""

    def __init__(self, limits: SandboxLimits):
        self.limits = limits
        self.pid = os.getpid()
        self._slots = threading.BoundedSemaphore(limits.processes)
        self._idle: list[_Child] = []
        self._children: set[_Child] = set()
        self._lock = threading.Lock()
        self._closed = False

    def call(self, message):
        """Send one request; the child's reply, or PoolFailure."""
        request = wire.pack(message)
        with self._slots:
            for attempt in range(2):
                child = self._take()
                try:
                    reply = child.call(request, self.limits)
                except BrokenPipeError:
                    self._drop(child)  # it had died while idle; a fresh one gets the request once
                    if attempt:
                        raise PoolFailure("sandkasseprosessen kunne ikke startes") from None
                    continue
                except BaseException:
                    self._drop(child)  # timed out, died, or we were interrupted mid-call
                    raise
                if reply[0] == "memory":
                    self._drop(child, close=True)  # it exits after a MemoryError; do not hand it out again
                else:
                    self._give_back(child)
                return reply
        raise AssertionError("unreachable")

    def _take(self) -> _Child:
        with self._lock:
            if self._closed:
                raise PoolFailure("sandkassen er stengt")
            while self._idle:
                child = self._idle.pop()
                if child.alive:
                    return child
                self._children.discard(child)
                child.kill()
            child = _Child(self.limits)  # holding a slot: never more children than slots
            self._children.add(child)
            return child

    def _give_back(self, child: _Child) -> None:
        if child.calls >= 10_000:  # a fresh one now and then: nothing a run left behind lives long
            self._drop(child, close=True)
            return
        with self._lock:
            if not self._closed:
                self._idle.append(child)
                return
        self._drop(child, close=True)

    def _drop(self, child: _Child, close: bool = False) -> None:
        if close:
            child.close()
        else:
            child.kill()
        with self._lock:
            self._children.discard(child)

    def pids(self) -> list[int]:
        with self._lock:
            return [child.process.pid for child in self._children]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            children, self._children, self._idle = list(self._children), set(), []
        for child in children:
            child.close()

    def forget(self) -> None:
        for child in list(self._children):
            child.forget()
        self._children, self._idle = set(), []


_pool: Pool | None = None
_limits: SandboxLimits | None = None
_guard = threading.Lock()


def limits() -> SandboxLimits:
    global _limits
    if _limits is None:
        _limits = SandboxLimits.from_env()
    return _limits


def configure(new_limits: SandboxLimits) -> SandboxLimits:
    """Use these limits from now on (closes the current pool); returns the previous ones."""
    global _limits
    with _guard:
        previous, _limits = limits(), new_limits
        _close_current()
    return previous


def pool() -> Pool:
    """This process's pool, started on first use (and anew in a forked child)."""
    global _pool
    current = _pool
    if current is not None and current.pid == os.getpid():
        return current
    with _guard:
        if _pool is None or _pool.pid != os.getpid():
            _pool = Pool(limits())
        return _pool


def call(message):
    return pool().call(message)


def shutdown() -> None:
    with _guard:
        _close_current()


def _close_current() -> None:
    global _pool
    if _pool is not None and _pool.pid == os.getpid():
        _pool.close()
    _pool = None


def _after_fork() -> None:
    global _pool, _guard
    _guard = threading.Lock()
    if _pool is not None:
        _pool.forget()
        _pool = None


os.register_at_fork(after_in_child=_after_fork)
atexit.register(shutdown)
