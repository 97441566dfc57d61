"""A RestrictedPython environment for every expression a diagram carries.

Script tasks, gateway conditions, timer expressions, multi-instance and DMN expressions all
run here. Imports, `open`, `eval`, underscore attributes (`().__class__...`) and
`str.format` attribute tricks are refused when the expression is compiled, with a clear
message; at run time only the guarded builtins and the documented helpers exist.
Resource exhaustion (`10**10**10`) is not prevented: only process owners deploy.
"""
from __future__ import annotations

import ast
import operator
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
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from .helpers import HELPERS

MAX_SOURCE_CHARS = 5000


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
_BUILTINS.update(
    {
        "min": min, "max": max, "sum": sum, "any": any, "all": all,
        "list": list, "dict": dict, "set": set, "sorted": sorted, "enumerate": enumerate,
        "reversed": reversed, "map": map, "filter": filter,
    }
)

_INPLACE = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
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
}
_INJECTED = frozenset(_GUARDS) | frozenset(HELPERS)


def _check_length(source: str) -> None:
    if len(source) > MAX_SOURCE_CHARS:
        raise SandboxViolation(source, [f"lengre enn {MAX_SOURCE_CHARS} tegn"])


@lru_cache(maxsize=4096)
def compile_expression(source: str):
    _check_length(source)
    return _checked(source, compile_restricted_eval(source.strip(), filename="<uttrykk>"))


@lru_cache(maxsize=1024)
def compile_script(source: str):
    _check_length(source)
    return _checked(source, compile_restricted_exec(source, filename="<skript>"))


def _checked(source: str, result):
    if result.errors or result.code is None:
        raise SandboxViolation(source, list(result.errors) or ["kunne ikke kompileres"])
    if any(isinstance(node, (ast.Import, ast.ImportFrom)) for node in ast.walk(ast.parse(source.strip()))):
        raise SandboxViolation(source, ["import er ikke tillatt; bruk hjelpefunksjonene"])
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
    return eval(compile_expression(expression), scope)  # noqa: S307 - restricted code


def execute(script: str, context: dict, external_context: dict | None = None) -> None:
    """Run a script task's code; its assignments become task data."""
    clashes = (set(HELPERS) | set(external_context or {})) & set(context)
    if clashes:
        raise SandboxViolation(script, [f"data-feltet {', '.join(sorted(clashes))} har samme navn som en hjelpefunksjon"])
    code = compile_script(script)
    injected = _globals(external_context)
    context.update(injected)
    try:
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
