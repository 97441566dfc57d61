"""legal_holds, scheduled_jobs, notices.erased_at and audit_log.erased_at: retention and erasure (decision 0024)

Expand only: two new tables and two nullable columns (plain add_column: neither notices nor
audit_log has ON DELETE CASCADE children, so no batch rebuild). No rows are written: the worker schedules the daily
retention run itself when it starts (services/retention.py).

Revision ID: 0014
Revises: 0013
"""
from alembic import op
import sqlalchemy as sa

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "legal_holds",
        sa.Column("business_key", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("placed_by", sa.String(length=100), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("business_key"),
    )
    op.create_table(
        "scheduled_jobs",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_index("ix_scheduled_jobs_next_run_at", "scheduled_jobs", ["next_run_at"], unique=False)
    op.add_column("notices", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("audit_log", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("audit_log", "erased_at")
    op.drop_column("notices", "erased_at")
    op.drop_index("ix_scheduled_jobs_next_run_at", table_name="scheduled_jobs")
    op.drop_table("scheduled_jobs")
    op.drop_table("legal_holds")
