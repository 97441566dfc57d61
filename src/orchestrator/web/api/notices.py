"""/api/v1/notices: the e-mails the routines send (the «Utsendinger» page as JSON), for the same readers."""
from __future__ import annotations

from ...services.notices import queries
from . import schemas as s
from .base import bp, current_actor, dump, operation, orchestrator

READERS = "Managers and koordinerende enhet, as the «Utsendinger» page (403 for other roles)."


@bp.get("/notices")
@operation(summary="Notices (one row per recipient), newest first: status, attempts, recipient", tag="Utsendinger",
           query=s.NoticeQuery, responses={200: s.NoticePageSchema}, errors=(403, 422),
           description=f"{READERS} Filter by `status`, `business_key`, `kind` and `instance_id`; `counts` gives "
                       f"the number per status over the same filters.")
def list_notices(query):
    page = queries.list_notices(orchestrator(), current_actor(), status=query.get("status"),
                                business_key=query.get("business_key"), kind=query.get("kind"),
                                instance_id=query.get("instance_id"), page=query["page"], per_page=query["per_page"])
    return dump(s.NoticePageSchema, page)


@bp.get("/notices/<id:notice_id>")
@operation(summary="One notice with its content as stored: headers, text, HTML and calendar invite",
           tag="Utsendinger", responses={200: s.NoticeDetailSchema}, errors=(403, 404),
           description=f"{READERS} 404 when there is no such notice.")
def get_notice(notice_id):
    return dump(s.NoticeDetailSchema, queries.get_notice(orchestrator(), current_actor(), notice_id))
