"""Form-js conditions (`=x = "ja"`, `=not(y)`), translated by the one FEEL module (engine/feel.py)
and evaluated in the same sandbox as diagram expressions: all of a form's conditions at once, so the
few that need a sandbox process share one round trip.
"""
from __future__ import annotations

from ..engine import feel, sandbox


def to_python(expression: str) -> str:
    return feel.form_condition(expression)


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
        except (feel.FeelError, SyntaxError, ValueError) as error:
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
