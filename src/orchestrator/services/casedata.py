"""Case data as a person reads it: each value under the label of the form field that collected it.

A case's data is keyed by the names the process owner gave the form fields (`samarbeid_nodvendig`,
`faste_medlemmer`). People read the questions they answered instead («Er det behov for at tjenestene
samarbeider?»), the answers as they chose them (an option's label, «Ja»/«Nei», 15.03.2027), and a
list as one line per row («Kontaktlærer, Skole, Demo Lærer, …»). A key no form or decision table
collected (an id, a counter, an internal flag the diagram keeps) is left out: no person entered it,
and the pages show what the routine did with it elsewhere (status, tasks, history).

When several forms ask for the same key («Tid for første møte», «Nytt møtetidspunkt»), the label
is that of the form the case last answered it in (from the history), else the first form of the
routine that has it. Decision tables contribute their outputs' labels (DMN `output@label`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Iterable, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..clock import OSLO
from ..engine import xmlsafe
from ..forms.model import Field, FormDefinition
from ..store.models import AuditEntry
from .specs import FORM_PIN, SpecCache

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


@dataclass(frozen=True)
class Item:
    """One line of case data: the question and the answer (one text, or one line per row)."""

    key: str
    label: str
    text: str = ""
    lines: tuple[str, ...] = ()


@dataclass
class Vocabulary:
    """What the routine's forms and decision tables call each data key."""

    fields: dict[str, list[tuple[str, Field]]] = field(default_factory=dict)  # key -> [(form key, field)]
    outputs: dict[str, str] = field(default_factory=dict)  # a decision table's output name -> its label

    @classmethod
    def of(cls, forms: Iterable[FormDefinition], outputs: Mapping[str, str] | None = None) -> "Vocabulary":
        vocabulary = cls(outputs=dict(outputs or {}))
        for form in forms:
            for item in _named(form.components):
                vocabulary.fields.setdefault(item.key, []).append((form.key, item))
        return vocabulary

    def field_for(self, key: str, form_key: str | None = None) -> Field | None:
        """The field that collected `key`: in form `form_key` when it has one, else the first."""
        found = self.fields.get(key) or []
        chosen = next((f for k, f in found if k == form_key), None)
        return chosen or (found[0][1] if found else None)

    def knows(self, key: str) -> bool:
        return key in self.fields or key in self.outputs


def for_case(specs: SpecCache, session: Session, instance_id: int, pins: Mapping[str, int], bundle,
             data: Mapping, leave_out: Iterable[str] = ()) -> list["Item"]:
    """A case's data as a person reads it (the case page, the task page's «Saksopplysninger»)."""
    completed = session.execute(select(AuditEntry.element_id, AuditEntry.data).where(
        AuditEntry.instance_id == instance_id, AuditEntry.action == "task_completed").order_by(AuditEntry.id))
    history = [{"action": "task_completed", "element_id": e.element_id, "data": e.data} for e in completed]
    collected_in = last_forms(history, forms_of_elements(bundle))
    return describe(data, vocabulary_for(specs, session, pins), collected_in, leave_out)


def vocabulary_for(specs: SpecCache, session: Session, pins: Mapping[str, int]) -> Vocabulary:
    """The forms and decision tables a case is pinned to (its process and the processes it calls)."""
    forms = [specs.form(session, key[len(FORM_PIN):], version) for key, version in pins.items()
             if key.startswith(FORM_PIN)]
    outputs: dict[str, str] = {}
    for key, version in pins.items():
        if not key.startswith(FORM_PIN):
            outputs.update(_decision_outputs(session, key, version))
    return Vocabulary.of(forms, outputs)


def forms_of_elements(bundle) -> dict[str, str]:
    """element id -> the form its task shows (a SpecBundle's user tasks and start events)."""
    return {e.id: e.form_key for e in bundle.elements.values() if e.form_key}


