"""The audit: an append-only log of who read or changed which record.

Revision ID: 0002_audit
Revises: 0002_links

On SQLite triggers refuse UPDATE and DELETE of audit rows; on PostgreSQL
the application's role gets only INSERT and SELECT on the table
(``matcher db init`` grants it after migrating: see matcher/store/audit.py).
Columns are written out here, not taken from the live declarations.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_audit"
down_revision = "0002_links"
branch_labels = None
depends_on = None

APPEND_ONLY = "the audit is append-only: its rows cannot be changed or deleted"


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("who", sa.String(), nullable=False),
        sa.Column("acting_for", sa.String(), nullable=True),
        sa.Column("how", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("what", sa.String(), nullable=False),
        sa.Column("child_id", sa.String(), nullable=True),
        sa.Column("household_id", sa.String(), nullable=True),
    )
    op.create_index("ix_audit_log_child_id", "audit_log", ["child_id"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
                       f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS audit_log_no_{event}")
    op.drop_index("ix_audit_log_at", "audit_log")
    op.drop_index("ix_audit_log_child_id", "audit_log")
    op.drop_table("audit_log")
