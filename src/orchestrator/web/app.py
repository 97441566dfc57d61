"""The Flask application factory: pages and the JSON API on top of the service layer."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask import Flask, jsonify
from flask.json.provider import DefaultJSONProvider
from flask_wtf.csrf import generate_csrf

from ..config import Settings
from ..services.context import Orchestrator
from . import auth, errors, formatting, forms_render, oidc, security
from .converters import register_converters


class JSONProvider(DefaultJSONProvider):
    """ISO-8601 dates (Flask's default is an HTTP date) and decimals as numbers."""

    ensure_ascii = False
    sort_keys = False

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
    orchestrator = orchestrator or Orchestrator(settings)
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
        # for load balancers and service managers: this process answers and can reach its database
        if not orchestrator.db.answers():
            return jsonify(status="feil", database="svarer ikke"), 503
        return jsonify(status="ok")

    return app
