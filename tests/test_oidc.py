"""Sign-in through the municipality's OpenID Connect provider: a real provider (oidc-provider from
npm) on loopback, the authorization code flow with PKCE, state and nonce over real HTTP; users
created at the first sign-in, roles and services from the groups at every sign-in, refusals."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

pytest.register_assert_rewrite("webtools")  # also this module's plugin (pytest_plugins below)
from webtools import WebClient

from orchestrator.services import users
from orchestrator.store.models import User
from orchestrator.web.app import create_app

pytest_plugins = ["webtools", "oidc_support"]

CALLBACK = "http://localhost/login/oidc/callback"  # where the Flask test client's app is
PASSWORD = "passord-hos-leverandoren"


@pytest.fixture
def provider(oidc_provider):
    return oidc_provider([CALLBACK])


@pytest.fixture
def app(orc, settings, provider):
    settings.oidc = provider.settings()
    application = create_app(orchestrator=orc)
    application.config["TESTING"] = True
    return application


def _sign_in(web: WebClient, provider, login: str, cancel: bool = False, next_url: str = ""):
    start = web.post("/login/oidc", {"next": next_url})
    assert start.status_code == 302, start.get_data(as_text=True)[:300]
    back = provider.sign_in(start.headers["Location"], login, PASSWORD, cancel=cancel)
    assert back.startswith(CALLBACK), back
    return web.get(back.removeprefix("http://localhost"))


def _me(web: WebClient) -> dict:
    return web.api("GET", "/api/v1/me").get_json()


def test_the_login_page_offers_the_municipalitys_provider(web, provider):
    response = web.get("/login")
    page = response.get_data(as_text=True)
    assert "Logg inn med Testkommunens innlogging" in page and 'name="password"' in page  # local passwords kept
    # the form posts here and is redirected to the provider: only that origin is added to form-action
    assert f"form-action 'self' {provider.issuer};" in response.headers["Content-Security-Policy"]


def test_the_sign_in_uses_pkce_state_and_nonce(web):
    start = web.post("/login/oidc")
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert query["response_type"] == ["code"] and query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) >= 43 and query["state"][0] and query["nonce"][0]
    assert query["redirect_uri"] == [CALLBACK] and query["scope"] == ["openid profile email groups"]


def test_a_new_user_signs_in_and_is_created_with_roles_and_services_from_the_groups(web, provider, orc):
    provider.account("kari.nordmann", PASSWORD, ["ke-ansatte", "kantine"], name="Kari Nordmann",
                     email="kari.nordmann@kommune.example")
    answer = _sign_in(web, provider, "kari.nordmann", next_url="/instances?status=running")
    assert answer.status_code == 302 and answer.headers["Location"] == "/instances?status=running"
    assert _me(web) == {"username": "kari.nordmann", "roles": ["koordinerende_enhet"], "services": ["helse_omsorg"]}
    with orc.db.read() as session:
        user = session.scalar(select(User).where(User.username == "kari.nordmann"))
    assert user.oidc_issuer == provider.issuer and user.oidc_subject == "kari.nordmann"
    assert user.password_hash is None and user.display_name == "Kari Nordmann"


def test_a_role_change_at_the_provider_takes_effect_at_the_next_sign_in(web, new_client, provider):
    provider.account("per", PASSWORD, ["skole-ansatte"])
    _sign_in(web, provider, "per")
    assert _me(web)["roles"] == ["tjenesteyter"] and web.get("/tasks").status_code == 200
    provider.account("per", PASSWORD, ["skole-ledere", "ppt-ansatte"])  # promoted, and now also in PPT
    assert _me(web)["roles"] == ["tjenesteyter"]  # the provider has not been asked yet
    other = new_client()
    assert _sign_in(other, provider, "per").status_code == 302
    assert _me(other) == {"username": "per", "roles": ["leder", "tjenesteyter"], "services": ["ppt", "skole"]}
    assert _me(web)["roles"] == ["leder", "tjenesteyter"]  # his other session has the new roles at once


def test_someone_in_no_mapped_group_is_refused_in_norwegian_and_gets_no_session(web, provider, orc):
    provider.account("vaktmester", PASSWORD, ["kantine", "drift"])
    refused = _sign_in(web, provider, "vaktmester")
    assert refused.status_code == 403
    assert "ikke med i noen gruppe som gir tilgang" in refused.get_data(as_text=True)
    assert web.get("/instances").status_code == 302 and web.api("GET", "/api/v1/me").status_code == 401
    with orc.db.read() as session:
        assert session.scalar(select(User).where(User.username == "vaktmester")) is None


def test_someone_removed_from_their_groups_is_refused_and_their_other_sessions_end(web, new_client, provider):
    provider.account("per", PASSWORD, ["skole-ansatte"])
    _sign_in(web, provider, "per")
    provider.account("per", PASSWORD, [])
    assert _sign_in(new_client(), provider, "per").status_code == 403
    assert web.get("/instances").status_code == 302


def test_cancelling_at_the_provider_is_a_refused_sign_in(web, provider):
    provider.account("per", PASSWORD, ["skole-ansatte"])
    refused = _sign_in(web, provider, "per", cancel=True)
    assert refused.status_code == 403 and "avbrutt eller avvist hos Testkommunens innlogging" in refused.get_data(as_text=True)
    assert web.api("GET", "/api/v1/me").status_code == 401


def test_a_callback_with_a_state_this_browser_did_not_start_is_refused(web, new_client, provider):
    provider.account("per", PASSWORD, ["skole-ansatte"])
    forged = web.get("/login/oidc/callback?code=stjalet&state=forfalsket")
    assert forged.status_code == 400 and "ugyldig eller utløpt" in forged.get_data(as_text=True)
    start = web.post("/login/oidc")
    back = provider.sign_in(start.headers["Location"], "per", PASSWORD)
    attacker = new_client()  # a callback address planted in another browser (login CSRF) is worth nothing
    assert attacker.get(back.removeprefix("http://localhost")).status_code == 400
    assert attacker.api("GET", "/api/v1/me").status_code == 401


def test_a_local_user_name_cannot_be_taken_over_through_the_provider(web, provider, orc):
    users.add(orc, "petra", ["process_owner"], "et-langt-lokalt-passord")
    provider.account("petra", PASSWORD, ["skole-ansatte"])
    refused = _sign_in(web, provider, "petra")
    assert refused.status_code == 403 and "allerede i bruk av en lokal bruker" in refused.get_data(as_text=True)
    assert users.actor_for(orc, "petra").roles == frozenset({"process_owner"})


def test_a_deactivated_user_cannot_sign_in_through_the_provider(web, new_client, provider, orc):
    provider.account("per", PASSWORD, ["skole-ansatte"])
    _sign_in(web, provider, "per")
    users.set_active(orc, "per", False)
    refused = _sign_in(new_client(), provider, "per")
    assert refused.status_code == 403 and "deaktivert" in refused.get_data(as_text=True)


def test_password_sign_in_can_be_turned_off(orc, settings, provider):
    users.add(orc, "kari", ["koordinerende_enhet"], "et-langt-lokalt-passord")
    settings.oidc, settings.local_login = provider.settings(), False
    web = WebClient(create_app(orchestrator=orc))
    page = web.get("/login").get_data(as_text=True)
    assert "Logg inn med Testkommunens innlogging" in page and 'name="password"' not in page
    refused = web.post("/login", {"username": "kari", "password": "et-langt-lokalt-passord"})
    assert refused.status_code == 403 and web.get("/instances").status_code == 302


def test_a_mapping_naming_an_unknown_role_or_service_stops_the_start_not_a_sign_in(orc, settings):
    from orchestrator.config import OidcSettings
    from orchestrator.services.errors import Invalid

    settings.oidc = OidcSettings(issuer="https://idp.kommune.example", client_id="c",
                                 mapping={"groups": {"ledere": {"roles": ["sjef"]}}})
    with pytest.raises(Invalid, match="ukjente roller sjef"):
        create_app(orchestrator=orc)
    settings.oidc.mapping = {"groups": {"ledere": {"roles": ["leder"], "services": ["bibliotek"]}}}
    with pytest.raises(Invalid, match="Ukjente tjenester"):
        create_app(orchestrator=orc)
