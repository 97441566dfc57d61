"""A bounded load test on loopback: many users working the task queues of one server at once.

A real server (gunicorn, several worker processes with threads) on 127.0.0.1; ORCHESTRATOR_LOAD_CLIENTS
(default 50) client threads, each a different user with a bearer token, for ORCHESTRATOR_LOAD_SECONDS
(default 20; operations runs use 60). Each client repeats what a case worker does: list the role's
queue, pick a task, take it (claim) and complete it with a note, or (one in five) complete it
straight from the queue without taking it, and look at the case. The diagram appends every note to
the case's `notater` and gives the task back, so the same cases are worked over and over and
clients collide on them.

Reported (printed, and written to tests/_artifacts/load.json under the database's name): requests per
second, and p50/p95/p99 latency per kind of request. Asserted: no 5xx and no failed request; no lost update: every
completion answered 200 is in the audit log exactly once, with that user and that note, and its note
is in the case's `notater` exactly once, in audit order; no task was completed twice, and nothing
was completed that was not answered 200; no deadlock in the server's log. 409s are expected (two clients
on one task) and counted.
"""
from __future__ import annotations

import json
import math
import os
import random
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from consistency import assert_consistent
from multinode_support import Node, load_process
from orchestrator.engine import workflow as engine
from orchestrator.services import instances, users
from orchestrator.services.access import SYSTEM
from orchestrator.store.models import AuditEntry

pytestmark = pytest.mark.slow

SECONDS = float(os.environ.get("ORCHESTRATOR_LOAD_SECONDS", "20"))
CLIENTS = int(os.environ.get("ORCHESTRATOR_LOAD_CLIENTS", "50"))
WEB_WORKERS = int(os.environ.get("ORCHESTRATOR_LOAD_WEB_WORKERS", "3"))
WEB_THREADS = int(os.environ.get("ORCHESTRATOR_LOAD_WEB_THREADS", "4"))
CASES = int(os.environ.get("ORCHESTRATOR_LOAD_CASES", "150"))
ARTIFACTS = Path(__file__).parent / "_artifacts"


class Client:
    """One user at the keyboard: records every request's kind, status and latency."""

    def __init__(self, base: str, username: str, token: str, seed: int):
        self.base, self.username = base, username
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"
        self.random = random.Random(seed)
        self.samples: list[tuple[str, int, float]] = []  # (kind, status, seconds)
        self.completed: list[tuple[str, int, str]] = []  # (task id, instance id, note) answered 200
        self.errors: list[str] = []
        self._notes = 0

    def call(self, kind: str, method: str, path: str, **kwargs):
        began = time.perf_counter()
        try:
            response = self.http.request(method, self.base + path, timeout=60, **kwargs)
        except requests.RequestException as error:
            self.samples.append((kind, 0, time.perf_counter() - began))
            self.errors.append(f"{kind} {path}: {type(error).__name__}: {error}")
            return None
        self.samples.append((kind, response.status_code, time.perf_counter() - began))
        if response.status_code >= 500:
            self.errors.append(f"{kind} {path}: {response.status_code} {response.text[:300]}")
        return response

    def work(self, until: float) -> None:
        while time.monotonic() < until:
            listed = self.call("list", "GET", "/api/v1/tasks?scope=roles&per_page=50")
            if listed is None or listed.status_code != 200:
                continue
            items = [t for t in listed.json()["items"] if t["assignee"] in (None, self.username)]
            if not items:
                continue
            task = self.random.choice(items)
            direct = self.random.random() < 0.2  # straight from the queue, without taking it first
            if not direct and task["assignee"] is None:
                claimed = self.call("claim", "POST", f"/api/v1/tasks/{task['id']}/claim")
                if claimed is None or claimed.status_code != 200:
                    continue
            self._notes += 1
            note = f"{self.username}-{self._notes}"
            done = self.call("complete", "POST", f"/api/v1/tasks/{task['id']}/complete", json={"data": {"notat": note}})
            if done is not None and done.status_code == 200:
                self.completed.append((task["id"], task["instance_id"], note))
            self.call("view", "GET", f"/api/v1/instances/{task['instance_id']}")


def _percentile(values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q % of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)] if ordered else 0.0


