"""«Tilgangslogg»: who has read which case's personal data, for managers (decision 0023)."""
from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import Blueprint, render_template, request

from ...clock import OSLO
from ...services import tilgangslogg
from ..auth import current_actor, orchestrator
from . import PER_PAGE, int_arg

bp = Blueprint("tilgangslogg", __name__)


@bp.get("/tilgangslogg")
def search():
    filters = {"bruker": _text("bruker"), "sak": _text("sak"), "fra": _text("fra", 10), "til": _text("til", 10)}
    since, until = _day(filters["fra"]), _day(filters["til"])
    page = tilgangslogg.search(orchestrator(), current_actor(), username=filters["bruker"], business_key=filters["sak"],
                               since=since, until=until + timedelta(days=1) if until else None,
                               page=int_arg("page"), per_page=PER_PAGE)
    unread = [name for name, value in (("fra", since), ("til", until)) if filters[name] and value is None]
    return render_template("tilgangslogg.html", page=page, filters=filters, unread=unread)


def _text(name: str, length: int = 100) -> str | None:
    value = (request.args.get(name) or "").strip()[:length]
    return value if value and "\x00" not in value else None


def _day(text: str | None) -> datetime | None:
    """dd.mm.åååå (or åååå-mm-dd) as the start of that day in Norwegian time."""
    if not text:
        return None
    for pattern in ("%d.%m.%Y", "%Y-%m-%d"):
        try:
            day = datetime.strptime(text, pattern).date()
        except ValueError:
            continue
        return datetime.combine(day, time(), OSLO)
    return None


def recent_reads(business_key: str | None, how_many: int = 10):
    """The case page's «Hvem har lest saken», for those who may see the log (None for everyone else)."""
    actor = current_actor()
    if not business_key or not tilgangslogg.may_read(actor):
        return None
    return tilgangslogg.search(orchestrator(), actor, business_key=business_key, per_page=how_many)


__all__ = ["bp", "recent_reads"]
