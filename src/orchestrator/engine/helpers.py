"""The helpers a diagram's expressions may call (documented in docs/expressions.md).

Dates travel through task data as ISO-8601 strings; the helpers accept strings,
dates or datetimes and return aware datetimes (or ISO strings from `iso`).
Naive times are read in Norwegian time (Europe/Oslo), as staff write them.
"""
from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta

from .. import clock
from ..clock import OSLO



def now() -> datetime:
    """The current time (from the orchestrator clock), aware."""
    return clock.now()


def today() -> str:
    """Today's date in Norway as YYYY-MM-DD."""
    return clock.now().astimezone(OSLO).date().isoformat()


def to_datetime(value) -> datetime:
    """Read an ISO date/datetime (string, date or datetime) as an aware datetime.

    A bare date means 09:00 Norwegian time that day; a naive datetime is Norwegian time.
    """
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime.combine(value, time(9, 0))
    elif isinstance(value, str):
        text = value.strip()
        if len(text) == 10:
            dt = datetime.combine(date.fromisoformat(text), time(9, 0))
        else:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    else:
        raise TypeError(f"kan ikke lese {value!r} som tidspunkt")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=OSLO)
    return dt


def iso(value) -> str:
    """An ISO-8601 string with UTC offset, as timers need."""
    return to_datetime(value).isoformat()


def add_days(value, days: int) -> datetime:
    return _in_oslo(to_datetime(value)) + timedelta(days=days)


def subtract_days(value, days: int) -> datetime:
    return add_days(value, -days)


def add_months(value, months: int) -> datetime:
    """Calendar months; the 31st becomes the last day of a shorter month."""
    dt = _in_oslo(to_datetime(value))
    index = dt.month - 1 + months
    year, month = dt.year + index // 12, index % 12 + 1
    day = min(dt.day, calendar.monthrange(year, month)[1])
    return dt.replace(year=year, month=month, day=day)


def days_between(start, end) -> int:
    """Whole days from `start` to `end` (negative when `end` is earlier)."""
    return (to_datetime(end) - to_datetime(start)).days


def is_before(first, second) -> bool:
    return to_datetime(first) < to_datetime(second)


def _in_oslo(dt: datetime) -> datetime:
    # Arithmetic in local wall time keeps 09:00 at 09:00 across DST changes.
    return dt.astimezone(OSLO)


HELPERS = {
    "now": now,
    "today": today,
    "to_datetime": to_datetime,
    "iso": iso,
    "add_days": add_days,
    "subtract_days": subtract_days,
    "add_months": add_months,
    "days_between": days_between,
    "is_before": is_before,
    "timedelta": timedelta,
}