def _report(samples, elapsed: float, backend: str) -> dict:
    by_kind = defaultdict(list)
    for kind, status, seconds in samples:
        by_kind[kind].append((status, seconds))
    def stats(entries):
        latencies = [s for _, s in entries]
        return {"requests": len(entries), "statuses": dict(sorted(Counter(str(c) for c, _ in entries).items())),
                **{f"p{q}_ms": round(_percentile(latencies, q) * 1000, 1) for q in (50, 95, 99)}}
    report = {
        "backend": backend, "seconds": round(elapsed, 1), "clients": CLIENTS,
        "server": f"gunicorn --workers {WEB_WORKERS} --threads {WEB_THREADS}", "cases": CASES,
        "cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
        "throughput_rps": round(len(samples) / elapsed, 1),
        "all": stats([(c, s) for _, c, s in samples]),
        **{kind: stats(entries) for kind, entries in sorted(by_kind.items())},
    }
    return report


def test_fifty_clients_work_the_queues_with_no_5xx_and_no_lost_update(orc, tmp_path, database_url, deploy):
    backend = orc.db.dialect
    deploy(*load_process())
    cases = [instances.start(orc, "mn_last", SYSTEM, business_key=f"LAST-{n}", data={"notater": []}).id
             for n in range(CASES)]
    tokens = {}
    for n in range(CLIENTS):
        users.add(orc, f"bruker{n}", ["tjenesteyter"], None)
        tokens[f"bruker{n}"] = users.create_token(orc, f"bruker{n}", "last")
    node = Node(tmp_path, database_url)
    try:
        server = node.gunicorn(workers=WEB_WORKERS, threads=WEB_THREADS, name="web")
        clients = [Client(server.url, name, token, seed) for seed, (name, token) in enumerate(sorted(tokens.items()))]
        for client in clients:  # connections open, specs and tokens warm in every server process
            client.call("warm", "GET", "/api/v1/me")
        began = time.monotonic()
        until = began + SECONDS
        threads = [threading.Thread(target=c.work, args=(until,), name=c.username) for c in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(SECONDS + 120)
        elapsed = time.monotonic() - began
        assert not any(t.is_alive() for t in threads)
        server.proc.stop()
    finally:
        node.stop_all()

    samples = [s for c in clients for s in c.samples if s[0] != "warm"]
    report = _report(samples, elapsed, backend)
    completed = [entry for c in clients for entry in c.completed]
    report["completions_200"] = len(completed)
    ARTIFACTS.mkdir(exist_ok=True)
    artifact = ARTIFACTS / "load.json"  # one entry per database, the latest run of each
    try:
        reports = json.loads(artifact.read_text())
    except (OSError, ValueError):
        reports = {}
    reports[backend] = report
    artifact.write_text(json.dumps(reports, indent=2, ensure_ascii=False))
    print(f"\nload on {backend}: {json.dumps(report, indent=1)}")

    errors = [e for c in clients for e in c.errors]
    assert errors == [], errors[:20]  # no 5xx, no connection failure, no timeout
    # a deadlock would be answered 409 and rolled back, but means two steps took their locks in different orders
    assert "lost a race" not in server.proc.output(), server.proc.output()[-3000:]
    assert report["complete"]["statuses"].get("200", 0) == len(completed) > 0

    # no lost update: the audit log holds exactly the completions answered 200, each once
    with orc.db.read() as session:
        audited = session.execute(select(AuditEntry.id, AuditEntry.instance_id, AuditEntry.task_id, AuditEntry.actor,
                                         AuditEntry.data).where(AuditEntry.action == "task_completed")
                                  .order_by(AuditEntry.id)).all()
    per_task = Counter(task_id for _, _, task_id, _, _ in audited)
    assert [t for t, n in per_task.items() if n > 1] == []  # no task completed twice
    answered = {task_id: (instance_id, note) for task_id, instance_id, note in completed}
    assert len(answered) == len(completed)  # no task answered 200 twice
    recorded = {task_id: (instance_id, data["notat"]) for _, instance_id, task_id, _, data in audited}
    assert recorded == answered  # nothing lost, nothing completed without a 200
    by_user = {note: client.username for client in clients for _, _, note in client.completed}
    assert all(by_user[data["notat"]] == actor for _, _, _, actor, data in audited)
    notes_in_order = defaultdict(list)
    for _, instance_id, _, _, data in audited:
        notes_in_order[instance_id].append(data["notat"])

    def notes_kept(row, workflow):  # the case's data holds every note, once, in the order committed
        kept = engine.current_data(workflow).get("notater")
        if kept != notes_in_order.get(row.id, []):
            return f"notater {kept} != notes of its task_completed rows {notes_in_order.get(row.id, [])}"

    summary = assert_consistent(orc, each=notes_kept)
    assert summary.instances == len(cases) and summary.statuses == {"running": len(cases)}
    conflicts = report["complete"]["statuses"].get("409", 0) + report.get("claim", {}).get("statuses", {}).get("409", 0)
    print(f"{len(completed)} completions, {conflicts} conflicts (409), 0 lost")
