"""The case register: create or migrate it, import validated tables into
it, read them back, keep every row's versions, exclude pairs.

Every write runs in one transaction (all or nothing) and bumps the data
version in that same transaction, so a reader that sees the new version
sees the new rows. Tables arrive here already validated
(:mod:`matcher.validation`, through :mod:`matcher.api`): this module only
stores and reads.
"""

from __future__ import annotations

import datetime as dt
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import URL

from features.contract import BOOL, CODES, DATE, FLOAT, INT
from matcher.errors import InputError, LookupInputError, option_problem
from matcher.store import schema
from matcher.store.audit import grant_app_role, read_audit, record_audit, who_am_i  # noqa: F401 (who_am_i: the API's)
from matcher.store.engine import engine_for, shown

DATA_VERSION = "data_version"
POLARS_TYPES = {INT: pl.Int64, FLOAT: pl.Float64, DATE: pl.Date, BOOL: pl.Boolean, CODES: pl.List(pl.String)}




def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


class StoreUnavailable(RuntimeError):
    """The store could not be reached (a server down, a file unreadable):
    not bad input."""


def _not_initialised(url: URL) -> InputError:
    return InputError(option_problem("db", shown(url), "an initialised store; run `matcher db init` with this "
                                                       "{option:db} first"))


@contextmanager
def _transaction(url: URL, *, write: bool, create: bool = False, admin: bool = False):
    """One transaction on the store; a writer's is ``BEGIN IMMEDIATE`` on
    SQLite and every reader's a snapshot (REPEATABLE READ on PostgreSQL).
    Only ``create`` (``db init``) may make a new SQLite file; only ``admin``
    (``db init``, restore) works as the connected user rather than the
    application's role on PostgreSQL."""
    if url.get_backend_name() == "sqlite" and not create and not os.path.isfile(url.database or ""):
        raise _not_initialised(url)
    engine = engine_for(url, admin=admin)
    options = {"matcher_writer": True} if write else {}
    if engine.dialect.name == "postgresql" and not write:
        options["isolation_level"] = "REPEATABLE READ"
    try:
        connection = engine.connect().execution_options(**options)
    except sa.exc.OperationalError as exc:
        first = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        raise StoreUnavailable(f"could not open the store {shown(url)}: {first}") from None
    with connection, connection.begin():
        yield connection


def _require_ready(connection: sa.Connection, url: URL) -> None:
    """An input error naming ``db`` unless the store is at the newest schema."""
    where = shown(url)
    if not sa.inspect(connection).has_table("alembic_version"):
        raise _not_initialised(url)
    current = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    if current != schema.SCHEMA_REVISION:
        raise InputError(option_problem("db", where, f"a store at schema {schema.SCHEMA_REVISION} (it is at "
                                                     f"{current}); run `matcher db init` to migrate it"))


# --- creating and migrating -------------------------------------------------------------------------------------

def migrations_folder() -> Path:
    return Path(__file__).resolve().parent / "migrations"


