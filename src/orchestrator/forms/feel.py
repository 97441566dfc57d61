"""The small part of FEEL that form-js conditions use (`=x = "ja"`, `=not(y)`), run as Python.

Translated token by token, then evaluated in the same sandbox as diagram expressions: all of a
form's conditions at once, so the few that need a sandbox process share one round trip.
"""
from __future__ import annotations

import io
import tokenize
from functools import lru_cache

from ..engine import sandbox

_NAMES = {"true": "True", "false": "False", "null": "None", "count": "len"}


@lru_cache(maxsize=1024)
def to_python(expression: str) -> str:
    text = expression.strip()
    if text.startswith("="):
        text = text[1:]
    tokens = []
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        kind, value = token.type, token.string
        if kind == tokenize.OP and value == "=":
            value = "=="
        elif kind == tokenize.NAME:
            value = _NAMES.get(value, value)
        tokens.append((kind, value))
    return tokenize.untokenize(tokens).strip()


class ConditionFailed(Exception):
    """A condition could not be evaluated; the form's author must correct it."""

    def __init__(self, label: str, error: Exception):
        self.label = label
        self.message = f"Vilkåret som skjuler «{label}» i skjemaet kunne ikke vurderes: {error}"
        super().__init__(self.message)


def holds(expression: str, data: dict, known_keys=()) -> bool:
    """Evaluate a condition against data; names not in data read as None."""
    return holds_all([(expression, expression)], data, known_keys)[0]


def holds_all(conditions: list[tuple[str, str]], data: dict, known_keys=()) -> list[bool]:
    """(label, condition) pairs against data, in one go; a failing one raises ConditionFailed."""
    context = {key: None for key in known_keys}
    context.update(data)
    translated = []
    for label, expression in conditions:
        try:
            translated.append(to_python(expression))
        except (tokenize.TokenError, SyntaxError, ValueError) as error:
            raise ConditionFailed(label, error) from None
    results = []
    for (label, _), outcome in zip(conditions, sandbox.evaluate_many(translated, context)):
        if isinstance(outcome, NameError):
            results.append(False)
        elif isinstance(outcome, Exception):
            raise ConditionFailed(label, outcome) from outcome
        else:
            results.append(bool(outcome))
    return results
