"""Small helpers that keep tests reading like the routine."""
from __future__ import annotations

from orchestrator.services import instances, tasks
from orchestrator.services.access import SYSTEM

# The test installation's saksnummer format (configurable per installation, decision 0020): the
# municipality's «2027/1234», and the suite's own clearly fictional «SAK-1», «PLAN-3», «E2-5» (a capital
# prefix, a dash, a serial). The default format has its own tests (test_saksnummer.py), and the README's
# commands run on the default (test_readme_commands.py).
TEST_SAKSNUMMER_PATTERN = r"^(\d{4}/\d{1,6}|[A-Z][A-Z0-9]{0,9}-[A-Za-z0-9-]{1,40})$"


def open_tasks(orc, instance_id: int | None = None, actor=SYSTEM):
    return tasks.list_tasks(orc, actor, scope="roles", instance_id=instance_id, per_page=200).items


def task_named(orc, instance_id: int, element_id: str, actor=SYSTEM):
    found = [t for t in open_tasks(orc, instance_id, actor) if t.element_id == element_id]
    assert found, f"no open task {element_id} in instance {instance_id}: {[t.element_id for t in open_tasks(orc, instance_id)]}"
    return found[0]


def complete(orc, instance_id: int, element_id: str, actor, data=None):
    task = task_named(orc, instance_id, element_id)
    return tasks.complete(orc, task.id, data or {}, actor)


def open_elements(orc, instance_id: int) -> list[str]:
    return sorted(t.element_id for t in open_tasks(orc, instance_id))


def status(orc, instance_id: int) -> str:
    return instances.get(orc, instance_id, SYSTEM).status
