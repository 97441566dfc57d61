"""Alembic migrations: the schema they build is the models' schema, they go down and up again, and
a migration leaves a previous release able to write while it still runs (expand/contract)."""
from __future__ import annotations

from datetime import datetime, timezone

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from orchestrator.store import migrate
from orchestrator.store.db import Database
from orchestrator.store.models import Base


def test_the_migrated_schema_is_the_models_schema(orc):
    with orc.db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        assert compare_metadata(context, Base.metadata) == []


def test_every_migration_goes_down_and_up_again(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'roundtrip.db'}")
    try:
        migrate.upgrade(database)
        head_tables = sorted(inspect(database.engine).get_table_names())
        config = migrate.alembic_config(database)
        with database.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        assert inspect(database.engine).get_table_names() == ["alembic_version"]
        migrate.upgrade(database)
        assert sorted(inspect(database.engine).get_table_names()) == head_tables
    finally:
        database.dispose()


def _old_release_inserts_a_task(connection, task_id: str, due_at: str | None) -> None:
    """What release 0004's code writes: it knows nothing of due_sort."""
    connection.execute(text(
        "INSERT INTO tasks (id, instance_id, element_id, name, process_key, created_at, due_at) "
        "VALUES (:id, 1, 'vurder', 'Vurder', 'p', '2027-01-01 09:00:00', :due)"), {"id": task_id, "due": due_at})


def test_the_task_queue_migration_backfills_and_lets_the_previous_release_insert(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'queues.db'}")
    try:
        migrate.upgrade(database, "0004")
        with database.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO instances (id, process_key, process_version, status, state, pins, created_at, "
                "updated_at, lock_version) VALUES (1, 'p', 1, 'running', '{}', '{}', '2027-01-01 09:00:00', "
                "'2027-01-01 09:00:00', 1)"))
            _old_release_inserts_a_task(connection, "before", "2027-02-01 09:00:00")
        migrate.upgrade(database, "0005")
        with database.engine.begin() as connection:  # the previous release, still running
            _old_release_inserts_a_task(connection, "during", "2027-03-01 09:00:00")
            due_sort = dict(connection.execute(text("SELECT id, due_sort FROM tasks")).all())
        assert _as_datetime(due_sort["before"]) == datetime(2027, 2, 1, 9)  # backfilled from due_at
        assert _as_datetime(due_sort["during"]) == datetime(9999, 12, 31)  # listed as "no due date" for now
    finally:
        database.dispose()


def _as_datetime(value) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value
