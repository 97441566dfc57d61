"""Completing one user task through the JSON API, divided by SpiffWorkflow alone doing the same step.

The step: samarbeid «steg1» (form validated, gateway, next user task opened), on many instances.
For each instance the raw baseline (bench/raw.py) runs on a copy of its state just before the
step, then our path runs: `POST /api/v1/tasks/{id}/complete` with a bearer token, in-process
(Flask test client) or over loopback HTTP (gunicorn with one sync worker in its own process, as
`make serve` runs it, and a `requests.Session`; see bench/server.py). Interleaving the two keeps
them under the same machine noise. The ratio is of medians. Each path runs with the instance
cache on (the product's default) and off (every step deserializes).
"""
from __future__ import annotations

from . import raw, routines
from .env import Env, Run, log
from .measure import SqlCounter, median, profile, summary_ms, timed
from .report import Figure
from .server import Gunicorn

GOAL = "<= 1.5"


def expected(run: Run) -> list[str]:
    return [f"api_step.{kind}_{tag}" for kind in ("inprocess", "http") for tag in ("cache", "nocache")]
STEP, DATA = "steg1", routines.STEG1


class InProcess:
    """The Flask test client on this process's application (and its instance cache)."""

    kind = "inprocess"

    def __init__(self, env: Env):
        self.env = env
        self.client = env.app().test_client()
        self.headers = {"Authorization": f"Bearer {env.token('tina')}"}

    def set_cache(self, on: bool) -> None:
        self.env.set_cache(self.env.settings.instance_cache_size if on else 0)

    def start(self, business_key: str) -> int:
        return routines.start_samarbeid(self.env.orc, self.env.actors, business_key).id

    def complete(self, task_id: str, data: dict) -> None:
        response = self.client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": data}, headers=self.headers)
        if response.status_code != 200:
            raise RuntimeError(f"complete answered {response.status_code}: {response.get_data(as_text=True)[:300]}")

    def close(self) -> None:
        pass


class OverHttp:
    """gunicorn (one sync worker, its own process) on loopback, a `requests.Session` as the client.

    The instance cache lives in the server process: it is switched by restarting the server with
    ORCHESTRATOR_INSTANCE_CACHE, and instances are started through the server so it holds them.
    """

    kind = "http"

    def __init__(self, env: Env):
        import requests

        self.env, self.server = env, None
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {env.token('tina')}"

    def set_cache(self, on: bool) -> None:
        self.close()
        size = self.env.settings.instance_cache_size if on else 0
        self.server = Gunicorn(self.env, 1, {"ORCHESTRATOR_INSTANCE_CACHE": str(size)}).__enter__()

    def start(self, business_key: str) -> int:
        response = self.session.post(self.server.base + "/api/v1/instances",
                                     json={"process_key": "samarbeid", "business_key": business_key})
        if response.status_code != 201:
            raise RuntimeError(f"start answered {response.status_code}: {response.text[:300]}")
        return response.json()["id"]

    def complete(self, task_id: str, data: dict) -> None:
        response = self.session.post(f"{self.server.base}/api/v1/tasks/{task_id}/complete", json={"data": data})
        response.content  # the whole answer
        if response.status_code != 200:
            raise RuntimeError(f"complete answered {response.status_code}: {response.text[:300]}")

    def close(self) -> None:
        if self.server is not None:
            self.server.__exit__()
            self.server = None


def _prepare(env: Env, transport, n: int, prefix: str) -> list[tuple[str, raw.RawStep]]:
    """n started samarbeid instances at steg1: (task id, the raw baseline at that state)."""
    out = []
    for i in range(n):
        instance_id = transport.start(f"{prefix}-{i}")
        task_id = routines.task_id(env.orc, instance_id, STEP)
        out.append((task_id, raw.snapshot(env.orc, instance_id, task_id, DATA)))
    return out


def _measure(env: Env, transport, cache: bool, n: int, warmup: int, prefix: str) -> dict:
    transport.set_cache(cache)
    steps = _prepare(env, transport, n + warmup, prefix)  # started just now: with the cache on, cached
    raw_times, api_times = [], []
    for i, (task_id, baseline) in enumerate(steps):
        raw_seconds, _ = baseline.run()
        api_seconds, _ = timed(transport.complete, task_id, DATA)
        if i >= warmup:
            raw_times.append(raw_seconds)
            api_times.append(api_seconds)
    # statements per step, counted on a few more (not timed; in-process only: the server is elsewhere)
    sql = None
    if transport.kind == "inprocess":
        extra = _prepare(env, transport, 5, prefix + "-sql")
        with SqlCounter(env.orc.db.engine) as counter:
            for task_id, _ in extra:
                transport.complete(task_id, DATA)
        sql = counter.per(len(extra))
    return {"raw": raw_times, "api": api_times, "sql_per_step": sql}


def _service_only(env: Env, n: int, cache: bool) -> list[float]:
    """The service call alone (no Flask, no HTTP): where the API's own cost starts."""
    from orchestrator.services import tasks

    env.set_cache(env.settings.instance_cache_size if cache else 0)
    ids = []
    for i in range(n):
        started = routines.start_samarbeid(env.orc, env.actors, f"SVC-{int(cache)}-{i}")
        ids.append(routines.task_id(env.orc, started.id, STEP))
    return [timed(tasks.complete, env.orc, t, DATA, env.actors["tina"])[0] for t in ids]


def run(run: Run) -> list[Figure]:
    n = run.pick(30, 300)
    warmup = run.pick(5, 20)
    figures, sql = [], None
    with Env("api_step") as env:
        service = {cache: summary_ms(_service_only(env, run.pick(20, 100), cache)) for cache in (True, False)}
        for transport, label in ((InProcess(env), "in-process"), (OverHttp(env), "loopback HTTP, gunicorn")):
            try:
                for cache in (True, False):
                    tag = "cache" if cache else "nocache"
                    log(f"api_step: {label}, cache {'on' if cache else 'off'}, {n} instances")
                    m = _measure(env, transport, cache, n, warmup, f"{transport.kind}-{tag}")
                    sql = m["sql_per_step"] or sql  # the same statements whichever way the request came
                    api_ms, raw_ms = median(m["api"]) * 1000, median(m["raw"]) * 1000
                    ratio = api_ms / raw_ms
                    raw_data = {"api": summary_ms(m["api"]), "raw_spiffworkflow": summary_ms(m["raw"]),
                                "sql_statements_per_step": sql, "instances": n,
                                "service_call_only": service[cache], "step": f"samarbeid {STEP}"}
                    if run.profile and transport.kind == "inprocess":  # cProfile sees this process only
                        raw_data["profile"] = _profile(env, transport, cache, f"prof-{tag}")
                    figures.append(Figure(
                        key=f"api_step.{transport.kind}_{tag}",
                        title=f"API step ÷ raw Spiff, {label}, cache {'on' if cache else 'off'}",
                        value=round(ratio, 3), unit="×", goal=GOAL, ratio=round(ratio, 3), raw=raw_data,
                        notes=f"{api_ms:.2f} ms vs {raw_ms:.2f} ms raw"
                              + (f"; {sql['total']:g} SQL statements/step" if sql else "")
                              + ("; stretch goal ≤ 1.0 with the cache" if cache else ""),
                    ))
            finally:
                transport.close()
    return figures


def _profile(env: Env, transport: InProcess, cache: bool, prefix: str) -> dict:
    transport.set_cache(cache)
    steps = _prepare(env, transport, 30, prefix)
    return profile(lambda: [transport.complete(t, DATA) for t, _ in steps], ops=len(steps))
