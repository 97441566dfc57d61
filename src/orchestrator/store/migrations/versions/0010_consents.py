"""consents and consent_events: the consent register per business key (decision 0016)

Expand only: two new tables and a nullable column notices.recipient_service (the service a
recipient represents); the notices' new status `cancelled` needs no schema change. Plain
add_column: notices has no ON DELETE CASCADE children, and no batch rebuild is needed.

Revision ID: 0010
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consents",
        sa.Column("business_key", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("gitt_dato", sa.String(length=10), nullable=True),
        sa.Column("gitt_av", sa.String(length=20), nullable=True),
        sa.Column("form", sa.String(length=20), nullable=True),
        sa.Column("omfatter", sa.JSON(), nullable=False),
        sa.Column("deles_med", sa.JSON(), nullable=False),
        sa.Column("registrert_av", sa.String(length=100), nullable=False),
        sa.Column("registrert_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trukket_dato", sa.String(length=10), nullable=True),
        sa.Column("informert_om_folger", sa.Boolean(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("business_key"),
    )
    op.create_table(
        "consent_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_key", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_consent_events_case", "consent_events", ["business_key", "id"], unique=False)
    op.add_column("notices", sa.Column("recipient_service", sa.String(length=50), nullable=True))


def downgrade() -> None:
    op.drop_column("notices", "recipient_service")
    op.drop_index("ix_consent_events_case", table_name="consent_events")
    op.drop_table("consent_events")
    op.drop_table("consents")
