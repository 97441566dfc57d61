"""A throw-away installation for one measurement: database, seed routines, users, tokens.

Every measurement gets a fresh database (a SQLite file under bench/tmp/, or its own PostgreSQL
schema) with processes/ and forms/ deployed, so measurements never see each other's rows.
`close()` removes the file or drops the schema.
"""
from __future__ import annotations

import os
import shutil
import socket
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, text

from orchestrator import clock
from orchestrator.config import Settings
from orchestrator.services import deployment, users
from orchestrator.services.access import PROCESS_OWNER, Actor
from orchestrator.services import bootstrap
from orchestrator.store import migrate
from orchestrator.store.db import Database

ROOT = Path(__file__).resolve().parent.parent
# the bench's installation numbers its generated cases itself («API-ip-3», …)
BENCH_SAKSNUMMER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$"
TMP = Path(os.environ.get("ORCHESTRATOR_BENCH_TMP") or ROOT / "bench" / "tmp")  # git-ignored
DEPLOYER = Actor("benchmark", frozenset({PROCESS_OWNER}))
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

# Named staff as in tests/routines.py: who does which step of the seed routines, and their services
# (the benchmark's consent covers skole, helsestasjon and nav: bench/routines.py).
PEOPLE = {
    "tina": (["tjenesteyter"], ["helsestasjon"]),
    "tor": (["tjenesteyter"], ["skole"]),
    "kari": (["koordinerende_enhet"], []),
    "kora": (["koordinator", "tjenesteyter"], ["helsestasjon"]),
    "kai": (["koordinator", "tjenesteyter"], ["skole"]),
    "lars": (["leder"], []),
    "kim": (["kommuneledelse"], []),
    "mona": (["manager"], []),
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pg_url_from(arg: str | None) -> str | None:
    """--pg-url, else the test suite's variable, else the CI default when 127.0.0.1:5432 answers."""
    if arg is not None:
        return None if arg.lower() in ("", "none", "off", "no") else arg
    for name in ("ORCHESTRATOR_BENCH_PG_URL", "ORCHESTRATOR_TEST_DATABASE_URL"):
        if os.environ.get(name):
            return os.environ[name]
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return DEFAULT_PG_URL
    except OSError:
        return None


def with_search_path(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


class Env:
    """One fresh installation. Use as a context manager."""

    def __init__(self, label: str, backend: str = "sqlite", pg_url: str | None = None, cache_size: int = 500,
                 deploy: bool = True, people: bool = True):
        self.label, self.backend = label, backend
        self.home = TMP / f"{label}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.home.mkdir(parents=True, exist_ok=True)
        self.schema = None
        if backend == "sqlite":
            self.url = f"sqlite:///{self.home / 'orchestrator.db'}"
        elif backend == "postgresql":
            if not pg_url:
                raise RuntimeError("no PostgreSQL URL")
            self.pg_url = pg_url
            self.schema = f"bench_{uuid.uuid4().hex[:10]}"
            admin = create_engine(pg_url)
            with admin.begin() as conn:
                conn.execute(text(f"CREATE SCHEMA {self.schema}"))
            admin.dispose()
            self.url = with_search_path(pg_url, self.schema)
        else:
            raise ValueError(backend)
        database = Database(self.url)
        migrate.upgrade(database)
        database.dispose()
        self.settings = Settings(home=self.home, database_url=self.url, secret_key="bench-secret",
                                 secure_cookies=False, instance_cache_size=cache_size,
                                 saksnummer_pattern=BENCH_SAKSNUMMER_PATTERN)
        self.orc = bootstrap.build(self.settings)
        self.actors: dict[str, Actor] = {}
        self._tokens: dict[str, str] = {}
        if deploy:
            files = deployment.collect_files([ROOT / "processes", ROOT / "forms"])
            deployment.deploy(self.orc, files, DEPLOYER)
        if people:
            for username, (roles, services) in PEOPLE.items():
                self.add_user(username, roles, services)

    def add_user(self, username: str, roles: list[str], services=()) -> Actor:
        users.add(self.orc, username, roles, None, services=services)
        self.actors[username] = users.actor_for(self.orc, username)
        return self.actors[username]

    def token(self, username: str) -> str:
        if username not in self._tokens:
            self._tokens[username] = users.create_token(self.orc, username, label="benchmark")
        return self._tokens[username]

    def app(self):
        from orchestrator.web.app import create_app

        return create_app(orchestrator=self.orc)

    def set_cache(self, size: int) -> None:
        """Turn the in-memory instance cache on (size > 0) or off, dropping what it holds."""
        cache = self.orc.instances
        with cache._lock:
            cache._entries.clear()
        cache._size = size

    def server_env(self) -> dict[str, str]:
        """Environment for a separate server process (gunicorn) on this installation."""
        env = dict(os.environ)
        env.update(ORCHESTRATOR_DATABASE_URL=self.url, ORCHESTRATOR_HOME=str(self.home),
                   ORCHESTRATOR_SECRET_KEY="bench-secret", ORCHESTRATOR_SECURE_COOKIES="false",
                   ORCHESTRATOR_SAKSNUMMER_PATTERN=BENCH_SAKSNUMMER_PATTERN)
        return env

    def db_version(self) -> str:
        with self.orc.db.engine.connect() as conn:
            if self.backend == "sqlite":
                return conn.execute(text("select sqlite_version()")).scalar()
            return conn.execute(text("show server_version")).scalar()

    def close(self) -> None:
        self.orc.close()
        if self.schema:
            admin = create_engine(self.pg_url)
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE"))
            admin.dispose()
        shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> "Env":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class use_clock:
    """Install a clock process-wide for a block (the orchestrator's clock, SpiffWorkflow's timers too)."""

    def __init__(self, new_clock):
        self.clock = new_clock

    def __enter__(self):
        self.previous = clock.use(self.clock)
        return self.clock

    def __exit__(self, *exc):
        clock.use(self.previous)


class Run:
    """What every measurement is told: quick or full, PostgreSQL or not, profile or not."""

    def __init__(self, quick: bool, pg_url: str | None, profile: bool, calibration_ms: float | None = None):
        self.quick, self.pg_url, self.profile = quick, pg_url, profile
        self.calibration_ms = calibration_ms

    def pick(self, quick, full):
        return quick if self.quick else full

    def per_calibration(self, milliseconds: float | None) -> float | None:
        """An absolute time in units of this run's raw SpiffWorkflow step."""
        if milliseconds is None or not self.calibration_ms:
            return None
        return round(milliseconds / self.calibration_ms, 3)
