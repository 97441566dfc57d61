"""The small part of FEEL that form-js conditions use (`=x = "ja"`, `=not(y)`), run as Python.

Translated token by token, then evaluated in the same sandbox as diagram expressions.
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


def holds(expression: str, data: dict, known_keys=()) -> bool:
    """Evaluate a condition against data; names not in data read as None."""
    context = {key: None for key in known_keys}
    context.update(data)
    try:
        return bool(sandbox.evaluate(to_python(expression), context))
    except NameError:
        return False
