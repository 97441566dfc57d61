"""Instances are stored without their spec, audited, and safe against concurrent completion."""
from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, select, update

import diagrams
from helpers import complete, open_elements, task_named
from orchestrator.engine.serializer import full_serializer
from orchestrator.engine import workflow as engine
from orchestrator.services import instances, tasks, timers
from orchestrator.services.access import SYSTEM
from orchestrator.services import bootstrap
from orchestrator.services.errors import Conflict
from orchestrator.store.models import AuditEntry, Instance


def test_engine_state_is_stored_without_the_spec(orc, deploy, make_user):
    deploy(*diagrams.user_task_with_gateway())
    started = instances.start(orc, "test_gateway", make_user("tina", "tjenesteyter"), "SAK-PERSISTENCE-24")
    with orc.db.read() as session:
        row = session.get(Instance, started.id)
        stored = row.state
        bundle = orc.specs.bundle(session, row.process_key, row.pins)
    full = full_serializer().serialize_json(engine.load(stored, bundle))
    state = json.loads(stored)
    assert "spec" not in state and "subprocess_specs" not in state
    assert len(stored) < 0.6 * len(full)


def test_an_instance_continues_in_a_new_process_object(orc, deploy, make_user, settings):
    """A fresh Orchestrator (cold caches, new connections) picks the instance up mid-flow."""
    actor = make_user("tina", "tjenesteyter")
    ke = make_user("kari", "koordinerende_enhet")
    deploy(*diagrams.user_task_with_gateway())
    started = instances.start(orc, "test_gateway", actor, business_key="SAK-1")
    orc.close()
    restarted = bootstrap.build(settings)
    complete(restarted, started.id, "vurder", actor, {"behov": "ja", "begrunnelse": "Trengs"})
    assert open_elements(restarted, started.id) == ["folg_opp"]
    complete(restarted, started.id, "folg_opp", ke)
    assert instances.get(restarted, started.id, SYSTEM).status == "completed"
    restarted.close()


def test_every_state_change_writes_an_audit_row_with_who_what_and_data(orc, deploy, make_user):
    actor = make_user("tina", "tjenesteyter")
    deploy(*diagrams.user_task_with_gateway())
    started = instances.start(orc, "test_gateway", actor, "SAK-PERSISTENCE-53")
    task = task_named(orc, started.id, "vurder")
    tasks.claim(orc, task.id, actor)
    tasks.complete(orc, task.id, {"behov": "nei", "begrunnelse": "Ikke nødvendig"}, actor)
    with orc.db.read() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.instance_id == started.id).order_by(AuditEntry.id)).all()
    assert [(r.actor, r.action) for r in rows] == [
        ("tina", "started"), ("tina", "task_opened"), ("tina", "task_claimed"), ("tina", "task_completed"),
        ("tina", "completed")]
    done = rows[3]
    assert (done.task_id, done.element_id) == (task.id, "vurder")
    assert done.data == {"behov": "nei", "begrunnelse": "Ikke nødvendig"}
    assert all(r.at is not None for r in rows)


def _one_winner(threads: list[threading.Thread], outcomes: dict) -> str:
    """Run the racing threads; exactly one may end "ok" (the others record their Conflict). Its name."""
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(v == "ok" for v in outcomes.values()) == [False, True], outcomes
    return next(name for name, v in outcomes.items() if v == "ok")


def test_two_concurrent_completions_of_one_task_give_one_success_and_one_conflict(orc, deploy, make_user):
    actor = make_user("tina", "tjenesteyter")
    other = make_user("tor", "tjenesteyter")
    deploy(*diagrams.user_task_with_gateway())
    started = instances.start(orc, "test_gateway", actor, "SAK-PERSISTENCE-82")
    task = task_named(orc, started.id, "vurder")
    barrier = threading.Barrier(2)
    outcomes = {}

    def attempt(who, answer):
        barrier.wait()
        try:
            tasks.complete(orc, task.id, {"behov": answer, "begrunnelse": who.username}, who)
            outcomes[who.username] = "ok"
        except Conflict as error:
            outcomes[who.username] = error

    winner = _one_winner([threading.Thread(target=attempt, args=(a, ans)) for a, ans in ((actor, "ja"), (other, "nei"))],
                         outcomes)
    detail = instances.get(orc, started.id, SYSTEM)
    assert detail.data["begrunnelse"] == winner  # the winner's data, whole; the loser's, nowhere
    completions = [h for h in detail.history if h["action"] == "task_completed"]
    assert [h["actor"] for h in completions] == [winner]


