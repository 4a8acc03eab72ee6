"""The register's first schema: children, households, row versions,
exclusions and the data version.

Revision ID: 0001
Revises: (none)

Columns are written out here, not taken from the live declarations, so
this revision keeps building the schema it built when later revisions
change the declarations.
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'children',
        sa.Column('child_id', sa.String(), primary_key=True),
        sa.Column('agency_id', sa.String(), nullable=False),
        sa.Column('region', sa.String(), nullable=False),
        sa.Column('date_of_birth', sa.Date(), nullable=False),
        sa.Column('sex', sa.String(), nullable=False),
        sa.Column('ethnicity', sa.String(), nullable=False),
        sa.Column('sibling_group_id', sa.String(), nullable=True),
        sa.Column('sibling_plan', sa.String(), nullable=True),
        sa.Column('need_physical', sa.Integer(), nullable=False),
        sa.Column('need_learning', sa.Integer(), nullable=False),
        sa.Column('need_health', sa.Integer(), nullable=False),
        sa.Column('need_developmental_uncertainty', sa.Integer(), nullable=False),
        sa.Column('need_emotional', sa.Integer(), nullable=False),
        sa.Column('need_prenatal_exposure', sa.Integer(), nullable=False),
        sa.Column('entered_care_date', sa.Date(), nullable=False),
        sa.Column('placement_order_date', sa.Date(), nullable=True),
        sa.Column('early_permanence', sa.Boolean(), nullable=True),
        sa.Column('contact_plan', sa.String(), nullable=True),
        sa.Column('lat', sa.Double(), nullable=False),
        sa.Column('lon', sa.Double(), nullable=False),
        sa.Column('birth_family_lat', sa.Double(), nullable=True),
        sa.Column('birth_family_lon', sa.Double(), nullable=True),
        sa.Column('min_distance_km', sa.Double(), nullable=True),
        sa.Column('status', sa.String(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
    )
    op.create_table(
        'households',
        sa.Column('household_id', sa.String(), primary_key=True),
        sa.Column('agency_id', sa.String(), nullable=False),
        sa.Column('agency_type', sa.String(), nullable=False),
        sa.Column('region', sa.String(), nullable=False),
        sa.Column('approval_date', sa.Date(), nullable=False),
        sa.Column('adults', sa.Integer(), nullable=False),
        sa.Column('ethnicities', sa.JSON(), nullable=False),
        sa.Column('can_promote', sa.JSON(), nullable=True),
        sa.Column('min_children', sa.Integer(), nullable=False),
        sa.Column('max_children', sa.Integer(), nullable=False),
        sa.Column('min_age_months', sa.Integer(), nullable=False),
        sa.Column('max_age_months', sa.Integer(), nullable=False),
        sa.Column('sexes', sa.JSON(), nullable=False),
        sa.Column('accept_physical', sa.Integer(), nullable=False),
        sa.Column('accept_learning', sa.Integer(), nullable=False),
        sa.Column('accept_health', sa.Integer(), nullable=False),
        sa.Column('accept_developmental_uncertainty', sa.Integer(), nullable=False),
        sa.Column('accept_emotional', sa.Integer(), nullable=False),
        sa.Column('accept_prenatal_exposure', sa.Integer(), nullable=False),
        sa.Column('consider_physical', sa.Integer(), nullable=True),
        sa.Column('consider_learning', sa.Integer(), nullable=True),
        sa.Column('consider_health', sa.Integer(), nullable=True),
        sa.Column('consider_developmental_uncertainty', sa.Integer(), nullable=True),
        sa.Column('consider_emotional', sa.Integer(), nullable=True),
        sa.Column('consider_prenatal_exposure', sa.Integer(), nullable=True),
        sa.Column('dual_approved', sa.Boolean(), nullable=True),
        sa.Column('accepts_direct_contact', sa.Boolean(), nullable=True),
        sa.Column('youngest_child_months', sa.Integer(), nullable=True),
        sa.Column('lat', sa.Double(), nullable=False),
        sa.Column('lon', sa.Double(), nullable=False),
        sa.Column('max_travel_km', sa.Double(), nullable=True),
        sa.Column('status', sa.String(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
    )
    op.create_table(
        "row_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("table_name", sa.String(), nullable=False),
        sa.Column("row_id", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("who", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed", sa.JSON(), nullable=True),
        sa.Column("row_values", sa.JSON(), nullable=False),
        sa.UniqueConstraint("table_name", "row_id", "version", name="uq_row_versions_version"),
    )
    op.create_table(
        "exclusions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("child_id", sa.String(), sa.ForeignKey("children.child_id"), nullable=False),
        sa.Column("household_id", sa.String(), sa.ForeignKey("households.household_id"), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("who", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(), nullable=True),
        sa.Column("lift_reason", sa.String(), nullable=True),
    )
    op.create_table(
        "register_state",
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("value", sa.Integer(), nullable=False),
    )
    op.bulk_insert(sa.table("register_state", sa.column("name", sa.String()), sa.column("value", sa.Integer())),
                   # A random start: a store dropped and made again does not repeat the data
                   # versions of the old one, so no process's cached region outlives it.
                   [{"name": "data_version", "value": secrets.randbelow(1 << 30)}])


def downgrade() -> None:
    for name in ("register_state", "exclusions", "row_versions", "households", "children"):
        op.drop_table(name)
