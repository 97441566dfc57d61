"""Helpers for tests that run the orchestrator as several OS processes (multi-node, faults, load).

- `Node`: the environment one installation's processes share (home folder, database URL, secret)
  and the processes started from it: `cli(...)` runs `orchestrator ...` to its end, `spawn(...)`
  starts a long-running one (worker, gunicorn, `orchestrator serve`) as a `Proc`.
- `Proc`: a child process with its output in a log file; `stop()` sends SIGTERM (then SIGKILL if it
  does not go), `wait_killed()` waits for the SIGKILL a fault point (ORCHESTRATOR_FAULT) gives it.
- `postgresql_schema()`: a fresh schema on ORCHESTRATOR_TEST_DATABASE_URL, dropped afterwards.
- `wait_for(...)`: poll a condition with a deadline (tests never sleep a fixed time to assert).
- Diagrams: `due_timer_process()`, `hostile_timer_process()`, `race_process()`, `load_process()`.
- `clone_instances(...)`: many faithful copies of a started instance (state with fresh task ids,
  its timers and its audit rows), written with bulk SQL; firing them is real engine work.

Run as a script it is a worker whose notice delivery SIGKILLs itself at a notice fault point
(`python tests/multinode_support.py notice-worker`; see `notice_worker_main`).
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
if str(TESTS) not in sys.path:  # bpmnbuilder and the other helpers live next to this file
    sys.path.insert(0, str(TESTS))

from helpers import TEST_SAKSNUMMER_PATTERN  # noqa: E402

PG_URL = os.environ.get("ORCHESTRATOR_TEST_DATABASE_URL")
ON_POSTGRESQL = bool(PG_URL and PG_URL.startswith("postgresql"))
ORCHESTRATOR = [sys.executable, "-m", "orchestrator.cli"]
SECRET = "multinode-test-secret"
TY, LEDER = "Tjenesteyter", "Leder"
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# --- waiting -------------------------------------------------------------------------------------
def wait_for(condition: Callable[[], object], timeout: float, interval: float = 0.2, what: str = "condition"):
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {value!r})")
        time.sleep(interval)


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- databases -----------------------------------------------------------------------------------
def url_with_schema(base: str, schema: str) -> str:
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}"


@contextlib.contextmanager
def postgresql_schema(prefix: str = "mn") -> Iterator[str]:
    """A new, empty schema on the test server; yields a database URL that uses it."""
    from sqlalchemy import create_engine, text

    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield url_with_schema(PG_URL, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


# --- processes -----------------------------------------------------------------------------------
class Proc:
    """A long-running child process, its output in `log`."""

    def __init__(self, args: list[str], env: dict, log: Path, name: str):
        self.args, self.log, self.name = args, log, name
        self._out = open(log, "wb")
        self.popen = subprocess.Popen(args, env=env, stdout=self._out, stderr=subprocess.STDOUT,
                                      cwd=env.get("ORCHESTRATOR_HOME"), start_new_session=True)
        self.pid = self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        if not self._out.closed:
            self._out.flush()
        return self.log.read_text(errors="replace")

    def wait_killed(self, timeout: float = 120) -> int:
        """Wait until the process is gone (a fault point kills it with SIGKILL); its return code."""
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} did not die within {timeout} s:\n{self.tail()}") from None
        return code

    def stop(self, timeout: float = 45) -> int:
        """SIGTERM, and SIGKILL if it has not exited within `timeout` seconds. Returns the exit code."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        self._out.close()
        return self.popen.returncode

    def kill(self) -> None:
        if self.alive():
            os.killpg(self.pid, signal.SIGKILL)  # its own session: gunicorn's workers go too
            self.popen.wait(10)
        self._out.close()

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-lines:])


def stop_together(procs: list[Proc], timeout: float = 45) -> list[int]:
    """SIGTERM to all at once, then wait for each (SIGKILL after `timeout`); their exit codes."""
    for proc in procs:
        if proc.alive():
            proc.popen.send_signal(signal.SIGTERM)
    return [proc.stop(timeout) for proc in procs]


