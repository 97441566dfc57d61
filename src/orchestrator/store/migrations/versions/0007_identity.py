"""identity: server-side sessions, token expiry and revocation, services per user, OIDC identity,
the login throttle's table

Expand/contract (docs/operations.md): only new tables and nullable columns or columns with a
constant default, so a previous release keeps working while this one rolls out. Existing API
tokens keep working: they get an expiry 90 days from the upgrade (a token a previous release
creates meanwhile has none, which this release reads as 90 days from its creation).

Revision ID: 0007
Revises: 0006
"""
from datetime import datetime, timedelta, timezone

from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TOKEN_DAYS = 90


def upgrade() -> None:
    # Plain ADD COLUMN, never a batch rebuild: rebuilding `users` on SQLite drops the old table, and
    # with foreign keys on that cascades to user_roles and api_tokens (every token would be lost).
    op.add_column("users", sa.Column("access_version", sa.Integer(), nullable=False, server_default=sa.text("1")))
    op.add_column("users", sa.Column("oidc_issuer", sa.String(length=300), nullable=True))
    op.add_column("users", sa.Column("oidc_subject", sa.String(length=300), nullable=True))
    op.create_index("ix_users_oidc_identity", "users", ["oidc_issuer", "oidc_subject"], unique=True)
    op.add_column("api_tokens", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("api_tokens", sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
    expires = datetime.now(timezone.utc) + timedelta(days=TOKEN_DAYS)
    if op.get_bind().dialect.name == "sqlite":
        expires = expires.replace(tzinfo=None)  # as store/types.py keeps UTC in SQLite
    op.get_bind().execute(sa.text("UPDATE api_tokens SET expires_at = :expires WHERE expires_at IS NULL"),
                          {"expires": expires})

    op.create_table(
        "user_services",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=50), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "service", name="uq_user_service"),
    )
    with op.batch_alter_table("user_services", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_services_user_id"), ["user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_user_services_service"), ["service"], unique=False)

    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_sessions_user_id"), ["user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_user_sessions_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_login_attempts_key", ["key", "kind", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_login_attempts_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_table("login_attempts")
    op.drop_table("user_sessions")
    op.drop_table("user_services")
    # ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35, PostgreSQL), again without rebuilding `users`
    op.drop_index("ix_users_oidc_identity", table_name="users")
    for table, column in (("api_tokens", "revoked_at"), ("api_tokens", "expires_at"), ("users", "oidc_subject"),
                          ("users", "oidc_issuer"), ("users", "access_version")):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
