"""Deployed versions, read once and cached: definitions per (key, version), bundles per pin set.

A deployed version never changes, so caching is safe; an instance is pinned to the versions
(its process, the processes it calls, its decisions and forms) that were latest when it started.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..engine import authoring, xmlsafe
from ..engine.parser import SpecBundle, build_bundle
from ..forms.model import FormDefinition, parse_form
from ..store.models import ProcessDefinition
from .errors import NotFound

FORM_PIN = "form:"


class SpecCache:
    def __init__(self, max_bundles: int = 256):
        self._lock = threading.RLock()
        self._definitions: dict[tuple[str, int], authoring.Definition] = {}
        self._forms: dict[tuple[str, int], FormDefinition] = {}
        self._bundles: OrderedDict[tuple, SpecBundle] = OrderedDict()
        self._pins: dict[str, tuple[int | None, dict[str, int]]] = {}
        self._max = max_bundles

    # --- rows ---------------------------------------------------------------------------
    @staticmethod
    def latest_row(session: Session, key: str, kind: str | None = None) -> ProcessDefinition | None:
        query = select(ProcessDefinition).where(ProcessDefinition.key == key)
        if kind:
            query = query.where(ProcessDefinition.kind == kind)
        return session.scalars(query.order_by(ProcessDefinition.version.desc()).limit(1)).first()

    @staticmethod
    def latest_rows(session: Session, kind: str | None = None) -> list[ProcessDefinition]:
        newest = select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v"))
        if kind:
            newest = newest.where(ProcessDefinition.kind == kind)
        newest = newest.group_by(ProcessDefinition.key).subquery()
        query = select(ProcessDefinition).join(
            newest, (ProcessDefinition.key == newest.c.key) & (ProcessDefinition.version == newest.c.v)
        )
        return list(session.scalars(query.order_by(ProcessDefinition.key)))

    @staticmethod
    def row(session: Session, key: str, version: int) -> ProcessDefinition:
        row = session.scalars(
            select(ProcessDefinition).where(ProcessDefinition.key == key, ProcessDefinition.version == version)
        ).first()
        if row is None:
            raise NotFound(f"fant ikke versjon {version} av «{key}»")
        return row

    # --- parsed -------------------------------------------------------------------------
    def definition(self, session: Session, key: str, version: int) -> authoring.Definition:
        with self._lock:
            cached = self._definitions.get((key, version))
        if cached is not None:
            return cached
        row = self.row(session, key, version)
        definition = authoring.read(row.filename, xmlsafe.parse(row.content), row.content)
        with self._lock:
            self._definitions[(key, version)] = definition
        return definition

    def form(self, session: Session, key: str, version: int) -> FormDefinition:
        with self._lock:
            cached = self._forms.get((key, version))
        if cached is not None:
            return cached
        row = self.row(session, key, version)
        form = parse_form(key, row.content)
        with self._lock:
            self._forms[(key, version)] = form
        return form

    def pins_for(self, session: Session, key: str) -> dict[str, int]:
        """The latest version of `key` and of everything it needs, transitively.

        Remembered until anything is deployed again (the highest definition id changes), so a
        start reads one index entry instead of every version it depends on, in any process.
        """
        generation = session.scalar(select(func.max(ProcessDefinition.id)))
        with self._lock:
            cached = self._pins.get(key)
        if cached is not None and cached[0] == generation:
            return dict(cached[1])
        pins = self._resolve_pins(session, key)
        with self._lock:
            self._pins[key] = (generation, pins)
        return dict(pins)

    def pins_at(self, session: Session, key: str, version: int) -> dict[str, int]:
        """Version `version` of `key` with the latest of everything it needs: what a case moved to
        that version runs on (services/migration.py)."""
        return self._resolve_pins(session, key, version)

    def _resolve_pins(self, session: Session, key: str, version: int | None = None) -> dict[str, int]:
        pins: dict[str, int] = {}
        decision_owner = None
        pending = [key]
        while pending:
            current = pending.pop()
            if current in pins:
                continue
            if current == key and version is not None:
                row = self.row(session, key, version)
            else:
                row = self.latest_row(session, current, kind="bpmn")
            if row is None:
                raise NotFound(f"prosessen «{current}» er ikke rullet ut")
            pins[current] = row.version
            pending.extend(row.called_processes)
            for decision in row.decisions_used:
                if decision_owner is None:
                    decision_owner = {
                        d: r for r in self.latest_rows(session, kind="dmn") for d in r.decisions_provided
                    }
                owner = decision_owner.get(decision)
                if owner is None:
                    raise NotFound(f"beslutningen «{decision}» er ikke rullet ut")
                pins[owner.key] = owner.version
            for form_key in self.definition(session, current, row.version).forms_used:
                form_row = self.latest_row(session, form_key, kind="form")
                if form_row is None:
                    raise NotFound(f"skjemaet «{form_key}» er ikke rullet ut")
                pins[FORM_PIN + form_key] = form_row.version
        return pins

    def bundle(self, session: Session, key: str, pins: dict[str, int]) -> SpecBundle:
        cache_key = (key, tuple(sorted(pins.items())))
        with self._lock:
            bundle = self._bundles.get(cache_key)
            if bundle is not None:
                self._bundles.move_to_end(cache_key)
                return bundle
        definitions = [self.definition(session, k, v) for k, v in pins.items() if not k.startswith(FORM_PIN)]
        bundle = build_bundle(key, definitions, pins)
        with self._lock:
            self._bundles[cache_key] = bundle
            while len(self._bundles) > self._max:
                self._bundles.popitem(last=False)
        return bundle

    def form_for(self, session: Session, pins: dict[str, int], form_key: str) -> FormDefinition | None:
        version = pins.get(FORM_PIN + form_key)
        if version is None:
            row = self.latest_row(session, form_key, kind="form")
            if row is None:
                return None
            version = row.version
        return self.form(session, form_key, version)
