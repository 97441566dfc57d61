"""A RestrictedPython environment for every expression a diagram carries.

Script tasks, gateway conditions, timer expressions, multi-instance and DMN expressions all
run here. Imports, `open`, `eval`, underscore attributes (`().__class__...`) and
`str.format` attribute tricks are refused when the expression is compiled, with a clear
message; at run time only the guarded builtins and the documented helpers exist.

Where it runs (decisions/0012): an expression that can only do a little work (engine/bounded.py)
runs here, in-process; scripts and every other expression run in a sandbox process
(engine/sandbox_pool.py) whose CPU time, wall time and memory the kernel bounds, and whose reply
is refused if it carries more than the data limit. In both places each run may execute at most
MAX_LINES lines of its own code (a loop that never ends gets a clear message before the CPU limit
does), and `**`, `pow`, `*` and `<<` refuse results beyond MAX_INT_BITS or MAX_ITEMS, and so does
`range`. Whatever the code raises ends as an ordinary exception here: SystemExit, KeyboardInterrupt,
GeneratorExit and generators' throw/close are not available to it, and the sandbox process turns
anything that slips through into an error reply.
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import operator
import sys
import pickle
import types
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
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

from .. import clock
from . import bounded, sandbox_pool
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


# The exceptions that stop a process, or a generator from outside, are not the diagram's to raise.
PROCESS_EXCEPTIONS = frozenset({"SystemExit", "KeyboardInterrupt", "GeneratorExit", "BaseException"})
_BUILTINS = {k: v for k, v in safe_builtins.items()
             if k not in {"__build_class__", "id", "hash"} | PROCESS_EXCEPTIONS}
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


def _pow_builtin(base, exponent, modulus=None):
    if modulus is None:
        return _pow(base, exponent)
    return pow(base, exponent, modulus)  # modular: bounded by the modulus


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
_BUILTINS["pow"] = _pow_builtin
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


# A generator's throw() raises any exception inside it, close() raises GeneratorExit.
_GENERATOR_TYPES = (types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType)
_GENERATOR_METHODS = frozenset({"throw", "close", "send", "athrow", "aclose", "asend"})


def _guarded_getattr(obj, name, *default):
    if name in _GENERATOR_METHODS and isinstance(obj, _GENERATOR_TYPES):
        raise SandboxViolation(f".{name}", [f"«{name}» på generatorer er ikke tillatt"])
    try:
        return safer_getattr(obj, name, *default)
    except NotImplementedError as refused:
        raise SandboxViolation(f".{name}", [str(refused)]) from None


# Names that do not exist in the sandbox; refused at compile time so the author hears why.
FORBIDDEN_NAMES = frozenset({
    "open", "exec", "eval", "compile", "globals", "locals", "vars", "dir", "getattr", "setattr",
    "delattr", "hasattr", "input", "breakpoint", "help", "exit", "quit", "memoryview", "type",
    "object", "super", "classmethod", "staticmethod", "property",
}) | PROCESS_EXCEPTIONS


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


def _globals(external_context: dict | None, context: dict | None = None) -> dict:
    scope = dict(HELPERS)
    if external_context:
        scope.update(external_context)
    if context:
        scope.update(context)
    scope.update(_GUARDS)  # last: data named like a guard cannot replace it
    return scope


def too_much_data(size: int) -> str:
    limit = sandbox_pool.limits().max_data_bytes
    return f"skrev eller returnerte {_megabytes(size)} data; grensen er {_megabytes(limit)}"


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB".replace(".", ",")


def run_expression(expression: str, context: dict, external_context: dict | None = None):
    """Evaluate here, in this process, with the line budget (the sandbox process's work)."""
    code = compile_expression(expression)
    scope = _globals(external_context, context)
    with _line_budget(expression):
        return eval(code, scope)  # noqa: S307 - restricted code


def run_script(script: str, context: dict, external_context: dict | None = None) -> None:
    """Run a script here, in this process; its assignments become task data."""
    clashes = (set(HELPERS) | set(external_context or {})) & set(context)
    if clashes:
        raise SandboxViolation(script, [f"data-feltet {', '.join(sorted(clashes))} har samme navn som en hjelpefunksjon"])
    code = compile_script(script)
    context.update(_globals(external_context))
    try:
        with _line_budget(script):
            exec(code, context)  # noqa: S102 - restricted code
    finally:
        for key in list(context):
            value = context[key]
            if key in _INJECTED or key in (external_context or {}) or callable(value) or key.startswith("_"):
                context.pop(key, None)


def evaluate(expression: str, context: dict, external_context: dict | None = None):
    """Evaluate one expression against task data: here if provably small, else in a sandbox process."""
    code = compile_expression(expression)  # refusals are the same wherever it would run
    if bounded.is_bounded(expression):
        return eval(code, _globals(external_context, context))  # noqa: S307 - restricted, bounded code
    return _answer(expression, _call("eval", (expression, context, external_context)))


def evaluate_many(expressions: list[str], context: dict) -> list:
    """Each expression's value, or the exception it raised, with at most one round trip in all."""
    results: list = [None] * len(expressions)
    remote = []
    for index, expression in enumerate(expressions):
        try:
            code = compile_expression(expression)
            if bounded.is_bounded(expression):
                results[index] = eval(code, _globals(None, context))  # noqa: S307 - restricted, bounded
            else:
                remote.append(index)
        except Exception as error:  # noqa: BLE001 - each expression answers for itself
            results[index] = error
    if remote:
        try:
            outcomes = _call("many", ([expressions[i] for i in remote], context))
            if outcomes[0] != "ok":
                _answer(expressions[remote[0]], outcomes)  # raises what the batch as a whole hit
            for index, outcome in zip(remote, outcomes[1]):
                try:
                    results[index] = _answer(expressions[index], outcome)
                except Exception as error:  # noqa: BLE001
                    results[index] = error
        except Exception as error:  # noqa: BLE001 - the batch failed: every remote one failed with it
            for index in remote:
                results[index] = error
    return results


def execute(script: str, context: dict, external_context: dict | None = None) -> None:
    """Run a script task's code in a sandbox process; its assignments become task data."""
    compile_script(script)
    changed, removed = _answer(script, _call("exec", (script, context, external_context)))
    context.update(changed)
    for key in removed:
        context.pop(key, None)


def _call(kind: str, payload: tuple):
    try:
        return sandbox_pool.call((kind, clock.now(), payload))
    except sandbox_pool.PoolFailure as failure:
        raise SandboxViolation(payload[0] if isinstance(payload[0], str) else "; ".join(payload[0]),
                               [str(failure)]) from None
    except (pickle.PicklingError, TypeError, AttributeError) as error:
        raise SandboxViolation(str(payload[0]), [f"dataene kan ikke sendes til sandkassen ({error})"]) from None


# Errors diagram code may raise that keep their type (forms read a NameError as "not answered").
_KEPT_ERRORS = {name: getattr(builtins, name) for name in (
    "NameError", "TypeError", "ValueError", "KeyError", "IndexError", "ZeroDivisionError", "AttributeError",
    "OverflowError", "ArithmeticError", "LookupError", "RecursionError", "UnicodeError", "AssertionError",
    "RuntimeError", "StopIteration", "UnboundLocalError", "NotImplementedError",
)}


def _answer(source: str, reply: tuple):
    """The value in a sandbox process's reply, or its error raised here as an ordinary exception."""
    status = reply[0]
    if status == "ok":
        return reply[1]
    if status == "violation":
        raise SandboxViolation(reply[1] or source, list(reply[2]))
    if status == "memory":
        limit = sandbox_pool.limits().memory_mb
        raise SandboxViolation(source, [f"brukte mer enn {limit} MB minne"])
    name, message = reply[1], reply[2]
    kept = _KEPT_ERRORS.get(name)
    if kept is not None:
        raise kept(message)
    raise SandboxViolation(source, [f"stoppet med {name}, som ikke er tillatt i diagrammer"])


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
    """SpiffWorkflow's script engine, failing with a Norwegian message that names the element."""

    def __init__(self):
        super().__init__(environment=SandboxEnvironment())

    def evaluate(self, task, expression, external_context=None):
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except SpiffWorkflowException:
            raise
        except Exception as error:  # noqa: BLE001 - every failure of diagram code becomes the step's error
            raise WorkflowTaskException(failure_message(task, "Uttrykket", expression, error),
                                        task=task, exception=error) from error

    def execute(self, task, script, external_context=None):
        try:
            return self.environment.execute(script, task.data, external_context or {})
        except SpiffWorkflowException:
            raise
        except Exception as error:  # noqa: BLE001
            raise WorkflowTaskException(failure_message(task, "Skriptet", script, error),
                                        task=task, exception=error) from error

    def validate(self, expression):
        # DMN's "needs ==" probe calls this with a SyntaxError contract.
        result = compile_restricted_eval(expression.strip())
        if result.errors:
            raise SyntaxError("; ".join(result.errors))


def failure_message(task, what: str, source: str, error: Exception) -> str:
    """«Skriptet i «Beregn frist» (Activity_1) stoppet: …», for the step's error and the inspector."""
    spec = task.task_spec
    name = getattr(spec, "bpmn_name", None) or getattr(spec, "bpmn_id", None) or spec.name
    element = getattr(spec, "bpmn_id", None)
    where = f"«{name}» ({element})" if element and element != name else f"«{name}»"
    snippet = " ".join(source.split())
    snippet = snippet if len(snippet) <= 60 else snippet[:57] + "..."
    reason = str(error) if isinstance(error, SandboxViolation) else f"{type(error).__name__}: {error}"
    return f"{what} i {where} stoppet ({snippet}): {reason}"


SCRIPT_ENGINE = SandboxScriptEngine()
