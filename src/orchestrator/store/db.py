"""The database handle: engines, sessions, and SQLite's write-lock discipline."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from .. import faults


class Database:
    def __init__(self, url: str, echo: bool = False):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            _ensure_sqlite_dir(url)
            self.engine = create_engine(url, echo=echo, connect_args={"timeout": 30, "check_same_thread": False})
            _sqlite_discipline(self.engine)
            # Writers take SQLite's write lock when they begin, so two writers queue on the
            # busy timeout instead of deadlocking on a lock upgrade.
            self.write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        else:
            self.engine = create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)
            self.write_engine = self.engine
        # one statement needs no transaction: on PostgreSQL that saves the BEGIN and ROLLBACK round
        # trips, on SQLite the BEGIN (its connections run in autocommit mode between our BEGINs)
        self._peek_engine = (self.engine.execution_options(sqlite_begin=None) if self.is_sqlite
                             else self.engine.execution_options(isolation_level="AUTOCOMMIT"))
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self.write_engine, expire_on_commit=False)

    def answers(self) -> bool:
        """Whether the database takes a query now (the health check)."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def write(self, label: str | None = None) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back on any error.

        `label` names its commit points for fault-injection tests (orchestrator/faults.py).
        """
        session = self._write()
        try:
            yield session
            if label:
                session.flush()
                faults.point(f"{label}.before_commit")
            session.commit()
            if label:
                faults.point(f"{label}.after_commit")
        except BaseException:
            session.rollback()
            raise
        finally:
            callbacks = session.info.pop("after_commit", []) if session.info else []
            session.close()
        for callback in callbacks:
            callback()

    @staticmethod
    def after_commit(session: Session, callback) -> None:
        """Run `callback` once the unit of work has committed (never on rollback)."""
        session.info.setdefault("after_commit", []).append(callback)

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        session = self._read()
        try:
            yield session
        finally:
            session.close()  # ends the transaction; loaded objects stay readable, detached

    def peek(self, statement, parameters: dict | None = None):
        """The one row of one read-only statement (the worker's idle pass, who is asking: as few round
        trips as can be)."""
        with self._peek_engine.connect() as connection:
            return connection.execute(statement, parameters).one()

    def dispose(self) -> None:
        self.engine.dispose()


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split("///", 1)[-1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_discipline(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode is not None:  # None: a single read (Database.peek) runs without a transaction
            connection.exec_driver_sql(f"BEGIN {mode}")
