"""The nightly retention run: one kind of the job queue (services/jobs.py), due every night at 02:00 Oslo time.

Its one item is a row of `scheduled_jobs`, which a worker creates when it starts (`schedule`). Claimed
with a lease like any timer or notice, so with several workers exactly one runs it; a worker that dies
in it leaves a lease that expires, and another runs it again (harmless: what was deleted is gone, and
nothing else has expired). A failure is retried with the queue's back-off; after `MAX_ATTEMPTS` claims
it waits for the next night, the error kept on the row and in the log. `retention_daily = False`
(ORCHESTRATOR_RETENTION_DAILY=off) removes the row: the job then runs only by hand (`orchestrator retention`).
"""
from __future__ import annotations

import logging
from datetime import datetime, time, timedelta, timezone

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from .. import clock
from ..clock import OSLO
from ..config import Settings
from ..store.models import ScheduledJob
from . import jobs, retention
from .context import Orchestrator

log = logging.getLogger(__name__)

NAME = "retention"
RUN_AT = time(2, 0)  # Oslo time: the quietest hour of a municipality's day
MAX_ATTEMPTS = 3
LEASE_SECONDS = 3600


def queue(settings: Settings) -> jobs.Queue:
    return jobs.Queue(
        name=NAME, model=ScheduledJob, due=ScheduledJob.next_run_at, lease_owner=ScheduledJob.lease_owner,
        lease_until=ScheduledJob.lease_until, attempts=ScheduledJob.attempts, ready=ScheduledJob.name == NAME,
        returning=(ScheduledJob.name, ScheduledJob.attempts),
        lease_seconds=lambda n: LEASE_SECONDS, batch_size=lambda: 1, max_attempts=lambda: MAX_ATTEMPTS,
        work=_work, give_up=_give_up, prepare=schedule,
    )


def next_run(after: datetime) -> datetime:
    """The first 02:00 Oslo time after `after` (UTC)."""
    local = after.astimezone(OSLO)
    candidate = datetime.combine(local.date(), RUN_AT, tzinfo=OSLO)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), RUN_AT, tzinfo=OSLO)
    return candidate.astimezone(timezone.utc)


def schedule(ctx: Orchestrator) -> None:
    """The nightly run's row: made if missing (due next night), removed when the setting is off."""
    with ctx.write() as session:
        if not ctx.settings.retention_daily:
            session.execute(delete(ScheduledJob).where(ScheduledJob.name == NAME))
            return
        if session.get(ScheduledJob, NAME) is not None:
            return
    try:
        with ctx.write() as session:
            session.add(ScheduledJob(name=NAME, next_run_at=next_run(clock.now()), attempts=0))
    except IntegrityError:
        pass  # another worker made it at the same moment


def _work(ctx: Orchestrator, rows: list, owner: str, stop) -> list:
    return jobs.each(ctx, ctx.queues[NAME], rows, owner, stop, lambda row: _run(ctx, owner))


def _run(ctx: Orchestrator, owner: str):
    if not ctx.settings.retention_daily:
        schedule(ctx)
        return None
    try:
        report = retention.run(ctx, retention.RETENTION)
    except Exception as error:  # noqa: BLE001 - retried like any job; the worker goes on
        log.exception("the nightly retention run failed")
        _done(ctx, owner, f"{type(error).__name__}: {error}", retry=True)
        return None
    _done(ctx, owner, None)
    return report


def _give_up(ctx: Orchestrator, name: str, owner: str, message: str):
    log.error("the nightly retention run did not finish %d times; next try the next night: %s", MAX_ATTEMPTS, message)
    _done(ctx, owner, message)
    return None


def _done(ctx: Orchestrator, owner: str, error: str | None, retry: bool = False) -> None:
    """Due again next night (or, after a failure with attempts left, after the back-off)."""
    now = clock.now()
    with ctx.write() as session:
        row = session.get(ScheduledJob, NAME)
        if row is None or row.lease_owner != owner:
            return  # our lease ran out meanwhile: whoever holds it now decides
        if retry and row.attempts < MAX_ATTEMPTS:
            row.next_run_at = now + jobs.backoff(row.attempts)
        else:
            row.next_run_at, row.attempts = next_run(now), 0
        if error is None:
            row.last_run_at = now
        row.last_error, row.lease_owner, row.lease_until = error, None, None
