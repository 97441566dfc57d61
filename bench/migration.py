"""Moving running ansvarsgrupper to a new version: milliseconds per case, dry run and move (no goal).

N groups of processes/ansvarsgruppe.bpmn wait on their innkalling timer (as
tests/test_migration.py sets them up); version 2 gives the innkalling 21 days' notice. Timed:
`migration.plan` (the dry run of every case: load, SpiffWorkflow's diff and migrate_workflow on a
copy, the data check) and `migration.migrate` (each case in its own unit of work through
runtime.commit, with its audit row), each divided by N. On SQLite, and on PostgreSQL when there is one.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from orchestrator import clock
from orchestrator.services import deployment, migration

from . import routines
from .env import DEPLOYER, ROOT, Env, Run, log, use_clock
from .measure import timed
from .report import Figure

T0 = datetime(2027, 1, 4, 8, 0, tzinfo=timezone.utc)
NOTICE = "iso(subtract_days(moetetid, varslingsfrist_dager))</bpmn:timeDate>"


def backends(run: Run) -> list[str]:
    return ["sqlite"] + (["postgresql"] if run.pg_url else [])


def expected(run: Run) -> list[str]:
    return [f"migration.{b}.{what}" for b in backends(run) for what in ("dry_run", "move")]


def run(run: Run) -> list[Figure]:
    cases = run.pick(20, 200)
    figures = []
    for backend in backends(run):
        with Env(f"migration-{backend}", backend, run.pg_url) as env, use_clock(clock.ManualClock(T0)) as manual:
            orc = env.orc
            for n in range(cases):
                group = routines.start_ansvarsgruppe(orc, env.actors, f"GRUPPE-{n}")
                routines.create_group(orc, env.actors, group.id, manual.now().replace(hour=9, minute=0) + timedelta(days=30))
                routines.prepare_meeting(orc, env.actors, group.id)
            log(f"migration ({backend}): {cases} groups waiting on their innkalling timer")
            source = (ROOT / "processes" / "ansvarsgruppe.bpmn").read_text()
            version_2 = source.replace(NOTICE, "iso(subtract_days(moetetid, max(varslingsfrist_dager, 21)))</bpmn:timeDate>")
            deployment.deploy(orc, [("ansvarsgruppe.bpmn", version_2.encode())], DEPLOYER)
            dry_s, planned = timed(migration.plan, orc, "ansvarsgruppe", 2, DEPLOYER)
            move_s, moved = timed(migration.migrate, orc, "ansvarsgruppe", 2, DEPLOYER)
            if (planned.movable, moved.moved) != (cases, cases):
                raise RuntimeError(f"expected {cases} cases to move, got {planned.movable}/{moved.moved}")
            for what, seconds in (("dry_run", dry_s), ("move", move_s)):
                per_case = seconds * 1000 / cases
                figures.append(Figure(
                    key=f"migration.{backend}.{what}", title=f"{'Dry run' if what == 'dry_run' else 'Move'} per case, "
                    f"{backend} ({cases} ansvarsgrupper)", value=round(per_case, 2), unit="ms",
                    ratio=run.per_calibration(per_case), raw={"cases": cases, "total_s": round(seconds, 3)},
                    notes=f"{seconds:.2f} s for {cases} cases"))
    return figures
