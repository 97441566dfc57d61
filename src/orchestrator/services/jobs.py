"""The one lease-and-claim queue for background work: due timers, notices to send, and what comes next.

Each kind of work is a `Queue`: a table whose rows are the items, and the columns that say when an
item is due, who holds it until when, and how many attempts it has had. One implementation claims,
gives back and retries for every kind (Camunda's job executor, on our own tables):

1. **Claim** (one short transaction): lease up to `batch_size` due items to a worker with
   `UPDATE … WHERE id IN (SELECT … ORDER BY due LIMIT n FOR UPDATE SKIP LOCKED) RETURNING …`
   (SQLite serialises writers instead), counting the attempt and moving the due time to the
   lease's end: "due" and "free" are one condition on one index, and an item whose worker died
   becomes due again by itself when its lease runs out.
2. **Work**, item by item, each in its own unit of work (the kind's `work` function); an item
   whose lease ran out meanwhile is left to whoever holds it now.
3. **Give back** what a stopping worker claimed but did not start (due now, the attempt not counted).

An item that was claimed more than `max_attempts` times without a result (its worker died in it,
again and again) is not run again: the kind's `give_up` makes it an incident.
"""
from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import Select, func, select, text, update
from sqlalchemy.orm import Session

from .. import clock
from ..store.db import Database

# Minutes to wait after failed attempt 1, 2, 3, ...; the last value repeats.
BACKOFF_MINUTES = (1, 5, 15, 60, 240)


@dataclass(frozen=True)
class Queue:
    """One kind of background work, configured in the composition root (services/bootstrap.py)."""

    name: str
    model: Any  # the table of items
    due: Any  # when the item is next due (indexed; NULL: nothing to do)
    lease_owner: Any
    lease_until: Any
    attempts: Any
    ready: Any  # extra condition an item must meet (None: none)
    returning: tuple  # columns the claim returns (the first is the id)
    # read from the settings when used, so a changed setting takes effect at once
    lease_seconds: Callable[[int], float]  # seconds a batch of n items is leased for
    batch_size: Callable[[], int]
    max_attempts: Callable[[], int]  # claims of one item without a result before it is an incident
    work: Callable  # (ctx, claimed rows, owner, stop) -> results; stops between items once `stop` is set
    give_up: Callable  # (ctx, item id, owner, message) -> result: the item became an incident
    max_batches: int | None = None  # a worker pass takes at most this many batches, then the next kind
    # (ctx) -> None: sets up the kind's standing items when a worker starts (a nightly job's one row)
    prepare: Callable | None = None

    def next_due(self) -> Select:
        """When the next item is due (a leased one: when its lease runs out): one index lookup."""
        query = select(func.min(self.due))
        return query.where(self.ready) if self.ready is not None else query

    def _due_now(self, now: datetime):
        conditions = [self.due <= now] + ([self.ready] if self.ready is not None else [])
        return conditions


def wake(ctx, session: Session, due: datetime | None = None) -> None:
    """Wake the workers (this process's, and on PostgreSQL the others') once the transaction commits:
    work earlier than they planned for has appeared."""
    if ctx.db.dialect == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": ctx.signal.CHANNEL})
    Database.after_commit(session, ctx.signal.notify)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def backoff(failed_attempts: int) -> timedelta:
    """How long to wait after the `failed_attempts`-th failed attempt (1-based)."""
    index = min(max(1, failed_attempts), len(BACKOFF_MINUTES)) - 1
    return timedelta(minutes=BACKOFF_MINUTES[index])


def any_due(ctx, queue: Queue) -> bool:
    """A read first: an idle worker takes no write lock."""
    with ctx.db.read() as session:
        key = queue.returning[0]
        return session.scalar(select(key).where(*queue._due_now(clock.now())).limit(1)) is not None


def claim(ctx, queue: Queue, owner: str, limit: int | None = None) -> list:
    """Lease up to `limit` due items to `owner`, counting the attempt; the claimed rows, in due order."""
    now = clock.now()
    limit = limit or queue.batch_size()
    lease_until = now + timedelta(seconds=queue.lease_seconds(limit))
    key = queue.returning[0]
    due = select(key).where(*queue._due_now(now)).order_by(queue.due, key).limit(limit)
    if ctx.db.dialect == "postgresql":
        due = due.with_for_update(skip_locked=True)
    statement = (
        update(queue.model)
        .where(key.in_(due.scalar_subquery()))
        .values({queue.lease_owner: owner, queue.lease_until: lease_until, queue.due: lease_until,
                 queue.attempts: queue.attempts + 1})
        .returning(*queue.returning)
        .execution_options(synchronize_session=False)
    )
    with ctx.write(f"{queue.name}.claim") as session:
        rows = session.execute(statement).all()
    return sorted(rows, key=lambda row: row[0])


def give_back(ctx, queue: Queue, ids: list[int], owner: str) -> None:
    """Claimed but not attempted: due now again for any worker, the attempt not counted."""
    if not ids:
        return
    key = queue.returning[0]
    with ctx.write() as session:
        session.execute(
            update(queue.model)
            .where(key.in_(ids), queue.lease_owner == owner)
            .values({queue.lease_owner: None, queue.lease_until: None, queue.due: clock.now(),
                     queue.attempts: queue.attempts - 1})
            .execution_options(synchronize_session=False))


def each(ctx, queue: Queue, rows: list, owner: str, stop, do_one: Callable) -> list:
    """Work the claimed rows one by one; on `stop`, give the rest back. Returns what each came to."""
    results = []
    for position, row in enumerate(rows):
        if stop is not None and stop.is_set():
            give_back(ctx, queue, [r[0] for r in rows[position:]], owner)
            break
        attempts = getattr(row, queue.attempts.key)
        if attempts > queue.max_attempts():
            # only after attempts that ended without a result: stop rather than loop for ever
            # on an item that kills its worker
            result = queue.give_up(ctx, row[0], owner, f"Avbrutt {attempts - 1} ganger uten at resultatet ble "
                                                         f"registrert (arbeideren stoppet underveis)")
        else:
            result = do_one(row)
        if result is not None:
            results.append(result)
    return results


def run(ctx, queue: Queue, owner: str, stop=None, limit: int | None = None, max_batches: int | None = None) -> list:
    """Everything of this kind due now (as the clock says), batch by batch, until none is due,
    `stop` is set, or `max_batches` batches are done (the worker then gives the other kinds a turn)."""
    results: list = []
    batches = 0
    while (stop is None or not stop.is_set()) and (max_batches is None or batches < max_batches):
        if not any_due(ctx, queue):
            break
        rows = claim(ctx, queue, owner, limit)
        if not rows:
            break
        batches += 1
        results += queue.work(ctx, rows, owner, stop) or []
    return results
