"""Server-side validation of a submission: a marshmallow schema built from the form definition.

Everything that reaches task data passes here: unknown keys are refused, empty strings count
as missing, hidden fields (form-js `conditional.hide`) are dropped, dates become ISO strings.
Messages are Norwegian and keyed by field path, so pages and the API show them in place.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from ..clock import OSLO
from . import feel
from .model import Field, FormDefinition

MESSAGES = {
    "required": "Feltet må fylles ut.",
    "null": "Feltet må fylles ut.",
    "invalid": "Ugyldig verdi.",
    "unknown": "Ukjent felt.",
}
TICK = "Feltet må krysses av."
PHONE = re.compile(r"^\+?[0-9 ]{8,15}$")


class FormInvalid(Exception):
    """`errors` per field path; `valid_data`: the fields that did pass, so the form's rules can still
    check them and every error of a submission is answered at once."""

    def __init__(self, errors: dict[str, list[str]], valid_data: dict | None = None):
        self.errors = errors
        self.valid_data = valid_data or {}
        super().__init__("Skjemaet har feil")


class FormConditionFailed(FormInvalid):
    """A `conditional.hide` failed: the form cannot be shown or checked until its author fixes it."""

    def __init__(self, message: str):
        super().__init__({"_schema": [message]})
        self.message = message
        self.args = (message,)


class IsoDate(fields.Field):
    default_error_messages = {"invalid": "Ugyldig dato (bruk ÅÅÅÅ-MM-DD)."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, date) and not isinstance(value, datetime):
            return value.isoformat()
        try:
            return date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise self.make_error("invalid") from None


class IsoDateTime(fields.Field):
    """`2027-03-01T10:00` (read as Norwegian time) or with an offset; stored with an offset."""

    default_error_messages = {"invalid": "Ugyldig tidspunkt (bruk ÅÅÅÅ-MM-DD TT:MM)."}

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise self.make_error("invalid") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=OSLO)
        return moment.isoformat()


class IsoTime(fields.Field):
    default_error_messages = {"invalid": "Ugyldig klokkeslett (bruk TT:MM)."}

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return time.fromisoformat(str(value)).strftime("%H:%M")
        except ValueError:
            raise self.make_error("invalid") from None


class Flag(fields.Boolean):
    truthy = fields.Boolean.truthy | {"ja", "Ja", "on"}
    falsy = fields.Boolean.falsy | {"nei", "Nei", "off"}


def validate_submission(form: FormDefinition, submitted: dict, context: dict | None = None) -> dict:
    """Clean and validate `submitted`; return typed data or raise FormInvalid."""
    if not isinstance(submitted, dict):
        raise FormInvalid({"_schema": ["Innsendingen må være et objekt med feltverdier."]})
    cleaned = _clean(submitted)
    visible = _visible(form.components, {**(context or {}), **cleaned}, known=_all_keys(form.components))
    # what a hidden field holds is not an answer: drop it rather than refuse the submission
    hidden = set(_answerable_keys(form.components)) - set(_answerable_keys(visible))
    cleaned = {k: v for k, v in cleaned.items() if k not in hidden}
    schema = _cached_schema(form, visible)
    try:
        loaded = schema.load(cleaned)
    except ValidationError as error:
        valid = error.valid_data if isinstance(error.valid_data, dict) else {}
        raise FormInvalid(flatten_errors(error.normalized_messages()), valid) from None
    # Every field of the form ends up with a value, so conditions and payloads can rely on the
    # name: a visible field left empty is None; a hidden one keeps what the case already holds
    # (a form may show a field only to change it, e.g. a moved meeting's time) or becomes None.
    for key in _answerable_keys(visible):
        loaded.setdefault(key, None)
    for key in hidden:
        if key not in (context or {}):
            loaded.setdefault(key, None)
    return loaded


def _answerable_keys(components: list[Field]):
    for component in components:
        if component.readonly:
            continue
        if component.type == "group" and not component.key:
            yield from _answerable_keys(component.children)
        elif (component.is_input or component.is_container) and component.key:
            yield component.key


def visible_components(form: FormDefinition, data: dict) -> list[Field]:
    return _visible(form.components, data, known=_all_keys(form.components))


def _all_keys(components) -> set[str]:
    keys = set()
    for c in components:
        if c.key:
            keys.add(c.key)
        keys |= _all_keys(c.children)
    return keys


def _visible(components: list[Field], data: dict, known: set[str]) -> list[Field]:
    conditional = [c for c in components if c.hide_if]
    try:
        hidden = feel.holds_all([(c.label or c.key or c.type, c.hide_if) for c in conditional], data, known)
    except feel.ConditionFailed as failed:
        raise FormConditionFailed(failed.message) from failed
    hidden_ids = {id(c) for c, hide in zip(conditional, hidden) if hide}
    return [c for c in components if id(c) not in hidden_ids]


def _cached_schema(form: FormDefinition, visible: list[Field]) -> Schema:
    """One schema per form version and set of visible components (built once, reused)."""
    cache = form.__dict__.setdefault("_schemas", {})
    key = tuple(id(c) for c in visible)  # the form's own components: stable while the form lives
    schema = cache.get(key)
    if schema is None:
        schema = cache[key] = _schema_for(visible)
    return schema


def _schema_for(components: list[Field]) -> Schema:
    declared: dict[str, fields.Field] = {}
    for component in components:
        if component.readonly:
            continue
        if component.type == "group":
            inner = _schema_for(component.children)
            if component.key:
                declared[component.key] = fields.Nested(inner, required=False, error_messages=MESSAGES)
            else:
                declared.update(inner.fields)
        elif component.type == "dynamiclist":
            row = _schema_for(component.children)
            one_row = "Legg til minst én rad."
            rules = [validate.Length(min=1, error=one_row)] if component.required else []
            declared[component.key] = fields.List(
                fields.Nested(row), required=component.required, validate=rules,
                error_messages={**MESSAGES, "required": one_row, "null": one_row},
            )
        elif component.is_input:
            declared[component.key] = _field(component)
    schema = Schema.from_dict(declared)(unknown=RAISE)
    schema.error_messages = {**schema.error_messages, "unknown": MESSAGES["unknown"]}
    return schema


def _field(c: Field) -> fields.Field:
    rules = []
    kwargs = {"required": c.required, "error_messages": {"required": MESSAGES["required"], "null": MESSAGES["null"]}}
    if c.type in ("textfield", "textarea"):
        if c.min_length is not None or c.max_length is not None:
            rules.append(validate.Length(min=c.min_length, max=c.max_length, error=_length_message(c)))
        if c.pattern:
            rules.append(validate.Regexp(c.pattern, error="Verdien har feil format."))
        if c.validation_type == "email":
            rules.append(validate.Email(error="Ugyldig e-postadresse."))
        if c.validation_type == "phone":
            rules.append(validate.Regexp(PHONE, error="Ugyldig telefonnummer."))
        kwargs["error_messages"]["invalid"] = "Skriv tekst."
        return fields.String(validate=rules, **kwargs)
    if c.type == "number":
        if c.minimum is not None or c.maximum is not None:
            rules.append(validate.Range(min=c.minimum, max=c.maximum, error=_range_message(c)))
        kwargs["error_messages"]["invalid"] = "Skriv et tall."
        if c.decimal_digits == 0:
            return fields.Integer(validate=rules, strict=False, **kwargs)
        return fields.Float(validate=rules, **kwargs)
    if c.type == "checkbox":
        kwargs["error_messages"]["invalid"] = "Velg ja eller nei."
        if c.required:  # form-js: a required checkbox must be ticked, not merely answered
            rules.append(validate.Equal(True, error=TICK))
        return Flag(validate=rules, **kwargs)
    if c.type in ("radio", "select"):
        return fields.String(validate=[validate.OneOf([v for v, _ in c.options], error="Velg et av valgene.")], **kwargs)
    if c.type in ("checklist", "taglist"):
        choice = fields.String(validate=validate.OneOf([v for v, _ in c.options], error="Velg et av valgene."))
        if c.required:
            rules.append(validate.Length(min=1, error="Velg minst ett."))
        return fields.List(choice, validate=rules, **kwargs)
    if c.type == "datetime":
        kind = {"date": IsoDate, "time": IsoTime}.get(c.subtype, IsoDateTime)
        return kind(**kwargs)
    raise AssertionError(c.type)


def _length_message(c: Field) -> str:
    if c.min_length and c.max_length:
        return f"Skriv mellom {c.min_length} og {c.max_length} tegn."
    if c.min_length:
        return f"Skriv minst {c.min_length} tegn."
    return f"Skriv høyst {c.max_length} tegn."


def _range_message(c: Field) -> str:
    fmt = lambda v: int(v) if float(v).is_integer() else v  # noqa: E731
    if c.minimum is not None and c.maximum is not None:
        return f"Verdien må være mellom {fmt(c.minimum)} og {fmt(c.maximum)}."
    if c.minimum is not None:
        return f"Verdien må være minst {fmt(c.minimum)}."
    return f"Verdien kan være høyst {fmt(c.maximum)}."


def _clean(value):
    """Strip text, treat empty strings as missing, drop empty rows."""
    if isinstance(value, str):
        stripped = value.strip()
        return stripped if stripped else None
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            item = _clean(item)
            if item is not None and item != {}:
                out[key] = item
        return out
    if isinstance(value, list):
        items = [_clean(item) for item in value]
        return [item for item in items if item is not None and item != {}]
    return value


def flatten_errors(messages, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested errors -> {"medlemmer.0.navn": [...]} (forms and API bodies alike)."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, list):
        flat[prefix or "_schema"] = [str(m) for m in messages]
        return flat
    for key, value in messages.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, (dict, list)) and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            flat.update(flatten_errors(value, path))
        else:
            flat[path] = [str(m) for m in (value if isinstance(value, list) else [value])]
    return flat
