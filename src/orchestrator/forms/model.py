"""Form definitions in bpmn.io form-js JSON (the `.form` files in `forms/`).

Process owners edit them in the form-js editor or by hand; docs/forms.md lists the component
types and validation rules the orchestrator reads. Parsing is strict: an unknown component
type or a field without a key is an error that names the component.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from .. import jsonlimits
from ..engine import feel, sandbox

MAX_FORM_BYTES = 512 * 1024

INPUT_TYPES = {
    "textfield", "textarea", "number", "datetime", "checkbox", "checklist", "radio", "select",
    "taglist",
}
CONTAINER_TYPES = {"group", "dynamiclist"}
STATIC_TYPES = {"text", "separator", "spacer", "html"}


class FormError(Exception):
    def __init__(self, message: str, component: str | None = None):
        self.component = component
        super().__init__(message)


@dataclass
class Field:
    type: str
    key: str | None = None  # the data key (or path for containers), relative to the parent
    label: str | None = None
    description: str | None = None
    text: str | None = None
    required: bool = False
    min_length: int | None = None
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    validation_type: str | None = None  # email | phone
    options: list[tuple[str, str]] | None = None  # (value, label)
    subtype: str | None = None  # datetime: date | time | datetime
    decimal_digits: int | None = None
    readonly: bool = False
    hide_if: str | None = None
    default: object = None
    properties: dict[str, str] = field(default_factory=dict)
    children: list["Field"] = field(default_factory=list)
    id: str | None = None

    @property
    def is_input(self) -> bool:
        return self.type in INPUT_TYPES

    @property
    def is_container(self) -> bool:
        return self.type in CONTAINER_TYPES

    @property
    def is_list(self) -> bool:
        return self.type in ("checklist", "taglist")


@dataclass
class FormDefinition:
    key: str
    title: str | None
    components: list[Field]

    def inputs(self) -> list[Field]:
        """Top-level and nested input fields, depth first."""
        found = []

        def walk(items):
            for item in items:
                if item.is_input:
                    found.append(item)
                walk(item.children)

        walk(self.components)
        return found

    def keys(self) -> set[str]:
        return {c.key for c in self.components if (c.is_input or c.is_container) and c.key}


def parse_form(key: str, content: bytes) -> FormDefinition:
    if len(content) > MAX_FORM_BYTES:
        raise FormError(f"skjemaet er større enn {MAX_FORM_BYTES // 1024} KiB")
    if jsonlimits.too_deep(content):
        raise FormError(f"ugyldig JSON: {jsonlimits.depth_message()}")
    try:
        document = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FormError(f"ugyldig JSON: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("components"), list):
        raise FormError("et skjema må være et JSON-objekt med «components» (form-js-format)")
    components = [_component(c, i) for i, c in enumerate(document["components"])]
    _check_unique_keys(components)
    return FormDefinition(key=key, title=document.get("title") or document.get("name"), components=components)


def _component(raw, index: int) -> Field:
    if not isinstance(raw, dict) or "type" not in raw:
        raise FormError(f"komponent nr. {index + 1} mangler «type»")
    kind = raw["type"]
    name = raw.get("key") or raw.get("path") or raw.get("id") or f"nr. {index + 1}"
    if kind not in INPUT_TYPES | CONTAINER_TYPES | STATIC_TYPES:
        raise FormError(f"komponenttypen «{kind}» støttes ikke", name)
    validate = raw.get("validate") or {}
    item = Field(
        type=kind,
        id=raw.get("id"),
        label=raw.get("label") or raw.get("dateLabel"),
        description=raw.get("description"),
        text=raw.get("text") or raw.get("content"),
        required=bool(validate.get("required")),
        min_length=_int(validate.get("minLength")),
        max_length=_int(validate.get("maxLength")),
        minimum=_num(validate.get("min")),
        maximum=_num(validate.get("max")),
        pattern=validate.get("pattern") or None,
        validation_type=validate.get("validationType") or None,
        subtype=raw.get("subtype"),
        decimal_digits=_int(raw.get("decimalDigits")),
        readonly=bool(raw.get("readonly") or raw.get("disabled")),
        hide_if=_hide_condition(raw.get("conditional"), name),
        default=raw.get("defaultValue"),
        properties={str(k): str(v) for k, v in (raw.get("properties") or {}).items()},
    )
    if kind in INPUT_TYPES:
        if not raw.get("key"):
            raise FormError("feltet mangler «key»", name)
        item.key = raw["key"]
        if kind == "datetime" and item.subtype not in ("date", "time", "datetime"):
            item.subtype = "datetime"
    if kind in ("radio", "select", "checklist", "taglist"):
        values = raw.get("values")
        if not isinstance(values, list) or not values:
            raise FormError("valgfeltet mangler «values» (faste valg)", name)
        item.options = [(str(v.get("value")), str(v.get("label", v.get("value")))) for v in values]
    if kind in CONTAINER_TYPES:
        item.key = raw.get("path") or None
        if kind == "dynamiclist" and not item.key:
            raise FormError("listen mangler «path»", name)
        item.children = [_component(c, i) for i, c in enumerate(raw.get("components") or [])]
        _check_unique_keys(item.children)
    return item


def _check_unique_keys(components: list[Field]) -> None:
    seen = set()
    for component in components:
        if component.key and (component.is_input or component.is_container):
            if component.key in seen:
                raise FormError(f"nøkkelen «{component.key}» er brukt to ganger", component.key)
            seen.add(component.key)


def _hide_condition(conditional, name: str) -> str | None:
    """The FEEL condition that hides a component, checked now so deploy refuses what cannot run."""
    if not (isinstance(conditional, dict) and isinstance(conditional.get("hide"), str)):
        return None
    condition = conditional["hide"]
    try:
        sandbox.compile_expression(feel.form_condition(condition))
    except feel.FeelError as error:
        raise FormError(f"vilkåret for å skjule: {error}", name) from None
    except sandbox.SandboxViolation as error:
        raise FormError(f"vilkåret for å skjule: {error}", name) from None
    return condition


def _int(value) -> int | None:
    return int(value) if value not in (None, "") else None


def _num(value) -> float | None:
    return float(value) if value not in (None, "") else None
