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


def test_api_tokens_made_before_the_identity_migration_keep_working_with_an_expiry(tmp_path):
    import hashlib
    from datetime import timedelta

    from orchestrator import clock
    from orchestrator.config import Settings
    from orchestrator.services import tokens
    from orchestrator.services import bootstrap

    url = f"sqlite:///{tmp_path / 'tokens.db'}"
    database = Database(url)
    old, during = "orc_laget-av-forrige-versjon", "orc_laget-mens-oppgraderingen-pagikk"
    try:
        migrate.upgrade(database, "0005")
        with database.engine.begin() as connection:
            connection.execute(text("INSERT INTO users (id, username, active, created_at) "
                                    "VALUES (1, 'kari', 1, '2026-01-01 09:00:00')"))
            connection.execute(text("INSERT INTO user_roles (user_id, role) VALUES (1, 'koordinerende_enhet')"))
            connection.execute(text("INSERT INTO api_tokens (user_id, token_hash, created_at) VALUES "
                                    "(1, :h, '2026-01-01 09:00:00')"), {"h": hashlib.sha256(old.encode()).hexdigest()})
        migrate.upgrade(database)
        with database.engine.begin() as connection:  # the previous release, still running, knows no expires_at
            connection.execute(text("INSERT INTO api_tokens (user_id, token_hash, created_at) VALUES (1, :h, :at)"),
                               {"h": hashlib.sha256(during.encode()).hexdigest(),
                                "at": clock.now().replace(tzinfo=None).isoformat(sep=" ")})
    finally:
        database.dispose()
    orc = bootstrap.build(Settings(home=tmp_path, database_url=url, secret_key="test"))
    try:
        kept = tokens.actor_for_token(orc, old)  # the token, the user and her roles all survived the upgrade
        assert kept.username == "kari" and kept.roles == frozenset({"koordinerende_enhet"})
        assert tokens.actor_for_token(orc, during).username == "kari"
        with clock.frozen(clock.now() + timedelta(days=91)):  # 90 days from the upgrade and from its creation
            assert tokens.actor_for_token(orc, old) is None and tokens.actor_for_token(orc, during) is None
    finally:
        orc.close()


def test_no_migration_loses_the_rows_of_a_running_case(tmp_path):
    """On SQLite a batch rebuild of a table drops it, and with foreign keys on, every row that
    cascades from it (an instance's tasks, timers and message waits) goes too: upgrading from the
    schema of the previous release, and down again, keeps them all."""
    database = Database(f"sqlite:///{tmp_path / 'cases.db'}")
    try:
        migrate.upgrade(database, "0005")
        with database.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO instances (id, process_key, process_version, status, state, pins, created_at, "
                "updated_at, lock_version) VALUES (1, 'p', 1, 'running', '{}', '{}', '2027-01-01 09:00:00', "
                "'2027-01-01 09:00:00', 1)"))
            _old_release_inserts_a_task(connection, "t1", None)
            connection.execute(text("INSERT INTO timers (instance_id, process_key, task_id, element_id, kind, due_at) "
                                    "VALUES (1, 'p', 'x', 'frist', 'date', '2027-02-01 09:00:00')"))
            connection.execute(text("INSERT INTO message_waits (instance_id, name) VALUES (1, 'svar')"))

        def counts():
            with database.engine.connect() as connection:
                return [connection.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                        for t in ("instances", "tasks", "timers", "message_waits")]

        migrate.upgrade(database)
        assert counts() == [1, 1, 1, 1]
        config = migrate.alembic_config(database)
        with database.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0005")
        assert counts() == [1, 1, 1, 1]
    finally:
        database.dispose()
