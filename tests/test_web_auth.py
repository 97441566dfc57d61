"""Signing in and out, server-side sessions and their timeouts, deactivation and role changes taking
effect at once, argon2 passwords, bearer tokens, 401 versus redirect, CSRF, cookies, headers."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import select

from orchestrator.services import users
from orchestrator.store.models import User, UserSession
from orchestrator.web.app import create_app

pytest_plugins = ["webtools"]  # the web fixtures: app, web, new_client, role_users

PASSWORD = "et-langt-og-godt-passord"


def _user(orc, username="kari", role="koordinerende_enhet"):
    users.add(orc, username, [role], PASSWORD, display_name="Kari")


def _login(web, username, password, next_url=None):
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    return web.post("/login", data)


def test_pages_redirect_to_the_login_page_and_come_back_after_login(web, orc):
    _user(orc)
    response = web.get("/instances?status=running")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/instances?status%3Drunning"
    page = web.get("/login?next=/instances")
    assert page.status_code == 200 and "Logg inn" in page.get_data(as_text=True)
    signed_in = _login(web, "kari", PASSWORD, "/instances?status=running")
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/instances?status=running"
    assert web.get("/instances").status_code == 200


def test_passwords_are_hashed_with_argon2_and_a_wrong_one_is_refused(web, orc):
    _user(orc)
    with orc.db.read() as session:
        stored = session.scalar(select(User.password_hash).where(User.username == "kari"))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    wrong = _login(web, "kari", "feil-passord-her")
    assert wrong.status_code == 401 and "Feil brukernavn eller passord." in wrong.get_data(as_text=True)
    unknown = _login(web, "ukjent", PASSWORD)
    assert unknown.status_code == 401 and "Feil brukernavn eller passord." in unknown.get_data(as_text=True)
    assert web.get("/instances").status_code == 302  # still not signed in


def test_logging_out_ends_the_session_and_needs_a_post(web, orc):
    _user(orc)
    _login(web, "kari", PASSWORD)
    assert web.get("/logout").status_code == 405
    out = web.post("/logout")
    assert out.status_code == 302 and out.headers["Location"] == "/login"
    assert "Du er logget ut." in web.get("/login").get_data(as_text=True)
    assert web.get("/instances").status_code == 302


@pytest.fixture
def cli(tmp_path, database_url):
    """The `orchestrator` command as an operator runs it: another process on the same database."""
    env = {**os.environ, "ORCHESTRATOR_HOME": str(tmp_path), "ORCHESTRATOR_DATABASE_URL": database_url}

    def _run(*args):
        result = subprocess.run([sys.executable, "-m", "orchestrator.cli", *args], capture_output=True, text=True,
                                env=env, timeout=120)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result

    return _run


def _session_cookie(web) -> str:
    return web.client.get_cookie("orkestrator_sesjon").value


def test_a_session_cookie_saved_before_logout_no_longer_works_after_it(web, new_client, orc):
    _user(orc)
    _login(web, "kari", PASSWORD)
    saved = _session_cookie(web)
    assert web.post("/logout").status_code == 302
    thief = new_client()
    thief.client.set_cookie("orkestrator_sesjon", saved)
    assert thief.get("/instances").status_code == 302
    assert thief.api("GET", "/api/v1/me").status_code == 401


def test_the_cookie_holds_only_a_random_session_id_and_the_database_only_its_hash(web, orc):
    _user(orc)
    _login(web, "kari", PASSWORD)
    with web.client.session_transaction() as cookie:
        assert set(cookie) <= {"sid", "csrf_token", "_permanent"} and "kari" not in cookie.values()
        session_id = cookie["sid"]
    with orc.db.read() as session:
        [row] = session.scalars(select(UserSession)).all()
    assert row.token_hash != session_id and session_id not in row.token_hash and len(row.token_hash) == 64
    assert row.method == "password" and row.revoked_at is None


def test_a_session_ends_after_30_idle_minutes_and_8_hours_after_sign_in_in_any_case(web, orc, clock):
    _user(orc)
    _login(web, "kari", PASSWORD)
    for _ in range(23):  # busy all day: a request every 20 minutes, 7 h 40 min
        clock.advance(timedelta(minutes=20))
        assert web.get("/instances").status_code == 200
    clock.advance(timedelta(minutes=20))  # 8 hours after signing in
    assert web.get("/instances").status_code == 302
    _login(web, "kari", PASSWORD)
    clock.advance(timedelta(minutes=29))
    assert web.get("/instances").status_code == 200
    clock.advance(timedelta(minutes=31))  # away from the desk for more than half an hour
    assert web.get("/instances").status_code == 302


def test_deactivating_a_user_from_the_command_line_ends_sessions_and_tokens_at_once(web, orc, cli):
    _user(orc)
    _login(web, "kari", PASSWORD)
    token = users.create_token(orc, "kari")
    assert web.get("/instances").status_code == 200 and web.api("GET", "/api/v1/me", token).status_code == 200
    cli("users", "deactivate", "kari")  # another process: nothing is shared with this one but the database
    assert web.get("/instances").status_code == 302
    assert web.api("GET", "/api/v1/me", token).status_code == 401
    assert _login(web, "kari", PASSWORD).status_code == 401
    cli("users", "activate", "kari")
    assert web.api("GET", "/api/v1/me", token).status_code == 401  # activation gives no old token back
    assert _login(web, "kari", PASSWORD).status_code == 302


def test_a_role_or_service_change_takes_effect_at_the_next_request(web, orc, cli, role_users):
    web.login("tina")
    token = role_users.tokens["tjenesteyter"]
    assert web.get("/dashboard").status_code == 403
    assert web.api("GET", "/api/v1/me", token).get_json() == {"username": "tina", "roles": ["tjenesteyter"],
                                                              "services": []}
    cli("users", "update", "tina", "--role", "manager", "--service", "skole", "--service", "ppt")
    assert web.get("/dashboard").status_code == 200
    assert web.api("GET", "/api/v1/me", token).get_json() == {"username": "tina", "roles": ["manager"],
                                                              "services": ["ppt", "skole"]}


def test_repeated_wrong_passwords_lock_the_login_for_a_while(web, orc):
    _user(orc)
    for _ in range(5):
        assert _login(web, "kari", "feil-passord-her").status_code == 401
    locked = _login(web, "kari", PASSWORD)
    assert locked.status_code == 429 and "For mange mislykkede forsøk" in locked.get_data(as_text=True)


def test_the_next_address_cannot_send_people_to_another_site(web, orc):
    _user(orc)
    for evil in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        response = _login(web, "kari", PASSWORD, evil)
        assert response.headers["Location"] == "/tasks", evil
        web.post("/logout")


def test_a_deactivated_user_loses_the_session(web, orc):
    _user(orc)
    _login(web, "kari", PASSWORD)
    with orc.write() as session:
        session.scalar(select(User).where(User.username == "kari")).active = False
    assert web.get("/instances").status_code == 302


def test_bearer_tokens_authenticate_api_clients_only(web, orc):
    _user(orc)
    token = users.create_token(orc, "kari")
    assert web.api("GET", "/api/v1/me", token).get_json()["username"] == "kari"
    assert web.api("GET", "/api/v1/me", "orc_ukjent").status_code == 401
    assert web.api("GET", "/api/v1/me", headers={"Authorization": f"Basic {token}"}).status_code == 401
    assert web.api("GET", "/instances", token).status_code == 302  # pages want a browser session


def test_the_api_says_401_in_json_and_pages_redirect(web):
    api = web.api("GET", "/api/v1/instances")
    assert api.status_code == 401 and api.is_json
    assert web.api("POST", "/api/v1/instances", json={}).status_code == 401
    assert web.get("/tasks").status_code == 302
    assert web.get("/healthz").status_code == 200
    assert web.get("/static/app/app.css").status_code == 200


def test_a_page_form_without_the_csrf_token_is_refused(web, role_users):
    web.login("tina")
    refused = web.post("/logout", csrf=False)
    assert refused.status_code == 400 and "CSRF" in refused.get_data(as_text=True)
    assert web.get("/tasks").status_code == 200  # still signed in
    wrong = web.client.post("/logout", data={"csrf_token": "feil"})
    assert wrong.status_code == 400


def test_the_login_form_needs_the_csrf_token_too(web, orc):
    _user(orc)
    response = web.post("/login", {"username": "kari", "password": PASSWORD}, csrf=False)
    assert response.status_code == 400


def test_a_session_authenticated_api_post_needs_the_csrf_header(web, role_users):
    web.login("tina")
    body = {"business_key": "SAK-1"}
    refused = web.api("POST", "/api/v1/messages/test_melding", json=body)
    assert refused.status_code == 400 and refused.is_json and "X-CSRFToken" in refused.get_json()["message"]
    accepted = web.api("POST", "/api/v1/messages/test_melding", csrf=True, json=body)
    assert accepted.status_code == 404  # past CSRF: nothing waits for the message


def test_bearer_authenticated_api_posts_need_no_csrf_token(new_client, role_users):
    client = new_client()
    response = client.api("POST", "/api/v1/messages/test_melding", role_users.tokens["tjenesteyter"],
                          json={"business_key": "SAK-1"})
    assert response.status_code == 404  # reached the service


def test_the_session_cookie_is_httponly_and_samesite_lax(web, orc):
    _user(orc)
    response = _login(web, "kari", PASSWORD)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("orkestrator_sesjon=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # tests run over http


def test_the_session_cookie_is_secure_when_configured(orc, settings):
    settings.secure_cookies = True
    secure_app = create_app(settings=settings, orchestrator=orc)
    _user(orc)
    client = secure_app.test_client()
    page = client.get("/login", base_url="https://localhost")
    token = page.get_data(as_text=True).split('name="csrf-token" content="')[1].split('"')[0]
    response = client.post("/login", data={"username": "kari", "password": PASSWORD, "csrf_token": token},
                           base_url="https://localhost", headers={"Referer": "https://localhost/login"})
    assert response.status_code == 302
    assert "Secure" in response.headers["Set-Cookie"]
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_every_response_carries_the_security_headers(web, role_users):
    web.login("petra")
    for response in (web.get("/login"), web.get("/processes"), web.api("GET", "/api/v1/me"),
                     web.get("/finnes-ikke"), web.get("/static/app/app.js")):
        headers = response.headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-eval" not in csp and "'unsafe-inline'" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
    assert web.get("/processes").headers["Cache-Control"] == "no-store"
    modeler = web.get("/modeler").headers["Content-Security-Policy"]  # the properties panel's inline styles
    assert "style-src 'self' 'unsafe-inline'" in modeler and "script-src 'self';" in modeler
    assert "no-store" not in web.get("/static/app/app.js").headers.get("Cache-Control", "")
