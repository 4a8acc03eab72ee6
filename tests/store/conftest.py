"""Every store test runs on both back ends: SQLite (a file per test) and
PostgreSQL (the server on 127.0.0.1:5432; this session makes its own
database, empties it before each test and drops it at the end). If
PostgreSQL cannot be reached, the tests fail: they never skip."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import AS_OF, write_region

PG_SERVER = os.environ.get("MATCHER_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
ADMIN_DATABASE = "postgres"


def _admin():
    import psycopg

    try:
        return psycopg.connect(f"{PG_SERVER}/{ADMIN_DATABASE}", autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {PG_SERVER} cannot be reached ({exc}); start it (.ci/run does) - the store "
                    "tests run on both back ends and never skip", pytrace=False)


@contextmanager
def throwaway_postgres_database(prefix: str):
    """A new, uniquely named PostgreSQL database, dropped (with every
    connection to it closed) when the block ends."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        from matcher.store.engine import dispose_all

        dispose_all()
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_database():
    """A uniquely named database for this session, dropped at the end."""
    with throwaway_postgres_database("matcher_test") as url:
        yield url


def _empty_postgres(url: str) -> None:
    import psycopg

    from matcher.store.engine import dispose_all

    dispose_all()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path, monkeypatch) -> str:
    """An empty, uninitialised store on each back end (its --db value)."""
    monkeypatch.delenv("MATCHER_DB", raising=False)
    if request.param == "sqlite":
        return str(tmp_path / "register.sqlite3")
    url = request.getfixturevalue("postgres_database")
    _empty_postgres(url)
    return url


@pytest.fixture
def ready_store(store, run_cli) -> str:
    """A store made with `matcher db init`."""
    status, _, err = run_cli("db", "init", "--db", store)
    assert status == 0, err
    return store


@pytest.fixture
def region(tmp_path) -> tuple[Path, Path]:
    """A generated region's two CSV files."""
    folder = tmp_path / "region"
    folder.mkdir()
    return write_region(folder)


@pytest.fixture
def loaded(ready_store, region, run_cli) -> str:
    """A store (each back end) holding ``region``."""
    status, _, err = run_cli("import", "--db", ready_store, "--children", region[0], "--households", region[1],
                             "--as-of", AS_OF)
    assert status == 0, err
    return ready_store
