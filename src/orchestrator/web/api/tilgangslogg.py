"""/api/v1/tilgangslogg: the read-access log, searched by user, case and time (managers; decision 0023)."""
from __future__ import annotations

from ...services import tilgangslogg
from . import schemas as s
from .base import bp, current_actor, dump, operation, orchestrator


@bp.get("/tilgangslogg")
@operation(summary="Who read which case's personal data: by user, case number and time, newest first", tag="Saker",
           query=s.AccessLogQuery, responses={200: s.AccessLogPageSchema},
           description="Managers only. Every view of a case's data (page, API, command line, innsyn, and what the "
                       "system read to send an e-mail) is one entry; the log cannot be altered.", errors=(403, 422))
def search(query):
    page = tilgangslogg.search(orchestrator(), current_actor(), username=query.get("bruker"),
                               business_key=query.get("sak"), since=query.get("fra"), until=query.get("til"),
                               page=query["page"], per_page=query["per_page"])
    return dump(s.AccessLogPageSchema, page)
