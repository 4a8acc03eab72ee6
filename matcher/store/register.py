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
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import URL

from features.contract import CODES
from matcher.errors import InputError, LookupInputError, option_problem
from matcher.store import schema
from matcher.store.audit import grant_app_role, read_audit, record_audit
from matcher.store.direct import as_utc, polars_types, typed_frame
from matcher.store.engine import engine_for, shown

DATA_VERSION = "data_version"
POLARS_TYPES = polars_types()




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
    kept_status: tuple[tuple[str, str, str], ...] = ()
    """(id, the register's status, the file's) of each row whose status a
    link holds and the file would have changed: the register's was kept."""


def _json_value(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def _json_column(name: str) -> pl.Expr:
    """A list column as JSON text (null stays null), in the engine."""
    prefix = len(json.dumps(name)) + 2  # {"name":
    encoded = pl.struct(pl.col(name)).struct.json_encode()
    return pl.when(pl.col(name).is_null()).then(None).otherwise(
        encoded.str.slice(prefix, encoded.str.len_bytes() - prefix - 1)).alias(name)


def _bulk_insert(connection: sa.Connection, table: sa.Table, frame: pl.DataFrame) -> None:
    """Insert every row of ``frame`` (its columns named as ``table``'s, JSON
    columns already JSON text) through the driver: COPY on PostgreSQL, one
    prepared statement on SQLite. Inside the caller's transaction."""
    if frame.height == 0:
        return
    columns = frame.columns
    raw = connection.connection.driver_connection
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    if connection.dialect.name == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f"COPY {quote(table.name)} ({names}) FROM STDIN") as copy:
            for row in frame.iter_rows():
                copy.write_row(row)
        return
    dates = [c for c in columns if frame.schema[c] == pl.Date]
    datetimes = [c for c in columns if isinstance(frame.schema[c], pl.Datetime)]
    if dates or datetimes:
        frame = frame.with_columns([pl.col(c).dt.to_string("%Y-%m-%d") for c in dates] +
                                   [pl.col(c).dt.to_string("%Y-%m-%d %H:%M:%S.%6f") for c in datetimes])
    cursor = raw.cursor()
    try:
        cursor.executemany(f"INSERT INTO {quote(table.name)} ({names}) VALUES ({', '.join('?' * len(columns))})",
                           frame.iter_rows())
    finally:
        cursor.close()


