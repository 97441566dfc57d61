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
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timer_attempts", sa.Integer(), nullable=False, server_default=sa.text("0")))


def downgrade() -> None:
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.drop_column("timer_attempts")
