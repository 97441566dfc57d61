"""Innsyn: everything stored about the person of one case (business key), for an access request (decision 0023).

GDPR art. 15 and pasientjournalloven § 18/§ 22 give the person the right to see what is stored about
them and who has read it. One function (`collect`) gathers it from every table that holds rows of
the case, and says per table how many rows it took (`Innsyn.sources`), so a test can prove that
nothing stored about the case is left out (tests/test_innsyn.py enumerates the tables):

- the case register (cases) and, per process (instances), the case data under the labels of the
  forms that collected it, its open tasks (tasks), waiting deadlines (timers) and message waits,
  and its history: who did what, when, with what data (audit_log);
- the notices sent and to whom, with their text (notices);
- the consent as it is now and its history (consents, consent_events);
- who has read the case (access_log).

`document` renders it as a printable HTML document in Norwegian; `as_json` as JSON. Making the export
is itself a read of the case and is logged (view «innsyn»). Managers make it (leder med innsyn; a data
protection officer is given that role).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import clock
from ..engine import workflow as engine
from ..store.models import (AuditEntry, Case, Consent, ConsentEvent, Instance, LegalHold, MessageWait, Notice, OpenTask,
                            WaitingTimer)
from . import casedata, samtykkeregister, tilgangslogg, tjenester, validation, wording
from .access import MANAGER, Actor, require
from .context import Orchestrator
from .errors import Invalid, NotFound
from .notices.constants import KIND_LABELS, STATUS_LABELS
from .notices.queries import content_of
from .specs import FORM_PIN

MAKERS = (MANAGER,)
CONSENT_ACTIONS = {"gitt": "Samtykke gitt", "utvidet": "Samtykket utvidet", "endret": "Samtykket endret",
                   "trukket": "Samtykket trukket tilbake"}


@dataclass
class Line:
    label: str
    text: str
    technical: bool = False  # the routine's own name for it (no form asked): shown, but marked as such


@dataclass
class ProcessPart:
    instance_id: int
    process: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    started_by: str | None
    data: list[Line] = field(default_factory=list)  # under the forms' labels
    other_data: list[Line] = field(default_factory=list)  # kept by the routine, no form asked for it
    open_tasks: list[dict] = field(default_factory=list)
    deadlines: list[dict] = field(default_factory=list)
    waits: list[str] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)


@dataclass
class Innsyn:
    business_key: str
    made_at: datetime
    made_by: str
    case: dict | None
    processes: list[ProcessPart]
    notices: list[dict]
    consent: dict | None
    consent_history: list[dict]
    reads: list[dict]
    hold: dict | None  # the slettesperre, if the case is kept past its retention period
    sources: dict[str, int]  # table -> rows of the case it took (the completeness test reads it)


def require_maker(actor: Actor) -> None:
    require(actor, MANAGER, "Å lage et innsynsuttrekk")


def make(ctx: Orchestrator, business_key: str, actor: Actor) -> Innsyn:
    """Collect everything about the case for `actor` (a manager) and log the read."""
    require_maker(actor)
    business_key = validation.business_key(business_key)
    if not business_key:
        raise Invalid("Saksnummer mangler", {"business_key": ["Oppgi saksnummeret."]})
    with ctx.write("innsyn") as session:  # the export is logged first, so it lists itself among the reads
        if not _known(session, business_key):
            raise NotFound(f"saken «{business_key}» finnes ikke")
        tilgangslogg.record(ctx, actor, tilgangslogg.INNSYN, business_key, session=session)
        return collect(ctx, session, business_key, actor)


def _known(session: Session, business_key: str) -> bool:
    return any(session.scalar(select(model).where(model.business_key == business_key).limit(1)) is not None
               for model in (Instance, Case, Consent))


def collect(ctx: Orchestrator, session: Session, business_key: str, actor: Actor) -> Innsyn:
    rows = list(session.scalars(select(Instance).where(Instance.business_key == business_key).order_by(Instance.id)))
    case, consent = session.get(Case, business_key), session.get(Consent, business_key)
    hold = session.get(LegalHold, business_key)
    sources: dict[str, int] = {"instances": len(rows)}
    processes = [_process(ctx, session, row, sources) for row in rows]
    notices = list(session.scalars(select(Notice).where(Notice.business_key == business_key).order_by(Notice.id)))
    events = samtykkeregister.history(session, business_key)
    reads = tilgangslogg.for_case(session, business_key)
    sources.update({"cases": int(case is not None), "consents": int(consent is not None), "notices": len(notices),
                    "consent_events": len(events), "access_log": len(reads), "legal_holds": int(hold is not None)})
    names = tjenester.catalogue(ctx.settings).names
    return Innsyn(
        business_key=business_key, made_at=clock.now(), made_by=actor.username,
        case=_case(case), processes=processes, notices=[_notice(n, names) for n in notices],
        consent=_consent(consent, names), consent_history=[_event(e, names) for e in events],
        reads=[{"at": r.at, "who": "Systemet" if r.system else (r.display_name or r.username), "username": r.username,
                "system": r.system, "view": r.view_label, "channel": r.channel_label, "address": r.address,
                "instance_id": r.instance_id} for r in reads],
        hold=None if hold is None else {"reason": hold.reason, "placed_by": hold.placed_by, "placed_at": hold.placed_at},
        sources=sources)


# --- one process of the case ------------------------------------------------------------------------
def _process(ctx: Orchestrator, session: Session, row: Instance, sources: dict[str, int]) -> ProcessPart:
    bundle = ctx.specs.bundle(session, row.process_key, row.pins)
    part = ProcessPart(row.id, bundle.spec.description or row.process_key, wording.status_name(row.status),
                       row.created_at, row.completed_at, row.started_by)
    fields = _fields(ctx, session, row.pins)
    labels = {key: item.label for key, item in fields.items()}
    current = engine.current_data(engine.load(row.state, bundle))
    described = {i.key: i for i in casedata.for_case(ctx.specs, session, row.id, row.pins, bundle, current)}
    vocabulary = casedata.vocabulary_for(ctx.specs, session, row.pins)
    for key, value in current.items():  # everything stored: what no form asked for too (art. 15)
        if key in described:
            item = described[key]
            part.data.append(Line(item.label, item.text or "\n".join(item.lines)))
        elif vocabulary.knows(key) and key in labels:
            part.data.append(Line(labels[key], text(value)))  # asked, left empty
        else:
            part.other_data.append(Line(key, text(value), technical=True))
    tasks = list(session.scalars(select(OpenTask).where(OpenTask.instance_id == row.id).order_by(OpenTask.created_at)))
    part.open_tasks = [{"name": t.name or t.element_id, "role": wording.role_name(t.role) if t.role else None, "assignee": t.assignee,
                        "created_at": t.created_at, "due_at": t.due_at} for t in tasks]
    timers = list(session.scalars(select(WaitingTimer).where(WaitingTimer.instance_id == row.id)
                                  .order_by(WaitingTimer.due_at)))
    part.deadlines = [{"name": t.name or t.element_id, "due_at": t.due_at} for t in timers]
    waits = list(session.scalars(select(MessageWait).where(MessageWait.instance_id == row.id)))
    names = {e.id: e.name for e in bundle.elements.values() if e.name}
    part.waits = sorted({names.get(w.element_id or "") or w.name for w in waits})  # by the diagram's words
    audit = list(session.scalars(select(AuditEntry).where(AuditEntry.instance_id == row.id).order_by(AuditEntry.id)))
    values = {**samtykkeregister.record_values(tjenester.catalogue(ctx.settings).names), **wording.RECORD_VALUES}
    part.history = [{"at": e.at, "who": e.actor, "what": wording.action_name(e.action),
                     "step": e.element_name or ", ".join(names.get(i, i) for i in (e.element_id or "").split(",") if i)
                     or None,
                     "data": [dataclasses.asdict(_history_line(k, v, fields, values)) for k, v in (e.data or {}).items()]}
                    for e in audit]
    for table, found in (("tasks", tasks), ("timers", timers), ("message_waits", waits), ("audit_log", audit)):
        sources[table] = sources.get(table, 0) + len(found)
    return part


def _history_line(key: str, value, fields: dict, values: dict) -> Line:
    """One recorded value: under its form's label or the product's glossary, else marked technical."""
    if key in fields:
        return Line(fields[key].label, text(_chosen(fields[key], value)))
    if key in wording.RECORD_FIELDS:
        named = values.get(key) or {}
        shown = [named.get(v, v) if isinstance(v, str) else v for v in value] if isinstance(value, list) \
            else named.get(str(value), value)
        return Line(wording.RECORD_FIELDS[key], text(shown))
    return Line(key, text(value), technical=True)


def _fields(ctx: Orchestrator, session: Session, pins: dict[str, int]) -> dict:
    """data key -> the form field that collected it (the first form of the case's routine that has it)."""
    fields: dict = {}
    for key, version in pins.items():
        if key.startswith(FORM_PIN):
            for item in ctx.specs.form(session, key[len(FORM_PIN):], version).inputs():
                if item.key and item.label:
                    fields.setdefault(item.key, item)
    return fields


def _chosen(item, value):
    """An answer as the person chose it: the option's label, not its stored value."""
    options = dict(item.options or [])
    if isinstance(value, list):
        return [options.get(v, v) if isinstance(v, str) else v for v in value]
    return options.get(value, value) if isinstance(value, str) else value


def _case(case: Case | None) -> dict | None:
    if case is None:
        return None
    return {"gjelder": case.gjelder, "koordinator": case.koordinator, "koordinator_siden": case.koordinator_since,
            "koordinator_godtok_over_grensen": case.koordinator_accepted_over_limit,
            "planverktoy": {"ip": "Individuell plan", "referat": "Referat"}.get(case.planverktoy or "", case.planverktoy),
            "plan_instans": case.plan_instance_id, "oppdatert": case.updated_at}


def _notice(n: Notice, services: dict[str, str]) -> dict:
    content = content_of(n.message) if n.message else None
    return {"id": n.id, "instance_id": n.instance_id, "kind": KIND_LABELS.get(n.kind, n.kind),
            "recipient": n.recipient, "recipient_name": n.recipient_name,
            "recipient_service": services.get(n.recipient_service or "", n.recipient_service),
            "subject": n.subject, "status": STATUS_LABELS.get(n.status, n.status), "meeting_at": n.meeting_at,
            "meeting_place": n.meeting_place, "created_at": n.created_at, "sent_at": n.sent_at,
            "text": content.text if content else None}


def _consent(consent: Consent | None, services: dict[str, str]) -> dict | None:
    if consent is None:
        return None
    return {"status": {"gitt": "Gitt", "trukket": "Trukket tilbake"}.get(consent.status, consent.status), "gitt_dato": consent.gitt_dato,
            "gitt_av": samtykkeregister.GIVERS.get(consent.gitt_av or "", consent.gitt_av),
            "form": samtykkeregister.HOW.get(consent.form or "", consent.form),
            "omfatter": [samtykkeregister.COVERS.get(k, k) for k in consent.omfatter or []],
            "deles_med": [services.get(k, k) for k in consent.deles_med or []],
            "registrert_av": consent.registrert_av, "registrert": consent.registrert_at,
            "trukket_dato": consent.trukket_dato, "informert_om_folger": consent.informert_om_folger}


CONSENT_FIELDS = {"dato": "Dato", "gitt_av": "Gitt av", "form": "Form", "omfatter": "Omfatter", "deles_med": "Deles med",
                  "informert_om_folger": "Informert om følgene", "kommentar": "Kommentar"}


def _event(e: ConsentEvent, services: dict[str, str]) -> dict:
    words = {"gitt_av": samtykkeregister.GIVERS, "form": samtykkeregister.HOW, "omfatter": samtykkeregister.COVERS,
             "deles_med": {**services, samtykkeregister.BRUKER: samtykkeregister.BRUKER_LABEL}}

    def said(key, value):
        table = words.get(key, {})
        return [table.get(v, v) for v in value] if isinstance(value, list) else table.get(value, value)

    return {"at": e.at, "who": e.actor, "what": CONSENT_ACTIONS.get(e.action, e.action), "instance_id": e.instance_id,
            "data": [dataclasses.asdict(Line(CONSENT_FIELDS.get(k, k), text(said(k, v)))) for k, v in (e.data or {}).items()]}


# --- the two forms it is handed over in ----------------------------------------------------------------
def text(value) -> str:
    """A stored value as a person reads it: dates Norwegian, yes/no, lists joined, rows one per line."""
    if value is None:
        return "–"
    if value is True or value is False:
        return "Ja" if value else "Nei"
    if isinstance(value, datetime):
        return casedata.moment_text(value)
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    if isinstance(value, str) and len(value) >= 10 and value[4:5] == "-" and value[7:8] == "-":
        try:
            if len(value) == 10:
                return date.fromisoformat(value).strftime("%d.%m.%Y")
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return text(moment) if moment.tzinfo else value
        except ValueError:
            return value
    if isinstance(value, dict):
        return ", ".join(f"{k}: {text(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "; ".join(text(v) for v in value)
    return str(value)


def as_json(found: Innsyn) -> str:
    return json.dumps(dataclasses.asdict(found), ensure_ascii=False, indent=2, default=_plain)


def document(found: Innsyn) -> str:
    return _TEMPLATES.get_template("innsyn.html").render(innsyn=found, when=_when)


def write(found: Innsyn, folder: Path) -> list[Path]:
    """innsyn-<saksnummer>.html and .json in `folder` (made if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = file_stem(found.business_key)
    html, data = folder / f"{stem}.html", folder / f"{stem}.json"
    html.write_text(document(found), encoding="utf-8")
    data.write_text(as_json(found), encoding="utf-8")
    return [html, data]


def file_stem(business_key: str) -> str:
    """innsyn-9999-0001: the case number as a plain file name."""
    return "innsyn-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in business_key)


def _plain(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)


def _when(value) -> str:
    return text(value) if value else "–"


_TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True,
                         trim_blocks=True, lstrip_blocks=True, undefined=StrictUndefined)
