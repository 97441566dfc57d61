"""Instances are stored without their spec, audited, and safe against concurrent completion."""
from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import select

import diagrams
from helpers import complete, open_elements, task_named
from orchestrator.engine.serializer import full_serializer
from orchestrator.engine import workflow as engine
from orchestrator.services import instances, tasks
from orchestrator.services.access import SYSTEM
from orchestrator.services.context import Orchestrator
from orchestrator.services.errors import Conflict
from orchestrator.store.models import AuditEntry, Instance


def test_engine_state_is_stored_without_the_spec(orc, deploy, make_user):
    deploy(*diagrams.user_task_with_gateway())
    started = instances.start(orc, "test_gateway", make_user("tina", "tjenesteyter"))
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
    restarted = Orchestrator(settings)
    complete(restarted, started.id, "vurder", actor, {"behov": "ja", "begrunnelse": "Trengs"})
    assert open_elements(restarted, started.id) == ["folg_opp"]
    complete(restarted, started.id, "folg_opp", ke)
    assert instances.get(restarted, started.id, SYSTEM).status == "completed"
    restarted.close()


def test_every_state_change_writes_an_audit_row_with_who_what_and_data(orc, deploy, make_user):
    actor = make_user("tina", "tjenesteyter")
    deploy(*diagrams.user_task_with_gateway())
    started = instances.start(orc, "test_gateway", actor)
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


def test_two_concurrent_completions_of_one_task_give_one_success_and_one_conflict(orc, deploy, make_user):
    actor = make_user("tina", "tjenesteyter")
    other = make_user("tor", "tjenesteyter")
    deploy(*diagrams.user_task_with_gateway())
    started = instances.start(orc, "test_gateway", actor)
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

    threads = [threading.Thread(target=attempt, args=(a, ans)) for a, ans in ((actor, "ja"), (other, "nei"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(v == "ok" for v in outcomes.values()) == [False, True], outcomes
    winner = next(name for name, v in outcomes.items() if v == "ok")
    detail = instances.get(orc, started.id, SYSTEM)
    assert detail.data["begrunnelse"] == winner  # the winner's data, whole; the loser's, nowhere
    completions = [h for h in detail.history if h["action"] == "task_completed"]
    assert [h["actor"] for h in completions] == [winner]


def test_completing_an_already_completed_task_is_a_conflict(orc, deploy, make_user):
    actor = make_user("tina", "tjenesteyter")
    deploy(*diagrams.user_task_with_gateway())
    started = instances.start(orc, "test_gateway", actor)
    task = task_named(orc, started.id, "vurder")
    tasks.complete(orc, task.id, {"behov": "nei", "begrunnelse": "x"}, actor)
    with pytest.raises(Conflict, match="allerede fullført"):
        tasks.complete(orc, task.id, {"behov": "nei", "begrunnelse": "x"}, actor)


def test_a_claimed_task_cannot_be_completed_by_someone_else(orc, deploy, make_user):
    actor = make_user("tina", "tjenesteyter")
    other = make_user("tor", "tjenesteyter")
    deploy(*diagrams.user_task_with_gateway())
    started = instances.start(orc, "test_gateway", actor)
    task = task_named(orc, started.id, "vurder")
    tasks.claim(orc, task.id, actor)
    with pytest.raises(Conflict, match="tatt av tina"):
        tasks.claim(orc, task.id, other)
    with pytest.raises(Conflict, match="tatt av tina"):
        tasks.complete(orc, task.id, {"behov": "nei", "begrunnelse": "x"}, other)
