"""Who is asking: session login for pages, bearer tokens for API clients, CSRF on the rest.

Every request except the login pages, static files and /healthz needs a signed-in user.
Pages redirect to the login page; the API answers 401 in JSON. The cookie carries only a random
session id; the session itself is a database row (services/sessions.py), so logout and
deactivation end it in every process at once.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import (Blueprint, current_app, flash, g, jsonify, redirect, render_template, request, session,
                   url_for)

from ..services import login_throttle, sessions, tilgangslogg, tokens, users
from ..services.access import Actor
from .security import csrf, login_policy

bp = Blueprint("auth", __name__)

PUBLIC_ENDPOINTS = {"auth.login", "oidc.start", "oidc.callback", "static", "healthz"}
SESSION_KEY = "sid"  # the session id in Flask's signed cookie
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
        actor = tokens.actor_for_token(orchestrator(), token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        if actor is None:
            g.bad_token = True
            return
        g.actor, g.auth_method = actor, "bearer"
        return
    session_id = session.get(SESSION_KEY)
    if session_id:
        actor = sessions.actor_for_session(orchestrator(), str(session_id))
        if actor is None:  # logged out, deactivated, timed out: whatever the cookie says
            session.clear()
            return
        g.actor, g.auth_method = actor, "session"


def note_origin() -> None:
    """Where this request's reads of personal data come from, for the read-access log (services/tilgangslogg.py)."""
    channel = tilgangslogg.API if is_api_request() else tilgangslogg.SIDE
    g.access_origin = tilgangslogg.begin(channel, request.remote_addr, request.headers.get("User-Agent"))


def forget_origin(_error=None) -> None:
    token = g.pop("access_origin", None)
    if token is not None:
        tilgangslogg.end(token)


def sign_in(actor: Actor, method: str) -> None:
    """A fresh session (and CSRF token) for a user who has just proved who they are: no session fixation."""
    session.clear()
    session[SESSION_KEY] = sessions.start(orchestrator(), actor.username, method)
    session.permanent = True


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


def safe_next(target: str | None) -> str | None:
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


def login_page(status: int = 200, **values):
    oidc = orchestrator().settings.oidc
    response = current_app.make_response((render_template(
        "login.html", local_login=orchestrator().settings.local_login,
        oidc_name=oidc.provider_name if oidc else None, **values), status))
    if oidc:
        # «Logg inn med …» posts here and is redirected to the provider: CSP's form-action covers that redirect
        response.headers["Content-Security-Policy"] = login_policy(oidc.issuer)
    return response


@bp.route("/login", methods=["GET", "POST"])
def login():
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        if g.actor is not None:
            return redirect(target or home_for(g.actor))
        return login_page(next=target or "")
    if not orchestrator().settings.local_login:
        return login_page(403, next=target or "", error="Innlogging med passord er slått av her.")
    username = (request.form.get("username") or "").strip().lower()
    password = request.form.get("password") or ""
    address = request.remote_addr
    wait = login_throttle.wait(orchestrator(), username, address)
    if wait.total_seconds() > 0:
        minutes = max(1, -(-int(wait.total_seconds()) // 60))
        response = login_page(429, next=target or "", username=username,
                              error=f"For mange mislykkede forsøk. Vent {minutes} min og prøv igjen.")
        response.headers["Retry-After"] = str(int(wait.total_seconds()) + 1)
        return response
    actor = users.authenticate(orchestrator(), username, password) if username and password else None
    if actor is None:
        login_throttle.failed(orchestrator(), username, address)
        return login_page(401, next=target or "", username=username, error="Feil brukernavn eller passord.")
    login_throttle.succeeded(orchestrator(), username, address)
    sign_in(actor, "password")
    return redirect(target or home_for(actor))


@bp.post("/logout")
def logout():
    session_id = session.get(SESSION_KEY)
    if session_id:
        sessions.end(orchestrator(), str(session_id))  # a copy of the cookie is worth nothing from now on
    session.clear()
    flash("Du er logget ut.", "info")
    return redirect(url_for("auth.login"))
