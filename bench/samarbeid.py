"""Full samarbeid checks per second through the API (goal ≥ 150/s on SQLite).

One check is what a client does for the whole of processes/samarbeid.bpmn: `POST /instances`
(whose answer lists the first task), then `POST /tasks/{id}/complete` for steg1, steg2, one
steg3 per service (two), barnekoordinator_vurdering and samordning, whose end sends the melding
to koordinerende enhet that starts an oppstart instance for the same case (7 requests, 3
instances touched). The next task comes from each answer's `next_tasks`.

- SQLite, in-process (Flask test client): one client, and a few client threads on one app.
- PostgreSQL: gunicorn with 1, 2 and 4 sync workers on loopback, loaded by enough client
  threads (keep-alive `requests` sessions); deploy, users and tokens prepared before.
Checks per second = checks completed ÷ wall time of the measuring window, after a warm-up.
"""
from __future__ import annotations

import itertools
import threading
import time

from . import routines
from .env import Env, Run, log
from .measure import SqlCounter, profile, summary_ms
from .report import Figure, skipped
from .server import Gunicorn

GOAL = ">= 150"
_serial = itertools.count()


def workers(run: Run) -> list[int]:
    return [1, 2, 4]


def threads_sqlite(run: Run) -> int:
    return 4


def expected(run: Run) -> list[str]:
    return ["samarbeid.sqlite_1_client", f"samarbeid.sqlite_{threads_sqlite(run)}_clients",
            "samarbeid.postgresql_inprocess_1_client"] + [f"samarbeid.postgresql_gunicorn_{w}" for w in workers(run)]


class InProcess:
    def __init__(self, app, token: str):
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, url: str, body=None):
        response = self.client.open("/api/v1" + url, method=method, json=body, headers=self.headers)
        return response.status_code, response.get_json()


class OverHttp:
    def __init__(self, base: str, token: str):
        import requests

        self.base = base + "/api/v1"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, url: str, body=None):
        response = self.session.request(method, self.base + url, json=body)
        return response.status_code, response.json()


class Counting:
    """Wraps a client: time, SQL statements and commits of each request of a check, in order (untimed runs)."""

    def __init__(self, client, engine):
        self.client, self.engine, self.requests = client, engine, []

    def call(self, method: str, url: str, body=None):
        with SqlCounter(self.engine) as counter:
            started = time.perf_counter()
            answer = self.client.call(method, url, body)
            ms = (time.perf_counter() - started) * 1000
        path = "/".join("{id}" if part.isdigit() or len(part) == 36 else part for part in url.split("/"))
        self.requests.append({"request": f"{method} {path}", "ms": round(ms, 2), "statements": counter.total,
                              "commits": counter.commits, **dict(counter.counts)})
        return answer


def one_check(client, prefix: str) -> int:
    """Run one full check; returns the number of requests made."""
    business_key = f"{prefix}-{next(_serial)}"
    status, body = client.call("POST", "/instances", {"process_key": "samarbeid", "business_key": business_key})
    _expect(status, 201, body)
    open_tasks = [(t["element_id"], t["id"]) for t in body["next_tasks"]]
    requests = 1
    for element_id, data in routines.SAMARBEID_PATH:
        task_id = next((tid for eid, tid in open_tasks if eid == element_id), None)
        if task_id is None:
            raise RuntimeError(f"{business_key}: no open {element_id} after {requests} requests; "
                               f"the last answer listed {sorted(eid for eid, _ in open_tasks)}")
        status, done = client.call("POST", f"/tasks/{task_id}/complete", {"data": data})
        _expect(status, 200, done)
        requests += 1
        open_tasks = [(t["element_id"], t["id"]) for t in done["next_tasks"]]
    if done["instance_status"] != "completed":
        raise RuntimeError(f"the check did not complete: {done}")
    return requests


def _expect(status, wanted, body):
    if status != wanted:
        raise RuntimeError(f"expected {wanted}, got {status}: {str(body)[:300]}")


def load(make_client, threads: int, seconds: float, warmup: float, prefix: str) -> dict:
    """Run checks from `threads` clients for `seconds` after `warmup`; count what finished in the window."""
    stop = threading.Event()
    window = {}
    counts = [0] * threads
    errors: list[str] = []
    latencies: list[float] = []
    warm: set[int] = set()
    lock = threading.Lock()

    def client_loop(n: int):
        client = make_client()
        while not stop.is_set():
            started = time.perf_counter()
            try:
                one_check(client, f"{prefix}-{n}")
            except Exception as error:  # a failed check is not counted; the first few are reported
                with lock:
                    errors.append(f"{type(error).__name__}: {error}"[:300])
                if len(errors) > 20:
                    return
                continue
            ended = time.perf_counter()
            warm.add(n)
            if "start" in window and ended >= window["start"] and "end" not in window:
                with lock:  # completed inside the window: counted (steady-state throughput)
                    counts[n] += 1
                    latencies.append(ended - started)

    pool = [threading.Thread(target=client_loop, args=(n,), daemon=True) for n in range(threads)]
    for t in pool:
        t.start()
    # warm up for `warmup` seconds and until every client has finished a check (every server
    # worker has then parsed the routines it needs)
    time.sleep(warmup)
    deadline = time.monotonic() + 120
    while len(warm) < threads and time.monotonic() < deadline and len(errors) <= 20:
        time.sleep(0.1)
    window["start"] = time.perf_counter()
    time.sleep(seconds)
    window["end"] = time.perf_counter()
    stop.set()
    for t in pool:
        t.join(60)
    elapsed = window["end"] - window["start"]
    done = sum(counts)
    return {"checks": done, "seconds": round(elapsed, 3), "checks_per_s": done / elapsed if elapsed else 0.0,
            "threads": threads, "check_latency": summary_ms(latencies), "errors": errors[:5],
            "error_count": len(errors)}


