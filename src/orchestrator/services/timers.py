"""Firing due timers, exactly once, from any number of worker processes.

An instance whose earliest timer is due is one item of the job queue (services/jobs.py): claimed
with a lease on the `next_timer_at` index, then fired in its own unit of work through the one
commit path. Saving clears the lease; a crashed worker's lease expires and another worker takes
over; the optimistic lock on the instance makes a late double-fire impossible to commit.

A step that fails (a diagram's expression that raises, a message nobody takes) is retried with
back-off; after `timer_max_attempts` attempts the instance becomes an incident (runtime.fail), and
the worker goes on with the other due work either way.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, update

from .. import clock
from ..config import Settings
from ..engine import workflow as engine
from ..store.models import AuditEntry, Instance
from . import jobs, runtime
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
    retry_at: datetime | None = None  # the next attempt after a failure (None: fired, or an incident)
    names: list[str] = field(default_factory=list)  # the fired timers as the diagram names them

    @property
    def incident(self) -> bool:
        return self.error is not None and self.retry_at is None


NAME = "timer"


def queue(settings: Settings) -> jobs.Queue:
    return jobs.Queue(
        name=NAME, model=Instance, due=Instance.next_timer_at, lease_owner=Instance.timer_lease_owner,
        lease_until=Instance.timer_lease_until, attempts=Instance.timer_attempts, ready=None,
        returning=(Instance.id, Instance.timer_attempts),
        lease_seconds=lambda n: settings.timer_lease_seconds, batch_size=lambda: settings.timer_batch_size,
        max_attempts=lambda: max(1, settings.timer_max_attempts), work=_work, give_up=_give_up,
    )


def _work(ctx: Orchestrator, rows: list, owner: str, stop) -> list[Fired]:
    return jobs.each(ctx, ctx.queues[NAME], rows, owner, stop, lambda row: fire_instance(ctx, row.id, owner))


def fire_due(ctx: Orchestrator, owner: str | None = None, stop=None) -> list[Fired]:
    """Fire everything due now (as the clock says), until nothing is due or `stop` is set."""
    return jobs.run(ctx, ctx.queues[NAME], owner or jobs.worker_id(), stop)


def fire_instance(ctx: Orchestrator, instance_id: int, owner: str) -> Fired | None:
    """Fire what is due in one leased instance. None when the lease was lost meanwhile."""
    try:
        with ctx.write("timer.fire") as session:
            row = runtime.read_instance(session, instance_id)
            if row is None or row.timer_lease_owner != owner:
                return None
            if row.status != runtime.RUNNING:  # stopped meanwhile: nothing of it is due any more
                session.execute(update(Instance).where(Instance.id == instance_id).values(
                    next_timer_at=None, timer_lease_owner=None, timer_lease_until=None))
                return None
            step = runtime.load(ctx, session, instance_id, TIMER, row=row)
            now = clock.now()
            due_timers = [t for t in engine.timers(step.workflow) if t.due_at <= now]
            due = [t.element_id for t in due_timers]
            runtime.act(step, engine.fire_timers)
            step.audit("timer_fired", element_id=",".join(due)[:200] or None, data={"elements": due})
            runtime.commit(step)
            fired = Fired(instance_id, row.business_key, row.process_key, due,
                          names=[t.name or t.element_id for t in due_timers])
        # logged once it committed: a batch can take a while, and a worker killed in it loses no line
        log.info("fired %s in instance %s", ", ".join(due) or "-", instance_id)
        return fired
    except Conflict as error:
        log.info("timer of instance %s not fired now (%s); will retry", instance_id, error)
        jobs.give_back(ctx, ctx.queues[NAME], [instance_id], owner)
        return None
    except ServiceError as error:
        return _failed(ctx, instance_id, owner, error.message)
    except (Exception, SystemExit, KeyboardInterrupt) as error:  # noqa: B902 - a diagram must never stop the worker
        log.exception("timer step of instance %s failed unexpectedly", instance_id)
        return _failed(ctx, instance_id, owner, f"Uventet feil i steget: {type(error).__name__}: {error}")


def _failed(ctx: Orchestrator, instance_id: int, owner: str, message: str) -> Fired | None:
    """Count the failed attempt: try again after a back-off, or, after the last, an incident."""
    q = ctx.queues[NAME]
    with ctx.write("timer.failed") as session:
        row = session.get(Instance, instance_id)
        if row is None or row.timer_lease_owner != owner:
            return None  # our lease ran out meanwhile: whoever holds it now decides
        if row.timer_attempts >= q.max_attempts():
            runtime.fail(ctx, session, instance_id, message, TIMER)
            log.error("instance %s is an incident after %d failed timer steps: %s", instance_id,
                      row.timer_attempts, message)
            return Fired(instance_id, row.business_key, row.process_key, [], error=message)
        retry_at = clock.now() + jobs.backoff(row.timer_attempts)
        row.error, row.next_timer_at, row.updated_at = message, retry_at, clock.now()
        row.timer_lease_owner = row.timer_lease_until = None
        session.flush()  # the instance row first (lock order), then its audit row
        session.execute(insert(AuditEntry).values(runtime.audit_row(
            instance_id, TIMER, "timer_failed",
            data={"feil": message, "forsok": row.timer_attempts, "av": q.max_attempts(),
                  "neste_forsok": retry_at.isoformat()})))
        log.warning("timer step of instance %s failed (attempt %d of %d), next attempt %s: %s", instance_id,
                    row.timer_attempts, q.max_attempts(), retry_at.isoformat(), message)
        return Fired(instance_id, row.business_key, row.process_key, [], error=message, retry_at=retry_at)


def _give_up(ctx: Orchestrator, instance_id: int, owner: str, message: str) -> Fired | None:
    with ctx.write("timer.give_up") as session:
        row = session.get(Instance, instance_id)
        if row is None or row.timer_lease_owner != owner:
            return None
        runtime.fail(ctx, session, instance_id, message, TIMER)
        return Fired(instance_id, row.business_key, row.process_key, [], error=message)

