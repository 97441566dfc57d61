"""Alembic environment: the orchestrator's models, the URL handed over by `orchestrator db upgrade`."""
from alembic import context
from sqlalchemy import create_engine

from orchestrator.store.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as connection:
        _run(connection)


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `orchestrator db upgrade`")
run_migrations_online()
