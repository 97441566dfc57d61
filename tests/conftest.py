"""Shared fixtures: a real database per test (SQLite, and PostgreSQL when configured), the
injectable clock, and helpers to deploy diagrams and make users.

Set ORCHESTRATOR_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) to
run every database test on PostgreSQL too; .ci/run does when the server is reachable. Each
test session gets its own PostgreSQL schema, dropped at the end.
"""
from __future__ import annotations

import os
import shutil
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from orchestrator import clock as clock_module
from orchestrator.config import Settings
from orchestrator.services import deployment, users
from orchestrator.services.access import Actor, PROCESS_OWNER
from orchestrator.services import bootstrap
from orchestrator.store import migrate
from orchestrator.store.db import Database
from orchestrator.store.models import Base

from helpers import TEST_SAKSNUMMER_PATTERN

PG_URL = os.environ.get("ORCHESTRATOR_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
DEPLOYER = Actor("prosesseier", frozenset({PROCESS_OWNER}))
T0 = datetime(2027, 1, 4, 8, 0, tzinfo=timezone.utc)  # a Monday, 09:00 in Oslo
os.environ.setdefault("ORCHESTRATOR_SAKSNUMMER_PATTERN", TEST_SAKSNUMMER_PATTERN)  # the CLI's subprocesses too
os.environ.setdefault("ORCHESTRATOR_SAKSNUMMER_HINT", "for eksempel 2027/1234")


def pytest_report_header(config):
    return f"databases: {', '.join(BACKENDS)}"


def _changed_tracked_files() -> set[str] | None:
    import subprocess

    try:
        done = subprocess.run(["git", "ls-files", "--modified", "--deleted"], cwd=Path(__file__).parent.parent,
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return set(done.stdout.split()) if done.returncode == 0 else None


def pytest_sessionstart(session):
    session.config._tracked_changes_before = _changed_tracked_files()


def pytest_sessionfinish(session, exitstatus):
    """A test run never changes committed files (docs, diagrams, forms): fail the run if it did."""
    before = getattr(session.config, "_tracked_changes_before", None)
    after = _changed_tracked_files()
    if before is None or after is None or os.environ.get("ORCHESTRATOR_SCREENSHOTS"):
        return  # not a git checkout, or `make screenshots`, whose purpose is to refresh docs/screenshots
    changed = sorted(after - before)
    if changed:
        session.config.get_terminal_writer().line(
            f"The test run changed committed files: {', '.join(changed)}", red=True)
        session.exitstatus = 1


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    database = Database(f"sqlite:///{path}")
    migrate.upgrade(database)
    database.dispose()
    return path


@pytest.fixture(scope="session")
def pg_schema():
    if not PG_URL:
        yield None
        return
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = _pg_url_with_schema(schema)
    database = Database(url)
    migrate.upgrade(database)
    with database.engine.begin() as conn:
        # autovacuum's locks can deadlock with the TRUNCATE between tests; these tables are scratch
        for table in Base.metadata.sorted_tables:
            conn.execute(text(f"ALTER TABLE {table.name} SET (autovacuum_enabled = false)"))
    database.dispose()
    yield schema
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def _pg_url_with_schema(schema: str) -> str:
    separator = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path, sqlite_template) -> str:
    if request.param == "sqlite":
        path = tmp_path / "orchestrator.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    schema = request.getfixturevalue("pg_schema")
    url = _pg_url_with_schema(schema)
    engine = create_engine(url)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    for attempt in range(5):
        try:
            with engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            break
        except OperationalError:  # a lock conflict with the server's own maintenance: try again
            if attempt == 4:
                raise
    engine.dispose()
    return url


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return Settings(home=tmp_path, database_url=database_url, secret_key="test-secret", secure_cookies=False,
                    worker_max_sleep_seconds=5.0, saksnummer_pattern=TEST_SAKSNUMMER_PATTERN,
                    saksnummer_hint="for eksempel 2027/1234")


@pytest.fixture
def orc(settings):
    orchestrator = bootstrap.build(settings)
    yield orchestrator
    orchestrator.close()


@pytest.fixture
def clock():
    """The orchestrator's clock, under the test's control (starts at T0)."""
    manual = clock_module.ManualClock(T0)
    previous = clock_module.use(manual)
    yield manual
    clock_module.use(previous)


@pytest.fixture
def deploy(orc):
    """deploy(("name.bpmn", xml), ...) or deploy(Path) -> the deployment results."""

    def _deploy(*items):
        files = []
        for item in items:
            if isinstance(item, (str, Path)) and Path(item).exists():
                files += deployment.collect_files([item])
            else:
                name, content = item
                files.append((name, content.encode() if isinstance(content, str) else content))
        return deployment.deploy(orc, files, DEPLOYER)

    return _deploy


@pytest.fixture
def make_user(orc):
    """make_user("kari", "koordinerende_enhet", ...) -> Actor (no password: fast)."""

    def _make(username, *roles, password=None, services=()):
        users.add(orc, username, list(roles), password, services=services)
        return users.actor_for(orc, username)

    return _make
