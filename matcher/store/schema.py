"""The register's tables, declared once (SQLAlchemy Core).

Children and households hold every column of CONTRACT.md with its type
(the kinds in :mod:`features.contract` map to SQL types below; a list of
codes is a JSON array, so its order and items round-trip exactly), plus
``position`` (the order rows were first imported in: export and store-mode
queries read rows in it, so a store answers as the file it came from) and
``version`` (how many times the row was written). Every version of every
row is kept in ``row_versions``; ``exclusions`` holds the pairs ruled out
by hand; ``register_state`` holds the data version that every write to
children, households, exclusions or links bumps (the key of the region cache; it
starts at a random number, so a store made again never repeats the data
versions of the one it replaced). ``links``, ``link_events`` and
``status_holds`` hold the link lifecycle (:mod:`matcher.store.links`);
``audit_log`` is the append-only audit (:mod:`matcher.store.audit`).

The migrations in :mod:`matcher.store.migrations` build these tables;
``tests/store`` checks that they agree.
"""

from __future__ import annotations

import sqlalchemy as sa

from features.contract import BOOL, CHILDREN, CODE, CODES, DATE, FLOAT, HOUSEHOLDS, INT, STR, Table

from matcher.store.direct import SCHEMA_REVISION  # the newest migration (kept where no SQLAlchemy is loaded)

SQL_TYPES = {STR: sa.String, CODE: sa.String, INT: sa.Integer, FLOAT: sa.Double, DATE: sa.Date, BOOL: sa.Boolean,
             CODES: sa.JSON}

metadata = sa.MetaData()


def _register_table(table: Table) -> sa.Table:
    columns = [sa.Column(c.name, SQL_TYPES[c.kind](), primary_key=c.name == table.id_column,
                         nullable=not c.required) for c in table.columns]
    return sa.Table(table.name, metadata, *columns,
                    sa.Column("position", sa.Integer, nullable=False),
                    sa.Column("version", sa.Integer, nullable=False))


children = _register_table(CHILDREN)
households = _register_table(HOUSEHOLDS)

row_versions = sa.Table(
    "row_versions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("table_name", sa.String, nullable=False),
    sa.Column("row_id", sa.String, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("who", sa.String, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("changed", sa.JSON, nullable=True),  # {column: [before, after]}; null for a new row
    sa.Column("row_values", sa.JSON, nullable=False),  # the whole row as written
    sa.UniqueConstraint("table_name", "row_id", "version", name="uq_row_versions_version"),
)

exclusions = sa.Table(
    "exclusions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("child_id", sa.String, sa.ForeignKey("children.child_id"), nullable=False),
    sa.Column("household_id", sa.String, sa.ForeignKey("households.household_id"), nullable=False),
    sa.Column("reason", sa.String, nullable=False),
    sa.Column("who", sa.String, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("lifted_by", sa.String, nullable=True),
    sa.Column("lift_reason", sa.String, nullable=True),
)

register_state = sa.Table(
    "register_state", metadata,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("value", sa.Integer, nullable=False),
)

audit_log = sa.Table(
    # Append-only (see matcher.store.audit): who read or changed what, when and how.
    "audit_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("who", sa.String, nullable=False),  # the operating-system user
    sa.Column("acting_for", sa.String, nullable=True),  # --user
    sa.Column("how", sa.String, nullable=False),  # cli, web, api
    sa.Column("action", sa.String, nullable=False),
    sa.Column("what", sa.String, nullable=False),
    sa.Column("child_id", sa.String, nullable=True),
    sa.Column("household_id", sa.String, nullable=True),
    sa.Index("ix_audit_log_child_id", "child_id"),
    sa.Index("ix_audit_log_at", "at"),
)

REGISTER_TABLES = {"children": (CHILDREN, children), "households": (HOUSEHOLDS, households)}

# --- the link lifecycle (revision 0002) --------------------------------------------------------------------------

links = sa.Table(
    "links", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("unit_id", sa.String, nullable=False),
    sa.Column("child_ids", sa.JSON, nullable=False),  # the unit's children when the link was first proposed
    sa.Column("household_id", sa.String, sa.ForeignKey("households.household_id"), nullable=False),
    sa.Column("state", sa.String, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),  # the optimistic version every transition checks
    sa.UniqueConstraint("unit_id", "household_id", name="uq_links_pair"),
)

link_events = sa.Table(
    "link_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("link_id", sa.Integer, sa.ForeignKey("links.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),  # the link's version this event made
    sa.Column("action", sa.String, nullable=False),
    sa.Column("from_state", sa.String, nullable=True),  # null when the link was first proposed
    sa.Column("to_state", sa.String, nullable=False),
    sa.Column("who", sa.String, nullable=False),  # the operating-system user
    sa.Column("acting_for", sa.String, nullable=True),  # --user
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reason", sa.String, nullable=True),
    sa.UniqueConstraint("link_id", "version", name="uq_link_events_version"),
)

status_holds = sa.Table(
    "status_holds", metadata,
    # A child's or household's status set by a link (linked, matched, placed): a re-import keeps it.
    sa.Column("table_name", sa.String, primary_key=True),
    sa.Column("row_id", sa.String, primary_key=True),
    sa.Column("link_id", sa.Integer, sa.ForeignKey("links.id"), nullable=False),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("before_status", sa.String, nullable=False),  # restored when the link is declined or closed
)

# --- web accounts and sessions (revision 0003) ----------------------------------------------------------------

users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String, nullable=False, unique=True),
    sa.Column("password_hash", sa.String, nullable=False),  # argon2id, never the password
    sa.Column("role", sa.String, nullable=False),  # family_finder, agency_manager, admin
    sa.Column("agency_id", sa.String, nullable=True),  # the agency the account acts for
    sa.Column("disabled", sa.Boolean, nullable=False),
    sa.Column("must_change_password", sa.Boolean, nullable=False),  # after an admin's reset
    sa.Column("failed_logins", sa.Integer, nullable=False),  # since first_failure_at (the login limit)
    sa.Column("first_failure_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),  # revision 0004
    sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),  # revision 0004
)

web_sessions = sa.Table(
    "web_sessions", metadata,
    sa.Column("token_sha256", sa.String, primary_key=True),  # the cookie's token is never stored
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("csrf_token", sa.String, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_web_sessions_user_id", "user_id"),
)
