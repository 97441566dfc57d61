"""URL parts with bounds, so nothing odd (huge numbers, NUL bytes, slashes) reaches a query."""
from __future__ import annotations

from werkzeug.routing import BaseConverter, IntegerConverter

MAX_ID = 2_147_483_647  # PostgreSQL integer


class IdConverter(IntegerConverter):
    """A positive database id that fits a 32-bit integer; anything else is a 404 by routing."""

    regex = r"\d{1,10}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= MAX_ID:
            from werkzeug.routing import ValidationError

            raise ValidationError()
        return number


class KeyConverter(BaseConverter):
    """A deployed key (process id, decision id, form name) or a message name."""

    regex = r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}"


class TaskIdConverter(BaseConverter):
    regex = r"[0-9a-fA-F\-]{1,36}"


class MessageNameConverter(BaseConverter):
    """Message names may contain spaces and letters like æøå; never a slash or control character."""

    regex = r"[^/\x00-\x1f\x7f]{1,200}"


class CaseConverter(BaseConverter):
    """A business key (saksnummer) as services/validation.py allows it, slashes included (9999/0007)."""

    regex = r"[A-Za-z0-9ÆØÅæøå._/\-]{1,100}?"


def register_converters(app) -> None:
    app.url_map.converters.update(id=IdConverter, key=KeyConverter, task=TaskIdConverter, message=MessageNameConverter,
                                  case=CaseConverter)
