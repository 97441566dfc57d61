"""access_log: the read-access log (tilgangslogg, decision 0023), append-only in the database itself

Two new tables and triggers: UPDATE of an access_log row is always refused, DELETE is refused
unless the row is older than a cutoff in access_log_purge (written and removed again in one
transaction by the retention function, services/tilgangslogg.delete_expired). SQLite: RAISE(ABORT)
triggers; PostgreSQL: a plpgsql trigger function.

Revision ID: 0013
Revises: 0010 (the lead re-chains: 0012 when tjenester is merged)
"""
from alembic import op
import sqlalchemy as sa

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None

REFUSED = "tilgangsloggen kan ikke endres eller slettes"

SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
        BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END""",
    f"""CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log
        WHEN NOT EXISTS (SELECT 1 FROM access_log_purge WHERE old.at < access_log_purge.cutoff)
        BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END""",
)

POSTGRESQL_TRIGGERS = (
    f"""CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM access_log_purge p WHERE OLD.at < p.cutoff) THEN
                RETURN OLD;
            END IF;
            RAISE EXCEPTION '{REFUSED} (%)', TG_OP USING ERRCODE = 'insufficient_privilege';
        END $$""",
    """CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON access_log
        FOR EACH ROW EXECUTE FUNCTION access_log_append_only()""",
)


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("system", sa.Boolean(), nullable=False),
        sa.Column("business_key", sa.String(length=100), nullable=True),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("view", sa.String(length=30), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("agent", sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_access_log_case", "access_log", ["business_key", "id"], unique=False)
    op.create_index("ix_access_log_user", "access_log", ["username", "id"], unique=False)
    op.create_index("ix_access_log_at", "access_log", ["at"], unique=False)
    op.create_table(
        "access_log_purge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cutoff", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    for statement in SQLITE_TRIGGERS if op.get_bind().dialect.name == "sqlite" else POSTGRESQL_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS access_log_no_delete")
        op.execute("DROP TRIGGER IF EXISTS access_log_no_update")
    else:
        op.execute("DROP TRIGGER IF EXISTS access_log_append_only ON access_log")
        op.execute("DROP FUNCTION IF EXISTS access_log_append_only()")
    op.drop_table("access_log_purge")
    op.drop_index("ix_access_log_at", table_name="access_log")
    op.drop_index("ix_access_log_user", table_name="access_log")
    op.drop_index("ix_access_log_case", table_name="access_log")
    op.drop_table("access_log")
