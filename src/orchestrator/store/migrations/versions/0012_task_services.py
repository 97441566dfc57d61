"""tasks.service: the service (tjeneste) whose queue a task is in (issue 13 item 1, decision 0022)

Expand only: a nullable column (plain add_column, no batch rebuild of `tasks`) and the queue
indexes. Open tasks of a previous release keep `service` NULL: they stay in their role's common
queue, as before. A previous release still running during the upgrade inserts tasks without a
service too; they land in the common queue, which is what that release meant.

The role's common queue index now holds only tasks without a service, and a second one orders
each (service, role) queue, so every queue of a task list stays one ordered index range.

Revision ID: 0012
Revises: 0011
"""
from alembic import op
import sqlalchemy as sa

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

COMMON = "assignee IS NULL AND service IS NULL"
SERVICE = "assignee IS NULL AND service IS NOT NULL"


def upgrade() -> None:
    op.add_column("tasks", sa.Column("service", sa.String(length=50), nullable=True))
    op.drop_index("ix_tasks_queue", table_name="tasks")
    op.create_index("ix_tasks_queue", "tasks", ["role", "due_sort", "created_at", "id"], unique=False,
                    postgresql_where=sa.text(COMMON), sqlite_where=sa.text(COMMON))
    op.create_index("ix_tasks_service_queue", "tasks", ["service", "role", "due_sort", "created_at", "id"],
                    unique=False, postgresql_where=sa.text(SERVICE), sqlite_where=sa.text(SERVICE))


def downgrade() -> None:
    op.drop_index("ix_tasks_service_queue", table_name="tasks")
    op.drop_index("ix_tasks_queue", table_name="tasks")
    op.create_index("ix_tasks_queue", "tasks", ["role", "due_sort", "created_at", "id"], unique=False,
                    postgresql_where=sa.text("assignee IS NULL"), sqlite_where=sa.text("assignee IS NULL"))
    op.drop_column("tasks", "service")