# An idle `orchestrator worker` wakes on SIGTERM and stops (test_multinode.py holds it). Tests stop
# idle workers, whose work they have already seen done, with this grace period and then SIGKILL.
IDLE_STOP_SECONDS = 3.0


def stop_idle(procs: list[Proc]) -> list[int]:
    return stop_together(procs, IDLE_STOP_SECONDS)


@dataclass
class Server:
    proc: Proc
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Node:
    """One installation: a home folder and a database, shared by every process started from it."""

    def __init__(self, home: Path, database_url: str, **env: str):
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "logs").mkdir(exist_ok=True)
        self.database_url = database_url
        self.extra = {k: str(v) for k, v in env.items()}
        self.procs: list[Proc] = []
        self._count = 0

    def env(self, fault: str | None = None, **extra) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_")}
        env.update({
            "ORCHESTRATOR_HOME": str(self.home),
            "ORCHESTRATOR_DATABASE_URL": self.database_url,
            "ORCHESTRATOR_SECRET_KEY": SECRET,
            "ORCHESTRATOR_SECURE_COOKIES": "false",
            "ORCHESTRATOR_SAKSNUMMER_PATTERN": TEST_SAKSNUMMER_PATTERN,  # the test installation's (helpers.py)
            "PYTHONUNBUFFERED": "1",
        })
        env.update(self.extra)
        env.update({k: str(v) for k, v in extra.items()})
        if fault:
            env["ORCHESTRATOR_FAULT"] = fault
        return env

    def cli(self, *args, expect: int | None = 0, fault: str | None = None, stdin: str | None = None,
            timeout: float = 120, **extra) -> subprocess.CompletedProcess:
        result = subprocess.run(ORCHESTRATOR + [str(a) for a in args], input=stdin, capture_output=True, text=True,
                                env=self.env(fault, **extra), timeout=timeout, cwd=self.home)
        if expect is not None:
            assert result.returncode == expect, (args, result.returncode, result.stdout, result.stderr[-3000:])
        return result

    def cli_json(self, *args, **kwargs):
        return json.loads(self.cli(*args, "--json", **kwargs).stdout)

    def spawn(self, args: list[str], name: str, fault: str | None = None, **extra) -> Proc:
        self._count += 1
        proc = Proc(args, self.env(fault, **extra), self.home / "logs" / f"{self._count:02d}-{name}.log", name)
        self.procs.append(proc)
        return proc

    def worker(self, name: str = "worker", fault: str | None = None, **extra) -> Proc:
        return self.spawn(ORCHESTRATOR + ["worker"], name, fault, **extra)

    def gunicorn(self, workers: int = 1, threads: int = 1, name: str = "gunicorn", fault: str | None = None,
                 **extra) -> Server:
        port = free_port()
        args = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads", str(threads),
                "--bind", f"127.0.0.1:{port}", "--timeout", "120", "--graceful-timeout", "10",
                "--log-level", "warning", "orchestrator.web.app:create_app()"]
        return self._serve(self.spawn(args, name, fault, **extra), port)

    def werkzeug(self, name: str = "serve", fault: str | None = None, **extra) -> Server:
        """`orchestrator serve --no-worker`: one process, threaded (what `make run` serves with)."""
        port = free_port()
        proc = self.spawn(ORCHESTRATOR + ["serve", "--no-worker", "--port", str(port)], name, fault, **extra)
        return self._serve(proc, port)

    def _serve(self, proc: Proc, port: int) -> Server:
        import requests

        def healthy():
            if not proc.alive():
                raise AssertionError(f"{proc.name} exited with {proc.returncode}:\n{proc.tail()}")
            try:
                return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_for(healthy, 60, 0.1, f"{proc.name} to answer /healthz")
        return Server(proc, port)

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            if proc.alive():
                proc.kill()
        self.procs.clear()


