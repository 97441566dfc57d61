"""The HTML pages: staff tasks, managers' instances and dashboard, process owners' processes."""
from __future__ import annotations

from flask import Blueprint, redirect, request

from ..auth import current_actor, home_for

home = Blueprint("home", __name__)
PER_PAGE = 25


@home.get("/")
def index():
    return redirect(home_for(current_actor()))


def int_arg(name: str, default: int = 1, maximum: int = 100_000) -> int:
    try:
        value = int(request.args.get(name, default))
    except (TypeError, ValueError):
        return default
    return min(max(1, value), maximum)


def register(app) -> None:
    from . import dashboard, innsyn, instances, notices, processes, tasks, tilgangslogg, tokens

    for blueprint in (home, tasks.bp, instances.bp, dashboard.bp, notices.bp, processes.bp, tokens.bp,
                      tilgangslogg.bp, innsyn.bp):
        app.register_blueprint(blueprint)