def migrate(url: URL) -> tuple[str | None, str]:
    """Create the register, or migrate it to the newest schema, in one
    transaction; returns the schema revision before (None for a new store)
    and after."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext

    config = Config()
    config.set_main_option("script_location", str(migrations_folder()))
    config.set_main_option("path_separator", "os")
    with _transaction(url, write=True, create=True, admin=True) as connection:
        before = MigrationContext.configure(connection).get_current_revision()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        after = MigrationContext.configure(connection).get_current_revision()
        grant_app_role(connection)
    return before, after


# --- importing --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TableImport:
    """What an import did to one table."""

    table: str
    added: int
    updated: int
    unchanged: int
    left_out: int
    """Rows in the store that the file did not hold (kept as they were)."""


def _json_value(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def _import_table(connection: sa.Connection, name: str, frame: pl.DataFrame, who: str,
                  at: dt.datetime) -> TableImport:
    contract, table = schema.REGISTER_TABLES[name]
    names, key = contract.names, contract.id_column
    existing = {row[key]: row for row in connection.execute(sa.select(table)).mappings()}
    position = max((row["position"] for row in existing.values()), default=0)
    added, updated, versions = [], [], []
    unchanged = 0
    seen = set()
    for record in frame.select(names).iter_rows(named=True):
        row_id = record[key]
        seen.add(row_id)
        values = {c: _json_value(record[c]) for c in names}
        old = existing.get(row_id)
        if old is None:
            position += 1
            added.append({**record, "position": position, "version": 1})
            versions.append({"table_name": name, "row_id": row_id, "version": 1, "who": who, "at": at,
                             "changed": None, "row_values": values})
            continue
        changed = {c: [_json_value(old[c]), values[c]] for c in names if _json_value(old[c]) != values[c]}
        if not changed:
            unchanged += 1
            continue
        version = old["version"] + 1
        updated.append({**record, "version": version, "row_key": row_id})
        versions.append({"table_name": name, "row_id": row_id, "version": version, "who": who, "at": at,
                         "changed": changed, "row_values": values})
    if added:
        connection.execute(sa.insert(table), added)
    if updated:
        statement = sa.update(table).where(table.c[key] == sa.bindparam("row_key")).values(
            {c: sa.bindparam(c) for c in (*names, "version") if c != key})
        connection.execute(statement, [{k: v for k, v in row.items() if k != key} for row in updated])
    if versions:
        connection.execute(sa.insert(schema.row_versions), versions)
    return TableImport(name, len(added), len(updated), unchanged, len(existing.keys() - seen))


def _bump(connection: sa.Connection) -> None:
    state = schema.register_state
    connection.execute(sa.update(state).where(state.c.name == DATA_VERSION).values(value=state.c.value + 1))


def import_tables(url: URL, children: pl.DataFrame, households: pl.DataFrame,
                  who: str, what: str = "import") -> tuple[TableImport, TableImport]:
    """Load validated tables in one transaction: a row whose id is new is
    added, a row that differs from the store's is updated (its version
    kept), a row the file leaves out stays as it is."""
    at = _now()
    with _transaction(url, write=True) as connection:
        _require_ready(connection, url)
        done = (_import_table(connection, "children", children, who, at),
                _import_table(connection, "households", households, who, at))
        if any(t.added or t.updated for t in done):
            _bump(connection)
        summary = "; ".join(f"{t.table}: {t.added} added, {t.updated} updated, {t.unchanged} unchanged"
                            for t in done)
        record_audit(connection, "import", f"{what} ({summary})")
    return done


# --- reading ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StoredExclusion:
    """A pair excluded by hand, still in force."""

    child_id: str
    household_id: str
    reason: str
    who: str
    at: dt.datetime


@dataclass(frozen=True)
class StoredRegion:
    """Both tables as typed frames in the contract's columns (in the order
    rows were first imported), the exclusions in force and the data version
    they were read at (all from one snapshot)."""

    children: pl.DataFrame
    households: pl.DataFrame
    exclusions: tuple[StoredExclusion, ...]
    data_version: int


def _frame(connection: sa.Connection, name: str) -> pl.DataFrame:
    contract, table = schema.REGISTER_TABLES[name]
    rows = connection.execute(sa.select(*(table.c[c] for c in contract.names)).order_by(table.c.position)).all()
    types = {c.name: POLARS_TYPES.get(c.kind, pl.String) for c in contract.columns}
    return pl.DataFrame([tuple(r) for r in rows], schema=types, orient="row")


def _as_utc(at: dt.datetime) -> dt.datetime:
    return at.replace(tzinfo=dt.timezone.utc) if at.tzinfo is None else at.astimezone(dt.timezone.utc)


def _active_exclusions(connection: sa.Connection) -> tuple[StoredExclusion, ...]:
    ex = schema.exclusions
    rows = connection.execute(sa.select(ex.c.child_id, ex.c.household_id, ex.c.reason, ex.c.who, ex.c.at)
                              .where(ex.c.lifted_at.is_(None)).order_by(ex.c.id)).all()
    return tuple(StoredExclusion(c, h, r, w, _as_utc(a)) for c, h, r, w, a in rows)


def _data_version(connection: sa.Connection) -> int:
    state = schema.register_state
    return int(connection.execute(sa.select(state.c.value).where(state.c.name == DATA_VERSION)).scalar_one())


def data_version(url: URL) -> int:
    """The store's data version (one cheap read)."""
    with _transaction(url, write=False) as connection:
        _require_ready(connection, url)
        return _data_version(connection)


