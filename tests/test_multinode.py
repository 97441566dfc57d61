"""Several orchestrator processes on one PostgreSQL database: timers fire exactly once, a killed
worker's claimed batch is taken over after its lease, and two web processes racing to complete one
task give one 200 and one 409.

Every process here is a real OS process (`orchestrator worker`, gunicorn) started from the command
line against its own schema, migrated with `orchestrator db upgrade`. The test process only sets up
data and reads the database. Sizes: ORCHESTRATOR_MULTINODE_TIMERS (default 10,000) due timers for
four workers; a fifth of that for the crash test.

Three tests hold what operations found missing at first: a worker stops within seconds of SIGTERM
while it sleeps, stops after its current batch while it drains a backlog, and LISTENs again after
its connection was cut (docs/operations.md).
"""
from __future__ import annotations

import os
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta, timezone

import pytest
import requests
from sqlalchemy import func, select, text

from consistency import assert_consistent
from multinode_support import (ON_POSTGRESQL, Node, clone_instances, due_timer_process, hostile_timer_process, iso,
                               postgresql_schema, race_process, start_as_of, stop_idle, utcnow, wait_for, write_files)
from helpers import TEST_SAKSNUMMER_PATTERN
from orchestrator.config import Settings
from orchestrator.engine import workflow as engine
from orchestrator.services import users
from orchestrator.services import bootstrap
from orchestrator.store.models import AuditEntry, Instance, WaitingTimer

pytestmark = [
    pytest.mark.multinode,
    pytest.mark.skipif(not ON_POSTGRESQL, reason="multi-node tests need ORCHESTRATOR_TEST_DATABASE_URL (PostgreSQL)"),
]

TIMERS = int(os.environ.get("ORCHESTRATOR_MULTINODE_TIMERS", "10000"))
LEASE_SECONDS = 3
INSTANCE_TABLES = "notices, audit_log, message_waits, timers, tasks, instances, cases"


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """A schema of its own, migrated and deployed to by the command line."""
    with postgresql_schema("mn") as url:
        home = tmp_path_factory.mktemp("multinode")
        installation = Node(home, url, ORCHESTRATOR_TIMER_LEASE_SECONDS=LEASE_SECONDS)
        installation.cli("db", "upgrade")
        folder = write_files(home / "prosesser", due_timer_process() + hostile_timer_process() + race_process())
        deployed = installation.cli_json("deploy", str(folder))
        assert {d["key"] for d in deployed} == {"mn_tidtaker", "mn_fiendtlig", "mn_kapplop", "mn_svar"}
        try:
            yield installation
        finally:
            installation.stop_all()


@pytest.fixture
def orc(node):
    """The test's own view of the database (no worker runs in the test process)."""
    orchestrator = bootstrap.build(Settings(home=node.home, database_url=node.database_url, secret_key="x",
                                         timer_lease_seconds=LEASE_SECONDS, saksnummer_pattern=TEST_SAKSNUMMER_PATTERN))
    with orchestrator.db.write() as session:
        session.execute(text(f"TRUNCATE {INSTANCE_TABLES} RESTART IDENTITY"))
    yield orchestrator
    node.stop_all()
    orchestrator.close()


def _due_instances(orc, count: int, prefix: str) -> tuple[list[int], int]:
    """`count` instances whose timer `vent` is due now: 5 started for real an hour ago, the rest copies."""
    now = utcnow()
    started = start_as_of(orc, "mn_tidtaker", now - timedelta(hours=1), min(5, count), f"{prefix}-T",
                          data={"forfall": iso(now - timedelta(minutes=1)), "antall": 0})
    ids = started + (clone_instances(orc, started[0], count - len(started), f"{prefix}-") if count > 5 else [])
    with orc.db.read() as session:
        versions = Counter(session.scalars(select(Instance.lock_version)))
        due = session.scalar(select(func.count()).where(Instance.next_timer_at <= utcnow()))
    assert len(versions) == 1 and due == count == len(ids)
    return ids, next(iter(versions))


