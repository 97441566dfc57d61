"""A process killed with SIGKILL at any commit point loses nothing and doubles nothing.

Each test starts a real process (the command line, `orchestrator serve`, `orchestrator worker`) with
ORCHESTRATOR_FAULT=<unit>.<before|after>_commit[@n] (orchestrator/faults.py), lets it kill itself at
that point, then looks at what the crash left, restarts a clean process to finish the work, and
checks the outcome: the step happened exactly once (or, before the commit, not at all until it was
redone), its notices exist once per recipient, and `consistency.assert_consistent` finds the
indexed tables and the audit log in agreement with every instance's state.

Notice delivery has only in-process fault hooks (services/notices/faults.py); its tests run a worker
that installs a hook which SIGKILLs the process (`multinode_support.notice_worker_main`).

Runs on SQLite and, with ORCHESTRATOR_TEST_DATABASE_URL, on PostgreSQL.
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select

from consistency import assert_consistent
from multinode_support import TESTS, Node, stop_idle, utcnow, wait_for
from notice_support import KARI, LISE, PER, ansvarsgruppe_mini, meeting_data, meeting_series
from notice_support import mailbox  # noqa: F401  (fixture)
from orchestrator import clock as clock_module
from orchestrator.services import instances, tasks, users
from orchestrator.services.access import SYSTEM
from orchestrator.store.models import AuditEntry, Instance, Notice, OpenTask

EVERYONE = sorted(p["adresse"] for p in (KARI, PER, LISE))
MOVE = {"valg": "flytt", "nytt_sted": "Lund rådhus, møterom 3"}
KILLED = -9


@pytest.fixture
def node(tmp_path, database_url):
    installation = Node(tmp_path, database_url, ORCHESTRATOR_TIMER_LEASE_SECONDS=2)
    yield installation
    installation.stop_all()


@pytest.fixture
def series(deploy, make_user):
    deploy(*meeting_series())
    return make_user("kari", "koordinerende_enhet")


def _start_series(orc, business_key="SAK-F1"):
    return instances.start(orc, "test_moeteserie", SYSTEM, business_key=business_key,
                           data=meeting_data(utcnow() + timedelta(days=30)))


def _snapshot(orc, instance_id: int) -> dict:
    with orc.db.read() as session:
        row = session.get(Instance, instance_id)
        audit = Counter(session.scalars(select(AuditEntry.action).where(AuditEntry.instance_id == instance_id)))
        notices = Counter(session.scalars(select(Notice.kind).where(Notice.instance_id == instance_id)))
        open_tasks = sorted(session.scalars(select(OpenTask.element_id).where(OpenTask.instance_id == instance_id)))
        return {"lock_version": row.lock_version, "audit": audit, "notices": notices, "tasks": open_tasks,
                "status": row.status}


def _one_task(orc, instance_id: int):
    [task] = tasks.list_tasks(orc, SYSTEM, instance_id=instance_id).items
    return task


def _assert_notices_once(orc) -> Counter:
    """One notice per instance, kind, meeting, version and recipient (also checked by the checker)."""
    with orc.db.read() as session:
        rows = session.execute(select(Notice.instance_id, Notice.kind, Notice.sequence, Notice.recipient)).all()
    doubled = [key for key, n in Counter(rows).items() if n > 1]
    assert doubled == []
    return Counter((instance_id, kind) for instance_id, kind, _, _ in rows)


# --- a task completed by the command line ---------------------------------------------------------
@pytest.mark.parametrize("point", ["before_commit", "after_commit"])
def test_completing_a_task_killed_at_the_commit_point_is_done_once(orc, node, series, point):
    started = _start_series(orc)
    task = _one_task(orc, started.id)
    before = _snapshot(orc, started.id)

    crashed = node.cli("tasks", "complete", task.id, "--data", json.dumps(MOVE), "--as", "kari",
                       fault=f"task.complete.{point}", expect=None)
    assert crashed.returncode == KILLED, crashed.stderr
    after_crash = _snapshot(orc, started.id)
    if point == "before_commit":  # nothing of the step is there: not the completion, not its notices
        assert after_crash == before
        node.cli("tasks", "complete", task.id, "--data", json.dumps(MOVE), "--as", "kari")
    else:  # all of it is there, and doing it again is refused, not redone
        assert after_crash["lock_version"] == before["lock_version"] + 1
        assert after_crash["audit"]["task_completed"] == 1
        assert after_crash["notices"] == {"innkalling": 3, "innkalling_endret": 3}
        again = node.cli("tasks", "complete", task.id, "--data", json.dumps(MOVE), "--as", "kari", expect=1)
        assert "allerede fullført" in again.stderr
    final = _snapshot(orc, started.id)
    assert final["lock_version"] == before["lock_version"] + 1
    assert final["audit"]["task_completed"] == 1 and final["audit"]["notice_queued"] == 2
    assert final["notices"] == {"innkalling": 3, "innkalling_endret": 3}
    assert final["tasks"] == ["neste"] and _one_task(orc, started.id).id != task.id
    _assert_notices_once(orc)
    assert_consistent(orc)


# --- a task completed through a web server ----------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("point", ["before_commit", "after_commit"])
def test_a_server_killed_while_completing_a_task_loses_and_doubles_nothing(orc, node, series, point):
    started = _start_series(orc)
    task = _one_task(orc, started.id)
    before = _snapshot(orc, started.id)
    token = users.create_token(orc, "kari", "faults")
    headers = {"Authorization": f"Bearer {token}"}

    server = node.werkzeug("serve-doomed", fault=f"task.complete.{point}")
    with pytest.raises(requests.ConnectionError):  # the server dies mid-request: no answer at all
        requests.post(f"{server.url}/api/v1/tasks/{task.id}/complete", json={"data": MOVE}, headers=headers,
                      timeout=60)
    assert server.proc.wait_killed(30) == KILLED
    crashed = _snapshot(orc, started.id)
    assert crashed == before if point == "before_commit" else crashed["audit"]["task_completed"] == 1

    restarted = node.werkzeug("serve-clean")
    retry = requests.post(f"{restarted.url}/api/v1/tasks/{task.id}/complete", json={"data": MOVE},
                          headers=headers, timeout=60)
    # the client repeats what it does not know happened: done now, or refused as already done
    assert retry.status_code == (200 if point == "before_commit" else 409), retry.text
    restarted.proc.stop()
    final = _snapshot(orc, started.id)
    assert final["lock_version"] == before["lock_version"] + 1
    assert final["audit"]["task_completed"] == 1
    assert final["notices"] == {"innkalling": 3, "innkalling_endret": 3}
    assert_consistent(orc)


# --- an instance started by the command line ---------------------------------------------------------
@pytest.mark.parametrize("point", ["before_commit", "after_commit"])
def test_starting_an_instance_killed_at_the_commit_point_starts_it_once(orc, node, series, point):
    data = json.dumps(meeting_data(utcnow() + timedelta(days=30)))
    crashed = node.cli("instances", "start", "test_moeteserie", "--business-key", "SAK-F2", "--data", data,
                       "--as", "kari", fault=f"instance.start.{point}", expect=None)
    assert crashed.returncode == KILLED, crashed.stderr
    found = instances.list_instances(orc, SYSTEM, business_key="SAK-F2").items
    assert len(found) == (0 if point == "before_commit" else 1)
    if not found:  # what a careful client does after a crash: look before starting again
        node.cli("instances", "start", "test_moeteserie", "--business-key", "SAK-F2", "--data", data, "--as", "kari")
    [instance] = instances.list_instances(orc, SYSTEM, business_key="SAK-F2").items
    final = _snapshot(orc, instance.id)
    assert final["audit"]["started"] == 1 and final["notices"] == {"innkalling": 3}
    assert final["tasks"] == ["neste"]
    assert_consistent(orc)


# --- a message sent by the command line ------------------------------------------------------------
@pytest.mark.parametrize("point", ["before_commit", "after_commit"])
def test_a_message_delivery_killed_at_the_commit_point_is_delivered_once(orc, node, deploy, make_user, point):
    import diagrams

    deploy(*diagrams.messages())
    make_user("kari", "koordinerende_enhet")
    [delivery] = node.cli_json("messages", "send", "test_melding", "--business-key", "SAK-F3", "--data",
                               '{"tekst": "hei"}', "--as", "kari")
    instance_id = delivery["instance_id"]
    node.cli("tasks", "complete", _one_task(orc, instance_id).id, "--as", "kari")
    before = _snapshot(orc, instance_id)
    assert before["tasks"] == []  # it waits for «test_svar»

    crashed = node.cli("messages", "send", "test_svar", "--business-key", "SAK-F3", "--as", "kari",
                       fault=f"message.send.{point}", expect=None)
    assert crashed.returncode == KILLED, crashed.stderr
    if point == "before_commit":
        assert _snapshot(orc, instance_id) == before
        node.cli("messages", "send", "test_svar", "--business-key", "SAK-F3", "--as", "kari")
    else:
        again = node.cli("messages", "send", "test_svar", "--business-key", "SAK-F3", "--as", "kari", expect=1)
        assert "venter på meldingen" in again.stderr  # delivered already: nobody waits for it now
    final = _snapshot(orc, instance_id)
    assert final["audit"]["message_received"] == 1 and final["tasks"] == ["etter_svar"]
    assert final["lock_version"] == before["lock_version"] + 1
    with orc.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Instance)) == 1  # no stray instance started
    assert_consistent(orc)


# --- timers fired by a worker --------------------------------------------------------------------
GROUPS = 3


@pytest.fixture
def due_groups(orc, deploy):
    """GROUPS ansvarsgruppe-like instances whose innkalling timer came due four days ago (real clock)."""
    deploy(*ansvarsgruppe_mini())
    now = utcnow()
    ids = []
    with clock_module.frozen(now - timedelta(days=20)):
        for number in range(GROUPS):
            ids.append(instances.start(orc, "test_ansvarsgruppe_mini", SYSTEM, business_key=f"SAK-T{number}",
                                       data=meeting_data(now + timedelta(days=10), moete_id=f"SAK-T{number}-m1")).id)
    with orc.db.read() as session:
        assert session.scalar(select(func.count()).where(Instance.next_timer_at <= now)) == GROUPS
    return ids


def _unfired(orc, ids) -> int:
    return len(set(ids) - set(_fired(orc)))


def _undelivered(orc) -> int:
    """Notices not yet delivered (to the SMTP server, or to the sink when none is configured)."""
    with orc.db.read() as session:
        return session.scalar(select(func.count()).select_from(Notice).where(Notice.status == "queued"))


def _fired(orc) -> dict[int, list]:
    with orc.db.read() as session:
        entries = session.execute(select(AuditEntry.instance_id, AuditEntry.at).where(
            AuditEntry.action == "timer_fired")).all()
    found: dict[int, list] = {}
    for instance_id, at in entries:
        found.setdefault(instance_id, []).append(at)
    return found


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["timer.claim.before_commit", "timer.claim.after_commit",
                                   "timer.fire.before_commit@2", "timer.fire.after_commit"])
def test_a_worker_killed_at_a_timer_commit_point_fires_each_timer_once(orc, node, due_groups, fault):
    doomed = node.worker("doomed", fault=fault)
    assert doomed.wait_killed(60) == KILLED, doomed.tail()
    fired = _fired(orc)
    with orc.db.read() as session:
        leases = dict(session.execute(select(Instance.id, Instance.timer_lease_until).where(
            Instance.timer_lease_owner.is_not(None))).all())
    # what the crash left: the committed firings (with their notices), the rest untouched
    expected_fired = {"timer.fire.before_commit@2": 1, "timer.fire.after_commit": 1}.get(fault, 0)
    assert len(fired) == expected_fired
    assert len(leases) == (0 if fault == "timer.claim.before_commit" else GROUPS - expected_fired)
    assert Counter(_assert_notices_once(orc).values()) == ({3: expected_fired} if expected_fired else Counter())

    clean = node.worker("clean")
    wait_for(lambda: _unfired(orc, due_groups) + _undelivered(orc) == 0, 90,
             what="the clean worker to fire and deliver everything")
    assert clean.alive(), clean.tail()
    stop_idle([clean])
    fired = _fired(orc)
    assert sorted(fired) == sorted(due_groups) and {len(v) for v in fired.values()} == {1}
    late = {i: (fired[i][0], until) for i, until in leases.items() if fired[i][0] < until}
    assert late == {}, "a timer leased by the dead worker fired before the lease expired"
    per_instance = _assert_notices_once(orc)
    assert per_instance == {(i, "innkalling"): 3 for i in due_groups}
    for instance_id in due_groups:
        snapshot = _snapshot(orc, instance_id)
        assert snapshot["tasks"] == ["skriv_referat"] and snapshot["audit"]["timer_fired"] == 1
        assert snapshot["audit"]["notice_sent"] == 3
    summary = assert_consistent(orc, settled=True)
    assert summary.notices == {"sink": 3 * GROUPS}


# --- notices delivered by a worker ---------------------------------------------------------------
def _notice_worker(node: Node, name: str, mailbox, kill_at: str | None = None):
    # a notice lease lasts lease seconds + 10 x 2 x SMTP timeout: 1 + 10 s here (460 s by default)
    env = {"ORCHESTRATOR_SMTP_HOST": "127.0.0.1", "ORCHESTRATOR_SMTP_PORT": mailbox.server.port,
           "ORCHESTRATOR_MAIL_FROM": "Koordinerende enhet <ke@lund.kommune.invalid>",
           "ORCHESTRATOR_TIMER_LEASE_SECONDS": 1, "ORCHESTRATOR_SMTP_TIMEOUT_SECONDS": 0.5}
    if kill_at:
        env["MN_NOTICE_KILL_AT"] = kill_at
    return node.spawn([sys.executable, str(TESTS / "multinode_support.py"), "notice-worker"], name, **env)


@pytest.mark.slow
@pytest.mark.parametrize("point", ["claimed", "after_send_before_mark", "after_mark"])
def test_a_worker_killed_while_delivering_notices_leaves_one_copy_in_every_mailbox(orc, node, series, mailbox,
                                                                                   point):
    started = _start_series(orc)
    doomed = _notice_worker(node, "doomed", mailbox, kill_at=point)
    assert doomed.wait_killed(60) == KILLED, doomed.tail()
    with orc.db.read() as session:
        rows = {r.id: r for r in session.scalars(select(Notice))}
    sent_before_restart = {"claimed": 0, "after_send_before_mark": 1, "after_mark": 1}[point]
    assert len(mailbox.accepted) == sent_before_restart
    marked = [r for r in rows.values() if r.status == "sent"]
    assert len(marked) == (1 if point == "after_mark" else 0)
    leased = [r for r in rows.values() if r.status == "queued" and r.lease_owner]
    assert len(leased) == 3 - len(marked)  # the dead worker's claimed batch

    clean = _notice_worker(node, "clean", mailbox)
    wait_for(lambda: _undelivered(orc) == 0, 90, what="the clean worker to deliver after the lease")
    assert clean.alive(), clean.tail()
    stop_idle([clean])
    for address in EVERYONE:
        assert len(mailbox.to(address)) == 1, address  # exactly one copy in every mailbox
    # only the notice sent but not marked was offered again, and the server knew it by its Message-ID
    assert len(mailbox.refused_duplicates) == (1 if point == "after_send_before_mark" else 0)
    with orc.db.read() as session:
        after = {r.id: r for r in session.scalars(select(Notice))}
    assert {r.status for r in after.values()} == {"sent"}
    # the dead worker had claimed all three in one batch (attempt 1); what it did not mark took a second
    assert sorted(r.attempts for r in after.values()) == ([1, 2, 2] if point == "after_mark" else [2, 2, 2])
    for notice_id, row in rows.items():
        if row.lease_until is not None and row.status == "queued":
            assert after[notice_id].sent_at >= row.lease_until  # taken over only after the lease
    assert _snapshot(orc, started.id)["audit"]["notice_sent"] == 3
    assert_consistent(orc, settled=True)
