"""Where the register is and how to open it.

``--db`` (or ``MATCHER_DB``) is a file path or ``sqlite:///PATH`` (SQLite,
the embedded default) or a ``postgresql://user[:password]@host:port/db``
URL (psycopg 3; query parameters such as ``sslmode`` pass through to
libpq, which also reads ``PGPASSWORD`` and ``~/.pgpass``). Without either,
the store commands use ``register.sqlite3`` in the user's data folder
(platformdirs).

SQLite runs in WAL mode with ``synchronous=FULL`` (a committed import
survives a power cut) and foreign keys on, and every transaction is an
explicit ``BEGIN`` (``BEGIN IMMEDIATE`` for writers, so two writers queue
instead of failing half-way), not the driver's own guess.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from matcher.errors import InputError, option_problem
from matcher.store.direct import ENVIRONMENT


STORE_FILE = "register.sqlite3"


def default_store_path() -> Path:
    """The embedded store's default file, in the user's data folder."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("matcher", appauthor=False)) / STORE_FILE


def store_url(given: str | os.PathLike | None, *, default: bool = True) -> URL | None:
    """The store's SQLAlchemy URL: ``given``, else ``MATCHER_DB``, else (when
    ``default``) the embedded default file; ``None`` when there is none."""
    text = os.fspath(given) if given is not None else os.environ.get(ENVIRONMENT) or None
    if text is None:
        if not default:
            return None
        path = default_store_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        return URL.create("sqlite+pysqlite", database=str(path))
    if "://" not in text:
        return URL.create("sqlite+pysqlite", database=os.path.abspath(text))
    try:
        url = make_url(text)
    except sa.exc.ArgumentError:
        raise InputError(option_problem("db", text, "a file path or a postgresql:// URL")) from None
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and url.database:
        return url.set(drivername="sqlite+pysqlite", database=os.path.abspath(url.database))
    raise InputError(option_problem("db", url.render_as_string(hide_password=True),
                                    "a file path (SQLite) or a postgresql:// URL"))


def shown(url: URL) -> str:
    """The URL as messages and manifests show it: never the password."""
    if url.get_backend_name() == "sqlite":
        return url.database or ""
    return url.render_as_string(hide_password=True).replace("postgresql+psycopg://", "postgresql://", 1)


def _sqlite_engine(url: URL) -> sa.Engine:
    folder = Path(url.database).parent
    if not folder.is_dir():
        raise InputError(option_problem("db", url.database, "a file in an existing folder"))
    engine = sa.create_engine(url)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # transactions begin where we say, below
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=30000"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection):
        writing = connection.get_execution_options().get("matcher_writer", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")

    return engine


_ENGINES: dict[str, sa.Engine] = {}
_LOCK = threading.Lock()


def _postgresql_engine(url: URL, admin: bool) -> sa.Engine:
    engine = sa.create_engine(url, pool_pre_ping=True)
    if not admin:
        from matcher.store.direct import use_app_role

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            use_app_role(dbapi_connection)

    return engine


def engine_for(url: URL, *, admin: bool = False) -> sa.Engine:
    """One engine (and its connection pool) per store per process. On
    PostgreSQL the application's engine works as the application's role
    once ``db init`` has made it (see :mod:`matcher.store.audit`); only
    ``admin`` (``db init``, restore) keeps the connected user's rights."""
    key = url.render_as_string(hide_password=False) + (" admin" if admin and url.get_backend_name() != "sqlite" else "")
    with _LOCK:
        if key not in _ENGINES:
            if url.get_backend_name() == "sqlite":
                _ENGINES[key] = _sqlite_engine(url)
            else:
                _ENGINES[key] = _postgresql_engine(url, admin)
        return _ENGINES[key]


def dispose(url: URL) -> None:
    """Close the pooled connections to one store (before its file is
    removed or replaced)."""
    key = url.render_as_string(hide_password=False)
    with _LOCK:
        engine = _ENGINES.pop(key, None)
    if engine is not None:
        engine.dispose()


def dispose_all() -> None:
    """Close every pooled connection (tests dropping their database)."""
    with _LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()
