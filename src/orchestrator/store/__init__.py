"""Persistence: SQLAlchemy 2 typed models, the database handle, Alembic migrations."""
