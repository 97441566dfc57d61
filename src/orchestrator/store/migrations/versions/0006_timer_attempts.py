"""instances.timer_attempts: a timer step that fails is retried with back-off, then becomes an incident

Counted per instance (its due timers are one item of the job queue, services/jobs.py). A server
default of 0, so a previous release still running during the upgrade can insert instances.

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN: a batch rebuild of `instances` on SQLite would drop the table its tasks,
    # timers and message waits cascade from, and with them every row (tests/test_migrations.py)
    op.add_column("instances", sa.Column("timer_attempts", sa.Integer(), nullable=False, server_default=sa.text("0")))


def downgrade() -> None:
    op.drop_column("instances", "timer_attempts")  # SQLite ≥ 3.35 drops a column in place
