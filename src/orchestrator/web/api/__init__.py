"""The JSON API under /api/v1, documented at /api/v1/openapi.json (OpenAPI 3)."""
from .base import bp
from . import cases, instances, messages, misc, openapi, processes, slettesperre, tasks  # noqa: E402  (register the routes)

__all__ = ["bp", "cases", "instances", "messages", "misc", "openapi", "processes", "slettesperre", "tasks"]
