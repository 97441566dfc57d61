"""`orchestrator export DIR`: the newest version of every deployed diagram, table and form as files,
laid out as the repository keeps them (processes/*.bpmn, processes/*.dmn, forms/*.form) and named
as they were deployed, so edits made in the browser can be committed and the files and the
database agree again. The bytes are exactly the deployed ones: a later file deploy sees them as
unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from .access import PROCESS_OWNER, Actor, require
from .context import Orchestrator
from .specs import SpecCache

FOLDERS = {"bpmn": "processes", "dmn": "processes", "form": "forms"}
SUFFIXES = {"bpmn": ".bpmn", "dmn": ".dmn", "form": ".form"}


@dataclass(frozen=True)
class ExportedFile:
    path: str  # relative, e.g. processes/samarbeid.bpmn
    key: str
    version: int
    origin: str | None
    content: bytes


def newest_files(ctx: Orchestrator, actor: Actor) -> list[ExportedFile]:
    require(actor, PROCESS_OWNER, "Å eksportere prosesser")
    with ctx.db.read() as session:
        return [ExportedFile(_path(row), row.key, row.version, row.origin, bytes(row.content))
                for row in SpecCache.latest_rows(session)]


def _path(row) -> str:
    """The deployed file name, kept to a plain name with the right suffix (never a path)."""
    name = PurePath(row.filename or "").name
    suffix = SUFFIXES[row.kind]
    if not name or name.startswith(".") or not name.endswith(suffix):
        name = row.key + suffix
    return f"{FOLDERS[row.kind]}/{name}"
