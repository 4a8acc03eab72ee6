"""A login checks its password (argon2, deliberately slow) without holding
the store's write lock: other writers, and the audit rows of every read,
do not wait behind it."""

from __future__ import annotations

import sqlite3

import pytest

from matcher import api
from matcher.errors import LoginRefused
from matcher.store import accounts

PASSWORD = "correct horse battery"


@pytest.fixture
def sqlite_store(tmp_path, run_cli, monkeypatch):
    monkeypatch.delenv("MATCHER_DB", raising=False)
    path = str(tmp_path / "register.sqlite3")
    status, _, err = run_cli("db", "init", "--db", path)
    assert status == 0, err
    api.add_user(path, "finder", "family_finder", "LA01", PASSWORD)
    return path


def _watching(monkeypatch, path: str) -> list[bool]:
    """Each password check records whether another connection could take
    the write lock at that moment."""
    free: list[bool] = []
    real = accounts._password_matches

    def check(password_hash: str, password: str) -> bool:
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            free.append(True)
        except sqlite3.OperationalError:
            free.append(False)
        finally:
            other.close()
        return real(password_hash, password)

    monkeypatch.setattr(accounts, "_password_matches", check)
    return free


@pytest.mark.parametrize("password", [PASSWORD, "wrong password"])
def test_the_password_is_checked_outside_the_write_lock(sqlite_store, monkeypatch, password):
    free = _watching(monkeypatch, sqlite_store)
    if password == PASSWORD:
        assert api.web_login(sqlite_store, "finder", password).token
    else:
        with pytest.raises(LoginRefused):
            api.web_login(sqlite_store, "finder", password)
    assert free == [True]


def test_a_password_changed_between_the_check_and_the_write_is_checked_again(sqlite_store, monkeypatch):
    """The hash checked before the write transaction is compared with the
    one it reads: a password reset in between is not bypassed."""
    real = accounts._password_matches
    calls = []

    def check(password_hash: str, password: str) -> bool:
        calls.append(password_hash)
        if len(calls) == 1:  # an admin sets another password right after the first check
            from matcher.store.engine import store_url

            url = store_url(sqlite_store)
            with accounts._transaction(url, write=True) as connection:
                connection.execute(accounts.sa.update(accounts.schema.users).values(
                    password_hash=accounts._hasher().hash("another password entirely")))
        return real(password_hash, password)

    monkeypatch.setattr(accounts, "_password_matches", check)
    with pytest.raises(LoginRefused):
        api.web_login(sqlite_store, "finder", PASSWORD)
    assert len(calls) == 2 and calls[0] != calls[1]
