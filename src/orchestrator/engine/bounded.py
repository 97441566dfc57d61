"""Which expressions can only do a little work, so they may run in the server's own process.

Most of a diagram's expressions are comparisons of task data (`behov == "ja"`), helper calls
(`iso(subtract_days(moetetid, 14))`) and DMN cells. Sending each to a sandbox process costs a
round trip; running one in-process is safe only if nothing in it can loop, raise the process's
own exceptions, or build something much larger than the data it reads. This is a whitelist of
syntax with that property: no loops, comprehensions, lambdas, `*`, `/`, `**`, `%`, `<<`, f-strings
or string building calls; only calls whose work is bounded by their arguments' size; at most a
few `+`/`-` and names (so `x + x + …` cannot multiply a large value). Anything else runs in a
sandbox process with hard limits (engine/sandbox_pool.py).
"""
from __future__ import annotations

import ast
from functools import lru_cache

MAX_NAMES = 16  # data references in one expression
MAX_ADDITIONS = 8  # `+`/`-`: a result is at most this many times the data it reads

# Calls whose work and result are linear (or n·log n) in their arguments.
CALLS = frozenset({
    "now", "today", "iso", "to_datetime", "add_days", "subtract_days", "add_months", "days_between",
    "is_before", "timedelta", "len", "bool", "int", "float", "abs", "min", "max", "any", "all",
    "sorted",
})
# Attributes and methods that read, or copy once (`lower`), never grow.
ATTRIBUTES = frozenset({
    "get", "keys", "values", "items", "lower", "upper", "strip", "lstrip", "rstrip", "startswith",
    "endswith", "isoformat", "date", "year", "month", "day", "hour", "minute", "weekday", "days",
})
_OPERATORS = (ast.Add, ast.Sub)  # `//` of two huge integers (a script can make them) is quadratic
_UNARY = (ast.Not, ast.USub, ast.UAdd)
_PLAIN = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.Compare, ast.IfExp, ast.Subscript, ast.Slice,
          ast.Tuple, ast.List, ast.Set, ast.Dict, ast.Load, ast.cmpop, ast.keyword)


@lru_cache(maxsize=4096)
def is_bounded(expression: str) -> bool:
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    names = additions = 0
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if id(node) in called:
                if node.id not in CALLS:
                    return False
            else:
                names += 1
        elif isinstance(node, ast.Call):
            if any(isinstance(arg, ast.Starred) for arg in node.args) or any(k.arg is None for k in node.keywords):
                return False
            if not isinstance(node.func, (ast.Name, ast.Attribute)):
                return False
        elif isinstance(node, ast.Attribute):
            if node.attr not in ATTRIBUTES:
                return False
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, (str, int, float, bool, type(None))):
                return False
        elif isinstance(node, ast.BinOp):
            if not isinstance(node.op, _OPERATORS):
                return False
            additions += 1
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, _UNARY):
                return False
        elif isinstance(node, ast.operator) and isinstance(node, _OPERATORS):
            continue
        elif isinstance(node, ast.unaryop) and isinstance(node, _UNARY):
            continue
        elif isinstance(node, ast.boolop):
            continue
        elif not isinstance(node, _PLAIN):
            return False
    return names <= MAX_NAMES and additions <= MAX_ADDITIONS