def _import_table(connection: sa.Connection, name: str, frame: pl.DataFrame, who: str,
                  at: dt.datetime) -> TableImport:
    """Compare the file's rows with the store's in bulk (by id), insert the
    new ones through the driver, update the changed ones, and record a
    version for each."""
    contract, table = schema.REGISTER_TABLES[name]
    names, key = contract.names, contract.id_column
    types = {c.name: POLARS_TYPES.get(c.kind, pl.String) for c in contract.columns}
    codes = [c.name for c in contract.columns if c.kind == CODES]
    incoming = frame.select(names).cast(types)
    # Where the link lifecycle set a status, the register wins over the file.
    holds = schema.status_holds
    held = connection.execute(sa.select(holds.c.row_id, holds.c.status).where(holds.c.table_name == name)).all()
    kept_status = []
    if held:
        marked = incoming.join(pl.DataFrame(held, schema={key: pl.String, "__held": pl.String}, orient="row"),
                               on=key, how="left")
        overridden = marked.filter(pl.col("__held").is_not_null() & (pl.col("status") != pl.col("__held")))
        kept_status = list(overridden.select(key, "__held", "status").iter_rows())
        incoming = marked.with_columns(pl.coalesce("__held", "status").alias("status")).select(names)
    stored = _frame(connection, name)
    kept = connection.execute(sa.select(table.c[key], table.c.position, table.c.version)).all()
    bookkeeping = pl.DataFrame(kept, schema={key: pl.String, "__position": pl.Int64, "__version": pl.Int64},
                               orient="row")
    position = int(bookkeeping["__position"].max() or 0) if bookkeeping.height else 0
    old = stored.rename({c: f"{c}__old" for c in names if c != key}).join(bookkeeping, on=key)
    joined = incoming.with_row_index("__order").join(old, on=key, how="left").sort("__order")
    is_new = pl.col("__version").is_null()
    new = joined.filter(is_new).select(names)
    existing = joined.filter(~is_new)
    differs = pl.any_horizontal([pl.col(c).ne_missing(pl.col(f"{c}__old")) for c in names if c != key])
    changed_rows = existing.filter(differs)
    unchanged = existing.height - changed_rows.height

    # New rows: inserted in bulk with their first version.
    added = new.with_columns(pl.int_range(position + 1, position + 1 + new.height, dtype=pl.Int64).alias("position"),
                             pl.lit(1, dtype=pl.Int64).alias("version"))
    _bulk_insert(connection, table, added.with_columns([_json_column(c) for c in codes]))
    _bulk_insert(connection, schema.row_versions, new.select(
        pl.lit(name).alias("table_name"), pl.col(key).alias("row_id"), pl.lit(1, dtype=pl.Int64).alias("version"),
        pl.lit(who).alias("who"), pl.lit(at, dtype=pl.Datetime("us", "UTC")).alias("at"),
        pl.lit(None, dtype=pl.String).alias("changed"), pl.struct(names).struct.json_encode().alias("row_values")))

    # Changed rows (few, as a rule): updated by id, each version with what changed.
    updated, versions = [], []
    for record in changed_rows.iter_rows(named=True):
        values = {c: _json_value(record[c]) for c in names}
        changed = {c: [_json_value(record[f"{c}__old"]), values[c]] for c in names
                   if c != key and _json_value(record[f"{c}__old"]) != values[c]}
        version = record["__version"] + 1
        updated.append({**{c: record[c] for c in names if c != key}, "version": version, "row_key": record[key]})
        versions.append({"table_name": name, "row_id": record[key], "version": version, "who": who, "at": at,
                         "changed": changed, "row_values": values})
    if updated:
        statement = sa.update(table).where(table.c[key] == sa.bindparam("row_key")).values(
            {c: sa.bindparam(c) for c in (*names, "version") if c != key})
        connection.execute(statement, updated)
    if versions:
        connection.execute(sa.insert(schema.row_versions), versions)
    return TableImport(name, new.height, len(updated), unchanged, bookkeeping.height - existing.height,
                       tuple(kept_status))


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
    exploring: tuple[dict, ...] = ()
    """The links being explored (see :func:`matcher.store.links.read_for_region`)."""


def _frame(connection: sa.Connection, name: str) -> pl.DataFrame:
    """A register table as a typed frame, in the order rows were first
    imported (JSON lists read as text and decoded by polars)."""
    contract, table = schema.REGISTER_TABLES[name]
    codes = {c.name for c in contract.columns if c.kind == CODES}
    selected = [sa.cast(table.c[c], sa.Text).label(c) if c in codes else table.c[c] for c in contract.names]
    return typed_frame(contract, connection.execute(sa.select(*selected).order_by(table.c.position)).all())


_as_utc = as_utc


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
        from matcher.store.links import read_for_region

        links = read_for_region(connection)
        # A declined link rules its pair out as an exclusion does, until it is re-opened.
        declined = tuple(StoredExclusion(*d) for d in links.declined)
        return StoredRegion(_frame(connection, "children"), _frame(connection, "households"),
                            _active_exclusions(connection) + declined, version, links.exploring)


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
        record_audit(connection, "lift exclusion" if undo else "exclude", f"{'lifted: ' if undo else ''}"
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


def exclusions_in_force(url: URL, child_ids=None) -> list[dict]:
    """The exclusions made by hand and not lifted (of ``child_ids`` when
    given), oldest first: child, household, reason, who, when (UTC)."""
    ex = schema.exclusions
    with _transaction(url, write=False) as connection:
        _require_ready(connection, url)
        query = sa.select(ex.c.child_id, ex.c.household_id, ex.c.reason, ex.c.who, ex.c.at) \
            .where(ex.c.lifted_at.is_(None)).order_by(ex.c.id)
        rows = connection.execute(query).all()
    wanted = None if child_ids is None else set(child_ids)
    return [{"child_id": c, "household_id": h, "reason": r, "who": w, "at": _as_utc(a).isoformat(timespec="seconds")}
            for c, h, r, w, a in rows if wanted is None or c in wanted]
