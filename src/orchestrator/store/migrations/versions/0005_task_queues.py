"""tasks.due_sort and one ordered index per queue, so a task list page reads index ranges, not sorts

Expand/contract (docs/operations.md): due_sort gets a constant server default, so a previous
release still running during the upgrade can insert tasks (they sort as "no due date" until the
new release next writes them). The old indexes are dropped here rather than a release later: the
previous release reads tasks with the new indexes too, only more slowly.

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NO_DUE_DATE = "9999-12-31 00:00:00"


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("due_sort", sa.DateTime(timezone=True), nullable=True,
                                      server_default=sa.text(f"'{NO_DUE_DATE}'")))
    op.execute(f"UPDATE tasks SET due_sort = COALESCE(due_at, '{NO_DUE_DATE}')")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.alter_column("due_sort", existing_type=sa.DateTime(timezone=True), nullable=False,
                              existing_server_default=sa.text(f"'{NO_DUE_DATE}'"))
        batch_op.drop_index("ix_tasks_role_due")
        batch_op.drop_index("ix_tasks_assignee_due")
        batch_op.create_index("ix_tasks_queue", ["role", "due_sort", "created_at", "id"], unique=False,
                              postgresql_where=sa.text("assignee IS NULL"), sqlite_where=sa.text("assignee IS NULL"))
        batch_op.create_index("ix_tasks_mine", ["assignee", "due_sort", "created_at", "id"], unique=False)
        batch_op.create_index("ix_tasks_all", ["due_sort", "created_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_all")
        batch_op.drop_index("ix_tasks_mine")
        batch_op.drop_index("ix_tasks_queue")
        batch_op.create_index("ix_tasks_assignee_due", ["assignee", "due_at"], unique=False)
        batch_op.create_index("ix_tasks_role_due", ["role", "due_at"], unique=False)
        batch_op.drop_column("due_sort")
