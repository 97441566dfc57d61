"""Cookie flags, security headers and CSRF (the login throttle is services/login_throttle.py).

Why each header is what it is: docs/web.md ("Sikkerhet").
"""
from __future__ import annotations

import os
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from ..config import Settings

csrf = CSRFProtect()

# Scripts and styles from our own origin only: no inline script, no eval, no inline style.
# The viewer (bpmn-js NavigatedViewer) works under this; its overlays set styles through the
# CSSOM, which CSP allows.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
# The modeler page only: bpmn-js-properties-panel builds parts of its DOM from HTML strings
# carrying style attributes (min-dom's domify -> innerHTML), which CSP counts as inline styles
# (measured in tests/test_browser.py). Scripts stay 'self' there too.
MODELER_POLICY = CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


def login_policy(issuer: str) -> str:
    """The login page's policy: its «Logg inn med …» form ends in a redirect to the provider."""
    parts = urlsplit(issuer)
    return CONTENT_SECURITY_POLICY.replace("form-action 'self'", f"form-action 'self' {parts.scheme}://{parts.netloc}")


# Raw uploaded documents (BPMN/DMN/form sources) are shown as data, never as a live document.
SOURCE_POLICY = "default-src 'none'; sandbox"


def configure(app: Flask, settings: Settings) -> None:
    app.config.update(
        SESSION_COOKIE_NAME="orkestrator_sesjon",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(settings.secure_cookies),
        # the cookie's own life; the session row's idle and absolute timeouts are what count (services/sessions.py)
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        # The CSRF token lives as long as the session: a form filled in slowly is not refused.
        WTF_CSRF_TIME_LIMIT=None,
        # We call csrf.protect() ourselves (web/auth.py): API calls with a bearer token are exempt.
        WTF_CSRF_CHECK_DEFAULT=False,
        MAX_CONTENT_LENGTH=4 * 1024 * 1024,
    )
    csrf.init_app(app)
    proxies = int(os.environ.get("ORCHESTRATOR_TRUSTED_PROXIES", "0") or 0)
    if proxies > 0:
        # behind N reverse proxies: the client's address (login throttle) and https (cookies, HSTS)
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)

    @app.after_request
    def _headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
        if settings.secure_cookies and request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.endpoint != "static":
            # case data must not stay in shared computers' caches or come back with the back button
            headers.setdefault("Cache-Control", "no-store")
        return response