def run(run: Run) -> list[Figure]:
    seconds, warmup = run.pick(3.0, 15.0), run.pick(1.0, 3.0)
    figures = []
    with Env("samarbeid_sqlite") as env:
        app = env.app()
        token = env.token("tina")
        # statements and a profile of one check, single client (not timed)
        client = InProcess(app, token)
        one_check(client, "VARM")
        with SqlCounter(env.orc.db.engine) as counter:
            requests = one_check(client, "SQL")
        sql = counter.per(1)
        per_request = Counting(client, env.orc.db.engine)
        one_check(per_request, "SQL2")
        sql["per_request"] = per_request.requests
        prof = profile(lambda: [one_check(client, "PROF") for _ in range(5)], ops=5) if run.profile else None
        for threads in (1, threads_sqlite(run)):
            log(f"samarbeid/sqlite: {threads} client thread(s) for {seconds:.0f} s")
            result = load(lambda: InProcess(app, token), threads, seconds, warmup, f"S{threads}")
            rate = result["checks_per_s"]
            raw = {**result, "sql_statements_per_check": sql, "requests_per_check": requests}
            if prof and threads == 1:
                raw["profile"] = prof
            figures.append(Figure(
                key=f"samarbeid.sqlite_{threads}_client{'s' if threads > 1 else ''}",
                title=f"Samarbeid checks/s, SQLite in-process, {threads} client{'s' if threads > 1 else ''}",
                value=round(rate, 2), unit="/s", goal=GOAL, raw=raw,
                ratio=run.per_calibration(1000 / rate) if rate else None,
                notes=f"{requests} requests and {sql['total']:g} SQL statements per check; "
                      f"median check {result['check_latency'].get('median_ms', float('nan')):.0f} ms"
                      + (f"; {result['error_count']} errors" if result["error_count"] else ""),
            ))
    if not run.pg_url:
        return figures + [skipped(key, _pg_title(key), "/s", None, "no PostgreSQL (--pg-url)")
                          for key in expected(run) if "postgresql" in key]
    with Env("samarbeid_pg", backend="postgresql", pg_url=run.pg_url) as env:
        token = env.token("tina")
        settings = _pg_settings(env)
        log(f"samarbeid/postgresql: in-process, 1 client thread, {seconds:.0f} s")
        client = InProcess(env.app(), token)
        one_check(client, "VARM")
        with SqlCounter(env.orc.db.engine) as counter:
            one_check(client, "SQL")
        result = load(lambda: InProcess(env.app(), token), 1, seconds, warmup, "PI")
        rate = result["checks_per_s"]
        figures.append(Figure(
            key="samarbeid.postgresql_inprocess_1_client", title=_pg_title("samarbeid.postgresql_inprocess_1_client"),
            value=round(rate, 2), unit="/s", raw={**result, "sql_statements_per_check": counter.per(1),
                                                  "server_settings": settings},
            ratio=run.per_calibration(1000 / rate) if rate else None,
            notes=f"{counter.per(1)['commits']:g} commits per check; "
                  f"synchronous_commit={settings.get('synchronous_commit')}",
        ))
        for w in workers(run):
            threads = max(4, 3 * w)
            log(f"samarbeid/postgresql: gunicorn {w} worker(s), {threads} client threads, {seconds:.0f} s")
            with Gunicorn(env, w) as server:
                result = load(lambda: OverHttp(server.base, token), threads, seconds, warmup, f"P{w}")
            rate = result["checks_per_s"]
            figures.append(Figure(
                key=f"samarbeid.postgresql_gunicorn_{w}", title=_pg_title(f"samarbeid.postgresql_gunicorn_{w}"),
                value=round(rate, 2), unit="/s", goal=None, raw={**result, "server_settings": settings},
                ratio=run.per_calibration(1000 / rate) if rate else None,
                notes=f"{threads} client threads; "
                      f"median check {result['check_latency'].get('median_ms', float('nan')):.0f} ms"
                      + (f"; {result['error_count']} errors" if result["error_count"] else ""),
            ))
    return figures


def _pg_settings(env: Env) -> dict:
    from sqlalchemy import text

    with env.orc.db.engine.connect() as conn:
        return {name: conn.execute(text(f"show {name}")).scalar()
                for name in ("server_version", "synchronous_commit", "fsync", "shared_buffers", "max_connections")}


def _pg_title(key: str) -> str:
    if key.endswith("inprocess_1_client"):
        return "Samarbeid checks/s, PostgreSQL in-process, 1 client"
    w = int(key.rsplit("_", 1)[1])
    return f"Samarbeid checks/s, PostgreSQL, gunicorn {w} worker{'s' if w > 1 else ''}"
