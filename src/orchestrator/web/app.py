"""The Flask application factory: pages and the JSON API on top of the service layer."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask import Flask, jsonify
from flask.json.provider import DefaultJSONProvider
from flask_wtf.csrf import generate_csrf

from .. import jsonlimits
from ..config import Settings
from ..services import bootstrap
from ..services.context import Orchestrator
from . import auth, errors, formatting, forms_render, oidc, security
from .converters import register_converters


class JSONProvider(DefaultJSONProvider):
    """ISO-8601 dates (Flask's default is an HTTP date) and decimals as numbers."""

    ensure_ascii = False
    sort_keys = False

    def loads(self, s, **kwargs):
        # every request.get_json() passes here: too deep is refused before the recursive parser runs
        if jsonlimits.too_deep(s):
            raise ValueError(jsonlimits.depth_message())
        return super().loads(s, **kwargs)

    @staticmethod
    def default(value):
        if isinstance(value, (datetime, date)):
            return value.isoformat()
        if isinstance(value, Decimal):
            return float(value)
        if isinstance(value, (set, frozenset, tuple)):
            return list(value)
        return DefaultJSONProvider.default(value)


def create_app(settings: Settings | None = None, orchestrator: Orchestrator | None = None) -> Flask:
    settings = settings or (orchestrator.settings if orchestrator else Settings.from_env())
    orchestrator = orchestrator or bootstrap.build(settings)
    app = Flask(__name__)
    app.json = JSONProvider(app)
    app.config.update(SECRET_KEY=settings.secret_key)
    app.extensions["orchestrator"] = orchestrator
    register_converters(app)
    security.configure(app, settings)
    oidc.configure(app, settings)

    app.before_request(auth.load_actor)
    app.before_request(auth.require_login)
    app.before_request(auth.check_csrf)
    app.before_request(auth.note_origin)
    app.teardown_request(auth.forget_origin)

    from .api import bp as api_bp
    from .pages import register as register_pages

    app.register_blueprint(auth.bp)
    app.register_blueprint(oidc.bp)
    app.register_blueprint(api_bp)
    register_pages(app)
    errors.register(app)

    formatting.register(app)
    app.jinja_env.globals.update(forms_render.jinja_helpers())
    app.add_template_filter(lambda a, b: {**(a or {}), **(b or {})}, "combine")

    @app.context_processor
    def _globals():
        from flask import g

        return {"actor": g.get("actor"), "csrf_token": generate_csrf}

    @app.get("/healthz")
    def healthz():
        # for load balancers and service managers: this process answers, reaches its database, and
        # its built-in worker (`orchestrator serve`) runs; `make serve` runs workers as processes of their own
        database = orchestrator.db.answers()
        thread = app.extensions.get("worker")
        worker = "egen prosess" if thread is None else ("kjører" if thread.alive else "stoppet")
        body = {"status": "ok" if database and worker != "stoppet" else "feil",
                "database": "svarer" if database else "svarer ikke", "arbeider": worker}
        if thread is not None:
            body["arbeider_omstarter"] = thread.restarts
        return jsonify(body), 200 if body["status"] == "ok" else 503

    return app
