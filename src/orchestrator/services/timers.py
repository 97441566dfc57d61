"""Firing due timers, exactly once, from any number of worker processes.

A worker claims due instances with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite
serialises writers), using only the `next_timer_at` index, then fires each in its own unit of
work. Saving clears the lease; a crashed worker's lease expires and another worker takes over.
The optimistic lock on the instance makes a late double-fire impossible to commit.
"""
from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select, update

from .. import clock
from ..engine import workflow as engine
from ..store.models import Instance
from . import messages, runtime
from .access import TIMER
from .context import Orchestrator
from .errors import Conflict, ServiceError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fired:
    instance_id: int
    business_key: str | None
    process_key: str
    elements: list[str]
    error: str | None = None


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def claim_due(ctx: Orchestrator, owner: str, limit: int | None = None) -> list[int]:
    """Lease up to `limit` due instances to `owner`; returns their ids."""
    now = clock.now()
    limit = limit or ctx.settings.timer_batch_size
    lease_until = now + timedelta(seconds=ctx.settings.timer_lease_seconds)
    # A leased instance is not due again until its lease runs out: the claim moves next_timer_at to
    # the lease's end, so "due" and "free" are one condition on one index. Saving the fired instance
    # sets next_timer_at back to its real next timer.
    due = select(Instance.id).where(Instance.next_timer_at <= now).order_by(Instance.next_timer_at).limit(limit)
    if ctx.db.dialect == "postgresql":
        due = due.with_for_update(skip_locked=True)
    statement = (
        update(Instance)
        .where(Instance.id.in_(due.scalar_subquery()))
        .values(timer_lease_owner=owner, timer_lease_until=lease_until, next_timer_at=lease_until)
        .returning(Instance.id)
        .execution_options(synchronize_session=False)
    )
    with ctx.write("timer.claim") as session:
        return sorted(session.scalars(statement))


def fire_instance(ctx: Orchestrator, instance_id: int, owner: str) -> Fired | None:
    """Fire what is due in one leased instance. None when the lease was lost meanwhile."""
    try:
        with ctx.write("timer.fire") as session:
            row = session.get(Instance, instance_id)
            if row is None or row.timer_lease_owner != owner:
                return None
            step = runtime.load(ctx, session, instance_id, TIMER)
            now = clock.now()
            due = [t.element_id for t in engine.timers(step.workflow) if t.due_at <= now]
            try:
                engine.fire_timers(step.workflow)
            except engine.EngineError as error:
                return _mark_failed(step, str(error))
            step.audit("timer_fired", element_id=",".join(due)[:200] or None, data={"elements": due})
            runtime.save(step)
            messages.route_outgoing(ctx, session, step)
            return Fired(instance_id, row.business_key, row.process_key, due)
    except Conflict as error:
        log.info("timer of instance %s not fired now (%s); will retry", instance_id, error)
        _release(ctx, [instance_id], owner)
        return None
    except ServiceError as error:
        # A timer whose step cannot run (e.g. a failing expression) must not spin forever.
        with ctx.write() as session:
            row = session.get(Instance, instance_id)
            if row is None or row.timer_lease_owner != owner:
                return None  # our lease ran out meanwhile: whoever holds it now decides
            step = runtime.load(ctx, session, instance_id, TIMER)
            return _mark_failed(step, error.message)


def _mark_failed(step: runtime.Step, message: str) -> Fired:
    row = step.row
    row.status, row.error = runtime.ERROR, message
    row.next_timer_at = row.timer_lease_owner = row.timer_lease_until = None
    row.updated_at = clock.now()
    step.audit("error", data={"message": message})
    return Fired(row.id, row.business_key, row.process_key, [], error=message)


def _release(ctx: Orchestrator, instance_ids: list[int], owner: str) -> None:
    """Give leased instances back, due now, so any worker can take them at once."""
    with ctx.write() as session:
        session.execute(
            update(Instance)
            .where(Instance.id.in_(instance_ids), Instance.timer_lease_owner == owner)
            .values(timer_lease_owner=None, timer_lease_until=None, next_timer_at=clock.now())
            .execution_options(synchronize_session=False)
        )


def fire_due(ctx: Orchestrator, owner: str | None = None, limit: int | None = None, stop=None) -> list[Fired]:
    """Fire everything due now (as the clock says), batch by batch, until nothing is due or `stop` is set."""
    owner = owner or worker_id()
    fired: list[Fired] = []
    while stop is None or not stop.is_set():
        with ctx.db.read() as session:  # a read first: an idle worker takes no write lock
            if session.scalar(select(Instance.id).where(Instance.next_timer_at <= clock.now()).limit(1)) is None:
                return fired
        claimed = claim_due(ctx, owner, limit)
        if not claimed:
            return fired
        for position, instance_id in enumerate(claimed):
            if stop is not None and stop.is_set():
                _release(ctx, claimed[position:], owner)  # stopping: the rest of the batch to the others
                return fired
            result = fire_instance(ctx, instance_id, owner)
            if result is not None:  # logged as it commits: a batch can take a while, and a kill loses no line
                log.info("fired %s in instance %s (%s)", ", ".join(result.elements) or "-", instance_id,
                         result.error or "ok")
                fired.append(result)
    return fired


def next_due() -> Select:
    """When the next timer is due, or when a crashed worker's lease runs out (one index lookup)."""
    return select(func.min(Instance.next_timer_at))