# --- diagrams ------------------------------------------------------------------------------------
def due_timer_process(key: str = "mn_tidtaker"):
    """Wait for `forfall` (a date from the start data), count the firing, then wait until 2099."""
    from bpmnbuilder import Process

    p = Process(key, "Flernode: forfalt tidtaker", lanes=[TY])
    p.start("start", "Start", lane=TY)
    p.catch("vent", "Forfall", lane=TY, timer=("timeDate", "forfall"))
    p.script("tell", "Tell fyringen", "antall = antall + 1", lane=TY)
    p.catch("senere", "Langt fram", lane=TY, timer=("timeDate", '"2099-01-01T00:00:00+00:00"'))
    p.end("slutt", "Slutt", lane=TY)
    p.chain("start", "vent", "tell", "senere", "slutt")
    return [(f"{key}.bpmn", p.to_xml())]


def hostile_timer_process(key: str = "mn_fiendtlig"):
    """Like `due_timer_process`, but what runs after the timer never ends: CPU until the sandbox stops it."""
    from bpmnbuilder import Process

    p = Process(key, "Flernode: fiendtlig tidtaker", lanes=[TY])
    p.start("start", "Start", lane=TY)
    p.catch("vent", "Forfall", lane=TY, timer=("timeDate", "forfall"))
    p.script("evig", "Regner for alltid", "while True:\n    antall = antall + 1", lane=TY)
    p.end("slutt", "Slutt", lane=TY)
    p.chain("start", "vent", "evig", "slutt")
    return [(f"{key}.bpmn", p.to_xml())]


def race_process(key: str = "mn_kappløp"):
    """A task with a one-field form, then another task: the step two people race to complete."""
    from bpmnbuilder import Process
    from diagrams import form, text_field

    key = key.replace("ø", "o")
    p = Process(key, "Flernode: to fullfører samme oppgave", lanes=[TY])
    p.start("start", "Start", lane=TY)
    p.user("svar", "Svar", lane=TY, form="mn_svar")
    p.user("neste", "Neste", lane=TY)
    p.end("slutt", "Slutt", lane=TY)
    p.chain("start", "svar", "neste", "slutt")
    return [(f"{key}.bpmn", p.to_xml()), form("mn_svar", text_field("svar"))]


def load_process(key: str = "mn_last"):
    """A case that never ends: each completion appends its note to `notater`, then the task comes back."""
    from bpmnbuilder import Process
    from diagrams import form, text_field

    p = Process(key, "Last: notat i løkke", lanes=[TY])
    p.start("start", "Start", lane=TY)
    p.xor("inn", "Neste notat", lane=TY)  # the loop comes back through a gateway (SpiffWorkflow needs one)
    p.user("notat", "Skriv notat", lane=TY, form="mn_notat")
    p.script("lagre", "Legg til notatet", "notater = notater + [notat]", lane=TY)
    p.xor("mer", "Mer?", lane=TY)
    p.end("slutt", "Slutt", lane=TY)
    p.chain("start", "inn", "notat", "lagre", "mer")
    p.flow("mer", "slutt", name="Nok", condition='notat == "slutt"')
    p.flow("mer", "inn", name="Mer", default=True)
    return [(f"{key}.bpmn", p.to_xml()), form("mn_notat", text_field("notat"))]


def write_files(folder: Path, files) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files:
        (folder / name).write_text(content)
    return folder


