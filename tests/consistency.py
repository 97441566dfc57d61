"""The invariants every committed state must satisfy, checked from the database alone.

`assert_consistent(orc)` loads every instance (or the ones named) with the engine and compares
it with what is derived from it and with what was recorded about it:

- **Indexed tables = engine state** (decision 0001): the open tasks in `tasks` are exactly the READY
  human tasks of the stored state (same ids, elements, roles); `timers` are exactly its waiting
  timers (task id and due time); `message_waits` its message catches; `instances.next_timer_at` is
  the earliest of those timers (None once an instance is finished or in error; while leased, the
  lease's end is accepted too); `instances.indexed`,
  where the schema has it, matches the tables; `status` is `completed` exactly when the engine says so.
- **Audit log = instance state**: one `started` row; one `completed` row iff completed; an `error`
  row when in error; every task opened once (`task_opened`), completed at most once
  (`task_completed`), and an open task never completed; every human task the state still holds as
  COMPLETED has exactly one `task_completed` row, and the set of human-task elements on the
  instance's trail equals the set of elements of its `task_completed` rows (a completion in the
  state without an audit row, or an audit row without a completion, breaks one of these);
  one-shot timer elements a `timer_fired` row names are on the trail.
- **Notices** (decision 0008): no two rows for the same instance, kind, meeting, SEQUENCE and
  recipient; every notice id in exactly one `notice_queued` row of its instance and every id such a
  row names exists; a `sent`/`sink` notice has exactly one `notice_sent` row, a `queued` one none,
  a `failed` one exactly one `notice_failed` row.
- With `settled=True` (after the workers have finished and been stopped): no instance lease, no
  notice lease, no notice still queued.

Problems are collected for all instances and reported together, so one failing run shows every
inconsistency at once. Returns a small summary (counts per audit action, per status) for the
caller's own, more specific assertions.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import inspect, select
from SpiffWorkflow.util.task import TaskState

from orchestrator.engine import workflow as engine
from orchestrator.store.models import AuditEntry, Instance, MessageWait, Notice, OpenTask, WaitingTimer

HUMAN_KINDS = {"userTask", "manualTask", "task"}
CHUNK = 500


@dataclass
class Summary:
    instances: int = 0
    statuses: Counter = field(default_factory=Counter)
    actions: Counter = field(default_factory=Counter)
    open_tasks: int = 0
    waiting_timers: int = 0
    notices: Counter = field(default_factory=Counter)


class Inconsistent(AssertionError):
    pass


def assert_consistent(orc, instance_ids=None, *, settled: bool = False, each=None, limit_report: int = 40) -> Summary:
    """Check every instance (or `instance_ids`) against the tables and the audit log; raise on any problem.

    `each(row, workflow)` may add the caller's own per-instance check: it returns a problem (text),
    a list of problems, or nothing.
    """
    problems: list[str] = []
    summary = Summary()
    with orc.db.read() as session:
        has_indexed = "indexed" in {c["name"] for c in inspect(session.connection()).get_columns("instances")}
        ids = sorted(instance_ids) if instance_ids is not None else list(session.scalars(
            select(Instance.id).order_by(Instance.id)))
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            _check_chunk(orc, session, chunk, has_indexed, problems, summary, each)
        if instance_ids is None:
            _check_notices(session, problems, summary)
        if settled:
            _check_settled(session, instance_ids, problems)
    if problems:
        shown = "\n  ".join(problems[:limit_report])
        more = f"\n  ... and {len(problems) - limit_report} more" if len(problems) > limit_report else ""
        raise Inconsistent(f"{len(problems)} inconsistencies:\n  {shown}{more}")
    return summary


# --- instances ---------------------------------------------------------------------------------
def _check_chunk(orc, session, ids, has_indexed, problems, summary, each) -> None:
    rows = {r.id: r for r in session.scalars(select(Instance).where(Instance.id.in_(ids)))}
    missing = set(ids) - rows.keys()
    problems += [f"instance {i}: does not exist" for i in sorted(missing)]
    tasks, timers, waits, audit = (defaultdict(list) for _ in range(4))
    for t in session.scalars(select(OpenTask).where(OpenTask.instance_id.in_(ids))):
        tasks[t.instance_id].append(t)
    for t in session.scalars(select(WaitingTimer).where(WaitingTimer.instance_id.in_(ids))):
        timers[t.instance_id].append(t)
    for w in session.scalars(select(MessageWait).where(MessageWait.instance_id.in_(ids))):
        waits[w.instance_id].append(w)
    for a in session.scalars(select(AuditEntry).where(AuditEntry.instance_id.in_(ids)).order_by(AuditEntry.id)):
        audit[a.instance_id].append(a)
    for instance_id in sorted(rows):
        row = rows[instance_id]
        summary.instances += 1
        summary.statuses[row.status] += 1
        summary.actions.update(a.action for a in audit[instance_id])
        summary.open_tasks += len(tasks[instance_id])
        summary.waiting_timers += len(timers[instance_id])
        found = _check_instance(orc, session, row, tasks[instance_id], timers[instance_id], waits[instance_id],
                                audit[instance_id], has_indexed, each)
        problems += [f"instance {instance_id} ({row.process_key}, {row.status}): {p}" for p in found]


def _check_instance(orc, session, row, tasks, timers, waits, audit, has_indexed, each) -> list[str]:
    problems: list[str] = []
    try:
        bundle = orc.specs.bundle(session, row.process_key, row.pins)
        workflow = engine.load(row.state, bundle)
    except Exception as error:  # a state that does not load is the worst inconsistency of all
        return [f"state does not load: {type(error).__name__}: {error}"]
    live = row.status in ("running", "error")  # an instance in error keeps the state it failed in

    # -- indexed tables against the engine state
    expected_tasks = {t.id: t for t in engine.human_tasks(workflow, bundle)} if live else {}
    actual_tasks = {t.id: t for t in tasks}
    if expected_tasks.keys() != actual_tasks.keys():
        problems.append(f"open tasks {sorted(_names(actual_tasks))} != READY human tasks in the state "
                        f"{sorted(_names(expected_tasks))}")
    for task_id in expected_tasks.keys() & actual_tasks.keys():
        want, have = expected_tasks[task_id], actual_tasks[task_id]
        if (want.element_id, want.role) != (have.element_id, have.role):
            problems.append(f"task {task_id}: row says {(have.element_id, have.role)}, "
                            f"state {(want.element_id, want.role)}")
    waiting = engine.timers(workflow) if live else []
    expected_timers = Counter((t.task_id, _utc(t.due_at)) for t in waiting)
    actual_timers = Counter((t.task_id, _utc(t.due_at)) for t in timers)
    if expected_timers != actual_timers:
        problems.append(f"timers rows {_timer_list(actual_timers)} != waiting timers in the state "
                        f"{_timer_list(expected_timers)}")
    expected_next = min((t.due_at for t in waiting), default=None) if row.status == "running" else None
    # while a worker holds the instance, the claim may have moved next_timer_at to the lease's end
    leased_until = _utc(row.timer_lease_until) if row.timer_lease_owner else None
    if _utc(row.next_timer_at) not in (_utc(expected_next), leased_until) or (
            row.next_timer_at is None and expected_next is not None):
        problems.append(f"next_timer_at {row.next_timer_at} != earliest waiting timer {expected_next}")
    expected_waits = Counter(engine.waiting_messages(workflow)) if live else Counter()
    actual_waits = Counter((w.name, w.element_id) for w in waits)
    if expected_waits != actual_waits:
        problems.append(f"message_waits {sorted(actual_waits)} != message catches in the state "
                        f"{sorted(expected_waits)}")
    indexed = getattr(row, "indexed", None) if has_indexed else None
    if indexed is not None:
        if sorted(indexed.get("tasks", [])) != sorted(actual_tasks):
            problems.append(f"instances.indexed tasks {indexed.get('tasks')} != tasks rows {sorted(actual_tasks)}")
        indexed_timers = Counter((t, _utc(datetime.fromisoformat(d))) for t, d in indexed.get("timers", []))
        if indexed_timers != actual_timers:
            problems.append(f"instances.indexed timers {indexed.get('timers')} != timers rows")
        if Counter(tuple(w) for w in indexed.get("waits", [])) != actual_waits:
            problems.append(f"instances.indexed waits {indexed.get('waits')} != message_waits rows")
    if (row.status == "completed") != bool(workflow.completed):
        problems.append(f"status {row.status} but the engine says completed={workflow.completed}")

    # -- the audit log against the state
    actions = Counter(a.action for a in audit)
    if actions["started"] != 1:
        problems.append(f"{actions['started']} 'started' audit rows")
    if actions["completed"] != (1 if row.status == "completed" else 0):
        problems.append(f"{actions['completed']} 'completed' audit rows for status {row.status}")
    if row.status == "error" and actions["error"] < 1:
        problems.append("in error without an 'error' audit row")
    opened = Counter(a.task_id for a in audit if a.action == "task_opened")
    completed = Counter(a.task_id for a in audit if a.action == "task_completed")
    problems += [f"task {t} opened {n} times in the audit log" for t, n in opened.items() if n != 1]
    problems += [f"task {t} completed {n} times in the audit log" for t, n in completed.items() if n != 1]
    problems += [f"task {t} completed in the audit log but never opened" for t in completed if t not in opened]
    problems += [f"open task {t} has a task_completed audit row" for t in actual_tasks if t in completed]
    problems += [f"open task {t} has no task_opened audit row" for t in actual_tasks if t not in opened]
    kinds = defaultdict(set)
    for (_, element_id), info in bundle.elements.items():
        kinds[element_id].add(info.kind)
    timer_elements = {element_id for (_, element_id), info in bundle.elements.items()
                      if info.timer_kind and info.timer_kind != "timeCycle"}
    for task in _all_tasks(workflow):
        if task.state == TaskState.COMPLETED and task.task_spec.manual and completed[str(task.id)] != 1:
            problems.append(f"human task {task.task_spec.bpmn_id} ({task.id}) is completed in the state with "
                            f"{completed[str(task.id)]} task_completed audit rows")
    trail = set((row.trail or {}).get("elements", [])) | set(engine.completed_elements(workflow)[0])
    trail_human = {e for e in trail if kinds.get(e, set()) & HUMAN_KINDS}
    audited_human = {a.element_id for a in audit if a.action == "task_completed"}
    if trail_human != audited_human:
        problems.append(f"human tasks on the trail {sorted(trail_human)} != elements of task_completed rows "
                        f"{sorted(audited_human)}")
    fired = set()
    for a in audit:
        if a.action == "timer_fired":
            fired |= set((a.data or {}).get("elements", []))
    # A cycle timer fires and keeps waiting (it is never "completed"), so only one-shot timers count.
    # The converse (every timer on the trail has a timer_fired row) does not hold: a timer whose
    # time has already passed when the path reaches it fires inside the step that reached it.
    stray = (fired & timer_elements) - trail
    if stray:
        problems.append(f"timer_fired names {sorted(stray)}, which are not on the trail")
    if each is not None:
        extra = each(row, workflow)
        problems += [extra] if isinstance(extra, str) else list(extra or [])
    return problems


def _all_tasks(workflow):
    yield from workflow.tasks.values()
    for sub in workflow.subprocesses.values():
        yield from sub.tasks.values()


def _names(tasks: dict) -> list[str]:
    return [f"{t.element_id}:{task_id[:8]}" for task_id, t in tasks.items()]


def _timer_list(timers: Counter) -> list[str]:
    return sorted(f"{task_id[:8]}@{due.isoformat()}" + (f" x{n}" if n > 1 else "")
                  for (task_id, due), n in timers.items())


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


# --- notices -----------------------------------------------------------------------------------
def _check_notices(session, problems: list[str], summary: Summary) -> None:
    notices = list(session.scalars(select(Notice).order_by(Notice.id)))
    summary.notices.update(n.status for n in notices)
    keys = Counter((n.instance_id, n.kind, n.meeting_uid, n.sequence, n.recipient) for n in notices)
    problems += [f"notice {key} queued {count} times" for key, count in keys.items() if count > 1]
    audit = list(session.scalars(select(AuditEntry).where(AuditEntry.action.in_(
        ("notice_queued", "notice_sent", "notice_failed")))))
    queued_in = Counter()
    by_id = {n.id: n for n in notices}
    for entry in audit:
        if entry.action != "notice_queued":
            continue
        for notice_id in (entry.data or {}).get("utsendinger", []):
            queued_in[notice_id] += 1
            notice = by_id.get(notice_id)
            if notice is None:
                problems.append(f"notice_queued (instance {entry.instance_id}) names notice {notice_id}, "
                                "which does not exist")
            elif notice.instance_id != entry.instance_id:
                problems.append(f"notice {notice_id} of instance {notice.instance_id} queued by instance "
                                f"{entry.instance_id}")
    sent = Counter((e.data or {}).get("utsending_id") for e in audit if e.action == "notice_sent")
    failed = Counter((e.data or {}).get("utsending_id") for e in audit if e.action == "notice_failed")
    for n in notices:
        if queued_in[n.id] != 1:
            problems.append(f"notice {n.id} ({n.kind} to {n.recipient}) is in {queued_in[n.id]} notice_queued rows")
        want_sent = 1 if n.status in ("sent", "sink") else 0
        if sent[n.id] != want_sent:
            problems.append(f"notice {n.id} ({n.status}) has {sent[n.id]} notice_sent audit rows")
        if n.status == "failed" and failed[n.id] != 1:
            problems.append(f"notice {n.id} failed with {failed[n.id]} notice_failed audit rows")


def _check_settled(session, instance_ids, problems: list[str]) -> None:
    query = select(Instance.id, Instance.timer_lease_owner).where(Instance.timer_lease_owner.is_not(None))
    if instance_ids is not None:
        query = query.where(Instance.id.in_(sorted(instance_ids)))
    leased = session.execute(query.limit(20)).all()
    problems += [f"instance {i} still leased to {owner} after the workers stopped" for i, owner in leased]
    if instance_ids is None:
        pending = session.execute(select(Notice.id, Notice.status, Notice.lease_owner).where(
            Notice.status == "queued").limit(20)).all()
        problems += [f"notice {i} still {status} (lease {owner}) after the workers stopped"
                     for i, status, owner in pending]


def dump_instance(orc, instance_id: int) -> str:
    """For a failing assertion's message: the row, its tables and its audit trail."""
    with orc.db.read() as session:
        row = session.get(Instance, instance_id)
        audit = session.scalars(select(AuditEntry).where(AuditEntry.instance_id == instance_id).order_by(AuditEntry.id))
        return json.dumps({
            "status": row.status, "lock_version": row.lock_version, "next_timer_at": str(row.next_timer_at),
            "lease": [row.timer_lease_owner, str(row.timer_lease_until)],
            "audit": [[a.action, a.actor, a.task_id, a.element_id] for a in audit],
        }, indent=1)
