"""The task lists merge a person's own tasks and their roles' queues in due order, page by page."""
from __future__ import annotations

import random
from datetime import timedelta

from orchestrator.services import tasks
from orchestrator.services.access import Actor
from orchestrator.services.runtime import NO_DUE_DATE
from orchestrator.store.models import Instance, OpenTask

from conftest import T0


def _fill(orc, count=120):
    rng = random.Random(7)
    rows = []
    with orc.write() as session:
        instance = Instance(process_key="p", process_version=1, pins={}, status="running", created_at=T0,
                            updated_at=T0, state="x", indexed={"tasks": [], "timers": [], "waits": []})
        session.add(instance)
        session.flush()
        for n in range(count):
            role = rng.choice(["tjenesteyter", "leder", "koordinator", None])
            assignee = rng.choice([None, None, None, "tina", "lars"])
            due = T0 + timedelta(hours=rng.randint(0, 50)) if rng.random() < 0.8 else None
            row = OpenTask(id=f"t{n:04d}", instance_id=instance.id, process_key="p", element_id="e", name=f"t{n}",
                           role=role, assignee=assignee, created_at=T0 + timedelta(seconds=n), due_at=due,
                           due_sort=due or NO_DUE_DATE)
            session.add(row)
            rows.append(row)
    return rows


def _expected(rows, actor):
    def visible(r):
        if r.assignee == actor.username:
            return True
        return r.assignee is None and (r.role in actor.roles or r.role is None)
    return [r.id for r in sorted(filter(visible, rows), key=lambda r: (r.due_sort, r.created_at, r.id))]


def test_pages_follow_due_order_across_my_tasks_and_my_roles_queues(orc):
    rows = _fill(orc)
    tina = Actor("tina", frozenset({"tjenesteyter", "koordinator"}))
    expected = _expected(rows, tina)
    seen = []
    for page in range(1, 6):
        result = tasks.list_tasks(orc, tina, scope="roles", page=page, per_page=10)
        assert result.total == len(expected)
        seen += [t.id for t in result.items]
    assert seen == expected[:50]
    assert all(t.due_at is not None for t in tasks.list_tasks(orc, tina, page=1, per_page=5).items[:1])


def test_mine_shows_only_what_is_assigned_to_me(orc):
    rows = _fill(orc)
    lars = Actor("lars", frozenset({"leder"}))
    mine = tasks.list_tasks(orc, lars, scope="mine", per_page=200)
    assert [t.id for t in mine.items] == [r.id for r in sorted(
        (r for r in rows if r.assignee == "lars"), key=lambda r: (r.due_sort, r.created_at, r.id))]
