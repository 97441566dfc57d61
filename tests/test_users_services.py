"""Users belong to services (tjenester): a catalogue per installation, membership from the command
line, on the Actor of every request, and demo users in sensible services."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from orchestrator.services import tjenester, users
from orchestrator.services.errors import Invalid


@pytest.fixture
def cli(tmp_path, database_url):
    env = {**os.environ, "ORCHESTRATOR_HOME": str(tmp_path), "ORCHESTRATOR_DATABASE_URL": database_url}

    def _run(*args, expect=0):
        result = subprocess.run([sys.executable, "-m", "orchestrator.cli", *args], capture_output=True, text=True,
                                env=env, timeout=120)
        assert result.returncode == expect, (args, result.stdout, result.stderr)
        return result

    return _run


def test_the_default_catalogue_names_the_welfare_services_in_norwegian(settings):
    catalogue = tjenester.catalogue(settings)
    assert catalogue.source == "standardlisten"
    assert {"skole", "ppt", "helsestasjon", "nav", "barnevern", "fastlege"} <= set(catalogue.names)
    assert catalogue.name("ppt") == "PPT (pedagogisk-psykologisk tjeneste)" and catalogue.name("nav") == "NAV"


def test_a_municipality_replaces_the_catalogue_with_its_own_file(settings, tmp_path):
    (tmp_path / "tjenester.json").write_text(json.dumps({"skole": "Grunnskole", "bpa": "Brukerstyrt personlig assistanse"}))
    catalogue = tjenester.catalogue(settings)  # <ORCHESTRATOR_HOME>/tjenester.json
    assert list(catalogue.names) == ["skole", "bpa"] and catalogue.name("skole") == "Grunnskole"
    elsewhere = tmp_path / "annet" / "liste.json"
    elsewhere.parent.mkdir()
    elsewhere.write_text(json.dumps({"Ugyldig nøkkel": "x"}))
    settings.services_file = elsewhere  # ORCHESTRATOR_SERVICES_FILE
    with pytest.raises(Invalid, match="ugyldige oppføringer"):
        tjenester.catalogue(settings)


def test_users_are_added_to_services_and_moved_between_them_from_the_command_line(cli):
    cli("users", "add", "siri", "--role", "tjenesteyter", "--service", "skole", "--service", "ppt")
    refused = cli("users", "add", "ola", "--role", "tjenesteyter", "--service", "bibliotek", expect=1)
    assert "Ukjent: bibliotek" in refused.stderr
    listed = {u["username"]: u for u in json.loads(cli("users", "list", "--json").stdout)}
    assert listed["siri"]["services"] == ["ppt", "skole"] and "ola" not in listed
    cli("users", "update", "siri", "--service", "nav")
    cli("users", "update", "siri", "--role", "leder", "--role", "tjenesteyter")
    [siri] = json.loads(cli("users", "list", "--json").stdout)
    assert siri["services"] == ["nav"] and siri["roles"] == ["leder", "tjenesteyter"]
    cli("users", "update", "siri", "--no-services")
    assert json.loads(cli("users", "list", "--json").stdout)[0]["services"] == []
    shown = cli("services", "list").stdout
    assert "ppt" in shown and "PPT (pedagogisk-psykologisk tjeneste)" in shown


def test_the_actor_carries_the_users_services(orc):
    users.add(orc, "siri", ["tjenesteyter"], None, services=["skole", "ppt"])
    actor = users.actor_for(orc, "siri")
    assert actor.services == frozenset({"skole", "ppt"}) and actor.roles == frozenset({"tjenesteyter"})


def test_the_demo_users_belong_to_sensible_services(orc, tmp_path):
    users.bootstrap(orc, tmp_path / "demo-brukere.txt")
    services = {u.username: u.services for u in users.list_users(orc)}
    assert services["tina"] == ["skole"] and services["kora"] == ["helsestasjon"]
    assert services["kari"] == ["helse_omsorg"] and services["lars"] == ["skole"] and services["nina"] == ["nav"]
    assert services["petra"] == [] and services["mona"] == []
