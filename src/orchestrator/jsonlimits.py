"""How deeply nested JSON from outside may be, checked before parsing.

Python's json module recurses once per level: 200 000 levels raise RecursionError in the parser,
and 900 levels parse but break whatever recurses over the data next (validation, deepcopy, the
state serializer). No form, message or API body needs more than a handful of levels, so anything
deeper than MAX_DEPTH is refused before it is parsed, by counting brackets outside strings.
"""
from __future__ import annotations

import re

MAX_DEPTH = 32
# A JSON string (skipped whole, escapes included) or one bracket.
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def too_deep(document: str | bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether `document` opens more than `limit` arrays/objects inside each other."""
    if isinstance(document, str):
        document = document.encode("utf-8", errors="surrogatepass")
    if document.count(b"[") + document.count(b"{") <= limit:
        return False  # the common case: not even that many brackets in all
    depth = 0
    for token in _TOKENS.finditer(document):
        mark = token.group()
        if mark in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif mark in (b"]", b"}"):
            depth -= 1
    return False


def depth_message(limit: int = MAX_DEPTH) -> str:
    return f"JSON-dataene er nestet for dypt (mer enn {limit} nivåer)."
