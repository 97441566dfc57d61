"""A RestrictedPython environment for every expression a diagram carries.

Script tasks, gateway conditions, timer expressions, multi-instance and DMN expressions all
run here. Imports, `open`, `eval`, underscore attributes (`().__class__...`) and
`str.format` attribute tricks are refused when the expression is compiled, with a clear
message; at run time only the guarded builtins and the documented helpers exist.

Limits, so one diagram cannot wedge a worker or a web thread (a stuck script would be retried by
every worker in turn): each run may execute at most MAX_LINES lines of its own code (a loop that
never ends), `**`, `*` and `<<` refuse results beyond MAX_INT_BITS or MAX_ITEMS, and so does
`range`. What runs inside one C call beyond that (`"x".ljust(10**9)`) is not bounded.
"""
from __future__ import annotations

import ast
import contextlib
import operator
import sys
from functools import lru_cache

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
    safer_getattr,
)
from RestrictedPython.PrintCollector import PrintCollector
from RestrictedPython.transformer import RestrictingNodeTransformer
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from .helpers import HELPERS

MAX_SOURCE_CHARS = 5000
MAX_LINES = 1_000_000  # lines of diagram code per run: far beyond any routine's script, under a second
MAX_INT_BITS = 100_000  # about 30,000 digits
MAX_ITEMS = 1_000_000  # longest string, list or range one operation may make
_FILENAMES = ("<uttrykk>", "<skript>")  # the code objects the line budget counts


class SandboxViolation(Exception):
    """An expression tried something the sandbox does not allow."""

    def __init__(self, source: str, reasons: list[str]):
        self.source = source
        self.reasons = reasons
        snippet = source if len(source) <= 80 else source[:77] + "..."
        super().__init__(f"Uttrykket «{snippet}» er ikke tillatt: {'; '.join(reasons)}")


def _no_import(name, *args, **kwargs):
    raise SandboxViolation(f"import {name}", ["import er ikke tillatt; bruk hjelpefunksjonene"])


_BUILTINS = {k: v for k, v in safe_builtins.items() if k not in {"__build_class__", "id", "hash"}}
_BUILTINS["__import__"] = _no_import


def _norwegian(number: int) -> str:
    return f"{number:,}".replace(",", " ")


def _too_big(what: str) -> SandboxViolation:
    """The operation, not its operands: printing a huge number is itself refused by Python."""
    return SandboxViolation(what, [f"resultatet blir for stort (grensen er {_norwegian(MAX_ITEMS)} elementer "
                                   f"eller {_norwegian(MAX_INT_BITS)} bits)"])


def _range(*args):
    try:
        made = range(*args)
        if len(made) <= MAX_ITEMS:
            return made
    except OverflowError:
        pass
    raise _too_big("range(…)")


def _pow(base, exponent):
    if (isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1
            and base.bit_length() * exponent > MAX_INT_BITS):
        raise _too_big("… ** …")
    return base ** exponent


def _mul(left, right):
    for sequence, times in ((left, right), (right, left)):
        if isinstance(sequence, (str, bytes, list, tuple)) and isinstance(times, int) \
                and len(sequence) * times > MAX_ITEMS:
            raise _too_big("… * …")
    if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
        raise _too_big("… * …")
    return left * right


def _lshift(value, places):
    if isinstance(value, int) and isinstance(places, int) and value and value.bit_length() + places > MAX_INT_BITS:
        raise _too_big("… << …")
    return value << places


_BUILTINS["range"] = _range
_BUILTINS.update(
    {
        "min": min, "max": max, "sum": sum, "any": any, "all": all,
        "list": list, "dict": dict, "set": set, "sorted": sorted, "enumerate": enumerate,
        "reversed": reversed, "map": map, "filter": filter,
    }
)

_INPLACE = {
    "+=": operator.iadd, "-=": operator.isub, "*=": _mul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "|=": operator.ior, "&=": operator.iand,
}


def _inplacevar(op: str, x, y):
    try:
        return _INPLACE[op](x, y)
    except KeyError:
        raise SandboxViolation(op, [f"operatoren {op} er ikke tillatt"]) from None


def _guarded_getitem(obj, key):
    return obj[key]


def _guarded_getattr(obj, name, *default):
    try:
        return safer_getattr(obj, name, *default)
    except NotImplementedError as refused:
        raise SandboxViolation(f".{name}", [str(refused)]) from None


# Names that do not exist in the sandbox; refused at compile time so the author hears why.
FORBIDDEN_NAMES = frozenset({
    "open", "exec", "eval", "compile", "globals", "locals", "vars", "dir", "getattr", "setattr",
    "delattr", "hasattr", "input", "breakpoint", "help", "exit", "quit", "memoryview", "type",
    "object", "super", "classmethod", "staticmethod", "property",
})


REFUSED_ATTRIBUTES = frozenset({"format", "format_map"})

