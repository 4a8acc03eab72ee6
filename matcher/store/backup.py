"""Backups of the register and restoring them.

SQLite: the sqlite3 online backup API (a consistent copy while others read
and write). PostgreSQL: ``pg_dump`` and ``pg_restore`` in custom format,
found on ``PATH`` (Debian's ``postgresql-client``; ``.ci/run`` installs it
when missing). The URL's password, if any, reaches them in ``PGPASSWORD``,
never on a command line; without one libpq reads ``PGPASSWORD`` or
``~/.pgpass`` as usual, and query parameters such as ``sslmode`` pass
through in the URL.

A restore replaces the whole register in one transaction (SQLite: one
backup step; PostgreSQL: ``pg_restore --single-transaction``), then
migrates it to the newest schema (and, on PostgreSQL, gives the
application's role its rights again). It refuses a store that holds data
unless ``force``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL

from matcher.errors import InputError, option_problem
from matcher.store import schema
from matcher.store.engine import dispose_all, engine_for, shown

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"
POSTGRESQL_CLIENT = ("pg_dump and pg_restore (PostgreSQL client programs, version 15 or newer: on Debian "
                     "`apt-get install postgresql-client`) on PATH")


class BackupFailed(RuntimeError):
    """A backup or restore program failed (not bad input)."""


def _libpq(url: URL) -> tuple[str, dict]:
    """The URL for libpq programs without its password, and their
    environment (the password, if the URL had one, in PGPASSWORD)."""
    environment = dict(os.environ)
    if url.password is not None:
        environment["PGPASSWORD"] = str(url.password)
    bare = url.set(drivername="postgresql", password=None)
    return bare.render_as_string(hide_password=False), environment


def _program(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupFailed(f"{name} was not found: the PostgreSQL store needs {POSTGRESQL_CLIENT}")
    return found


def _run(arguments: list[str], environment: dict, url: URL) -> None:
    done = subprocess.run(arguments, env=environment, capture_output=True, text=True)
    if done.returncode != 0:
        text = done.stderr.strip() or f"exit status {done.returncode}"
        password = url.password
        if password:
            text = text.replace(str(password), "***")
        raise BackupFailed(f"{Path(arguments[0]).name} failed for {shown(url)}: {text}")


def backup(url: URL, out: Path) -> None:
    """Write a backup of the whole store to ``out`` (a new file, written
    beside it first and renamed into place when complete)."""
    partial = out.with_name(out.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if url.get_backend_name() == "sqlite":
            source = sqlite3.connect(f"file:{url.database}?mode=ro", uri=True)
            target = sqlite3.connect(partial)
            try:
                with target:
                    source.backup(target)
                target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            finally:
                target.close()
                source.close()
        else:
            where, environment = _libpq(url)
            _run([_program("pg_dump"), "--format=custom", "--no-owner", "--no-acl", f"--file={partial}",
                  f"--dbname={where}"], environment, url)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)


def _kind(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise InputError(option_problem("file", os.fspath(path), f"a backup file that can be read ({exc.strerror})"))\
            from None
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_MAGIC):
        return "postgresql"
    raise InputError(option_problem("file", os.fspath(path), "a backup made by `matcher db backup`"))


def holds_data(url: URL) -> bool:
    """Whether the store holds any register row (children, households,
    versions, exclusions)."""
    if url.get_backend_name() == "sqlite" and not os.path.isfile(url.database or ""):
        return False
    with engine_for(url, admin=True).connect() as connection, connection.begin():
        present = set(sa.inspect(connection).get_table_names())
        for table in (schema.children, schema.households, schema.row_versions, schema.exclusions):
            if table.name in present and connection.execute(sa.select(sa.literal(1)).select_from(table)).first():
                return True
    return False


def restore(url: URL, backup_file: Path, *, force: bool = False) -> None:
    """Replace the store with a backup (made by :func:`backup` on the same
    kind of back end), all at once; refused when the store holds data,
    unless ``force``."""
    kind = _kind(backup_file)
    backend = url.get_backend_name()
    if kind != backend:
        raise InputError(option_problem("file", os.fspath(backup_file),
                                        f"a backup of a {backend} store (this one is of a {kind} store)"))
    if not force and holds_data(url):
        raise InputError(option_problem("db", shown(url), "an empty store to restore into (this one holds data; "
                                                          "give {option:force} to replace it)"))
    dispose_all()  # no pooled connection of this process holds the old store
    if backend == "sqlite":
        if not Path(url.database).parent.is_dir():
            raise InputError(option_problem("db", url.database, "a file in an existing folder"))
        source = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
        target = sqlite3.connect(url.database, timeout=30)
        try:
            source.execute("SELECT count(*) FROM sqlite_master").fetchone()
            with target:
                source.backup(target)
        except sqlite3.DatabaseError as exc:
            raise InputError(option_problem("file", os.fspath(backup_file),
                                            f"a readable backup ({exc})")) from None
        finally:
            target.close()
            source.close()
    else:
        where, environment = _libpq(url)
        _run([_program("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-acl", "--single-transaction",
              "--exit-on-error", f"--dbname={where}", os.fspath(backup_file)], environment, url)
