"""Keep an instance's engine state bounded, however many times its loops go round.

SpiffWorkflow keeps every task it ever ran: an ansvarsgruppe after 40 meeting cycles carries 40
cycles of finished tasks and finished meeting subprocesses (measured: +12 KB per cycle, and the
serialise/deserialise cost with it). Nothing ahead of the running tasks looks back at them:

1. a finished subprocess whose calling task is finished is deleted (its result was already copied
   back to the calling task);
2. in every (sub)workflow, the finished chain above the running tasks is cut: the nearest
   finished common ancestor of all unfinished tasks (the "anchor") is hung directly under the root,
   and what is neither under the anchor nor still unfinished is dropped. The anchor keeps its full
   data, so no variable is lost; splits that a pending join looks for are below the anchor, because
   the join's own branch is unfinished.

What was walked is kept by the caller (the instance's trail) before compacting; the audit log keeps
who did what. See docs/decisions/0009-bounded-instance-state.md.
"""
from __future__ import annotations

from SpiffWorkflow.util.task import TaskState


def compact(workflow) -> int:
    """Drop finished history that no running task can reach; returns how many tasks went."""
    removed = _finished_subprocesses(workflow)
    for flow in [workflow, *workflow.subprocesses.values()]:
        removed += _cut_finished_chain(workflow, flow)
    return removed


def _finished_subprocesses(top) -> int:
    removed = 0
    for task_id, sub in list(top.subprocesses.items()):
        if task_id not in top.subprocesses or not sub.completed:
            continue
        owner = top.get_task_from_id(task_id)
        if owner is not None and owner.has_state(TaskState.FINISHED_MASK):
            removed += len(top.delete_subprocess(owner))
    return removed


def _cut_finished_chain(top, flow) -> int:
    root = flow.task_tree
    unfinished = [t for t in flow.tasks.values() if t.has_state(TaskState.NOT_FINISHED_MASK)]
    if not unfinished:
        return 0
    anchor = _common_ancestor(unfinished)
    while anchor is not None and anchor is not root and not anchor.has_state(TaskState.FINISHED_MASK):
        anchor = anchor.parent
    if anchor is None or anchor is root or anchor.parent is root:
        return 0
    keep = {root.id} | {t.id for t in _subtree(anchor)}
    dropped = [task_id for task_id in flow.tasks if task_id not in keep]
    for task_id in dropped:
        sub = top.subprocesses.get(task_id)
        if sub is not None:
            top.delete_subprocess(flow.tasks[task_id])
        del flow.tasks[task_id]
    root._children = [anchor.id]
    anchor._parent = root.id
    if flow.last_task is not None and flow.last_task.id not in flow.tasks:
        flow.last_task = anchor
    return len(dropped)


def _common_ancestor(tasks):
    paths = [_path_from_root(t) for t in tasks]
    common = None
    for level in zip(*paths):
        if all(t is level[0] for t in level):
            common = level[0]
        else:
            break
    return common


def _path_from_root(task) -> list:
    path = []
    while task is not None:
        path.append(task)
        task = task.parent
    return path[::-1]


def _subtree(task):
    stack = [task]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(current.children)
