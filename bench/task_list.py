"""The task list API with 100,000 open tasks across the five staff roles (goal p95 ≤ 30 ms, paged).

Open tasks are copies of one real samarbeid instance's «steg1» task (bench/clone.py): one
instance row each, the task's role spread over the five staff roles, one in ten assigned to a
named person, due dates spread over two months (one in five without). One user per role asks
`GET /api/v1/tasks?scope=roles&page=N` (50 per page) through the in-process client, on random
pages among the first 20, a few hundred times; p50 and p95 of the request time.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from sqlalchemy import insert

from orchestrator.engine.authoring import STAFF_ROLES
from orchestrator.store.models import OpenTask

from . import clone, routines
from .env import Env, Run, log
from .measure import SqlCounter, percentile, profile, summary_ms, timed
from .report import Figure, skipped

GOAL_P95 = "<= 30"
ROLE_USERS = {"tjenesteyter": "tina", "koordinerende_enhet": "kari", "koordinator": "kora", "leder": "lars",
              "kommuneledelse": "kim"}


def size(run: Run) -> int:
    return run.pick(5000, 100_000)


def backends(run: Run) -> list[str]:
    return ["sqlite", "postgresql"]


def expected(run: Run) -> list[str]:
    return [f"task_list.{b}.{p}" for b in backends(run) for p in ("p50", "p95")]


def run(run: Run) -> list[Figure]:
    figures = []
    for backend in backends(run):
        if backend == "postgresql" and not run.pg_url:
            figures += [skipped(f"task_list.postgresql.{p}", _title(run, backend, p), "ms",
                                GOAL_P95 if p == "p95" else None, "no PostgreSQL (--pg-url)") for p in ("p50", "p95")]
            continue
        figures += _run_backend(run, backend)
    return figures


def _title(run: Run, backend: str, p: str) -> str:
    name = "SQLite" if backend == "sqlite" else "PostgreSQL"
    return f"Task list API {p}, {size(run) // 1000}k open tasks, {name}"


def _run_backend(run: Run, backend: str) -> list[Figure]:
    n, requests = size(run), run.pick(100, 400)
    rng = random.Random(7)
    with Env(f"task_list_{backend}", backend=backend, pg_url=run.pg_url) as env:
        orc = env.orc
        started = routines.start_samarbeid(orc, env.actors, "MAL-1")
        template = clone.Template(orc, started.id)
        log(f"task_list/{backend}: inserting {n} instances with one open task each")
        ids = clone.insert_copies(orc, template, n, business_key=lambda i: f"OPPG-{i}")
        _insert_tasks(orc, template, ids, rng)
        clone.analyze(orc)
        client = env.app().test_client()
        headers = {role: {"Authorization": f"Bearer {env.token(user)}"} for role, user in ROLE_USERS.items()}
        roles = list(ROLE_USERS)

        def ask(role: str, page: int):
            response = client.get(f"/api/v1/tasks?scope=roles&page={page}", headers=headers[role])
            if response.status_code != 200:
                raise RuntimeError(f"task list answered {response.status_code}")
            return response

        for role in roles:
            ask(role, 1)  # warm
        times, totals = [], {}
        for _ in range(requests):
            role, page = rng.choice(roles), rng.randint(1, 20)
            seconds, response = timed(ask, role, page)
            times.append(seconds)
            totals[role] = response.get_json()["total"]
        page1 = [timed(ask, role, 1)[0] for role in roles for _ in range(run.pick(4, 20))]
        with SqlCounter(orc.db.engine, keep_text=True) as counter:
            ask("tjenesteyter", 3)
        raw = {"open_tasks": n, "requests": requests, "pages": "random 1..20, 50 per page",
               "all": summary_ms(times), "page_1": summary_ms(page1), "total_per_role": totals,
               "sql_per_request": counter.per(1), "statements_ms": counter.timings(),
               "plans": counter.explain(kinds=("SELECT",))}
        if run.profile:
            raw["profile"] = profile(lambda: [ask(rng.choice(roles), rng.randint(1, 20)) for _ in range(50)], ops=50)
    p50, p95 = percentile(times, 50) * 1000, percentile(times, 95) * 1000
    log(f"task_list/{backend}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    return [
        Figure(f"task_list.{backend}.p50", _title(run, backend, "p50"), round(p50, 3), "ms", None,
               ratio=run.per_calibration(p50), raw=raw,
               notes=f"page 1 alone: median {raw['page_1']['median_ms']:.1f} ms"),
        Figure(f"task_list.{backend}.p95", _title(run, backend, "p95"), round(p95, 3), "ms", GOAL_P95,
               ratio=run.per_calibration(p95), raw={"see": f"task_list.{backend}.p50"},
               notes=f"{requests} requests, 5 roles, pages 1–20"),
    ]


def _insert_tasks(orc, template: clone.Template, instance_ids: list[int], rng: random.Random) -> None:
    [task] = template.tasks
    now = datetime.now(timezone.utc).replace(microsecond=0)
    people = {"tjenesteyter": "tina", "koordinerende_enhet": "kari", "koordinator": "kora", "leder": "lars",
              "kommuneledelse": "kim"}
    rows = []
    for i, instance_id in enumerate(instance_ids):
        role = STAFF_ROLES[i % len(STAFF_ROLES)]
        due = None if rng.random() < 0.2 else now + timedelta(minutes=rng.randint(-7 * 24 * 60, 60 * 24 * 60))
        assigned = rng.random() < 0.1
        rows.append({**task, "id": f"{i:08x}-0000-4000-8000-{instance_id:012x}", "instance_id": instance_id,
                     "business_key": f"OPPG-{i}", "role": role, "assignee": people[role] if assigned else None,
                     "claimed_at": now if assigned else None, "created_at": now - timedelta(seconds=i),
                     "due_at": due})
        if len(rows) == 5000:
            _flush(orc, rows)
    _flush(orc, rows)


def _flush(orc, rows: list) -> None:
    if rows:
        with orc.db.engine.begin() as conn:
            conn.execute(insert(OpenTask.__table__), rows)
        rows.clear()
