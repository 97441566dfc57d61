"""Which case data an authored expression reads, and which it writes: a best-effort reading for the
dry run of a migration ("what does the new version expect that this case lacks?").

Names are read from the Python the sandbox runs (DMN's FEEL and `${...}` already translated by
engine/authoring.py). It cannot see the order of statements, which branch a case will take, or
data looked up indirectly; callers say so where they show the result.
"""
from __future__ import annotations

import ast
import builtins

from lxml import etree

from .authoring import BPMN_NS, Definition
from .helpers import HELPERS

KNOWN = frozenset(dir(builtins)) | frozenset(HELPERS)


def names(source: str) -> tuple[set[str], set[str]]:
    """(case data the code reads, names it writes); a name it both writes and reads counts as written."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # deploy refused such code; an older version's cell may still be one
        return set(), set()
    written, read = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else written).add(node.id)
        elif isinstance(node, ast.arg):
            written.add(node.arg)
    return read - written - KNOWN, written


def provided(definition: Definition) -> set[str]:
    """What a process or decision table fills in without a form: scripts' assignments, decision
    outputs and multi-instance element variables."""
    found: set[str] = set()
    for _, what, source in definition.expressions:
        if what == "skript":
            found |= names(source)[1]
    tree = definition.spiff_tree
    for node in tree.iter():
        if not isinstance(node.tag, str):
            continue
        local = etree.QName(node).localname
        if local == "output" and definition.kind == "dmn" and node.get("name"):
            found.add(node.get("name"))
        elif local in ("inputDataItem", "outputDataItem") and etree.QName(node).namespace == BPMN_NS:
            found.add(node.get("name") or node.get("id") or "")
    return found - {""}
