"""«Logg inn med …»: the OpenID Connect authorization code flow with Authlib.

PKCE (S256), state and nonce are Authlib's, kept in the signed cookie until the callback; the
provider's settings come from its discovery document. What the verified claims mean here
(who, which roles and services) is services/identity.py. Without ORCHESTRATOR_OIDC_ISSUER these
routes answer 404. docs/identity.md.
"""
from __future__ import annotations

import logging

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, Flask, abort, current_app, redirect, request, session, url_for
from joserfc.errors import JoseError

from ..config import Settings
from ..services import identity, tjenester
from .auth import safe_next, home_for, login_page, orchestrator, sign_in

bp = Blueprint("oidc", __name__)
log = logging.getLogger(__name__)
CLIENT = "kommune"
NEXT_KEY = "oidc_next"


def configure(app: Flask, settings: Settings) -> None:
    if settings.oidc is None:
        return
    identity.mapping(settings.oidc, tjenester.catalogue(settings))  # a wrong mapping stops the start, not a sign-in
    oauth = OAuth(app)
    oauth.register(
        CLIENT,
        client_id=settings.oidc.client_id,
        client_secret=settings.oidc.client_secret,
        server_metadata_url=f"{settings.oidc.issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": settings.oidc.scopes, "code_challenge_method": "S256", "timeout": 10},
    )
    app.extensions["oidc_client"] = oauth.create_client(CLIENT)


def _client():
    client = current_app.extensions.get("oidc_client")
    if client is None:
        abort(404)
    return client


@bp.post("/login/oidc")
def start():
    """Off to the provider (a POST with the CSRF token: nobody else can start a sign-in in your browser)."""
    client = _client()
    session[NEXT_KEY] = safe_next(request.form.get("next")) or ""
    try:
        return client.authorize_redirect(url_for("oidc.callback", _external=True))
    except (requests.RequestException, AuthlibBaseError, ValueError) as error:
        log.warning("OIDC provider unreachable at sign-in: %s", error)
        return _refused(503, f"{_name()} svarer ikke akkurat nå. Prøv igjen om litt.")


@bp.get("/login/oidc/callback")
def callback():
    client = _client()
    oidc = orchestrator().settings.oidc
    try:
        token = client.authorize_access_token()
        metadata = client.load_server_metadata()
        if metadata.get("issuer", "").rstrip("/") != oidc.issuer:  # OIDC Discovery § 4.3: no mix-up
            raise OAuthError(error="issuer_mismatch", description=str(metadata.get("issuer")))
        claims = dict(token.get("userinfo") or {})
        if not claims.get("sub"):
            raise OAuthError(error="no_id_token")
        claims = _with_userinfo(client, token, claims)
    except MismatchingStateError:
        return _refused(400, "Innloggingen kunne ikke fullføres: forespørselen var ugyldig eller utløpt. Prøv igjen.")
    except OAuthError as error:
        log.warning("OIDC sign-in refused by the provider or invalid: %s %s", error.error, error.description)
        if error.error in ("access_denied", "login_required", "interaction_required"):
            return _refused(403, f"Innloggingen ble avbrutt eller avvist hos {_name()}.")
        return _refused(400, f"Innloggingen hos {_name()} kunne ikke bekreftes. Prøv igjen.")
    except (AuthlibBaseError, JoseError) as error:  # the ID token's signature, audience, nonce, expiry …
        log.warning("OIDC ID token refused: %s", error)
        return _refused(400, f"Innloggingen hos {_name()} kunne ikke bekreftes. Prøv igjen.")
    except requests.RequestException as error:
        log.warning("OIDC provider unreachable at the callback: %s", error)
        return _refused(503, f"{_name()} svarer ikke akkurat nå. Prøv igjen om litt.")
    try:
        actor = identity.sign_in(orchestrator(), oidc, claims)
    except identity.Refused as refusal:
        log.info("OIDC sign-in of subject %s refused: %s", claims.get("sub"), refusal.message)
        return _refused(403, refusal.message)
    target = safe_next(session.get(NEXT_KEY))
    sign_in(actor, "oidc")
    return redirect(target or home_for(actor))


def _with_userinfo(client, token: dict, claims: dict) -> dict:
    """The ID token's claims, completed from the userinfo endpoint (some providers send groups only there)."""
    if not client.load_server_metadata().get("userinfo_endpoint"):
        return claims
    info = client.userinfo(token=token)
    if info.get("sub") != claims["sub"]:  # OIDC Core § 5.3.2: userinfo of someone else is not used
        raise OAuthError(error="userinfo_subject_mismatch")
    return {**dict(info), **claims}


def _refused(status: int, message: str):
    session.pop(NEXT_KEY, None)
    return login_page(status, next="", error=message)


def _name() -> str:
    return orchestrator().settings.oidc.provider_name
