"""FEEL, the DMN standard's expression language, as far as process owners write it, in Python.

One translator for everything written in FEEL: form-js conditions (`=x = "ja"`), and DMN decision
tables (input expressions, input entries as unary tests, output entries). The result is Python
source that the sandbox compiles and runs (engine/sandbox.py); nothing is evaluated here.

Supported: string (`"ja"`), number, `true`/`false`/`null` literals; names and paths (`a.b` reads
key `b`); lists `[1, 2]`; `=`, `!=`, `<`, `<=`, `>`, `>=`; `and`, `or`, `not(...)`; `+ - * / **`;
`if … then … else …`; `x between a and b`; `x in <unary tests>`; calls of `count`, `sum`, `min`,
`max`, `abs`, `string`, `number` and the sandbox helpers. Unary tests (DMN input entries): `-`
(anything), a value (`"ja"`, `18`), comparisons (`< 18`), intervals (`[1..5]`, `(1..5]`,
`]1..5[`), comma lists (`"ja", "nei"`), `not(...)`, and expressions using `?` for the input.
Anything else raises FeelError naming what was expected where, so deploy can refuse it.
"""
from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from functools import lru_cache

from .helpers import HELPERS

INPUT = "dmninputexpr"  # SpiffWorkflow's DMN engine binds the input's value to this name

FUNCTIONS = {
    "count": "len", "sum": "sum", "min": "min", "max": "max", "abs": "abs",
    "string": "str", "number": "float", **{name: name for name in HELPERS},
}
_KEYWORDS = {"and", "or", "not", "true", "false", "null", "in", "between", "if", "then", "else"}
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>\d+(?:\.\d+)?|\.\d+)
  | (?P<op>\.\.|<=|>=|!=|\*\*|[=<>+\-*/()\[\],.?])
  | (?P<name>[^\W\d]\w*)
""", re.VERBOSE)
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r"}


class FeelError(ValueError):
    """Text that is not the FEEL this module understands."""

    def __init__(self, text: str, reason: str):
        self.text, self.reason = text, reason
        super().__init__(f"kan ikke lese FEEL-uttrykket «{text}»: {reason}")


@dataclass(frozen=True)
class _Token:
    kind: str  # string | number | op | name | end
    value: str
    at: int


def _tokens(text: str) -> list[_Token]:
    found, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise FeelError(text, f"ukjent tegn «{text[position]}» ved tegn {position + 1}")
        if match.lastgroup != "space":
            found.append(_Token(match.lastgroup, match.group(), position))
        position = match.end()
    found.append(_Token("end", "", len(text)))
    return found


def _string_literal(raw: str) -> str:
    """A FEEL string as a Python literal; `?` escaped so SpiffWorkflow's DMN engine leaves it be."""
    value, chars, i = [], raw[1:-1], 0
    while i < len(chars):
        if chars[i] == "\\":
            following = chars[i + 1:i + 2]
            if following == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", chars[i + 2:i + 6]):
                value.append(chr(int(chars[i + 2:i + 6], 16)))
                i += 6
                continue
            value.append(_ESCAPES.get(following, following))
            i += 2
            continue
        value.append(chars[i])
        i += 1
    return repr("".join(value)).replace("?", "\\x3f")


