"""When an account last logged in and last set its password.

Revision ID: 0004_password_changes
Revises: 0003_accounts

``users.last_login_at`` is written at each login (the admin page lists
it); ``users.password_changed_at`` when the account's password is set by
its owner or reset by an admin (whose reset also sets
``must_change_password``, the flag revision 0003 made, so that the owner
sets a new one at the next login). Both are null for accounts made before
this revision until they next log in or change their password. Columns are
written out here, not taken from the live declarations.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_password_changes"
down_revision = "0003_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_changed_at")
        batch.drop_column("last_login_at")
