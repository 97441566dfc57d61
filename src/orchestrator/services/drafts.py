"""Drafts: a process owner's saved, not yet deployed, edit of a diagram, decision table or form.

One draft per key. A draft is not a version: nothing can start from it, staff never see it,
and it is checked only when it is deployed (then it becomes a version and is removed, see
deployment._store). Only process owners save, read or discard drafts.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from lxml import etree
from sqlalchemy import delete, select

from .. import clock
from ..engine import authoring, xmlsafe
from ..store.models import Draft
from .access import PROCESS_OWNER, Actor, require
from .context import Orchestrator
from .deploy_checks import KEY_MAX
from .errors import Invalid, NotFound
from .specs import SpecCache

KINDS = ("bpmn", "dmn", "form")
MAX_BYTES = 2 * 1024 * 1024


@dataclass
class DraftInfo:
    key: str
    kind: str
    base_version: int | None
    latest_version: int | None
    saved_at: datetime
    saved_by: str | None
    content: bytes

    @property
    def behind(self) -> bool:
        """A newer version was deployed after the draft was opened."""
        return self.latest_version is not None and (self.base_version or 0) < self.latest_version


def save(ctx: Orchestrator, key: str, kind: str, content: bytes, actor: Actor,
         base_version: int | None = None) -> DraftInfo:
    require(actor, PROCESS_OWNER, "Å lagre utkast")
    _check(key, kind, content)
    with ctx.write() as session:
        draft = session.scalars(select(Draft).where(Draft.key == key)).first()
        if draft is None:
            draft = Draft(key=key)
            session.add(draft)
        draft.kind, draft.content, draft.base_version = kind, content, base_version
        draft.saved_at, draft.saved_by = clock.now(), actor.username
        session.flush()
        return _info(session, draft)


def get(ctx: Orchestrator, key: str, actor: Actor) -> DraftInfo | None:
    require(actor, PROCESS_OWNER, "Utkast")
    with ctx.db.read() as session:
        draft = session.scalars(select(Draft).where(Draft.key == key)).first()
        return _info(session, draft) if draft else None


def list_drafts(ctx: Orchestrator, actor: Actor) -> list[DraftInfo]:
    require(actor, PROCESS_OWNER, "Utkast")
    with ctx.db.read() as session:
        return [_info(session, d) for d in session.scalars(select(Draft).order_by(Draft.key))]


def discard(ctx: Orchestrator, key: str, actor: Actor) -> None:
    require(actor, PROCESS_OWNER, "Å forkaste utkast")
    with ctx.write() as session:
        if not session.execute(delete(Draft).where(Draft.key == key)).rowcount:
            raise NotFound(f"det finnes ikke noe utkast av «{key}»")


def kind_of_xml(content: bytes) -> str:
    """bpmn or dmn, from the document's root element (a draft need not be deployable yet)."""
    try:
        root = xmlsafe.parse(content)
    except xmlsafe.UnsafeXml as error:
        raise Invalid("Utkastet kan ikke leses", {"content": [str(error)]}) from None
    namespace = etree.QName(root).namespace
    if namespace == authoring.BPMN_NS:
        return "bpmn"
    if namespace in authoring.DMN_NAMESPACES:
        return "dmn"
    raise Invalid("Utkastet er verken BPMN eller DMN", {"content": ["Ukjent rotelement."]})


def _check(key: str, kind: str, content: bytes) -> None:
    if kind not in KINDS:
        raise Invalid("Ukjent type", {"kind": [f"Bruk en av {', '.join(KINDS)}."]})
    if not key or len(key) > KEY_MAX:
        raise Invalid("Ugyldig nøkkel", {"key": [f"Mellom 1 og {KEY_MAX} tegn."]})
    if not content or len(content) > MAX_BYTES:
        raise Invalid("Utkastet er tomt eller for stort", {"content": [f"Høyst {MAX_BYTES // 1024} KiB."]})
    try:  # a draft may be unfinished, but it must be the kind of document it claims to be
        if kind == "form":
            if not isinstance(json.loads(content), dict):
                raise ValueError("ikke et JSON-objekt")
        else:
            xmlsafe.parse(content)
    except (ValueError, xmlsafe.UnsafeXml) as error:
        raise Invalid("Utkastet kan ikke leses", {"content": [str(error)]}) from None


def _info(session, draft: Draft) -> DraftInfo:
    latest = SpecCache.latest_row(session, draft.key)
    return DraftInfo(draft.key, draft.kind, draft.base_version, latest.version if latest else None,
                     draft.saved_at, draft.saved_by, bytes(draft.content))