_OUTPUTS: dict[tuple[str, int], dict[str, str]] = {}  # a deployed version never changes


def _decision_outputs(session: Session, key: str, version: int) -> dict[str, str]:
    if (key, version) not in _OUTPUTS:
        row = SpecCache.row(session, key, version)
        found = {}
        if row.kind == "dmn":
            for output in xmlsafe.parse(bytes(row.content)).iter("{*}output"):
                if output.get("name") and output.get("label"):
                    found[output.get("name")] = output.get("label")
        _OUTPUTS[(key, version)] = found
    return _OUTPUTS[(key, version)]


def describe(data: Mapping, vocabulary: Vocabulary, collected_in: Mapping[str, str] | None = None,
             leave_out: Iterable[str] = ()) -> list[Item]:
    """The case data a person reads, in the order it was collected; empty answers are left out.

    `collected_in`: key -> the form the case last answered it in (see `last_forms`).
    """
    collected_in, skip = collected_in or {}, set(leave_out)
    items = []
    for key, value in data.items():
        if key in skip or _empty(value):
            continue
        item = vocabulary.field_for(key, collected_in.get(key))
        if item is not None:
            described = _item(key, item, value, data)
        elif key in vocabulary.outputs:
            described = Item(key, vocabulary.outputs[key], text=value_text(value))
        else:
            continue  # no person entered it: an id, a counter, a flag of the diagram
        if described.text or described.lines:
            items.append(described)
    return items


def last_forms(history: Sequence[Mapping], form_of_element: Mapping[str, str]) -> dict[str, str]:
    """key -> the form of the last completed task that submitted it (history entries, oldest first)."""
    found: dict[str, str] = {}
    for entry in history:
        form_key = form_of_element.get(entry.get("element_id") or "")
        if entry.get("action") == "task_completed" and form_key and isinstance(entry.get("data"), dict):
            for key in entry["data"]:
                found[key] = form_key
    return found


def lines(item: Item) -> list[str]:
    """An item as lines of text («Spørsmål? Svar», «Liste:» and one line per row)."""
    sep = " " if item.label.endswith("?") else ": "
    if item.text:
        return [f"{item.label}{sep}{item.text}"]
    return [f"{item.label}:", *(f"– {line}" for line in item.lines)]


def record_lines(data, fields: Mapping[str, str], values: Mapping[str, Mapping[str, str]] | None = None) -> list[str]:
    """What the product itself recorded (a consent, a notice, a coordinator) as «Label: value» lines,
    by a glossary of its own keys (services/wording.RECORD_FIELDS); other keys are left out."""
    if not isinstance(data, Mapping):
        return []
    values, found = values or {}, []
    for key, label in fields.items():
        value = data.get(key)
        if _empty(value):
            continue
        names = values.get(key) or {}
        shown = [names.get(str(v), v) for v in value] if isinstance(value, list) else names.get(str(value), value)
        found.append(f"{label}: {value_text(shown)}")
    return found


def history_lines(entry: Mapping, vocabulary: Vocabulary, forms_by_element: Mapping[str, str],
                  fields: Mapping[str, str], values: Mapping[str, Mapping[str, str]] | None = None) -> list[str]:
    """One history entry's data as lines a person reads: a task's answers under its form's labels,
    a start's data, a message's content; what the product recorded by its glossary."""
    data = entry.get("data")
    if not isinstance(data, Mapping) or not data:
        return []
    action = entry.get("action")
    if action == "task_completed":
        form_key = forms_by_element.get(entry.get("element_id") or "")
        items = describe(data, vocabulary, {k: form_key for k in data} if form_key else None)
        return [line for item in items for line in lines(item)]
    if action in ("started", "message_received", "message_sent"):
        content = data.get("data") if isinstance(data.get("data"), Mapping) else {}
        described = [line for item in describe(content, vocabulary) for line in lines(item)]
        return described + [line for line in record_lines(content, fields, values) if line not in described]
    if action == "timer_fired":
        return []
    return record_lines(data, fields, values)


