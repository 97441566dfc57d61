"""notice outbox (e-mail notices: innkalling, endring, avlysning, referat)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 12:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("business_key", sa.String(length=100), nullable=True),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("meeting_id", sa.String(length=200), nullable=False),
        sa.Column("meeting_uid", sa.String(length=300), nullable=False),
        sa.Column("meeting_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("meeting_place", sa.String(length=300), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.Column("method", sa.String(length=10), nullable=True),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("recipient_name", sa.String(length=300), nullable=True),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id", name="uq_notices_message_id"),
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.create_index("ix_notices_next_attempt", ["next_attempt_at"], unique=False)
        batch_op.create_index("ix_notices_meeting", ["meeting_uid", "sequence"], unique=False)
        batch_op.create_index("ix_notices_business_key", ["business_key", "id"], unique=False)
        batch_op.create_index("ix_notices_status", ["status", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_notices_instance_id"), ["instance_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notices_instance_id"))
        batch_op.drop_index("ix_notices_status")
        batch_op.drop_index("ix_notices_business_key")
        batch_op.drop_index("ix_notices_meeting")
        batch_op.drop_index("ix_notices_next_attempt")
    op.drop_table("notices")