class _PauseAfterTaskRead:
    """Holds `thread` right after its first read of the tasks table, until `go` is set."""

    def __init__(self, orc):
        self.engine, self.thread = orc.db.engine, None
        self.read, self.go = threading.Event(), threading.Event()
        event.listen(self.engine, "after_cursor_execute", self._after)

    def _after(self, conn, cursor, statement, params, context, executemany):
        if threading.current_thread() is self.thread and statement.lstrip().startswith("SELECT tasks.") \
                and not self.read.is_set():
            self.read.set()
            self.go.wait(30)

    def run(self, action) -> dict:
        outcome = {}

        def target():
            try:
                outcome["value"] = action()
            except Exception as error:  # noqa: BLE001 - the test asserts on what it was
                outcome["error"] = error

        self.thread = threading.Thread(target=target)
        self.thread.start()
        assert self.read.wait(30), "the paused step never read its task"
        return outcome

    def finish(self) -> None:
        self.go.set()
        self.thread.join(30)
        event.remove(self.engine, "after_cursor_execute", self._after)


def test_a_completion_that_read_its_task_before_another_committed_is_a_conflict(orc, deploy, make_user):
    """The task row and the engine state are one snapshot: a step that read the task just before
    someone else completed it must lose on the lock (409), not fail on a state without its task."""
    if orc.db.dialect == "sqlite":
        pytest.skip("on SQLite a writer holds the write lock from BEGIN IMMEDIATE; this interleaving cannot happen")
    tina, tor = make_user("tina", "tjenesteyter"), make_user("tor", "tjenesteyter")
    deploy(*diagrams.user_task_with_gateway())
    started = instances.start(orc, "test_gateway", tina, "SAK-PERSISTENCE-144")
    task = task_named(orc, started.id, "vurder")
    pause = _PauseAfterTaskRead(orc)
    outcome = pause.run(lambda: tasks.complete(orc, task.id, {"behov": "ja", "begrunnelse": "sen"}, tor))
    tasks.complete(orc, task.id, {"behov": "nei", "begrunnelse": "først"}, tina)  # commits in between
    pause.finish()
    assert isinstance(outcome.get("error"), Conflict), outcome
    assert instances.get(orc, started.id, SYSTEM).data["begrunnelse"] == "først"


def test_opening_a_task_that_was_completed_meanwhile_shows_the_state_that_held_it(orc, deploy, make_user):
    tina, tor = make_user("tina", "tjenesteyter"), make_user("tor", "tjenesteyter")
    deploy(*diagrams.user_task_with_gateway())
    started = instances.start(orc, "test_gateway", tina, "SAK-PERSISTENCE-157")
    task = task_named(orc, started.id, "vurder")
    pause = _PauseAfterTaskRead(orc)
    outcome = pause.run(lambda: tasks.get(orc, task.id, tor))
    tasks.complete(orc, task.id, {"behov": "nei", "begrunnelse": "først"}, tina)
    pause.finish()
    assert "error" not in outcome, outcome
    assert outcome["value"].id == task.id and outcome["value"].element_id == "vurder"
    assert "begrunnelse" not in outcome["value"].data  # the form as it stood open, not after tina's answer
    with pytest.raises(Conflict, match="allerede fullført"):  # acting on it now is a conflict
        tasks.complete(orc, task.id, {"behov": "ja", "begrunnelse": "sen"}, tor)


def _row_locks_per_transaction(orc, action) -> list[list[str]]:
    """The UPDATEs and DELETEs `action` sends, as "UPDATE instances", grouped by transaction."""
    transactions: list[list[str]] = []

    def began(conn):
        transactions.append([])

    def sent(conn, cursor, statement, params, context, executemany):
        words = statement.split()
        if words[0] in ("UPDATE", "DELETE") and transactions:
            transactions[-1].append(f"{words[0]} {words[2] if words[0] == 'DELETE' else words[1]}")

    event.listen(orc.db.engine, "begin", began)
    event.listen(orc.db.engine, "before_cursor_execute", sent)
    try:
        action()
    finally:
        event.remove(orc.db.engine, "begin", began)
        event.remove(orc.db.engine, "before_cursor_execute", sent)
    return [locks for locks in transactions if locks]


