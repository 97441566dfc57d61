"""tasks.called_process: the called process (call activity) a task is in, for API clients (decision 0020)

Expand only: one nullable column. Plain add_column, never a batch rebuild of `tasks` (its rows
cascade from `instances`). Tasks opened before this revision show null until they close.

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("called_process", sa.String(length=200), nullable=True))


def downgrade() -> None:
    op.drop_column("tasks", "called_process")