_GUARDS = {
    "__builtins__": _BUILTINS,
    "_getattr_": _guarded_getattr,
    "_getitem_": _guarded_getitem,
    "_getiter_": iter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": _inplacevar,
    "_print_": PrintCollector,
    "_apply_": lambda f, *a, **kw: f(*a, **kw),
    "_pow_": _pow,
    "_mul_": _mul,
    "_lshift_": _lshift,
}
_INJECTED = frozenset(_GUARDS) | frozenset(HELPERS)


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's checks, and `**`, `*`, `<<` through guards that refuse huge results."""

    GUARDED = {ast.Pow: "_pow_", ast.Mult: "_mul_", ast.LShift: "_lshift_"}

    def visit_BinOp(self, node: ast.BinOp):
        node = super().visit_BinOp(node)
        guard = self.GUARDED.get(type(node.op))
        if guard is None:
            return node
        call = ast.Call(func=ast.Name(guard, ast.Load()), args=[node.left, node.right], keywords=[])
        return ast.fix_missing_locations(ast.copy_location(call, node))


@contextlib.contextmanager
def _line_budget(source: str):
    """At most MAX_LINES lines of the diagram's own code in this run (per thread: sys.settrace)."""
    lines = 0

    def count(frame, event, arg):
        nonlocal lines
        if event == "line":
            lines += 1
            if lines > MAX_LINES:
                raise SandboxViolation(source, [f"kjørte mer enn {_norwegian(MAX_LINES)} linjer; "
                                                "finnes det en løkke som aldri slutter?"])
        return count

    def on_call(frame, event, arg):
        return count if frame.f_code.co_filename in _FILENAMES else None

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        yield
    finally:
        sys.settrace(previous)


def _check_length(source: str) -> None:
    if len(source) > MAX_SOURCE_CHARS:
        raise SandboxViolation(source, [f"lengre enn {MAX_SOURCE_CHARS} tegn"])


@lru_cache(maxsize=4096)
def compile_expression(source: str):
    _check_length(source)
    return _checked(source, compile_restricted_eval(source.strip(), filename="<uttrykk>", policy=_Policy))


@lru_cache(maxsize=1024)
def compile_script(source: str):
    _check_length(source)
    return _checked(source, compile_restricted_exec(source, filename="<skript>", policy=_Policy))


def _checked(source: str, result):
    if result.errors or result.code is None:
        raise SandboxViolation(source, list(result.errors) or ["kunne ikke kompileres"])
    tree = ast.parse(source.strip())
    if any(isinstance(node, (ast.Import, ast.ImportFrom)) for node in ast.walk(tree)):
        raise SandboxViolation(source, ["import er ikke tillatt; bruk hjelpefunksjonene"])
    # refused at run time by the attribute guard; said at compile time so deploy refuses it too
    formats = sorted({n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr in REFUSED_ATTRIBUTES})
    if formats:
        raise SandboxViolation(source, [f"«.{name}(…)» er ikke tillatt; sett sammen tekst med + eller str()"
                                        for name in formats])
    forbidden = sorted(FORBIDDEN_NAMES & set(result.used_names))
    if forbidden:
        raise SandboxViolation(source, [f"«{name}» er ikke tilgjengelig i uttrykk" for name in forbidden])
    return result.code


def _globals(external_context: dict | None) -> dict:
    scope = dict(_GUARDS)
    scope.update(HELPERS)
    if external_context:
        scope.update(external_context)
    return scope


def evaluate(expression: str, context: dict, external_context: dict | None = None):
    """Evaluate one expression against task data, in the sandbox."""
    scope = _globals(external_context)
    scope.update(context)
    code = compile_expression(expression)
    with _line_budget(expression):
        return eval(code, scope)  # noqa: S307 - restricted code


def execute(script: str, context: dict, external_context: dict | None = None) -> None:
    """Run a script task's code; its assignments become task data."""
    clashes = (set(HELPERS) | set(external_context or {})) & set(context)
    if clashes:
        raise SandboxViolation(script, [f"data-feltet {', '.join(sorted(clashes))} har samme navn som en hjelpefunksjon"])
    code = compile_script(script)
    injected = _globals(external_context)
    context.update(injected)
    try:
        with _line_budget(script):
            exec(code, context)  # noqa: S102 - restricted code
    finally:
        for key in list(context):
            value = context[key]
            if key in _INJECTED or key in (external_context or {}) or callable(value) or key.startswith("_"):
                context.pop(key, None)


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """Plugs the sandbox into SpiffWorkflow's script engine."""

    def evaluate(self, expression, context, external_context=None):
        return evaluate(expression, context, external_context)

    def execute(self, script, context, external_context=None):
        execute(script, context, external_context)
        return True

    def call_service(self, context, **kwargs):
        raise SandboxViolation("serviceTask", ["tjenesteoppgaver kalles ikke fra diagrammer"])


class SandboxScriptEngine(PythonScriptEngine):
    def __init__(self):
        super().__init__(environment=SandboxEnvironment())

    def validate(self, expression):
        # DMN's "needs ==" probe calls this with a SyntaxError contract.
        result = compile_restricted_eval(expression.strip())
        if result.errors:
            raise SyntaxError("; ".join(result.errors))


SCRIPT_ENGINE = SandboxScriptEngine()
