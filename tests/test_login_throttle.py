"""The brake on password guessing: it slows the guesser, never locks the real user out, holds across
web processes sharing one database, and forgets."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

pytest.register_assert_rewrite("webtools")  # it is also this module's plugin (pytest_plugins below)
from webtools import WebClient

from orchestrator.services import bootstrap, login_throttle, users
from orchestrator.store.models import LoginAttempt
from orchestrator.web.app import create_app

pytest_plugins = ["webtools"]  # the web fixtures: app, web, new_client, role_users

PASSWORD = "et-langt-og-godt-passord"
KARIS_DESK, GUESSER = "10.20.0.15", "203.0.113.66"


@pytest.fixture
def kari(orc):
    users.add(orc, "kari", ["koordinerende_enhet"], PASSWORD)


def _login(client: WebClient, password: str, address: str, username: str = "kari"):
    return client.post("/login", {"username": username, "password": password}, environ_base={"REMOTE_ADDR": address})


def test_someone_guessing_from_elsewhere_cannot_lock_the_real_user_out(kari, new_client):
    guesser, real = new_client(), new_client()
    answers = [_login(guesser, f"gjetning-{n}-passord", GUESSER).status_code for n in range(12)]
    assert answers[:5] == [401] * 5 and set(answers[5:]) == {429}  # the guesser is slowed after five
    assert _login(guesser, PASSWORD, GUESSER).status_code == 429  # even the right password, from there
    assert _login(real, PASSWORD, KARIS_DESK).status_code == 302  # Kari at her own desk signs in


def test_the_brake_holds_across_two_web_processes_sharing_the_database(kari, orc, settings):
    other_process = bootstrap.build(settings)  # its own caches and memory; only the database is shared
    try:
        first, second = WebClient(create_app(orchestrator=orc)), WebClient(create_app(orchestrator=other_process))
        for n in range(5):
            assert _login(first, f"gjetning-{n}-passord", GUESSER).status_code == 401
        assert _login(second, PASSWORD, GUESSER).status_code == 429
        assert _login(second, PASSWORD, KARIS_DESK).status_code == 302
    finally:
        other_process.close()


def test_the_wait_grows_with_each_failure_and_old_failures_are_forgotten(kari, web, orc, clock):
    for n in range(5):
        assert _login(web, f"gjetning-{n}-passord", GUESSER).status_code == 401
    refused = _login(web, PASSWORD, GUESSER)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "31"
    assert "Vent 1 min" in refused.get_data(as_text=True)
    clock.advance(timedelta(seconds=31))
    assert _login(web, "gjetning-6-passord", GUESSER).status_code == 401  # one more try, then 60 s
    clock.advance(timedelta(seconds=40))
    assert _login(web, PASSWORD, GUESSER).status_code == 429
    clock.advance(timedelta(hours=1))  # an hour later nothing of it counts, and nothing of it is kept
    assert _login(web, "gjetning-7-passord", GUESSER).status_code == 401
    with orc.db.read() as session:
        failures = session.scalar(select(func.count()).select_from(LoginAttempt).where(LoginAttempt.kind == "failure"))
        keys = session.scalars(select(LoginAttempt.key)).all()
    assert failures == 3  # the last failure under its three keys; the older ones were deleted
    assert not any("kari" in key or GUESSER in key for key in keys)  # HMACs, never the name or address
    assert _login(web, PASSWORD, GUESSER).status_code == 302


def test_one_address_trying_many_user_names_is_slowed(kari, web, orc):
    for n in range(50):
        login_throttle.failed(orc, f"bruker{n}", GUESSER)
    assert _login(web, PASSWORD, GUESSER).status_code == 429
    assert _login(web, PASSWORD, KARIS_DESK).status_code == 302


def test_a_hundred_failures_an_hour_on_one_account_slow_new_addresses_but_not_kari_at_her_desk(kari, new_client, orc):
    assert _login(new_client(), PASSWORD, KARIS_DESK).status_code == 302  # her desk is known from now on
    for n in range(100):  # a botnet: each address a couple of tries, the account a hundred
        login_throttle.failed(orc, "kari", f"198.51.100.{n}")
    assert _login(new_client(), PASSWORD, "192.0.2.7").status_code == 429  # ASVS 2.2.1: ≤ 100 an hour
    assert _login(new_client(), PASSWORD, KARIS_DESK).status_code == 302
