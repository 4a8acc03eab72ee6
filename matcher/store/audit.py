"""The audit: who read or changed which child's record, when, what and how.

Every store-mode read of a child's record or ranking and every write
appends one row to ``audit_log``, in the same transaction as the write it
records (a write that rolls back leaves no audit row, and an audit row that
cannot be written stops the action). The application may only add and read
audit rows: on SQLite triggers refuse UPDATE and DELETE; on PostgreSQL the
application's role (:data:`APP_ROLE`, made by ``matcher db init``) has only
INSERT and SELECT on the table.

Who is the operating-system user; a name given with ``--user`` is recorded
only as ``acting_for``. How is the front end (``cli``, later ``web``),
set with :func:`acting`.
"""

from __future__ import annotations

import datetime as dt
import os

import sqlalchemy as sa

from matcher.store import schema
from matcher.store.actor import _ACTOR, who_am_i
from matcher.store.direct import APP_ROLE, use_app_role  # noqa: F401 - use_app_role is part of this module's story



def record_audit(session: sa.Connection, action: str, what: str, child_id: str | None = None,
                 household_id: str | None = None) -> None:
    """Append one audit row on ``session`` (a connection inside the
    transaction of the action it records)."""
    actor = _ACTOR.get()
    session.execute(sa.insert(schema.audit_log).values(
        at=dt.datetime.now(dt.timezone.utc), who=who_am_i(), acting_for=actor.acting_for, how=actor.how,
        action=action, what=what, child_id=child_id, household_id=household_id))


def read_audit(session: sa.Connection, *, child_id: str | None = None, user: str | None = None,
               since: dt.datetime | None = None) -> list[dict]:
    """Audit rows, oldest first, filtered by child, by user (who or acting
    for) and by time (at or after ``since``)."""
    log = schema.audit_log
    query = sa.select(log).order_by(log.c.id)
    if child_id is not None:
        query = query.where(log.c.child_id == child_id)
    if user is not None:
        query = query.where(sa.or_(log.c.who == user, log.c.acting_for == user))
    if since is not None:
        query = query.where(log.c.at >= since)
    rows = session.execute(query).mappings().all()
    out = []
    for r in rows:
        at = r["at"]
        at = at.replace(tzinfo=dt.timezone.utc) if at.tzinfo is None else at.astimezone(dt.timezone.utc)
        out.append({"at": at.isoformat(), "who": r["who"], "acting_for": r["acting_for"], "how": r["how"],
                    "action": r["action"], "what": r["what"], "child_id": r["child_id"],
                    "household_id": r["household_id"]})
    return out


# --- the application's PostgreSQL role ---------------------------------------------------------------------------

def _quoted(connection: sa.Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote(name)


def grant_app_role(connection: sa.Connection) -> bool:
    """On PostgreSQL, when the connected user may make roles and grant on
    this database (``db init`` by the superuser, or by a ``CREATEROLE`` role
    owning the database): make the application's login role if it is missing
    (password from ``MATCHER_APP_PASSWORD``, else none: trust or peer
    authentication), and give it the data tables but only INSERT and SELECT
    on the audit. True when it did."""
    if connection.dialect.name != "postgresql":
        return False
    can = connection.execute(sa.text(
        "SELECT r.rolsuper OR (r.rolcreaterole AND d.datdba = r.oid) FROM pg_roles r, pg_database d "
        "WHERE r.rolname = current_user AND d.datname = current_database()"))
    if not can.scalar():  # not the superuser, nor a role-maker owning the database: leave rights as they are
        return False
    role = _quoted(connection, APP_ROLE)
    exists = connection.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": APP_ROLE}).first()
    if exists is None:
        # Two sessions may race to make it: the loser's duplicate is harmless.
        connection.exec_driver_sql(
            "DO $$ BEGIN CREATE ROLE " + role + " LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    password = os.environ.get("MATCHER_APP_PASSWORD")
    if password:
        literal = connection.execute(sa.text("SELECT quote_literal(:p)"), {"p": password}).scalar()
        connection.exec_driver_sql(f"ALTER ROLE {role} LOGIN PASSWORD {literal}")
    database = _quoted(connection, connection.execute(sa.text("SELECT current_database()")).scalar())
    schema_name = _quoted(connection, connection.execute(sa.text("SELECT current_schema()")).scalar())
    for statement in (
            f"GRANT CONNECT ON DATABASE {database} TO {role}",
            f"GRANT USAGE ON SCHEMA {schema_name} TO {role}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema_name} TO {role}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema_name} TO {role}",
            f"REVOKE UPDATE, DELETE, TRUNCATE ON {schema_name}.audit_log FROM {role}",
            f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {schema_name}.alembic_version FROM {role}"):
        connection.exec_driver_sql(statement)
    return True
