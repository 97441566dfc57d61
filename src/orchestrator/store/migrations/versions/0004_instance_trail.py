"""instances.trail and instances.indexed: the walked path (kept when finished history is compacted)
and what the indexed tables hold for the instance (so a step diffs without loading them)

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trail", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("indexed", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.drop_column("indexed")
        batch_op.drop_column("trail")
