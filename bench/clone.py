"""Many instances quickly: copy one real instance's rows with SQLAlchemy Core.

Starting 100,000 workflows one by one would take an hour; the timer worker and the task list
only read the indexed tables, so copies of one real instance (its engine state, open tasks,
timers and message waits) stand for the many. With `fresh_ids` every copy gets new engine task
ids (rewritten in its state and its rows), so copies can really run: fire a timer, open a task.
"""
from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Callable

from sqlalchemy import func, insert, select, text

from orchestrator.store.models import Instance, MessageWait, OpenTask, WaitingTimer

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
INSTANCE_COLUMNS = [c.key for c in Instance.__table__.columns]


class Template:
    """The rows of one instance, as plain dicts."""

    def __init__(self, orc, instance_id: int):
        with orc.db.read() as session:
            row = session.get(Instance, instance_id)
            self.instance = {c: getattr(row, c) for c in INSTANCE_COLUMNS}
            self.tasks = [_columns(t) for t in row.tasks]
            self.timers = [_columns(t) for t in row.timers]
            self.waits = [_columns(w) for w in row.message_waits]

    @property
    def state_bytes(self) -> int:
        return len(self.instance["state"])


def _columns(obj) -> dict:
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns}


def insert_copies(orc, template: Template, n: int, *, business_key: Callable[[int], str],
                  timer_shift: Callable[[int], timedelta] | None = None, fresh_ids: bool = False,
                  with_tasks: bool | None = None, chunk: int = 2000, progress=None) -> list[int]:
    """Insert n copies; returns their instance ids.

    `timer_shift(i)` moves copy i's timers (and next_timer_at) by that much (the state keeps the
    template's due times: use it only for copies whose timers never fire). Task rows need fresh
    ids (they are the primary key), so they are copied only with `fresh_ids` unless asked.
    """
    with_tasks = fresh_ids if with_tasks is None else with_tasks
    if with_tasks and not fresh_ids:
        raise ValueError("task rows need fresh ids")
    engine = orc.db.engine
    with engine.begin() as conn:
        first = (conn.execute(select(func.max(Instance.id))).scalar() or 0) + 1
    ids = []
    for offset in range(0, n, chunk):
        instances, tasks, timers, waits = [], [], [], []
        for i in range(offset, min(n, offset + chunk)):
            instance_id = first + i
            ids.append(instance_id)
            mapping: dict[str, str] = {}
            rename = (lambda value: mapping.setdefault(value, str(uuid.uuid4()))) if fresh_ids else (lambda v: v)
            row = dict(template.instance)
            row["id"], row["business_key"] = instance_id, business_key(i)
            if fresh_ids:
                row["state"] = UUID.sub(lambda m: rename(m.group(0)), row["state"])
            shift = timer_shift(i) if timer_shift else timedelta(0)
            if row["next_timer_at"] is not None:
                row["next_timer_at"] = row["next_timer_at"] + shift
            row["timer_lease_owner"] = row["timer_lease_until"] = None
            row["lock_version"] = 1
            instances.append(row)
            copied_tasks = [{**t, "id": rename(t["id"]), "instance_id": instance_id,
                             "business_key": row["business_key"]} for t in template.tasks] if with_tasks else []
            copied_timers = [{**{k: v for k, v in t.items() if k != "id"}, "instance_id": instance_id,
                              "task_id": rename(t["task_id"]), "due_at": t["due_at"] + shift,
                              "business_key": row["business_key"]} for t in template.timers]
            copied_waits = [{**{k: v for k, v in w.items() if k != "id"}, "instance_id": instance_id,
                             "business_key": row["business_key"]} for w in template.waits]
            if row.get("indexed") is not None:
                # what the row says its indexed rows are (services/runtime.py diffs a save against it)
                row["indexed"] = {
                    "tasks": sorted(t["id"] for t in copied_tasks),
                    "timers": sorted([t["task_id"], t["due_at"].isoformat()] for t in copied_timers),
                    "waits": sorted([w["name"], w["element_id"]] for w in copied_waits),
                }
            tasks += copied_tasks
            timers += copied_timers
            waits += copied_waits
        with engine.begin() as conn:
            conn.execute(insert(Instance.__table__), instances)
            for table, rows in ((OpenTask.__table__, tasks), (WaitingTimer.__table__, timers),
                                (MessageWait.__table__, waits)):
                if rows:
                    conn.execute(insert(table), rows)
        if progress:
            progress(min(n, offset + chunk))
    fix_sequences(orc)
    return ids


def fix_sequences(orc) -> None:
    """PostgreSQL: explicit ids do not move the sequence; move it past them."""
    if orc.db.dialect != "postgresql":
        return
    with orc.db.engine.begin() as conn:
        conn.execute(text("SELECT setval(pg_get_serial_sequence('instances', 'id'), "
                          "(SELECT COALESCE(MAX(id), 1) FROM instances))"))


def analyze(orc) -> None:
    """PostgreSQL: what autovacuum soon does after a bulk load: VACUUM (the visibility map, so counts
    can be answered from an index alone) and ANALYZE (planner statistics), of the bench's tables.

    SQLite is left as the product leaves it (nothing runs ANALYZE there).
    """
    if orc.db.dialect == "postgresql":
        with orc.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("instances", "tasks", "timers", "message_waits", "audit_log", "notices"):
                conn.execute(text(f"VACUUM (ANALYZE) {table}"))
