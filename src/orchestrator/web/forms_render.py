"""form-js forms as HTML, and submitted HTML forms back into the data the form validates.

Names of inputs follow the data's shape with dots, the same paths the validator's errors use,
so an error lands on its field: `begrunnelse`, `kontakt.navn` (a group with `path`),
`medlemmer.0.navn` (row 0 of a `dynamiclist`). Readonly and conditionally hidden fields are
not read back (the validator would refuse them as unknown).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict

from ..forms.dates import DAY_FORMAT, MOMENT_FORMAT, parse_day, parse_moment, show_day, show_moment
from ..forms.model import Field, FormDefinition
from ..forms.schema import visible_components
from .formatting import to_oslo, value_text

MAX_ROWS = 100
STATIC_TYPES = {"text", "separator", "spacer", "html"}
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")
_HAS_OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


@dataclass
class FormView:
    """What the template macros need to draw one form."""

    form: FormDefinition
    values: dict
    errors: dict[str, list[str]] = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    disabled: bool = False

    @property
    def hidden_keys(self) -> set[str]:
        return hidden_keys(self.form, {**self.data, **self.values})

    def is_hidden(self, component: Field) -> bool:
        keys = set(_keys_of(component))
        return bool(keys) and keys <= self.hidden_keys

    def errors_for(self, name: str) -> list[str]:
        return self.errors.get(name, [])

    def known_names(self) -> set[str]:
        names: set[str] = set()

        def walk(components, prefix, values):
            for c in components:
                if c.type == "group":
                    inner = name_of(prefix, c.key) if c.key else prefix
                    if c.key:
                        names.add(inner)
                    walk(c.children, inner, values)
                elif c.type == "dynamiclist":
                    base = name_of(prefix, c.key)
                    names.add(base)
                    for i in range(MAX_ROWS):
                        walk(c.children, f"{base}.{i}", values)
                elif c.key:
                    names.add(name_of(prefix, c.key))

        walk(self.form.components, "", self.values)
        return names

    def summary(self) -> list[tuple[str, str, str]]:
        """(anchor id or "", label, message) for the error summary at the top of the form."""
        labels = _labels(self.form.components, "")
        out = []
        for name, messages in self.errors.items():
            label, anchor = _label_for(name, labels)
            for message in messages:
                out.append((anchor, label, message))
        return out


def name_of(prefix: str, key: str | None) -> str:
    if not key:
        return prefix
    return f"{prefix}.{key}" if prefix else key


def field_id(name: str) -> str:
    return "f-" + re.sub(r"[^A-Za-z0-9_-]", "-", name)


def value_at(values, key: str | None):
    if not key or not isinstance(values, dict):
        return None
    return values.get(key)


def group_values(values, component: Field) -> dict:
    if component.key:
        inner = value_at(values, component.key)
        return inner if isinstance(inner, dict) else {}
    return values if isinstance(values, dict) else {}


def list_rows(values, component: Field) -> list[dict]:
    rows = value_at(values, component.key)
    return [r if isinstance(r, dict) else {} for r in rows][:MAX_ROWS] if isinstance(rows, list) else []


def input_value(component: Field, value) -> str:
    """A stored value as the HTML input shows it."""
    if value is None:
        value = component.default
    if value is None:
        return ""
    if component.type == "datetime" and isinstance(value, str):
        return _date_input(component.subtype, value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, dict)):
        return ""
    return str(value)


def _date_input(subtype: str | None, value: str) -> str:
    """Stored ISO as typed on the page: dd.mm.åååå (and tt:mm); what cannot be read stays as typed."""
    if subtype == "time" or not _ISO_DATE.match(value):
        return value
    try:
        if subtype == "date":
            return show_day(parse_day(value))
        moment = to_oslo(value) if _HAS_OFFSET.search(value) else parse_moment(value)
        return show_moment(moment) if moment else value
    except ValueError:
        return value


def selected(component: Field, value) -> set[str]:
    if value is None:
        value = component.default
    if value is None:
        return set()
    if isinstance(value, list):
        return {str(v) for v in value}
    return {str(value)}


def is_checked(component: Field, value) -> bool:
    if value is None:
        value = component.default
    return value is True or str(value).lower() in ("true", "on", "ja", "1")


def render_text(text: str | None, data: dict) -> Markup:
    """form-js `text` (markdown) with `{{ key }}` values, as safe HTML: headings, lists, bold."""
    if not text:
        return Markup("")

    def substitute(match) -> str:
        value = data
        for part in match.group(1).split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value_text(value) if value is not None else ""

    blocks, items = [], []

    def flush_list():
        if items:
            blocks.append(Markup("<ul>") + Markup("").join(Markup("<li>%s</li>") % _inline(i) for i in items)
                          + Markup("</ul>"))
            items.clear()

    paragraph: list[str] = []

    def flush_paragraph():
        if paragraph:
            blocks.append(Markup("<p>%s</p>") % _inline(" ".join(paragraph)))
            paragraph.clear()

    for raw in _PLACEHOLDER.sub(substitute, text).splitlines():
        line = raw.strip()
        heading = re.match(r"^(#{1,6})\s+(.*)$", line)
        if not line:
            flush_paragraph()
            flush_list()
        elif heading:
            flush_paragraph()
            flush_list()
            level = min(len(heading.group(1)) + 2, 6)
            blocks.append(Markup(f"<h{level}>") + _inline(heading.group(2)) + Markup(f"</h{level}>"))
        elif re.match(r"^[-*]\s+", line):
            flush_paragraph()
            items.append(re.sub(r"^[-*]\s+", "", line))
        else:
            flush_list()
            paragraph.append(line)
    flush_paragraph()
    flush_list()
    return Markup("").join(blocks)


SOURCE_PREFIX = "Kilde:"


def split_source(text: str | None) -> tuple[str, str | None]:
    """Guidance and its last line `Kilde: …` (the routine document it rests on), shown apart."""
    lines = (text or "").rstrip().splitlines()
    if lines and lines[-1].strip().startswith(SOURCE_PREFIX):
        return "\n".join(lines[:-1]).rstrip(), lines[-1].strip()
    return text or "", None


def _inline(text: str) -> Markup:
    escaped = str(escape(text))
    escaped = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)
    escaped = re.sub(r"(?<![*\w])\*(?!\s)(.+?)(?<!\s)\*(?![*\w])", r"<em>\1</em>", escaped)
    return Markup(escaped)


# --- reading a submitted HTML form --------------------------------------------------------


def parse_submission(form: FormDefinition, formdata: MultiDict, context: dict | None = None) -> dict:
    """The nested dict `forms.schema.validate_submission` expects, from the posted fields."""
    values = _read(form.components, formdata, "")
    for key in hidden_keys(form, {**(context or {}), **values}):
        values.pop(key, None)
    return values


def hidden_keys(form: FormDefinition, data: dict) -> set[str]:
    """Top-level data keys whose component is hidden by its `conditional.hide` for this data."""
    shown = {id(c) for c in visible_components(form, data)}
    hidden: set[str] = set()
    for component in form.components:
        if id(component) not in shown:
            hidden.update(_keys_of(component))
    return hidden


def _keys_of(component: Field) -> list[str]:
    if component.type in STATIC_TYPES:
        return []
    if component.type == "group" and not component.key:
        return [k for child in component.children for k in _keys_of(child)]
    return [component.key] if component.key else []


def _read(components: list[Field], formdata: MultiDict, prefix: str) -> dict:
    out: dict = {}
    for c in components:
        if c.type in STATIC_TYPES or c.readonly:
            continue
        name = name_of(prefix, c.key)
        if c.type == "group":
            inner = _read(c.children, formdata, name)
            if c.key:
                out[c.key] = inner
            else:
                out.update(inner)
        elif c.type == "dynamiclist":
            pattern = re.compile(re.escape(name) + r"\.(\d{1,4})\.")
            indices = sorted({int(m.group(1)) for k in formdata.keys() if (m := pattern.match(k))})
            rows = [_read(c.children, formdata, f"{name}.{i}") for i in indices[:MAX_ROWS]]
            out[c.key] = [row for row in rows if not _blank(row)]
        elif c.type == "checkbox":
            out[c.key] = formdata.get(name) in ("on", "true", "ja", "1")
        elif c.is_list:
            out[c.key] = formdata.getlist(name)
        elif name in formdata:
            value = formdata.get(name)
            if c.type == "number" and value:
                value = value.replace("\u00a0", "").replace(" ", "").replace(",", ".")
            out[c.key] = value
    return out


def _blank(value) -> bool:
    """An untouched row: no text, no choices, no ticked boxes."""
    if isinstance(value, dict):
        return all(_blank(v) for v in value.values())
    if isinstance(value, list):
        return all(_blank(v) for v in value)
    if isinstance(value, str):
        return not value.strip()
    return value is None or value is False


def _labels(components: list[Field], prefix: str) -> dict[str, str]:
    labels = {}
    for c in components:
        name = name_of(prefix, c.key)
        if c.type == "group":
            labels.update(_labels(c.children, name if c.key else prefix))
            if c.key:
                labels[name] = c.label or c.key
        elif c.type == "dynamiclist":
            labels[name] = c.label or c.key
            for child_name, label in _labels(c.children, "").items():
                labels[f"{name}.*.{child_name}"] = f"{c.label or c.key}: {label}"
        elif c.key:
            labels[name] = c.label or c.key
    return labels


def _label_for(name: str, labels: dict[str, str]) -> tuple[str, str]:
    if name in labels:
        return labels[name], field_id(name)
    generic = re.sub(r"\.(\d+)\.", ".*.", name)
    if generic in labels:
        row = re.search(r"\.(\d+)\.", name)
        return f"{labels[generic]} (rad {int(row.group(1)) + 1})", field_id(name)
    if name == "_schema":
        return "Skjemaet", ""
    return name, ""


def jinja_helpers() -> dict:
    return {
        "field_name": name_of, "field_id": field_id, "value_at": value_at, "group_values": group_values,
        "list_rows": list_rows, "input_value": input_value, "selected": selected, "is_checked": is_checked,
        "render_text": render_text, "split_source": split_source, "date_format": date_format,
    }


def date_format(component: Field) -> str | None:
    """How a date field is typed on the page (shown beside it), None for other fields."""
    if component.type != "datetime" or component.subtype == "time":
        return None
    return DAY_FORMAT if component.subtype == "date" else MOMENT_FORMAT