def test_every_step_on_a_case_locks_the_instance_row_before_its_tasks_and_timers(orc, deploy, make_user, clock):
    """One lock order for claim, release, complete and a timer firing: the instance row, then its
    child rows. (A claim that locked the task first and a completion that locked the instance first
    deadlocked under load on PostgreSQL.)"""
    tina = make_user("tina", "tjenesteyter")
    deploy(*diagrams.boundary_timers())
    started = instances.start(orc, "test_grense", tina, "SAK-PERSISTENCE-198")
    svar = task_named(orc, started.id, "svar")
    steps = {
        "claim": lambda: tasks.claim(orc, svar.id, tina),
        "release": lambda: tasks.release(orc, svar.id, tina),
        "complete": lambda: tasks.complete(orc, svar.id, {}, tina),
    }
    seen = {name: _row_locks_per_transaction(orc, action) for name, action in steps.items()}
    clock.advance(timedelta(days=8))  # the non-interrupting escalation on "behandle" opens a task for the leader
    seen["timer"] = _row_locks_per_transaction(orc, lambda: timers.fire_due(orc, owner="test"))
    # each step does write child rows, so the order below is really tested
    assert "UPDATE tasks" in seen["claim"][0] and "UPDATE tasks" in seen["release"][0], seen
    # (a completion that opens a task rewrites the closed task's row for it: runtime._sync_tasks)
    assert {"UPDATE tasks", "DELETE timers"} <= set(seen["complete"][0]), seen
    assert "DELETE timers" in seen["timer"][-1], seen
    for name, transactions in seen.items():
        for locks in transactions:
            assert locks[0] == "UPDATE instances", (name, locks)


def test_a_deadlock_the_database_breaks_is_a_conflict_and_nothing_of_it_is_kept(orc, deploy, make_user):
    if orc.db.dialect == "sqlite":
        pytest.skip("SQLite writers queue on one write lock; there is no deadlock to break")
    tina = make_user("tina", "tjenesteyter")
    deploy(*diagrams.user_task_with_gateway())
    first, second = (instances.start(orc, "test_gateway", tina, business_key=f"SAK-{n}").id for n in (1, 2))
    barrier, outcomes = threading.Barrier(2), {}

    def cross(name, order):  # two units of work taking two rows in opposite order
        try:
            with orc.write() as session:
                for position, instance_id in enumerate(order):
                    session.execute(update(Instance).where(Instance.id == instance_id).values(error=name))
                    if position == 0:
                        barrier.wait(10)
            outcomes[name] = "ok"
        except Conflict as error:
            outcomes[name] = error

    winner = _one_winner([threading.Thread(target=cross, args=(name, order))
                          for name, order in (("a", (first, second)), ("b", (second, first)))], outcomes)
    with orc.db.read() as session:
        assert {session.get(Instance, i).error for i in (first, second)} == {winner}


def test_completing_an_already_completed_task_is_a_conflict(orc, deploy, make_user):
    actor = make_user("tina", "tjenesteyter")
    deploy(*diagrams.user_task_with_gateway())
    started = instances.start(orc, "test_gateway", actor, "SAK-PERSISTENCE-246")
    task = task_named(orc, started.id, "vurder")
    tasks.complete(orc, task.id, {"behov": "nei", "begrunnelse": "x"}, actor)
    with pytest.raises(Conflict, match="allerede fullført"):
        tasks.complete(orc, task.id, {"behov": "nei", "begrunnelse": "x"}, actor)


def test_a_claimed_task_cannot_be_completed_by_someone_else(orc, deploy, make_user):
    actor = make_user("tina", "tjenesteyter")
    other = make_user("tor", "tjenesteyter")
    deploy(*diagrams.user_task_with_gateway())
    started = instances.start(orc, "test_gateway", actor, "SAK-PERSISTENCE-257")
    task = task_named(orc, started.id, "vurder")
    tasks.claim(orc, task.id, actor)
    with pytest.raises(Conflict, match="tatt av tina"):
        tasks.claim(orc, task.id, other)
    with pytest.raises(Conflict, match="tatt av tina"):
        tasks.complete(orc, task.id, {"behov": "nei", "begrunnelse": "x"}, other)