def read_region(url: URL, *, held=None) -> StoredRegion | int:
    """Everything a region is built from, read in one snapshot; only the
    data version (an int) when ``held(version)`` says the caller already
    holds the region at that version (a cache)."""
    with _transaction(url, write=False) as connection:
        _require_ready(connection, url)
        version = _data_version(connection)
        if held is not None and held(version):
            return version
        return StoredRegion(_frame(connection, "children"), _frame(connection, "households"),
                            _active_exclusions(connection), version)


def history(url: URL, table_name: str, row_id: str) -> list[dict]:
    """Every version of one row, oldest first: version, when, who, what
    changed (``{column: [before, after]}``; None for the first) and the row
    as written."""
    versions = schema.row_versions
    contract, _ = schema.REGISTER_TABLES[table_name]
    with _transaction(url, write=True) as connection:
        _require_ready(connection, url)
        rows = connection.execute(sa.select(versions).where(versions.c.table_name == table_name,
                                                            versions.c.row_id == row_id)
                                  .order_by(versions.c.version)).mappings().all()
        if not rows:
            raise LookupInputError(f"no {contract.id_column} {row_id!r} in the store")
        child = row_id if table_name == "children" else None
        household = row_id if table_name == "households" else None
        record_audit(connection, "history", f"history of {contract.id_column} {row_id}", child, household)
    return [{"version": r["version"], "at": _as_utc(r["at"]).isoformat(), "who": r["who"],
             "changed": r["changed"], "values": r["row_values"]} for r in rows]


# --- exclusions -------------------------------------------------------------------------------------------------

def _exists(connection: sa.Connection, name: str, row_id: str) -> bool:
    contract, table = schema.REGISTER_TABLES[name]
    return connection.execute(sa.select(sa.literal(1)).where(table.c[contract.id_column] == row_id)).first() \
        is not None


def exclude(url: URL, child_id: str, household_id: str, reason: str, who: str, *, undo: bool = False) -> dict:
    """Exclude a child-household pair (or, with ``undo``, lift the exclusion
    in force) with a reason, in one transaction; returns what was recorded."""
    if not reason.strip():
        raise InputError(option_problem("reason", reason, "a reason, in words"))
    ex = schema.exclusions
    at = _now()
    with _transaction(url, write=True) as connection:
        _require_ready(connection, url)
        for name, row_id in (("children", child_id), ("households", household_id)):
            if not _exists(connection, name, row_id):
                contract, _ = schema.REGISTER_TABLES[name]
                raise LookupInputError(f"no {contract.id_column} {row_id!r} in the store")
        active = connection.execute(sa.select(ex).where(ex.c.child_id == child_id, ex.c.household_id == household_id,
                                                        ex.c.lifted_at.is_(None))).mappings().first()
        if undo:
            if active is None:
                raise LookupInputError(f"the pair {child_id}, {household_id} is not excluded", code="not_excluded")
            connection.execute(sa.update(ex).where(ex.c.id == active["id"])
                               .values(lifted_at=at, lifted_by=who, lift_reason=reason.strip()))
        else:
            if active is not None:
                raise LookupInputError(f"the pair {child_id}, {household_id} is already excluded (by "
                                       f"{active['who']} on {_as_utc(active['at']):%Y-%m-%d %H:%M} UTC: "
                                       f"{active['reason']})", code="already_excluded")
            connection.execute(sa.insert(ex).values(child_id=child_id, household_id=household_id,
                                                    reason=reason.strip(), who=who, at=at))
        _bump(connection)
        record_audit(connection, "exclude --undo" if undo else "exclude", f"{'lifted: ' if undo else ''}"
                     f"{reason.strip()}", child_id, household_id)
    return {"child_id": child_id, "household_id": household_id, "reason": reason.strip(), "who": who,
            "at": at.isoformat(), "lifted": undo}


# --- the audit --------------------------------------------------------------------------------------------------

def audit(url: URL, action: str, what: str, child_id: str | None = None, household_id: str | None = None) -> None:
    """Record a read (a ranking, a why-not, a child's record) in the audit,
    in a transaction of its own."""
    with _transaction(url, write=True) as connection:
        _require_ready(connection, url)
        record_audit(connection, action, what, child_id, household_id)


def audit_log(url: URL, *, child_id: str | None = None, user: str | None = None,
              since: dt.datetime | None = None) -> list[dict]:
    """The audit's rows, oldest first, filtered (see :func:`read_audit`)."""
    with _transaction(url, write=False) as connection:
        _require_ready(connection, url)
        return read_audit(connection, child_id=child_id, user=user, since=since)
