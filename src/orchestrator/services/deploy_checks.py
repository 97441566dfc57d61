"""Deploy refuses now what would only fail later: names too long for the database, processes no
case could finish, and the untouched «Ny prosess» template.

Lengths come from the columns they end up in (store/models.py): SQLite stores a longer text
silently, PostgreSQL refuses it, so without this check a long id deploys and every start of the
process is a server error on PostgreSQL.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

from ..engine import authoring, structure, xmlsafe
from ..engine.authoring import Definition
from ..store.models import MessageWait, OpenTask, ProcessDefinition
from .errors import Problem

TEMPLATE = "ny-prosess.bpmn"


def _length(column) -> int:
    return column.type.length


KEY_MAX = _length(ProcessDefinition.__table__.c.key)
FILENAME_MAX = _length(ProcessDefinition.__table__.c.filename)
NAME_MAX = _length(ProcessDefinition.__table__.c.name)
ELEMENT_ID_MAX = _length(OpenTask.__table__.c.element_id)
ELEMENT_NAME_MAX = _length(OpenTask.__table__.c.name)
FORM_KEY_MAX = _length(OpenTask.__table__.c.form_key)
MESSAGE_MAX = _length(MessageWait.__table__.c.name)


def _too_long(file: str, what: str, value: str | None, limit: int, element_id=None, line=None) -> list[Problem]:
    if value is None or len(value) <= limit:
        return []
    shown = value if len(value) <= 60 else value[:57] + "…"
    return [Problem(file, f"{what} «{shown}» er {len(value)} tegn; høyst {limit} tegn er tillatt", element_id, line)]


def lengths(definition: Definition) -> list[Problem]:
    """Every id and name that is stored in a column of limited size."""
    file = definition.filename
    problems = _too_long(file, "filnavnet", file, FILENAME_MAX)
    what = "prosess-id-en" if definition.kind == "bpmn" else "beslutningens id"
    problems += _too_long(file, what, definition.key, KEY_MAX)
    problems += _too_long(file, "navnet", definition.name, NAME_MAX)
    for decision in definition.decisions_provided[1:]:
        problems += _too_long(file, "beslutningens id", decision, KEY_MAX)
    for element in definition.elements.values():
        at = (element.id, element.line)
        problems += _too_long(file, "element-id-en", element.id, ELEMENT_ID_MAX, *at)
        problems += _too_long(file, "navnet", element.name, ELEMENT_NAME_MAX, *at)
        problems += _too_long(file, "skjemanøkkelen", element.form_key, FORM_KEY_MAX, *at)
        problems += _too_long(file, "meldingsnavnet", element.message, MESSAGE_MAX, *at)
        problems += _too_long(file, "kalt prosess", element.called_element, KEY_MAX, *at)
        problems += _too_long(file, "beslutningsreferansen", element.decision_ref, KEY_MAX, *at)
    return problems


def form_lengths(filename: str, key: str) -> list[Problem]:
    return _too_long(filename, "filnavnet", filename, FILENAME_MAX) + _too_long(
        filename, "skjemanøkkelen", key, min(KEY_MAX, FORM_KEY_MAX))


def finishable(definition: Definition) -> list[Problem]:
    """The untouched template, or a process with no way from its start to an end, is refused."""
    process = _process(definition.root, definition.key)
    if process is None:
        return []
    if structure.signature(process) == _template_signature():
        return [Problem(definition.filename,
                        "dette er den tomme malen for en ny prosess; tegn stegene (oppgaver, porter og en "
                        "slutthendelse) og gi prosessen en egen id før du ruller den ut")]
    why = structure.unfinishable(process)
    if why is None:
        return []
    info = definition.elements.get(why.element_id) if why.element_id else None
    return [Problem(definition.filename, why.reason, why.element_id, info.line if info else None)]


def _process(root, key: str):
    return root.find(f"{{{authoring.BPMN_NS}}}process[@id='{key}']") if root is not None else None


def template() -> bytes:
    """The diagram «Ny prosess» opens with."""
    return resources.files(__package__).joinpath("templates", TEMPLATE).read_bytes()


@lru_cache(maxsize=1)
def _template_signature() -> tuple:
    root = xmlsafe.parse(template())
    process = root.find(f"{{{authoring.BPMN_NS}}}process")
    return structure.signature(process)