# --- values -------------------------------------------------------------------------------------
def value_text(value, item: Field | None = None) -> str:
    """One value as a person reads it: options by their label, «Ja»/«Nei», Norwegian dates."""
    if _empty(value):
        return ""
    if isinstance(value, bool):
        return "Ja" if value else "Nei"
    options = dict(item.options or []) if item is not None else {}
    if isinstance(value, (list, tuple)):
        return ", ".join(t for t in (value_text(v, item) for v in value) if t)
    if isinstance(value, dict):
        return ", ".join(t for t in (value_text(v) for v in value.values()) if t)
    if options and str(value) in options:
        return options[str(value)]
    if isinstance(value, datetime):
        return moment_text(value)
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    if isinstance(value, float):
        return f"{value:g}".replace(".", ",")
    if isinstance(value, str):
        if _DAY.match(value):
            return _day_text(value)
        if _MOMENT.match(value):
            return moment_text(value)
    return str(value)


def moment_text(value) -> str:
    """15.03.2027 kl. 10:00, in Norwegian time."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(OSLO).strftime("%d.%m.%Y kl. %H:%M")


def _day_text(value: str) -> str:
    try:
        return date.fromisoformat(value).strftime("%d.%m.%Y")
    except ValueError:
        return value


def _item(key: str, item: Field, value, data: Mapping) -> Item:
    label = _label(item, data)
    if not label:
        return Item(key, "")  # a field nobody gave a question: its key is no heading for a person
    if item.type == "dynamiclist" and isinstance(value, list):
        rows = [_row(item.children, row) if isinstance(row, dict) else value_text(row) for row in value]
        return Item(key, label, lines=tuple(r for r in rows if r))
    if item.type == "group" and isinstance(value, dict):
        return Item(key, label, lines=tuple(_group_lines(item.children, value, data)))
    if isinstance(value, (list, dict)) and not item.options:
        lines = [value_text(v) for v in (value if isinstance(value, list) else value.values())]
        return Item(key, label, lines=tuple(line for line in lines if line))
    return Item(key, label, text=value_text(value, item))


def _row(children: list[Field], row: dict) -> str:
    """One row of a list: its answers in the form's order («Kontaktlærer, Skole, Demo Lærer»)."""
    named = {c.key: c for c in _named(children)}
    parts = [value_text(row.get(key), child) for key, child in named.items()]
    return ", ".join(p for p in parts if p)


def _group_lines(children: list[Field], values: dict, data: Mapping) -> list[str]:
    lines = []
    for key, child in {c.key: c for c in _named(children)}.items():
        text = value_text(values.get(key), child) if child.type not in ("group", "dynamiclist") else ""
        if child.type == "dynamiclist" and isinstance(values.get(key), list):
            text = "; ".join(r for r in (_row(child.children, r) for r in values[key] if isinstance(r, dict)) if r)
        if text:
            label = _label(child, data)
            lines.append((f"{label} {text}" if label.endswith("?") else f"{label}: {text}") if label else text)
    return lines


def _label(item: Field, data: Mapping) -> str:
    """The field's label (else its description), with any {{name}} filled in from the case."""
    text = item.label or item.description or ""
    return _PLACEHOLDER.sub(lambda m: value_text(data.get(m.group(1))) or "…", text).strip()


def keys_of(form: FormDefinition) -> set[str]:
    """The data keys a form collects at its top level (through groups without a path)."""
    return {c.key for c in _named(form.components)}


def _named(components: list[Field]) -> list[Field]:
    """Fields that hold a value under a key, at this level (a group without a path is see-through)."""
    found = []
    for c in components:
        if c.type == "group" and not c.key:
            found += _named(c.children)
        elif c.key and (c.is_input or c.is_container):
            found.append(c)
    return found


def _empty(value) -> bool:
    return value is None or value == "" or value == [] or value == {}
