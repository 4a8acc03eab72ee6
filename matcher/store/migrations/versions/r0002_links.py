"""The link lifecycle: links (one per unit-household pair, with its state
and optimistic version), every transition of a link (who, acting for whom,
when, why), and the statuses links hold on children and households.

Revision ID: 0002_links
Revises: 0001

Columns are written out here, not taken from the live declarations.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_links"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "links",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("unit_id", sa.String(), nullable=False),
        sa.Column("child_ids", sa.JSON(), nullable=False),
        sa.Column("household_id", sa.String(), sa.ForeignKey("households.household_id"), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("unit_id", "household_id", name="uq_links_pair"),
    )
    op.create_table(
        "link_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("link_id", sa.Integer(), sa.ForeignKey("links.id"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("from_state", sa.String(), nullable=True),
        sa.Column("to_state", sa.String(), nullable=False),
        sa.Column("who", sa.String(), nullable=False),
        sa.Column("acting_for", sa.String(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.UniqueConstraint("link_id", "version", name="uq_link_events_version"),
    )
    op.create_table(
        "status_holds",
        sa.Column("table_name", sa.String(), primary_key=True),
        sa.Column("row_id", sa.String(), primary_key=True),
        sa.Column("link_id", sa.Integer(), sa.ForeignKey("links.id"), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("before_status", sa.String(), nullable=False),
    )


def downgrade() -> None:
    for name in ("status_holds", "link_events", "links"):
        op.drop_table(name)
