"""process_definitions.origin (file, upload, browser, api) and the drafts table

Expand only: origin is nullable, so a previous release still running during the upgrade can
deploy (its rows read as "origin unknown", which file deploys treat like a browser edit: they
are not replaced without --force). Versions deployed before by the command line (`cli`, what
`make run` and `orchestrator deploy` use) are backfilled as file, all others as browser.

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("process_definitions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin", sa.String(length=20), nullable=True))
    op.execute("UPDATE process_definitions SET origin = CASE WHEN deployed_by = 'cli' THEN 'file' ELSE 'browser' END")
    op.create_table(
        "drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("saved_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("drafts")
    with op.batch_alter_table("process_definitions", schema=None) as batch_op:
        batch_op.drop_column("origin")
