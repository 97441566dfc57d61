"""API tokens: they expire, are listed without their secret, are revoked by id from the command line
or the API-nøkler page, and stop working at once."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import select

pytest.register_assert_rewrite("webtools")
from webtools import WebClient  # noqa: F401  (the plugin's client, used through the fixtures)

from orchestrator.services import tokens, users
from orchestrator.services.access import SYSTEM
from orchestrator.services.errors import Invalid
from orchestrator.store.models import ApiToken

pytest_plugins = ["webtools"]


@pytest.fixture
def cli(tmp_path, database_url):
    env = {**os.environ, "ORCHESTRATOR_HOME": str(tmp_path), "ORCHESTRATOR_DATABASE_URL": database_url}

    def _run(*args, expect=0):
        result = subprocess.run([sys.executable, "-m", "orchestrator.cli", *args], capture_output=True, text=True,
                                env=env, timeout=120)
        assert result.returncode == expect, (args, result.stdout, result.stderr)
        return result

    return _run


def _me(web, token):
    return web.api("GET", "/api/v1/me", token).status_code


def test_a_token_works_for_90_days_by_default_and_not_a_second_longer(web, orc, make_user, clock):
    make_user("kari", "koordinerende_enhet")
    token = users.create_token(orc, "kari")
    clock.advance(timedelta(days=90) - timedelta(seconds=1))
    assert _me(web, token) == 200
    clock.advance(timedelta(seconds=1))
    answer = web.api("GET", "/api/v1/me", token)
    assert answer.status_code == 401 and answer.get_json()["message"] == "Ugyldig eller utløpt API-nøkkel."


def test_a_token_can_be_given_a_shorter_or_longer_life(web, orc, make_user, clock):
    make_user("kari", "koordinerende_enhet")
    short, long = tokens.create(orc, "kari", "kort", expires_in_days=1), tokens.create(orc, "kari", "lang", 365)
    clock.advance(timedelta(days=2))
    assert _me(web, short) == 401 and _me(web, long) == 200
    with pytest.raises(Invalid):
        tokens.create(orc, "kari", expires_in_days=0)


def test_tokens_are_listed_without_their_secret_and_revoked_by_id_from_the_command_line(web, orc, cli):
    cli("users", "add", "kari", "--role", "koordinerende_enhet")
    token = cli("tokens", "create", "kari", "--label", "fagsystem", "--expires-in-days", "30").stdout.strip()
    assert _me(web, token) == 200
    [listed] = json.loads(cli("tokens", "list", "kari", "--json").stdout)
    assert listed["label"] == "fagsystem" and listed["status"] == "gyldig" and listed["last_used_at"]
    assert set(listed) == {"id", "username", "label", "created_at", "last_used_at", "expires_at", "revoked_at", "status"}
    assert token not in json.dumps(listed) and token.removeprefix("orc_")[:12] not in json.dumps(listed)
    cli("tokens", "revoke", str(listed["id"]))  # another process
    assert _me(web, token) == 401
    assert json.loads(cli("tokens", "list", "--json").stdout)[0]["status"] == "tilbakekalt"


def test_the_last_use_is_recorded_at_most_every_five_minutes(web, orc, make_user, clock):
    make_user("kari", "koordinerende_enhet")
    token = users.create_token(orc, "kari")
    _me(web, token)
    first = tokens.list_tokens(orc, SYSTEM, "kari")[0].last_used_at
    assert first == clock.now()
    clock.advance(timedelta(minutes=4))
    _me(web, token)
    assert tokens.list_tokens(orc, SYSTEM, "kari")[0].last_used_at == first
    clock.advance(timedelta(minutes=1))
    _me(web, token)
    assert tokens.list_tokens(orc, SYSTEM, "kari")[0].last_used_at == clock.now()


def test_staff_see_create_and_revoke_their_own_tokens_on_the_page_but_not_others(web, orc, make_user):
    make_user("tina", "tjenesteyter")
    make_user("trond", "tjenesteyter")
    tronds = users.create_token(orc, "trond", "tronds skript")
    web.login("tina")
    created = web.post("/tokens", {"label": "mitt skript", "expires_in_days": "30"})
    assert created.status_code == 201
    page = created.get_data(as_text=True)
    mine = page.split('id="ny-nokkel">')[1].split("<")[0]
    assert mine.startswith("orc_") and "mitt skript" in page and "tronds skript" not in page
    assert _me(web, mine) == 200
    with orc.db.read() as session:
        stored = session.scalars(select(ApiToken.token_hash)).all()
    assert page.count(mine) == 1 and all(mine not in h for h in stored)  # shown once, stored as a hash
    [own] = tokens.list_tokens(orc, SYSTEM, "tina")
    tronds_id = tokens.list_tokens(orc, SYSTEM, "trond")[0].id
    assert web.post(f"/tokens/{tronds_id}/revoke").status_code == 404
    assert _me(web, tronds) == 200
    assert web.post(f"/tokens/{own.id}/revoke").status_code == 302
    assert _me(web, mine) == 401
    listing = web.get("/tokens").get_data(as_text=True)
    assert "Trukket tilbake" in listing and "mitt skript" in listing
    assert mine not in listing  # shown once, at creation


def test_a_manager_sees_and_revokes_anyones_token(web, orc, make_user):
    make_user("mona", "manager")
    make_user("trond", "tjenesteyter")
    tronds = users.create_token(orc, "trond", "tronds skript")
    listing = web.login("mona").get("/tokens").get_data(as_text=True)
    assert "tronds skript" in listing and "trond" in listing
    tronds_id = tokens.list_tokens(orc, SYSTEM, "trond")[0].id
    assert web.post(f"/tokens/{tronds_id}/revoke").status_code == 302
    assert _me(web, tronds) == 401
