"""The innkalling leaves at its due time, exactly D−14, and never for a meeting that has passed (004 11.4)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

from routines import GROUP_CONSENT, ROOT, do, instance_of, open_elements, people, plan_case, seeded  # noqa: F401
from test_routine_ansvarsgruppe import create, group, innkalling_due, oslo, prepare, sent  # noqa: F401
from helpers import open_tasks
from orchestrator import clock as clock_module
from orchestrator.services import instances, timers
from orchestrator.services.access import SYSTEM
from routines import notices


def _queued(orc, instance_id, kind="innkalling"):
    history = instances.get(orc, instance_id, SYSTEM).history
    return [h["data"] for h in history if h["action"] == "notice_queued" and h["data"]["type"] == kind]


def test_the_innkalling_leaves_at_exactly_14_days_before_the_meeting(orc, group, people, clock):
    meeting = create(orc, group, people, clock)
    prepare(orc, group, people)
    due = innkalling_due(orc, group)
    assert due == meeting - timedelta(days=14)
    clock.set(due - timedelta(microseconds=1))
    assert timers.fire_due(orc) == [] and sent(orc, group.id, "innkalling") == []
    clock.set(due)  # the due time itself: due ≤ now
    [fired] = timers.fire_due(orc)
    assert fired.elements == ["innkallingsfrist"]
    assert len(sent(orc, group.id, "innkalling")) == 1
    assert [q["dager_foer_moetet"] for q in _queued(orc, group.id)] == [14]
    assert timers.fire_due(orc) == []  # nothing left due: it does not fire again


def test_a_worker_a_second_late_still_records_that_it_left_14_days_before(orc, group, people, clock):
    meeting = create(orc, group, people, clock)
    prepare(orc, group, people)
    clock.set(innkalling_due(orc, group) + timedelta(seconds=1))
    timers.fire_due(orc)
    assert [q["dager_foer_moetet"] for q in _queued(orc, group.id)] == [14]  # calendar days in Norway, not 13
    assert notices(orc, group.id, "innkalling")[0]["meeting_at"] == meeting


def test_an_innkalling_whose_meeting_passed_during_downtime_is_not_sent_and_the_leader_is_told(
        orc, group, people, clock):
    meeting = create(orc, group, people, clock)
    prepare(orc, group, people)
    clock.set(meeting + timedelta(hours=1))  # the worker was down from before D−14 until after the meeting
    timers.fire_due(orc)
    assert sent(orc, group.id, "innkalling") == [] and notices(orc, group.id, "innkalling") == []
    [escalation] = open_tasks(orc, group.id)
    assert (escalation.element_id, escalation.role) == ("eskalering_moete_passert", "leder")
    do(orc, group.id, "eskalering_moete_passert", people.lars, {"eskalering_tiltak": "Koordinator avtaler nytt møte."})
    assert open_elements(orc, group.id) == ["nytt_moete"]
    new_time = clock.now().replace(hour=9, minute=0) + timedelta(days=21)
    do(orc, group.id, "nytt_moete", people.kora, {"moetetid": oslo(new_time), "sted": "Rådhuset"})
    assert open_elements(orc, group.id) == ["forberede_innkalling"]
    assert instances.get(orc, group.id, SYSTEM).data["moete_id"] == "m2"  # a new meeting with its own invite
    prepare(orc, group, people)
    clock.set(innkalling_due(orc, group))
    timers.fire_due(orc)
    [row] = {r["uid"]: r for r in notices(orc, group.id, "innkalling")}.values()
    assert row["meeting_at"] == new_time


def test_an_innkalling_prepared_only_after_the_meeting_is_not_sent(orc, group, people, clock):
    meeting = create(orc, group, people, clock)
    clock.set(meeting + timedelta(days=1))
    timers.fire_due(orc)  # the deadline passed unprepared: the leader was told
    assert open_elements(orc, group.id) == ["eskalering_innkalling_forsinket", "forberede_innkalling"]
    prepare(orc, group, people)  # done too late: the meeting is over
    assert sent(orc, group.id, "innkalling") == []
    assert "eskalering_moete_passert" in open_elements(orc, group.id)


def test_timers_fire_from_the_command_line_at_the_exact_due_time_and_return(tmp_path, database_url):
    """`orchestrator timers fire --now T` at the innkalling's exact due time fires it and returns."""
    env = {**os.environ, "ORCHESTRATOR_HOME": str(tmp_path), "ORCHESTRATOR_DATABASE_URL": database_url}

    def run(*args, stdin=None):
        done = subprocess.run([sys.executable, "-m", "orchestrator.cli", *args], input=stdin, capture_output=True,
                              text=True, env=env, timeout=120)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return json.loads(done.stdout) if "--json" in args else done.stdout

    run("db", "upgrade")
    run("deploy", str(ROOT / "processes"), str(ROOT / "forms"))
    run("users", "add", "kora", "--role", "koordinator", "--role", "tjenesteyter", "--password-stdin",
        stdin="et-langt-passord\n")
    group = run("instances", "start", "ansvarsgruppe", "--business-key", "SAK-CLI", "--as", "kora",
                "--data", json.dumps({"gjelder": "Ola N.", "samtykke": GROUP_CONSENT}), "--json")
    meeting = clock_module.now().replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=60)

    def complete(element_id, data):
        [task] = [t for t in run("tasks", "list", "--as", "kora", "--json")["items"] if t["element_id"] == element_id]
        run("tasks", "complete", task["id"], "--data", json.dumps(data), "--as", "kora")

    complete("opprettelse", {"gjelder": "Ola N.", "varslingsfrist_dager": 14, "moetetid": oslo(meeting),
                             "sted": "Rådhuset", "faste_medlemmer": [
                                 {"tittel": "Kontaktlærer", "tjeneste": "skole", "navn": "Tor Lærer",
                                  "adresse": "tor@skole.example"}]})
    complete("forberede_innkalling", {"saksliste": [{"punkt": "Skolehverdagen"}], "tjenestemottaker_deltar": "ja"})
    [timer] = [t for t in run("instances", "show", str(group["id"]), "--json")["timers"]
               if t["element_id"] == "innkallingsfrist"]
    fired = run("timers", "fire", "--now", timer["due_at"], "--json")["fired"]  # returns (the timeout would say)
    assert [(f["instance_id"], f["elements"]) for f in fired] == [(group["id"], ["innkallingsfrist"])]
    shown = run("instances", "show", str(group["id"]), "--json")
    queued = [h["data"] for h in shown["history"] if h["action"] == "notice_queued"]
    assert [(q["type"], q["dager_foer_moetet"]) for q in queued] == [("innkalling", 14)]
    assert run("timers", "fire", "--now", timer["due_at"], "--json")["fired"] == []
