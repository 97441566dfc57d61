"""Dates as people in Norway write them: dd.mm.åååå (and dd.mm.åååå tt:mm), read into ISO.

The pages show and take dates this way; the API and stored data keep ISO 8601, which is also
accepted here so a client (or an old draft) that sends ISO keeps working.
"""
from __future__ import annotations

import re
from datetime import date, datetime

DAY = re.compile(r"^\s*(\d{1,2})\.(\d{1,2})\.(\d{4})\s*$")
MOMENT = re.compile(r"^\s*(\d{1,2})\.(\d{1,2})\.(\d{4})(?:\s+kl\.?)?\s+(\d{1,2})[:.](\d{2})\s*$")
DAY_FORMAT, MOMENT_FORMAT = "dd.mm.åååå", "dd.mm.åååå tt:mm"


def parse_day(text) -> date:
    """`24.12.2027` (or `2027-12-24`) as a date; ValueError when it is no such day."""
    if isinstance(text, date) and not isinstance(text, datetime):
        return text
    value = str(text).strip()
    match = DAY.match(value)
    if match:
        day, month, year = (int(g) for g in match.groups())
        return date(year, month, day)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return date.fromisoformat(value)
    raise ValueError(f"not a date: {value!r}")


def parse_moment(text) -> datetime:
    """`24.12.2027 10:00` (also `kl. 10.00`, or ISO) as a datetime, naive unless ISO carried an offset."""
    if isinstance(text, datetime):
        return text
    value = str(text).strip()
    match = MOMENT.match(value)
    if match:
        day, month, year, hour, minute = (int(g) for g in match.groups())
        return datetime(year, month, day, hour, minute)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def show_day(value: date) -> str:
    return value.strftime("%d.%m.%Y")


def show_moment(value: datetime) -> str:
    return value.strftime("%d.%m.%Y %H:%M")


def day_text(value) -> str:
    """A stored ISO date as people read it (dd.mm.åååå); what is no date comes back unchanged."""
    try:
        return show_day(parse_day(str(value)[:10]))
    except ValueError:
        return str(value)
