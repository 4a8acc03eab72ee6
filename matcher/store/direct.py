"""The query commands' way into the store: reads and audit rows through the
database driver itself (``sqlite3``, psycopg 3), without SQLAlchemy.

A cold ``matcher rank --db`` spends most of its time starting up: loading
SQLAlchemy alone costs about a third of a second. The reads a query needs
(the schema revision, the data version, both tables, the exclusions and
links in force) and the audit row it appends are a handful of plain SQL
statements, so they are written here once in SQL that both back ends
accept, and give exactly what :func:`matcher.store.register.read_region`
and :func:`matcher.store.audit.record_audit` give (``tests/store`` compares
them on both back ends).

This path only serves the happy case: whenever it cannot answer (a store
not made or not migrated, a server down, a URL form it does not know), it
returns ``None`` and the caller takes the SQLAlchemy path, which says what
is wrong in the usual words. Nothing here writes but the audit row.

The constants every layer needs without loading the store live here too.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from dataclasses import dataclass

ENVIRONMENT = "MATCHER_DB"
"""The environment variable naming the store when ``--db`` is not given."""

SCHEMA_REVISION = "0004_password_changes"
"""The newest migration; a store at another revision must be migrated
(``matcher db init``) before use."""

APP_ROLE = os.environ.get("MATCHER_APP_ROLE", "matcher_app")
"""The PostgreSQL login role the application works as (``db init`` makes it)."""

DATA_VERSION = "data_version"

_SQLITE_PRAGMAS = ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=30000")


def polars_types():
    """The polars type of each contract kind (strings for the rest)."""
    import polars as pl

    from features.contract import BOOL, CODES, DATE, FLOAT, INT

    return {INT: pl.Int64, FLOAT: pl.Float64, DATE: pl.Date, BOOL: pl.Boolean, CODES: pl.List(pl.String)}


@dataclass(frozen=True)
class Target:
    """A store this path can open: an SQLite file or a PostgreSQL URL."""

    backend: str  # "sqlite" or "postgresql"
    address: str  # the file's absolute path, or the libpq connection URL


def target(text: str | os.PathLike) -> Target | None:
    """The store ``text`` names (``--db`` or ``MATCHER_DB``), or None when
    it is a form only the SQLAlchemy path reads."""
    text = os.fspath(text)
    if "://" not in text:
        return Target("sqlite", os.path.abspath(text)) if text else None
    scheme = text.split("://", 1)[0].lower()
    if scheme in ("postgresql", "postgres"):
        return Target("postgresql", text)
    return None


# --- connections --------------------------------------------------------------------------------------------------

_LOCAL = threading.local()


def use_app_role(dbapi_connection) -> None:
    """On a new PostgreSQL connection: work as the application's role when
    ``db init`` has made it and given it this store and the connected user
    may (``SET ROLE``); otherwise as the connected user."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SELECT pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles WHERE rolname = %s",
                       (APP_ROLE,))
        member = cursor.fetchone()
        if not member or not member[0]:
            return
        cursor.execute("SELECT to_regclass('audit_log') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return
        cursor.execute("SELECT has_table_privilege(%s, 'audit_log', 'INSERT')", (APP_ROLE,))
        if cursor.fetchone()[0]:
            cursor.execute("SET ROLE " + '"' + APP_ROLE.replace('"', '""') + '"')
    finally:
        cursor.close()
    dbapi_connection.commit()


def _open(where: Target):
    if where.backend == "sqlite":
        import sqlite3
        from urllib.parse import quote

        if not os.path.isfile(where.address):
            return None  # never make a file here: the SQLAlchemy path says the store is missing
        connection = sqlite3.connect(f"file:{quote(where.address)}?mode=rw", uri=True, isolation_level=None,
                                     check_same_thread=True)
        for pragma in _SQLITE_PRAGMAS:
            connection.execute(f"PRAGMA {pragma}")
        return connection
    import psycopg

    connection = psycopg.connect(where.address, connect_timeout=10)
    use_app_role(connection)
    return connection


def _connection(where: Target):
    """This thread's open connection to ``where`` (opened on first use; an
    SQLite connection is opened again when its file was replaced, by a
    restore say, so it never reads a file that is gone)."""
    held = getattr(_LOCAL, "connections", None)
    if held is None:
        held = _LOCAL.connections = {}
    identity = None
    if where.backend == "sqlite":
        try:
            status = os.stat(where.address)
        except OSError:
            _forget(where)
            return None
        identity = (status.st_dev, status.st_ino, status.st_ctime_ns)
    connection, opened_on = held.get(where, (None, None))
    if connection is None or opened_on != identity or getattr(connection, "closed", False):
        _forget(where)
        connection = _open(where)
        if connection is None:
            return None
        held[where] = (connection, identity)
    return connection


def _forget(where: Target) -> None:
    held = getattr(_LOCAL, "connections", {})
    connection, _ = held.pop(where, (None, None))
    if connection is not None:
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - a broken connection is dropped either way
            pass


def close(where: Target | None = None) -> None:
    """Close this thread's connections (to one store, or to all)."""
    for key in list(getattr(_LOCAL, "connections", {})):
        if where is None or key == where:
            _forget(key)


class _Unanswerable(Exception):
    """The store is not one this path can read as it is (not made, not
    migrated): the SQLAlchemy path says why."""


def _transaction(where: Target, write: bool, work):
    """Run ``work(cursor)`` in one transaction (a snapshot for a reader:
    REPEATABLE READ on PostgreSQL; ``BEGIN IMMEDIATE`` for an SQLite
    writer) and commit; None when this path cannot answer."""
    try:
        connection = _connection(where)
    except Exception:  # noqa: BLE001 - unreachable here: the SQLAlchemy path reports it in its words
        return None
    if connection is None:
        return None
    try:
        if where.backend == "sqlite":
            cursor = connection.cursor()
            cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                result = work(cursor)
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")
            return result
        import psycopg

        connection.isolation_level = (psycopg.IsolationLevel.READ_COMMITTED if write
                                      else psycopg.IsolationLevel.REPEATABLE_READ)
        with connection.transaction(), connection.cursor() as cursor:
            return work(cursor)
    except _Unanswerable:
        return None
    except Exception:  # noqa: BLE001 - a driver error: drop the connection and let the other path report it
        _forget(where)
        return None


def _require_ready(cursor, where: Target) -> None:
    try:
        if where.backend == "sqlite":
            cursor.execute("SELECT version_num FROM alembic_version")
        else:
            cursor.execute("SELECT to_regclass('alembic_version') IS NOT NULL")
            if not cursor.fetchone()[0]:
                raise _Unanswerable
            cursor.execute("SELECT version_num FROM alembic_version")
    except _Unanswerable:
        raise
    except Exception:  # noqa: BLE001 - no such table: not initialised
        raise _Unanswerable from None
    row = cursor.fetchone()
    if row is None or row[0] != SCHEMA_REVISION:
        raise _Unanswerable


def _data_version(cursor, where: Target) -> int:
    mark = "?" if where.backend == "sqlite" else "%s"
    cursor.execute(f"SELECT value FROM register_state WHERE name = {mark}", (DATA_VERSION,))
    row = cursor.fetchone()
    if row is None:
        raise _Unanswerable
    return int(row[0])


# --- reading a region ---------------------------------------------------------------------------------------------

def as_utc(at) -> dt.datetime:
    """A stored time as an aware UTC datetime (SQLite keeps naive UTC text
    or datetimes; PostgreSQL gives aware ones)."""
    if isinstance(at, str):
        at = dt.datetime.fromisoformat(at)
    return at.replace(tzinfo=dt.timezone.utc) if at.tzinfo is None else at.astimezone(dt.timezone.utc)


def who_words(who: str, acting_for: str | None) -> str:
    """Who did something, as messages say it."""
    return who if not acting_for else f"{who} (acting for {acting_for})"


def _frame(cursor, where: Target, name: str):
    """A register table as a typed frame in the contract's columns, in the
    order rows were first imported (as :func:`register._frame` reads it)."""
    from features.contract import CHILDREN, CODES, HOUSEHOLDS

    contract = {"children": CHILDREN, "households": HOUSEHOLDS}[name]
    if where.backend == "sqlite":
        selected = ", ".join(f'"{c}"' for c in contract.names)
        cursor.execute(f"SELECT {selected} FROM {name} ORDER BY position")
        return typed_frame(contract, cursor.fetchall(), raw_sqlite=True)
    return _copied_frame(cursor, contract, name)


def _copied_frame(cursor, contract, name: str):
    """A PostgreSQL register table read with ``COPY ... TO STDOUT`` as CSV
    and parsed by polars into the frame :func:`typed_frame` builds from
    fetched rows (the same columns, types and values; ``tests/store``
    compares them): a third of the time of fetching every cell as a Python
    object. The text forms are fixed for the transaction (ISO dates,
    ``true``/``false``, floats written exactly, lists of codes as JSON), so
    no server or role setting changes what is read."""
    import polars as pl

    from features.contract import BOOL, CODES

    cursor.execute("SET LOCAL DateStyle = 'ISO, YMD'")
    cursor.execute("SET LOCAL extra_float_digits = 3")
    selected = ", ".join(
        f'CAST("{c.name}" AS TEXT)' if c.kind == CODES
        else f"""CASE WHEN "{c.name}" THEN 'true' WHEN NOT "{c.name}" THEN 'false' END""" if c.kind == BOOL
        else f'"{c.name}"' for c in contract.columns)
    text = bytearray()
    with cursor.copy(f"COPY (SELECT {selected} FROM {name} ORDER BY position) TO STDOUT (FORMAT csv)") as copy:
        for block in copy:
            text += block
    types = polars_types()
    schema = {c.name: pl.String if c.kind == CODES else types.get(c.kind, pl.String) for c in contract.columns}
    if not text:
        return typed_frame(contract, [])
    frame = pl.read_csv(bytes(text), has_header=False, new_columns=list(schema), schema=schema,
                        try_parse_dates=False)
    return frame.with_columns(pl.col(c.name).str.json_decode(pl.List(pl.String))
                              for c in contract.columns if c.kind == CODES)


def typed_frame(contract, rows, *, raw_sqlite: bool = False):
    """Rows of a register table (in the contract's column order, lists of
    codes as JSON text) as a typed frame, built column by column. With
    ``raw_sqlite`` the values are as the sqlite3 driver gives them (dates
    as text, booleans as 0 and 1); otherwise as Python objects."""
    import polars as pl

    from features.contract import BOOL, CODES, DATE

    types = polars_types()
    columns = list(zip(*rows)) if rows else [()] * len(contract.names)
    series = []
    for column, values in zip(contract.columns, columns):
        if column.kind == CODES:
            series.append(pl.Series(column.name, values, dtype=pl.String).str.json_decode(pl.List(pl.String)))
        elif raw_sqlite and column.kind == DATE:
            series.append(pl.Series(column.name, values, dtype=pl.String).str.to_date("%Y-%m-%d"))
        elif raw_sqlite and column.kind == BOOL:
            series.append(pl.Series(column.name, values, dtype=pl.Int64).cast(pl.Boolean))
        else:
            series.append(pl.Series(column.name, values, dtype=types.get(column.kind, pl.String)))
    return pl.DataFrame(series)


def links_for_region(rows) -> tuple[tuple, tuple[dict, ...]]:
    """From (unit id, child ids, household id, state, who, acting for, at,
    reason) rows of the declined and exploring links with their last event:
    the pairs the declined ones rule out (first child id, household id,
    reason, who, when) and the links being explored."""
    declined, exploring = [], []
    for unit_id, child_ids, household_id, state, who, acting_for, at, reason in rows:
        child_ids = _json_list(child_ids)
        if state == "declined":
            # A declined link rules its pair out as an exclusion does, until it is re-opened.
            declined.append((child_ids[0], household_id, f"link declined: {reason}", who_words(who, acting_for),
                             as_utc(at)))
        else:
            exploring.append({"unit_id": unit_id, "child_ids": child_ids, "household_id": household_id,
                              "state": "exploring", "since": as_utc(at).isoformat(),
                              "by": who_words(who, acting_for)})
    return tuple(declined), tuple(exploring)


def _json_list(value) -> list:
    return json.loads(value) if isinstance(value, str) else list(value)


@dataclass(frozen=True)
class DirectRegion:
    """What :class:`matcher.store.register.StoredRegion` holds, read
    through the driver: both typed tables, the pairs ruled out (exclusions
    in force, then declined links: child id, household id, reason, who,
    when) and the links being explored."""

    children: object
    households: object
    exclusions: tuple[tuple[str, str, str, str, dt.datetime], ...]
    data_version: int
    exploring: tuple[dict, ...]


def read_region(store: str | os.PathLike, *, held=None) -> DirectRegion | int | None:
    """Everything a region is built from, in one snapshot; only the data
    version when ``held(version)`` says the caller holds that region
    already; None when this path cannot read the store (take the
    SQLAlchemy path)."""
    where = target(store)
    if where is None:
        return None

    def work(cursor):
        _require_ready(cursor, where)
        version = _data_version(cursor, where)
        if held is not None and held(version):
            return version
        cursor.execute("SELECT child_id, household_id, reason, who, at FROM exclusions WHERE lifted_at IS NULL "
                       "ORDER BY id")
        excluded = [(c, h, r, w, as_utc(a)) for c, h, r, w, a in cursor.fetchall()]
        cursor.execute("SELECT lk.unit_id, lk.child_ids, lk.household_id, lk.state, ev.who, ev.acting_for, ev.at, "
                       "ev.reason FROM links lk JOIN link_events ev ON ev.link_id = lk.id AND ev.version = lk.version "
                       "WHERE lk.state IN ('declined', 'exploring') ORDER BY lk.id")
        declined, exploring = links_for_region(cursor.fetchall())
        return DirectRegion(_frame(cursor, where, "children"), _frame(cursor, where, "households"),
                            tuple(excluded) + declined, version, exploring)

    return _transaction(where, False, work)


# --- the audit row of a read ------------------------------------------------------------------------------------

def audit_stamp(at: dt.datetime) -> str:
    """A time as the SQLite store keeps it (SQLAlchemy's text form, UTC)."""
    at = at.astimezone(dt.timezone.utc)
    return f"{at:%Y-%m-%d %H:%M:%S}.{at.microsecond:06d}"


def audit(store: str | os.PathLike, action: str, what: str, child_id: str | None = None,
          household_id: str | None = None) -> bool | None:
    """Append the audit row of a read, in a transaction of its own (as
    :func:`matcher.store.register.audit` does); None when this path cannot
    (take the SQLAlchemy path)."""
    from matcher.store.actor import current_actor, who_am_i

    where = target(store)
    if where is None:
        return None
    actor = current_actor()
    at = dt.datetime.now(dt.timezone.utc)

    def work(cursor):
        _require_ready(cursor, where)
        if where.backend == "sqlite":
            cursor.execute("INSERT INTO audit_log (at, who, acting_for, how, action, what, child_id, household_id) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (audit_stamp(at), who_am_i(), actor.acting_for, actor.how, action, what, child_id,
                            household_id))
        else:
            cursor.execute("INSERT INTO audit_log (at, who, acting_for, how, action, what, child_id, household_id) "
                           "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                           (at, who_am_i(), actor.acting_for, actor.how, action, what, child_id, household_id))
        return True

    return _transaction(where, True, work)


def audit_rows(store: str | os.PathLike, rows) -> bool | None:
    """Append the audit rows of several reads in one transaction (one
    commit: the web service's group commit); each row is ``(at,
    acting_for, how, action, what, child_id, household_id)``. None when
    this path cannot (take the SQLAlchemy path)."""
    from matcher.store.actor import who_am_i

    where = target(store)
    if where is None:
        return None
    who = who_am_i()

    def work(cursor):
        _require_ready(cursor, where)
        if where.backend == "sqlite":
            cursor.executemany("INSERT INTO audit_log (at, who, acting_for, how, action, what, child_id, "
                               "household_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                               [(audit_stamp(row[0]), who, *row[1:]) for row in rows])
        else:
            cursor.executemany("INSERT INTO audit_log (at, who, acting_for, how, action, what, child_id, "
                               "household_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                               [(row[0], who, *row[1:]) for row in rows])
        return True

    return _transaction(where, True, work)