class _Parser:
    """Recursive descent over FEEL's grammar, emitting parenthesised Python."""

    def __init__(self, text: str, subject: str | None = None):
        self.text, self.tokens, self.i = text, _tokens(text), 0
        self.subject = subject  # the Python for `?` (DMN input entries), if any
        self.used_subject = False
        self.in_interval = False  # `]1..5[`: a `[` closes the interval, it does not index

    # --- cursor ----------------------------------------------------------------------------
    @property
    def token(self) -> _Token:
        return self.tokens[self.i]

    def at(self, *values: str) -> bool:
        return self.token.kind in ("op", "name") and self.token.value in values

    def take(self, *values: str) -> _Token:
        if not self.at(*values):
            self.fail(" eller ".join(f"«{v}»" for v in values))
        token = self.token
        self.i += 1
        return token

    def fail(self, expected: str):
        token = self.token
        found = "slutten" if token.kind == "end" else f"«{token.value}»"
        raise FeelError(self.text, f"forventet {expected}, fant {found} ved tegn {token.at + 1}")

    def done(self) -> None:
        if self.token.kind != "end":
            self.fail("slutten av uttrykket")

    # --- expressions -----------------------------------------------------------------------
    def expression(self) -> str:
        if self.at("if"):
            self.take("if")
            condition = self.expression()
            self.take("then")
            then = self.expression()
            self.take("else")
            otherwise = self.expression()
            return f"({then} if {condition} else {otherwise})"
        return self.disjunction()

    def disjunction(self) -> str:
        parts = [self.conjunction()]
        while self.at("or"):
            self.take("or")
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"

    def conjunction(self) -> str:
        parts = [self.comparison()]
        while self.at("and"):
            self.take("and")
            parts.append(self.comparison())
        return parts[0] if len(parts) == 1 else "(" + " and ".join(parts) + ")"

    def comparison(self) -> str:
        left = self.additive()
        if self.at("=", "!=", "<", "<=", ">", ">="):
            op = self.take("=", "!=", "<", "<=", ">", ">=").value
            return f"({left} {'==' if op == '=' else op} {self.additive()})"
        if self.at("between"):
            self.take("between")
            low = self.additive()
            self.take("and")
            return f"({low} <= {left} <= {self.additive()})"
        if self.at("in"):
            self.take("in")
            if self.at("("):  # `x in (1, 2)`: parentheses around a list of tests
                self.take("(")
                tests = self.positive_tests(left)
                self.take(")")
                return tests
            return self.positive_tests(left)
        return left

    def additive(self) -> str:
        out = self.multiplicative()
        while self.at("+", "-"):
            op = self.take("+", "-").value
            out = f"({out} {op} {self.multiplicative()})"
        return out

    def multiplicative(self) -> str:
        out = self.unary()
        while self.at("*", "/"):
            op = self.take("*", "/").value
            out = f"({out} {op} {self.unary()})"
        return out

    def unary(self) -> str:
        if self.at("-"):
            self.take("-")
            return f"(-{self.unary()})"
        base = self.postfix()
        if self.at("**"):
            self.take("**")
            return f"({base} ** {self.unary()})"
        return base

    def postfix(self) -> str:
        out = self.primary()
        while self.at(".") or (self.at("[") and not self.in_interval):
            if self.take(".", "[").value == ".":
                name = self.token
                if name.kind != "name":
                    self.fail("et navn etter «.»")
                self.i += 1
                out = f"{out}[{name.value!r}]"
            else:
                index = self.expression()
                self.take("]")
                out = f"{out}[{index}]"
        return out

    def primary(self) -> str:
        token = self.token
        if token.kind == "string":
            self.i += 1
            return _string_literal(token.value)
        if token.kind == "number":
            self.i += 1
            return token.value if not token.value.startswith(".") else "0" + token.value
        if self.at("("):
            self.take("(")
            inner = self.expression()
            self.take(")")
            return inner
        if self.at("["):
            self.take("[")
            items = [] if self.at("]") else self.arguments()
            self.take("]")
            return "[" + ", ".join(items) + "]"
        if self.at("?"):
            if self.subject is None:
                self.fail("et uttrykk («?» står bare i en regels inndata)")
            self.take("?")
            self.used_subject = True
            return self.subject
        if token.kind == "name":
            return self.name()
        self.fail("en verdi, et navn eller «(»")

    def name(self) -> str:
        token = self.token
        self.i += 1
        literal = {"true": "True", "false": "False", "null": "None"}.get(token.value)
        if literal:
            return literal
        if token.value == "not":
            self.take("(")
            inner = self.expression()
            self.take(")")
            return f"(not {inner})"
        if token.value in _KEYWORDS:
            self.i -= 1
            self.fail("en verdi eller et navn")
        if self.at("("):
            function = FUNCTIONS.get(token.value)
            if function is None:
                raise FeelError(self.text, f"ukjent funksjon «{token.value}» (kjente: {', '.join(sorted(FUNCTIONS))})")
            self.take("(")
            arguments = [] if self.at(")") else self.arguments()
            self.take(")")
            return f"{function}({', '.join(arguments)})"
        if keyword.iskeyword(token.value) or keyword.issoftkeyword(token.value) or token.value.startswith("_"):
            raise FeelError(self.text, f"«{token.value}» kan ikke brukes som navn")
        return token.value

    def arguments(self) -> list[str]:
        items = [self.expression()]
        while self.at(","):
            self.take(",")
            items.append(self.expression())
        return items

    # --- unary tests -----------------------------------------------------------------------
    def positive_tests(self, subject: str) -> str:
        tests = [self.positive_test(subject)]
        while self.at(","):
            self.take(",")
            tests.append(self.positive_test(subject))
        return tests[0] if len(tests) == 1 else "(" + " or ".join(tests) + ")"

    def positive_test(self, subject: str) -> str:
        if self.at("<", "<=", ">", ">=", "=", "!="):
            op = self.take("<", "<=", ">", ">=", "=", "!=").value
            return f"({subject} {'==' if op == '=' else op} {self.additive()})"
        if self.at("[", "(", "]"):
            interval = self.interval(subject)
            if interval is not None:
                return interval
        before = self.used_subject
        self.used_subject = False
        value = self.expression()
        uses_subject, self.used_subject = self.used_subject, before or self.used_subject
        if uses_subject:
            return value  # `? > 5 and ? < 10`: the test is the expression itself
        if value.startswith("["):
            return f"({subject} in {value})"
        return f"({subject} == {value})"

    def interval(self, subject: str) -> str | None:
        """`[1..5]`, `(1..5)`, `]1..5[`; None (and the cursor kept) when it is no interval."""
        start = self.i
        opening = self.take("[", "(", "]").value
        self.in_interval = True
        try:
            low = self.additive()
            if not self.at(".."):
                self.i = start
                return None
            self.take("..")
            high = self.additive()
        except FeelError:
            if not self.at(".."):
                self.i = start
                return None
            raise
        finally:
            self.in_interval = False
        closing = self.take("]", ")", "[").value
        low_op = "<=" if opening == "[" else "<"
        high_op = "<=" if closing == "]" else "<"
        return f"({low} {low_op} {subject} {high_op} {high})"


@lru_cache(maxsize=4096)
def expression(text: str) -> str:
    """A FEEL expression (an input expression, an output entry, a form condition) as Python."""
    source = text.strip()
    if not source:
        raise FeelError(text, "uttrykket er tomt")
    parser = _Parser(source)
    out = parser.expression()
    parser.done()
    return out


@lru_cache(maxsize=4096)
def unary_tests(text: str, subject: str = INPUT) -> str | None:
    """A DMN input entry as a Python condition on `subject`; None for `-` (any input matches)."""
    source = (text or "").strip()
    if source in ("", "-"):
        return None
    parser = _Parser(source, subject)
    if parser.at("not") and parser.tokens[1].value == "(":
        parser.take("not")
        parser.take("(")
        inner = parser.positive_tests(subject)
        parser.take(")")
        if parser.token.kind == "end":
            return f"(not {inner})"
        parser = _Parser(source, subject)  # `not(a) or b`: an expression, read as one
    out = parser.positive_tests(subject)
    parser.done()
    return out


def form_condition(text: str) -> str:
    """A form-js condition (`=x = "ja"`): FEEL after the leading `=`."""
    source = text.strip()
    return expression(source[1:] if source.startswith("=") else source)
