"""The JSON API under /api/v1, documented at /api/v1/openapi.json (OpenAPI 3)."""
from .base import bp
from . import cases, instances, messages, misc, notices, openapi, processes, slettesperre, tasks, tilgangslogg  # noqa: E402,E501  (register the routes)

__all__ = ["bp", "cases", "instances", "messages", "misc", "notices", "openapi", "processes", "slettesperre", "tasks",
           "tilgangslogg"]
