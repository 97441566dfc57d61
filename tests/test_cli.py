"""The command line drives a diagram with a 14-day timer to its end, each command a new process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import diagrams

ORCHESTRATOR = [sys.executable, "-m", "orchestrator.cli"]


@pytest.fixture
def run(tmp_path, database_url):
    env = {**os.environ, "ORCHESTRATOR_HOME": str(tmp_path), "ORCHESTRATOR_DATABASE_URL": database_url}

    def _run(*args, stdin=None, expect=0):
        result = subprocess.run(ORCHESTRATOR + list(args), input=stdin, capture_output=True, text=True, env=env,
                                timeout=120)
        assert result.returncode == expect, (args, result.stdout, result.stderr)
        return result

    return _run


def _json(result):
    return json.loads(result.stdout)


def test_a_diagram_with_a_14_day_timer_runs_to_its_end_from_the_command_line(run, tmp_path):
    folder = tmp_path / "prosesser"
    folder.mkdir()
    for name, content in diagrams.fourteen_days_before_meeting():
        (folder / name).write_text(content)
    run("db", "upgrade")
    deployed = _json(run("deploy", str(folder), "--json"))
    assert sorted((d["key"], d["version"]) for d in deployed) == [("test_fjorten_dager", 1), ("test_moete", 1)]
    run("users", "add", "tina", "--role", "tjenesteyter", "--password-stdin", stdin="et-langt-passord\n")

    started = _json(run("instances", "start", "test_fjorten_dager", "--business-key", "SAK-2027-1", "--as", "tina", "--json"))
    [task] = _json(run("tasks", "list", "--as", "tina", "--json"))["items"]
    assert task["name"] == "Avtal møte"

    refused = run("tasks", "complete", task["id"], "--data", '{"moetetid": "neste uke"}', "--as", "tina", expect=1)
    assert "moetetid" in refused.stderr and "Ugyldig tidspunkt" in refused.stderr

    run("tasks", "complete", task["id"], "--data", '{"moetetid": "2027-03-15T10:00"}', "--as", "tina")
    shown = _json(run("instances", "show", str(started["id"]), "--json"))
    assert [t["due_at"] for t in shown["timers"]] == ["2027-03-01T09:00:00+00:00"]  # 10:00 Oslo, 14 days before

    early = run("timers", "fire", "--now", "2027-03-01T09:59:00+01:00")
    assert "Ingenting forfalt" in early.stdout
    fired = _json(run("timers", "fire", "--now", "2027-03-01T10:00:01+01:00", "--json"))["fired"]
    assert [(f["instance_id"], f["elements"]) for f in fired] == [(started["id"], ["vent"])]

    [send] = _json(run("tasks", "list", "--as", "tina", "--json"))["items"]
    assert send["name"] == "Send innkalling"
    run("tasks", "complete", send["id"], "--as", "tina")
    final = _json(run("instances", "show", str(started["id"]), "--json"))
    assert final["status"] == "completed"
    assert [h["action"] for h in final["history"]].count("task_completed") == 2


def test_errors_go_to_stderr_with_a_non_zero_exit(run):
    run("db", "upgrade")
    missing = run("instances", "start", "finnes_ikke", "--business-key", "SAK-1", expect=1)
    assert missing.stdout == "" and "finnes_ikke" in missing.stderr
    usage = run("timers", "fire", "--now", "i morgen", expect=2)
    assert "ISO 8601" in usage.stderr
    bad = run("deploy", str(Path("/finnes/ikke.bpmn")), expect=1)
    assert "finnes ikke" in bad.stderr
