"""A sandbox process: runs diagram code for its parent, under kernel limits (engine/sandbox_pool.py).

Started as `python -m orchestrator.engine.sandbox_child MEMORY_MB CPU_SECONDS MAX_DATA_BYTES`.
It reads requests from stdin and answers on stdout until stdin closes. Before each request the
CPU limit is moved to "used so far + CPU_SECONDS", so the kernel stops (SIGXCPU) a run that
computes too long even inside one C call; the address-space limit makes a huge allocation a
MemoryError. Whatever the code raises, SystemExit and friends included, becomes an error reply.
"""
from __future__ import annotations

import math
import os
import pickle
import resource
import signal
import sys

MEMORY_EXIT = 3


def _limit_resources(memory_mb: int) -> None:
    for limit, value in ((resource.RLIMIT_FSIZE, 0), (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(limit, (value, value))
    if memory_mb > 0:
        address_space = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))


def _limit_cpu(seconds: int) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    resource.setrlimit(resource.RLIMIT_CPU, (math.ceil(used) + seconds, resource.RLIM_INFINITY))


def _error(error: BaseException) -> tuple:
    from .sandbox import SandboxViolation

    if isinstance(error, SandboxViolation):
        return ("violation", error.source, list(error.reasons))
    return ("error", type(error).__name__, _text(error))


def _text(error: BaseException) -> str:
    try:
        text = str(error)
    except Exception:  # noqa: BLE001 - an exception whose str() fails still gets reported
        text = ""
    return text[:2000]


def _handle(request: tuple, max_data_bytes: int):
    from .. import clock, jsonlimits
    from . import sandbox

    kind, now, payload = request
    with clock.frozen(now):
        if kind == "eval":
            expression, context, external = payload
            return ("ok", sandbox.run_expression(expression, context, external))
        if kind == "many":
            expressions, context = payload
            outcomes = []
            for expression in expressions:
                try:
                    outcomes.append(("ok", sandbox.run_expression(expression, context, None)))
                except MemoryError:
                    raise
                except BaseException as error:  # noqa: BLE001 - each condition answers for itself
                    outcomes.append(_error(error))
            return ("ok", outcomes)
        if kind == "exec":
            script, context, external = payload
            before = {key: _dumps(value) for key, value in context.items()}
            sandbox.run_script(script, context, external)
            if any(_deeper_than(value, jsonlimits.MAX_DEPTH) for value in context.values()):
                raise sandbox.SandboxViolation(script, [f"dataene er nestet mer enn {jsonlimits.MAX_DEPTH} nivåer"])
            changed, written = {}, 0
            for key, value in context.items():
                dumped = _dumps(value)
                if before.get(key) != dumped:
                    changed[key] = value
                    written += len(dumped)
            if written > max_data_bytes:
                raise sandbox.SandboxViolation(script, [sandbox.too_much_data(written)])
            return ("ok", (changed, sorted(set(before) - set(context))))
    raise ValueError(f"unknown request {kind!r}")


def _deeper_than(value, limit: int) -> bool:
    """Whether containers nest more than `limit` deep (the stored state could not be written)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, (list, tuple, set, frozenset)):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in item)
    return False


def _dumps(value) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def main(argv: list[str]) -> int:
    memory_mb, cpu_seconds, max_data_bytes = int(argv[0]), int(argv[1]), int(argv[2])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from . import sandbox, sandbox_wire as wire  # noqa: F401 - imported before the limits bite

    _limit_resources(memory_mb)
    to_parent, from_parent = os.dup(sys.stdout.fileno()), sys.stdin.fileno()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # nothing printed can corrupt the replies
    while True:
        header = wire.read_exactly(from_parent, wire.header_size())
        if header is None:
            return 0
        body = wire.read_exactly(from_parent, wire.body_length(header))
        if body is None:
            return 0
        out_of_memory = False
        try:
            request = pickle.loads(body)  # from our parent, which we trust
            _limit_cpu(cpu_seconds)
            reply = _handle(request, max_data_bytes)
            message = wire.pack(reply)
            if len(message) > max_data_bytes + 4096:
                reply = ("violation", request[2][0] if request[2] else "", [sandbox.too_much_data(len(message))])
                message = wire.pack(reply)
        except MemoryError:
            out_of_memory = True
            message = None
        except BaseException as error:  # noqa: BLE001 - nothing diagram code raises ends this process
            try:
                message = wire.pack(_error(error))
            except MemoryError:
                out_of_memory, message = True, None
        if out_of_memory:
            try:
                message = wire.pack(("memory",))
            except MemoryError:
                return MEMORY_EXIT
        wire.write_all(to_parent, message)
        if out_of_memory:
            return 0  # start afresh: a MemoryError can leave any object half-built


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
