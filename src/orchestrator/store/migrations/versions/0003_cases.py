"""cases: the case register (coordinator and plan type per business key)

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("business_key", sa.String(length=100), nullable=False),
        sa.Column("gjelder", sa.String(length=100), nullable=True),
        sa.Column("koordinator", sa.String(length=100), nullable=True),
        sa.Column("koordinator_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("koordinator_accepted_over_limit", sa.Boolean(), nullable=False),
        sa.Column("planverktoy", sa.String(length=20), nullable=True),
        sa.Column("plan_instance_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("business_key"),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_koordinator", ["koordinator", "planverktoy"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_koordinator")
    op.drop_table("cases")