# --- many instances, fast ------------------------------------------------------------------------
def clone_instances(orc, template_id: int, copies: int, business_key_prefix: str, chunk: int = 1000) -> list[int]:
    """`copies` new instances that are exact copies of `template_id`, each with fresh task ids.

    Copies its row (engine state, pins, trail, snapshot of its indexed rows, next_timer_at,
    lock_version), its `timers`, `tasks` and `message_waits` rows and its audit rows, with every
    task id in them replaced by a new one (task ids are primary keys of `tasks` and must never be
    shared between instances) and the business key replaced. Returns the new ids.
    """
    from sqlalchemy import func, insert, select, text

    from orchestrator.store.models import Base

    tables = Base.metadata.tables
    instances, children = tables["instances"], [tables[n] for n in ("timers", "tasks", "message_waits")]
    audit = tables["audit_log"]
    with orc.db.write() as session:
        template = dict(session.execute(select(instances).where(instances.c.id == template_id)).mappings().one())
        kids = {t.name: [dict(r) for r in session.execute(select(t).where(t.c.instance_id == template_id)).mappings()]
                for t in children}
        trail = [dict(r) for r in session.execute(select(audit).where(audit.c.instance_id == template_id)).mappings()]
        first = (session.scalar(select(func.max(instances.c.id))) or 0) + 1
    old_key = template["business_key"]
    ids = list(range(first, first + copies))
    for offset in range(0, copies, chunk):
        rows, child_rows, audit_rows = [], {t.name: [] for t in children}, []
        for new_id in ids[offset:offset + chunk]:
            mapping: dict[str, str] = {}
            key = f"{business_key_prefix}{new_id}"

            def fresh(value, mapping=mapping, key=key):
                if isinstance(value, str):
                    value = UUID_RE.sub(lambda m: mapping.setdefault(m.group(0), str(uuid.uuid4())), value)
                    return value.replace(json.dumps(old_key), json.dumps(key)) if old_key else value
                if isinstance(value, (dict, list)):
                    return json.loads(fresh(json.dumps(value)))
                return value

            row = {k: fresh(v) for k, v in template.items() if k not in ("id", "business_key")}
            rows.append({**row, "id": new_id, "business_key": key})
            for name, items in kids.items():
                for item in items:
                    copy = {k: fresh(v) for k, v in item.items() if k != "id"}
                    child_rows[name].append({**copy, "instance_id": new_id,
                                             **({"business_key": key} if "business_key" in copy else {})})
            for entry in trail:
                audit_rows.append({**{k: fresh(v) for k, v in entry.items() if k != "id"}, "instance_id": new_id})
        with orc.db.write() as session:
            session.execute(insert(instances), rows)
            for table in children:
                if child_rows[table.name]:
                    session.execute(insert(table), child_rows[table.name])
            if audit_rows:
                session.execute(insert(audit), audit_rows)
    if orc.db.dialect == "postgresql":
        with orc.db.write() as session:
            session.execute(text(
                "SELECT setval(pg_get_serial_sequence('instances', 'id'), (SELECT max(id) FROM instances))"))
    return ids


def start_as_of(orc, key: str, moment: datetime, count: int, business_key_prefix: str, data: dict | None = None,
                actor=None) -> list[int]:
    """Start `count` instances with the orchestrator's clock at `moment`."""
    from orchestrator import clock
    from orchestrator.services import instances
    from orchestrator.services.access import SYSTEM

    ids = []
    with clock.frozen(moment):
        for number in range(count):
            ids.append(instances.start(orc, key, actor or SYSTEM, business_key=f"{business_key_prefix}{number}",
                                       data=data).id)
    return ids


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


# --- a worker that dies at a notice delivery point -----------------------------------------------
def notice_worker_main() -> None:
    """`orchestrator worker`, except that notice delivery SIGKILLs the process at a point.

    services/notices/faults.py only has in-process hooks (no ORCHESTRATOR_FAULT trigger), so this
    installs one: env MN_NOTICE_KILL_AT=<claimed|after_send_before_mark|after_mark>[@n] kills the
    process the n-th time delivery reaches that point. Without it, it is a clean worker. It stops
    promptly on SIGTERM (unlike `orchestrator worker` today; see test_multinode.py).
    """
    import logging
    import threading

    from orchestrator.config import Settings
    from orchestrator.services import bootstrap
    from orchestrator.services.notices import faults as notice_faults
    from orchestrator.services.worker import Worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    orc = bootstrap.build(Settings.from_env())
    wanted = os.environ.get("MN_NOTICE_KILL_AT")
    if wanted:
        target, _, nth = wanted.partition("@")
        hits = {"n": 0}

        def kill(point, notice):
            if point == target:
                hits["n"] += 1
                if hits["n"] >= int(nth or 1):
                    logging.getLogger("notice-fault").warning("SIGKILL at notice.%s (notice %s)", point, notice.id)
                    os.kill(os.getpid(), signal.SIGKILL)

        notice_faults.HOOKS.append(kill)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: (stop.set(), orc.signal.notify()))
    Worker(orc).run(stop)


if __name__ == "__main__":
    if sys.argv[1:] == ["notice-worker"]:
        notice_worker_main()
    else:
        sys.exit("usage: multinode_support.py notice-worker")
