"""The shape of the code: layers call downwards, the service layer has no import cycles, and every
part that is chosen rather than imported is wired in the one composition root."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from orchestrator.services import bootstrap, messages, nightly, samtykke, timers
from orchestrator.services.notices import constants as notice_names
from orchestrator.services.notices import delivery

ROOT = Path(__file__).resolve().parent.parent


def test_import_linter_contracts_hold():
    """pyproject.toml: web -> services -> engine/store -> clock/config, and no cycles inside services."""
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 kept, 0 broken" in done.stdout


def test_the_composition_root_wires_every_outbound_message_and_every_kind_of_background_work(orc):
    assert set(orc.outbound) == {"koordinator_oppnevnt", "planverktoy_valgt", "samtykke_registrert",
                                 "samtykke_trukket_registrert", *notice_names.KINDS}
    assert orc.outbound["samtykke_registrert"] is samtykke.registrer
    assert orc.outbound["samtykke_trukket_registrert"] is samtykke.registrer_tilbaketrekking
    assert orc.route is messages.route_thrown
    # timers first: a pass fires, then sends what fired; the nightly retention run last
    assert list(orc.queues) == [timers.NAME, delivery.NAME, nightly.NAME]


def test_importing_the_service_layer_registers_nothing():
    """Two orchestrators built from different settings share no wiring: nothing lives in module globals."""
    first = bootstrap.queues(_settings(timer_lease_seconds=5))
    second = bootstrap.queues(_settings(timer_lease_seconds=500))
    assert first["timer"].lease_seconds(1) == 5 and second["timer"].lease_seconds(1) == 500
    assert first["notice"].lease_seconds(10) != first["timer"].lease_seconds(10)  # each its own setting


def _settings(**overrides):
    from orchestrator.config import Settings

    return Settings(home=ROOT, database_url="sqlite://", secret_key="x", **overrides)