def _fired_instances(orc) -> int:
    """How many instances have fired (what the tests wait for: the goal, not an index column)."""
    with orc.db.read() as session:
        return session.scalar(select(func.count(func.distinct(AuditEntry.instance_id))).where(
            AuditEntry.action == "timer_fired"))


def _fired_per_instance(orc) -> Counter:
    with orc.db.read() as session:
        return Counter(dict(session.execute(
            select(AuditEntry.instance_id, func.count()).where(AuditEntry.action == "timer_fired")
            .group_by(AuditEntry.instance_id)).all()))


def _assert_each_fired_exactly_once(orc, ids: list[int], version_before: int) -> None:
    fired = _fired_per_instance(orc)
    assert set(fired) == set(ids), f"{len(set(ids) - set(fired))} instances never fired"
    assert {n for n in fired.values()} == {1}, f"fired twice: {[i for i, n in fired.items() if n > 1][:20]}"
    with orc.db.read() as session:
        versions = Counter(session.scalars(select(Instance.lock_version)))
        statuses = Counter(session.scalars(select(Instance.status)))
        waiting = Counter(session.scalars(select(WaitingTimer.element_id)))
        leases = session.scalar(select(func.count()).where(Instance.timer_lease_owner.is_not(None)))
    assert versions == {version_before + 1: len(ids)}  # exactly one committed step per instance
    assert statuses == {"running": len(ids)}  # none in error
    assert waiting == {"senere": len(ids)} and leases == 0

    def counted_once(row, workflow):
        data = engine.current_data(workflow)
        if data.get("antall") != 1:
            return f"the firing's script ran {data.get('antall')} times"

    summary = assert_consistent(orc, settled=True, each=counted_once)
    assert summary.actions["timer_fired"] == len(ids)


def test_four_worker_processes_fire_ten_thousand_due_timers_exactly_once(node, orc):
    ids, version = _due_instances(orc, TIMERS, "MN")
    began = time.monotonic()
    workers = [node.worker(f"worker-{n}") for n in range(4)]
    wait_for(lambda: _fired_instances(orc) == TIMERS, timeout=max(300, TIMERS * 0.1), interval=0.5,
             what=f"all {TIMERS} timers to fire")
    elapsed = time.monotonic() - began
    # the workers are idle now (next timer in 2099); they stop on SIGTERM
    for worker in workers:
        assert worker.alive(), worker.tail()
    exits = stop_idle(workers)
    _assert_each_fired_exactly_once(orc, ids, version)
    logs = [w.output() for w in workers]
    per_worker = [log.count(" fired vent in instance ") for log in logs]
    assert sum(per_worker) == TIMERS and all(per_worker), (per_worker, exits)  # all four took part, each logged
    assert not any("Traceback" in log for log in logs), [w.tail() for w in workers]  # no pass failed
    retried = sum(log.count("not fired now") for log in logs)  # lease expired mid-batch: lost the race
    print(f"\n4 worker processes fired {TIMERS} timers in {elapsed:.1f} s ({TIMERS / elapsed:.0f}/s); "
          f"per worker {per_worker}; {retried} firings lost an optimistic-lock race and were retried")


