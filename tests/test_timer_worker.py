"""The timer worker: index-only passes, sleeping until due, waking early, leases, exactly once."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, text

import diagrams
from helpers import open_elements
from orchestrator.services import instances, jobs, runtime, tasks, timers
from orchestrator.services.access import SYSTEM
from orchestrator.services.errors import Conflict, Forbidden
from orchestrator.services.worker import Worker, WorkerThread


def _claim(orc, owner, limit=None):
    return [row.id for row in jobs.claim(orc, orc.queues["timer"], owner, limit)]


def _start_many(orc, count, key="test_fjorten_dager"):
    ids = []
    for number in range(count):
        ids.append(instances.start(orc, key, SYSTEM, business_key=f"SAK-{number}").id)
    return ids


@pytest.fixture
def waiting(orc, deploy, clock):
    """Instances waiting for a timer: a date 14 days before a meeting set at start."""
    deploy(*diagrams.timers(date_expr="2027-03-01T09:00:00+01:00", duration="P1D"))
    return _start_many(orc, 5, "test_tidtakere")


def test_a_pass_with_nothing_due_loads_no_instance(orc, waiting, monkeypatch):
    loads = []
    original = runtime.load
    monkeypatch.setattr(runtime, "load", lambda *a, **k: loads.append(a[2]) or original(*a, **k))
    assert Worker(orc).run_pass() == []
    assert loads == []


def test_an_idle_turn_is_one_statement_asking_every_queue(orc, waiting):
    statements = []
    listener = lambda conn, cursor, statement, *rest: statements.append(statement)  # noqa: E731
    event.listen(orc.db.engine, "before_cursor_execute", listener)
    try:
        fired, sleep = Worker(orc).turn()
    finally:
        event.remove(orc.db.engine, "before_cursor_execute", listener)
    queries = [s for s in statements if not s.startswith(("BEGIN", "select pg_", "SELECT 1"))]
    assert (fired, len(queries)) == ([], 1), statements
    assert "instances" in queries[0] and "notices" in queries[0] and sleep > 0


def test_due_instances_are_found_through_the_next_timer_index(orc):
    if orc.db.dialect != "sqlite":
        pytest.skip("the query plan is checked on SQLite; PostgreSQL's planner prefers seq scans on tiny tables")
    with orc.db.read() as session:
        plan = session.execute(text(
            "EXPLAIN QUERY PLAN SELECT id FROM instances WHERE next_timer_at <= :now "
            "ORDER BY next_timer_at LIMIT 10"), {"now": "2027-01-01"}).all()
    assert any("ix_instances_next_timer" in str(row) for row in plan), plan


def test_the_worker_plans_to_sleep_until_the_next_due_time(orc, waiting, clock):
    worker = Worker(orc)
    orc.settings.worker_max_sleep_seconds = 10 ** 9
    due = instances.get(orc, waiting[0], SYSTEM).next_timer_at
    assert worker.seconds_until_next() == pytest.approx((due - clock.now()).total_seconds())


def test_the_worker_wakes_when_an_earlier_timer_appears_and_fires_it(orc, deploy, clock):
    deploy(*diagrams.timers(date_expr="2027-06-01T09:00:00+02:00", duration="P1D"))
    orc.settings.worker_max_sleep_seconds = 10 ** 9
    orc.settings.retention_daily = False  # else the nightly retention run is what it waits for
    worker = Worker(orc)
    passes = []
    passed = threading.Condition()

    def record(fired):
        with passed:
            passes.append(fired)
            passed.notify_all()

    worker.on_pass.append(record)
    thread = WorkerThread(orc, worker).start()
    try:
        with passed:
            assert passed.wait_for(lambda: len(passes) >= 1, timeout=10)
        assert worker.planned_sleep is not None and worker.planned_sleep > 10 ** 8  # nothing waits: sleep long
        # a timer 10 minutes away is created: the worker wakes and plans for it
        deploy(*diagrams.timers(date_expr="2027-01-04T09:10:00+01:00", duration="P1D"))
        started = instances.start(orc, "test_tidtakere", SYSTEM, "SAK-TIMER-WORKER-94")
        with passed:
            assert passed.wait_for(lambda: len(passes) >= 2, timeout=10)
        assert worker.planned_sleep == pytest.approx(600.0, abs=0.01)
        # time passes (on the injected clock); a nudge wakes the worker, which fires it
        clock.advance(timedelta(minutes=11))
        orc.signal.notify()
        with passed:
            assert passed.wait_for(lambda: any(f for f in passes[2:]), timeout=10)
        assert [f.instance_id for batch in passes for f in batch] == [started.id]
        assert instances.get(orc, started.id, SYSTEM).timers[0]["element_id"] == "varighet"
    finally:
        thread.stop()


def test_a_crashed_workers_lease_expires_and_the_timer_fires_exactly_once(orc, waiting, clock):
    clock.set(instances.get(orc, waiting[0], SYSTEM).next_timer_at + timedelta(seconds=1))
    claimed_by_dead = _claim(orc, "worker-a")
    assert sorted(claimed_by_dead) == sorted(waiting)
    assert _claim(orc, "worker-b") == []  # leased: nobody else takes them
    clock.advance(timedelta(seconds=orc.settings.timer_lease_seconds + 1))
    fired = timers.fire_due(orc, owner="worker-b")
    assert sorted(f.instance_id for f in fired) == sorted(waiting)
    # the "dead" worker comes back and tries to finish its batch: its lease is gone
    assert [timers.fire_instance(orc, i, "worker-a") for i in claimed_by_dead] == [None] * len(waiting)
    for instance_id in waiting:
        history = instances.get(orc, instance_id, SYSTEM).history
        assert [h["action"] for h in history].count("timer_fired") == 1


def test_a_stopping_worker_fires_the_instance_it_is_on_and_gives_the_rest_of_its_batch_back(orc, waiting, clock,
                                                                                            monkeypatch):
    clock.set(instances.get(orc, waiting[0], SYSTEM).next_timer_at + timedelta(seconds=1))
    stop, original = threading.Event(), timers.fire_instance

    def fire_then_stop(*args):  # SIGTERM arrives while the second instance fires
        result = original(*args)
        if len(fired_so_far) == 1:
            stop.set()
        fired_so_far.append(result)
        return result

    fired_so_far = []
    monkeypatch.setattr(timers, "fire_instance", fire_then_stop)
    fired = timers.fire_due(orc, owner="stopping", stop=stop)
    assert len(fired) == 2
    monkeypatch.setattr(timers, "fire_instance", original)
    # the other three are due again and leased to nobody: another worker takes them at once
    assert sorted(f.instance_id for f in timers.fire_due(orc, owner="other")) == sorted(
        set(waiting) - {f.instance_id for f in fired})


def test_concurrent_claims_never_share_an_instance(orc, deploy, clock):
    deploy(*diagrams.timers(date_expr="2027-01-04T09:00:30+01:00", duration="P1D"))
    ids = _start_many(orc, 40, "test_tidtakere")
    clock.advance(timedelta(minutes=1))
    barrier, claims = threading.Barrier(4), {}

    def claim(name):
        barrier.wait()
        mine = []
        while batch := _claim(orc, name, limit=3):
            mine += batch
        claims[name] = mine

    threads = [threading.Thread(target=claim, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    everything = [i for batch in claims.values() for i in batch]
    assert sorted(everything) == sorted(ids)  # each claimed exactly once


def _queues_of(orc, instance_id):
    """What of the instance stands in any queue: open tasks, waiting timers, message waits, a due timer."""
    from orchestrator.store.models import Instance, MessageWait, OpenTask, WaitingTimer

    with orc.db.read() as session:
        counts = {model.__tablename__: session.query(model).filter_by(instance_id=instance_id).count()
                  for model in (OpenTask, WaitingTimer, MessageWait)}
        counts["next_timer_at"] = session.get(Instance, instance_id).next_timer_at
    return counts


def test_a_failing_timer_step_is_retried_with_back_off_then_becomes_an_incident_with_nothing_left_in_any_queue(
        orc, deploy, clock, make_user):
    deploy(*diagrams.failing_timer())
    tina = make_user("tina", "tjenesteyter")
    started = instances.start(orc, "test_feilende_tidtaker", tina, "SAK-TIMER-WORKER-183")
    [task] = tasks.list_tasks(orc, tina).items
    clock.advance(timedelta(days=1))

    [first] = timers.fire_due(orc)
    assert "division by zero" in first.error and "(regn)" in first.error  # what failed, and where
    assert first.retry_at == clock.now() + timedelta(minutes=1)  # back-off, and the case still runs
    detail = instances.get(orc, started.id, SYSTEM)
    assert (detail.status, detail.next_timer_at) == ("running", first.retry_at)
    assert timers.fire_due(orc) == []  # not before its back-off
    clock.advance(timedelta(minutes=1))
    [second] = timers.fire_due(orc)
    assert second.retry_at == clock.now() + timedelta(minutes=5)
    clock.advance(timedelta(minutes=5))
    [third] = timers.fire_due(orc)  # timer_max_attempts = 3: the third failure is an incident
    assert third.incident and third.retry_at is None

    detail = instances.get(orc, started.id, SYSTEM)
    assert detail.status == "error" and "(regn)" in detail.error
    assert _queues_of(orc, started.id) == {"tasks": 0, "timers": 0, "message_waits": 0, "next_timer_at": None}
    assert tasks.list_tasks(orc, tina).items == []
    actions = [h["action"] for h in detail.history]
    assert actions.count("timer_failed") == 2 and actions[-1] == "incident"
    clock.advance(timedelta(days=30))
    assert timers.fire_due(orc) == []  # nothing spins

    # a task taken from the list before the incident cannot move the case on: 409, in plain words
    with pytest.raises(Conflict, match="stoppet på en feil"):
        tasks.complete(orc, task.id, {}, tina)


def test_an_operator_resumes_an_incident_and_its_queues_come_back(orc, deploy, clock, make_user):
    deploy(*diagrams.failing_timer())
    tina = make_user("tina", "tjenesteyter")
    mona = make_user("mona", "manager")
    started = instances.start(orc, "test_feilende_tidtaker", tina, "SAK-TIMER-WORKER-218")
    orc.settings.timer_max_attempts = 1
    clock.advance(timedelta(days=1))
    [fired] = timers.fire_due(orc)
    assert fired.incident
    with pytest.raises(Forbidden):
        instances.resume(orc, started.id, tina)
    # the process owner fixes the routine: here, the failing script is made to work in place
    deploy(*diagrams.failing_timer("svar = 42"))
    instances.resume(orc, started.id, mona)
    assert _queues_of(orc, started.id)["tasks"] == 1 and _queues_of(orc, started.id)["message_waits"] == 1
    [again] = timers.fire_due(orc)  # still pinned to its version: it fails again, and says so
    assert again.incident
    assert [h["action"] for h in instances.get(orc, started.id, SYSTEM).history].count("incident_resolved") == 1


def test_a_worker_that_dies_in_a_timer_step_again_and_again_makes_it_an_incident(orc, deploy, clock):
    deploy(*diagrams.failing_timer())
    started = instances.start(orc, "test_feilende_tidtaker", SYSTEM, "SAK-TIMER-WORKER-236")
    clock.advance(timedelta(days=1))
    queue = orc.queues["timer"]
    for attempt in range(queue.max_attempts()):  # each claim's worker "dies": its lease runs out
        assert [r.id for r in jobs.claim(orc, queue, f"dead-{attempt}")] == [started.id]
        clock.advance(timedelta(seconds=orc.settings.timer_lease_seconds + 1))
    [given_up] = timers.fire_due(orc)
    assert given_up.incident and "Avbrutt 3 ganger" in given_up.error
    assert instances.get(orc, started.id, SYSTEM).status == "error"


def test_timers_fire_as_of_a_given_time_without_waiting(orc, deploy, clock):
    deploy(*diagrams.boundary_timers())
    started = instances.start(orc, "test_grense", SYSTEM, "SAK-TIMER-WORKER-249")
    from orchestrator import clock as clock_module
    with clock_module.frozen(clock.now() + timedelta(days=15)):
        fired = timers.fire_due(orc)
    assert [f.elements for f in fired] == [["frist"]]
    assert open_elements(orc, started.id) == ["for_sent"]


def test_another_process_wakes_the_worker_through_postgresql_notify(orc, settings, deploy, clock):
    if orc.db.dialect != "postgresql":
        pytest.skip("cross-process wake-up is PostgreSQL's NOTIFY")
    from orchestrator.services import bootstrap

    deploy(*diagrams.timers(date_expr="2027-06-01T09:00:00+02:00", duration="P1D"))
    settings.worker_max_sleep_seconds = 10 ** 9
    worker_side = bootstrap.build(settings)  # its own signal, pool and LISTEN connection
    worker = Worker(worker_side)
    passes, passed = [], threading.Condition()

    def record(fired):
        with passed:
            passes.append(worker.planned_sleep)
            passed.notify_all()

    worker.on_pass.append(record)
    thread = WorkerThread(worker_side, worker).start()
    try:
        with passed:
            assert passed.wait_for(lambda: len(passes) >= 1, timeout=10)
        deploy(*diagrams.timers(date_expr="2027-01-04T09:10:00+01:00", duration="P1D"))
        instances.start(orc, "test_tidtakere", SYSTEM, "SAK-TIMER-WORKER-279")  # committed by "another process"
        with passed:
            assert passed.wait_for(lambda: len(passes) >= 2, timeout=10)
        assert passes[-1] == pytest.approx(600.0, abs=0.01)
    finally:
        thread.stop()
        worker_side.close()


def test_a_hostile_timer_does_not_hold_up_the_other_due_timers(orc, deploy, clock, monkeypatch):
    """Issue 11: a timer whose step raises SystemExit (were it ever to get past the deploy checks),
    due at the same moment as 30 innocent ones: the worker's one pass fires all 30 and counts one
    failed attempt for the hostile one, to be tried again after its back-off."""
    monkeypatch.setattr("orchestrator.services.deployment._check_expressions", lambda definition: [])
    deploy(*diagrams.failing_timer("raise SystemExit(4)"))
    deploy(*diagrams.timers(date_expr="2027-01-05T09:00:00+01:00", duration="P1D"))
    hostile = instances.start(orc, "test_feilende_tidtaker", SYSTEM, "SAK-TIMER-WORKER-295").id  # its timer: T0 + 1 day, as the others
    innocent = _start_many(orc, 30, "test_tidtakere")
    clock.advance(timedelta(days=1))
    done = Worker(orc).run_pass()
    fired = {f.instance_id: f for f in done if isinstance(f, timers.Fired)}
    assert sorted(i for i, f in fired.items() if not f.error) == sorted(innocent)
    assert fired[hostile].retry_at == clock.now() + timedelta(minutes=1) and "SystemExit" in fired[hostile].error
    assert all(instances.get(orc, i, SYSTEM).timers[0]["element_id"] == "varighet" for i in innocent[:3])
