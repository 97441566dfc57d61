"""Who is asking: session login for pages, bearer tokens for API clients, CSRF on the rest.

Every request except the login page, static files and /healthz needs a signed-in user.
Pages redirect to the login page; the API answers 401 in JSON.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import (Blueprint, current_app, flash, g, jsonify, redirect, render_template, request, session,
                   url_for)

from ..services import users
from ..services.access import Actor
from ..services.errors import NotFound
from .security import csrf

bp = Blueprint("auth", __name__)

PUBLIC_ENDPOINTS = {"auth.login", "static", "healthz"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def orchestrator():
    return current_app.extensions["orchestrator"]


def current_actor() -> Actor:
    actor = g.get("actor")
    if actor is None:  # the login gate runs first; this is a programming error
        raise RuntimeError("ingen innlogget bruker")
    return actor


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def load_actor() -> None:
    """Resolve the actor from a bearer token (API) or the session cookie (pages and modeler)."""
    g.actor, g.auth_method, g.bad_token = None, None, False
    header = request.headers.get("Authorization", "")
    if is_api_request() and header:
        scheme, _, token = header.partition(" ")
        actor = users.actor_for_token(orchestrator(), token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        if actor is None:
            g.bad_token = True
            return
        g.actor, g.auth_method = actor, "bearer"
        return
    username = session.get("user")
    if username:
        try:
            g.actor, g.auth_method = users.actor_for(orchestrator(), username), "session"
        except NotFound:  # deactivated or deleted since login
            session.clear()


def require_login():
    if request.endpoint in PUBLIC_ENDPOINTS or (request.endpoint is None and not is_api_request()):
        return None
    if g.actor is not None:
        return None
    if is_api_request():
        message = "Ugyldig eller utløpt API-nøkkel." if g.bad_token else "Du må logge inn (bearer-token eller innlogging)."
        response = jsonify(message=message)
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="orchestrator"'
        return response
    if request.method in SAFE_METHODS:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    return redirect(url_for("auth.login"))


def check_csrf() -> None:
    """Every state-changing request from a browser carries the CSRF token (form field or header)."""
    if request.method in SAFE_METHODS or g.get("auth_method") == "bearer":
        return
    csrf.protect()


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def home_for(actor: Actor) -> str:
    if actor.is_staff:
        return url_for("tasks.task_list")
    if actor.reads_all_instances:
        return url_for("dashboard.overview")
    if actor.has("process_owner"):
        return url_for("processes.process_list")
    return url_for("instances.instance_list")


@bp.route("/login", methods=["GET", "POST"])
def login():
    target = _safe_next(request.values.get("next"))
    if request.method == "GET":
        if g.actor is not None:
            return redirect(target or home_for(g.actor))
        return render_template("login.html", next=target or "")
    username = (request.form.get("username") or "").strip().lower()
    password = request.form.get("password") or ""
    throttle = current_app.extensions["login_throttle"]
    address = request.remote_addr
    if throttle.blocked(username, address):
        return render_template("login.html", next=target or "", username=username,
                               error="For mange mislykkede forsøk. Vent et kvarter og prøv igjen."), 429
    actor = users.authenticate(orchestrator(), username, password) if username and password else None
    if actor is None:
        throttle.failed(username, address)
        return render_template("login.html", next=target or "", username=username,
                               error="Feil brukernavn eller passord."), 401
    throttle.succeeded(username, address)
    session.clear()  # a fresh session (and CSRF token) after login: no session fixation
    session["user"] = actor.username
    session.permanent = True
    return redirect(target or home_for(actor))


@bp.post("/logout")
def logout():
    session.clear()
    flash("Du er logget ut.", "info")
    return redirect(url_for("auth.login"))