def test_a_worker_killed_mid_batch_leaves_its_claimed_timers_to_the_others_after_the_lease(node, orc):
    count = max(500, TIMERS // 5)
    ids, version = _due_instances(orc, count, "MNK")
    # it dies committing its 5th firing; its lease is long enough to see what it held when it died
    doomed = node.worker("doomed", fault="timer.fire.before_commit@5", ORCHESTRATOR_TIMER_LEASE_SECONDS=10)
    others = [node.worker(f"worker-{n}") for n in range(3)]
    assert doomed.wait_killed(60) == -9, doomed.tail()
    with orc.db.read() as session:
        stranded = dict(session.execute(
            select(Instance.id, Instance.timer_lease_until).where(
                Instance.timer_lease_owner.like(f"%:{doomed.pid}:%"))).all())
    # its claimed batch (the 5th instance included: its firing was never committed) is still leased to it
    assert len(stranded) >= 1, doomed.tail()
    wait_for(lambda: _fired_instances(orc) == count, timeout=max(300, count * 0.1), interval=0.5,
             what="the others to fire everything, the dead worker's batch after its lease")
    for worker in others:
        assert worker.alive(), worker.tail()
        assert "Traceback" not in worker.output(), worker.tail()
    stop_idle(others)
    _assert_each_fired_exactly_once(orc, ids, version)
    with orc.db.read() as session:
        fired_at = dict(session.execute(select(AuditEntry.instance_id, AuditEntry.at).where(
            AuditEntry.action == "timer_fired", AuditEntry.instance_id.in_(sorted(stranded)))).all())
    early = {i: (fired_at[i], until) for i, until in stranded.items() if fired_at[i] < until}
    assert early == {}, "a leased timer was taken over before its lease expired"
    print(f"\nthe killed worker held {len(stranded)} claimed timers; fired by the others after its lease")


def test_an_idle_worker_stops_within_seconds_of_sigterm(node, orc):
    worker = node.worker("idle")
    wait_for(lambda: "started" in worker.output(), 30, what="the worker to start")
    time.sleep(5)  # let it finish its first pass and settle into its sleep (nothing is due)
    began = time.monotonic()
    code = worker.stop(timeout=8)  # SIGTERM; SIGKILL after 8 s
    assert (code, time.monotonic() - began < 5) == (0, True)


def test_a_busy_worker_stops_after_its_current_batch_on_sigterm(node, orc):
    ids, _ = _due_instances(orc, 1500, "MNS")
    worker = node.worker("busy")
    wait_for(lambda: len(_fired_per_instance(orc)) >= 100, 60, what="the worker to be busy firing")
    began = time.monotonic()
    code = worker.stop(timeout=15)  # SIGTERM; SIGKILL after 15 s
    stopped_after = time.monotonic() - began
    left = len(ids) - _fired_instances(orc)
    assert (code, left > 0, stopped_after < 10) == (0, True, True), (code, left, stopped_after)


def test_worker_processes_survive_hostile_timers_and_fire_the_innocent_ones_on_time(node, orc):
    """Issue 11: four `orchestrator worker` processes, four timers whose step computes for ever and a
    hundred innocent ones, all due now. The sandbox stops each hostile step at its CPU bound, the
    case becomes an incident at once (one attempt here), no worker dies, and every innocent timer
    fires exactly once within seconds of its due time."""
    due = utcnow() - timedelta(seconds=1)
    hostile = start_as_of(orc, "mn_fiendtlig", due - timedelta(hours=1), 4, "MNH-F",
                          data={"forfall": iso(due), "antall": 0})
    innocent = start_as_of(orc, "mn_tidtaker", due - timedelta(hours=1), 100, "MNH-T",
                           data={"forfall": iso(due), "antall": 0})
    workers = [node.worker(f"hostile-{n}", ORCHESTRATOR_TIMER_MAX_ATTEMPTS=1) for n in range(4)]
    wait_for(lambda: _fired_instances(orc) >= len(innocent), timeout=120, interval=0.2,
             what="the innocent timers to fire")

    def incidents():
        with orc.db.read() as session:
            return dict(session.execute(select(Instance.id, Instance.error).where(
                Instance.id.in_(hostile), Instance.status == "error")).all())

    errors = wait_for(lambda: len(incidents()) == len(hostile) and incidents(), timeout=120,
                      what="the hostile cases to become incidents")
    for worker in workers:
        assert worker.alive(), worker.tail()
    stop_idle(workers)
    fired = _fired_per_instance(orc)
    assert set(fired) == set(innocent) and set(fired.values()) == {1}  # hostile ones never count as fired
    with orc.db.read() as session:
        fired_at = list(session.scalars(select(AuditEntry.at).where(AuditEntry.action == "timer_fired")))
        left = session.scalar(select(func.count()).select_from(WaitingTimer).where(
            WaitingTimer.instance_id.in_(hostile)))
    late = max(at.replace(tzinfo=at.tzinfo or timezone.utc) - due for at in fired_at)
    # a hostile step holds one worker for its CPU bound (2 s) and three others share the rest
    assert late < timedelta(seconds=30), late
    assert left == 0 and all("Regner for alltid" in message for message in errors.values()), errors


def _listening(orc, application_name: str) -> list[int]:
    with orc.db.read() as session:
        return list(session.scalars(text(
            "SELECT pid FROM pg_stat_activity WHERE application_name = :name AND query LIKE 'LISTEN %'"),
            {"name": application_name}))


def _fires_within(orc, seconds: float, business_key: str) -> None:
    """Another process (this test) creates a timer due in one second; the worker must fire it in time."""
    [started] = start_as_of(orc, "mn_tidtaker", utcnow(), 1, business_key,
                            data={"forfall": iso(utcnow() + timedelta(seconds=1)), "antall": 0})
    wait_for(lambda: _fired_per_instance(orc).get(started), seconds, 0.1,
             f"the worker to wake for a timer created in another process ({business_key})")


def test_a_worker_listens_again_after_its_listen_connection_is_cut(node, orc):
    name = f"mn_listen_{uuid.uuid4().hex[:8]}"
    worker = node.worker("listen", ORCHESTRATOR_DATABASE_URL=f"{node.database_url}&application_name={name}")
    wait_for(lambda: _listening(orc, name), 30, what="the worker to LISTEN")
    _fires_within(orc, 8, "MNL-before")  # NOTIFY wakes it: fired about a second later
    with orc.db.write() as session:  # what a database restart does to the connection
        session.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE application_name = :name AND query LIKE 'LISTEN %'"), {"name": name})
    wait_for(lambda: "LISTEN connection lost" in worker.output(), 30, what="the worker to notice")
    _fires_within(orc, 8, "MNL-after")


# --- two web processes racing to complete one task ------------------------------------------------
RACES = 8


@pytest.fixture
def two_web_processes(node, orc):
    servers = [node.gunicorn(workers=1, name=f"web-{n}") for n in (1, 2)]
    yield servers
    for server in servers:
        server.proc.stop()


def _tokens(orc, *names) -> dict[str, str]:
    for name in names:
        users.add(orc, name, ["tjenesteyter"], None)
    return {name: users.create_token(orc, name, "multinode") for name in names}


def test_two_web_processes_completing_the_same_task_give_one_success_and_one_conflict(node, orc, two_web_processes):
    from orchestrator.services.access import SYSTEM
    from orchestrator.services import instances, tasks

    tokens = _tokens(orc, "kari", "per")
    (a, b) = two_web_processes
    outcomes = []
    for race in range(RACES):
        started = instances.start(orc, "mn_kapplop", SYSTEM, business_key=f"RACE-{race}")
        [task] = tasks.list_tasks(orc, SYSTEM, instance_id=started.id).items
        barrier = threading.Barrier(2)
        answers: dict[str, requests.Response] = {}

        def complete(user, server):
            with requests.Session() as http:
                http.headers["Authorization"] = f"Bearer {tokens[user]}"
                http.get(f"{server.url}/api/v1/me", timeout=30)  # connection and token warm
                barrier.wait(10)
                answers[user] = http.post(f"{server.url}/api/v1/tasks/{task.id}/complete",
                                          json={"data": {"svar": f"fra {user}"}}, timeout=60)

        threads = [threading.Thread(target=complete, args=args) for args in (("kari", a), ("per", b))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
        codes = {user: response.status_code for user, response in answers.items()}
        assert sorted(codes.values()) == [200, 409], {u: (r.status_code, r.text[:300]) for u, r in answers.items()}
        winner = next(user for user, code in codes.items() if code == 200)
        loser = next(user for user, code in codes.items() if code == 409)
        outcomes.append(answers[loser].json()["message"])
        detail = instances.get(orc, started.id, SYSTEM)
        assert detail.data["svar"] == f"fra {winner}"  # the winner's data is what is stored
        completed = [h for h in detail.history if h["action"] == "task_completed"]
        assert [(h["task_id"], h["actor"], h["data"]) for h in completed] == [
            (task.id, winner, {"svar": f"fra {winner}"})]
        assert [t["element_id"] for t in detail.tasks] == ["neste"]
    assert_consistent(orc)
    concurrent = sum("samtidig" in message for message in outcomes)
    print(f"\n{RACES} races: {concurrent} lost on the optimistic lock, {RACES - concurrent} found it already completed")
