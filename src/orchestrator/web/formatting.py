"""How things read on the pages: Norwegian dates in Oslo time; role, status and action names from
services/wording.py (decision 0018)."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone

from ..clock import OSLO
from ..services import wording

TIMER_KINDS = {"date": "Tidspunkt", "duration": "Varighet", "cycle": "Gjentakelse"}


def to_oslo(value) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(OSLO)
    return None


def when(value) -> str:
    """15.03.2027 kl. 10:00 (Norwegian time)."""
    moment = to_oslo(value)
    return moment.strftime("%d.%m.%Y kl. %H:%M") if moment else ""


def day(value) -> str:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.strftime("%d.%m.%Y")
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value).strftime("%d.%m.%Y")
        except ValueError:
            return value
    moment = to_oslo(value)
    return moment.strftime("%d.%m.%Y") if moment else ""


def value_text(value) -> str:
    """A data value as a person reads it (dates Norwegian, yes/no, lists joined)."""
    if value is None:
        return "–"
    if value is True:
        return "Ja"
    if value is False:
        return "Nei"
    if isinstance(value, str):
        if len(value) == 10 and value[4] == "-" and value[7] == "-":
            return day(value)
        if len(value) >= 16 and value[4] == "-" and value[10] == "T":
            return when(value) or value
        return value
    if isinstance(value, (list, tuple)):
        if all(not isinstance(v, (dict, list)) for v in value):
            return ", ".join(value_text(v) for v in value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, indent=2, default=str)
    return str(value)


def register(app) -> None:
    app.add_template_filter(when, "when")
    app.add_template_filter(day, "day")
    app.add_template_filter(value_text, "value_text")
    app.add_template_filter(wording.role_name, "role_name")
    app.add_template_filter(wording.roles_text, "roles_text")
    app.add_template_filter(wording.status_name, "status_name")
    app.add_template_filter(wording.action_name, "action_name")
    app.add_template_filter(lambda k: wording.KIND_NAMES.get(k, k), "kind_name")
