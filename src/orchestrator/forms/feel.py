"""Form-js conditions (`=x = "ja"`, `=not(y)`), translated by the one FEEL module and run sandboxed."""
from __future__ import annotations

from ..engine import feel, sandbox


def to_python(expression: str) -> str:
    return feel.form_condition(expression)


def holds(expression: str, data: dict, known_keys=()) -> bool:
    """Evaluate a condition against data; names not in data read as None."""
    context = {key: None for key in known_keys}
    context.update(data)
    try:
        return bool(sandbox.evaluate(to_python(expression), context))
    except NameError:
        return False
