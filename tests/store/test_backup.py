"""Backups on both back ends: a backup restored into an empty store exports
the same files as before; a store holding data is replaced only with
--force; a password in the URL is never shown."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.store.conftest import throwaway_postgres_database
from tests.store.test_register import AS_OF, _export


@pytest.fixture
def empty_target(store, tmp_path):
    """Another store on the same back end, not initialised."""
    if "://" not in store:
        yield str(tmp_path / "restored.sqlite3")
        return
    with throwaway_postgres_database("matcher_restore") as url:
        yield url


def test_a_backup_restored_into_an_empty_store_exports_the_same_files(loaded, empty_target, region, run_cli,
                                                                      tmp_path):
    before = _export(run_cli, loaded, tmp_path / "before")
    backup = tmp_path / "register.backup"
    status, out, err = run_cli("db", "backup", "--db", loaded, "--out", backup)
    assert status == 0, err
    assert backup.is_file() and not list(tmp_path.glob("register.backup.*"))
    assert run_cli("db", "backup", "--db", loaded, "--out", backup)[0] == 2  # not over a file without --force

    status, out, err = run_cli("db", "restore", backup, "--db", empty_target)
    assert status == 0, err
    assert _export(run_cli, empty_target, tmp_path / "after") == before
    # The audit came along, and the restore is in it.
    status, out, _ = run_cli("audit-log", "--db", empty_target, "--format", "json")
    actions = [r["action"] for r in json.loads(out)]
    assert actions[0] == "import" and "db backup" in actions and actions[-2:] == ["db restore", "export"]
    # The restored store works as any other: a query, a write.
    assert run_cli("import", "--db", empty_target, "--children", region[0], "--households", region[1],
                   "--as-of", AS_OF)[0] == 0

    # A store holding data is replaced only with --force.
    status, _, err = run_cli("db", "restore", backup, "--db", loaded)
    assert status == 2 and "--force" in err
    assert run_cli("db", "restore", backup, "--db", loaded, "--force")[0] == 0
    assert _export(run_cli, loaded, tmp_path / "forced") == before


def test_restore_refuses_what_is_no_backup_of_this_back_end(ready_store, run_cli, tmp_path):
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"not a backup at all")
    status, _, err = run_cli("db", "restore", junk, "--db", ready_store)
    assert status == 2 and "matcher db backup" in err
    other = tmp_path / "other.backup"
    other.write_bytes(b"PGDMP" if "://" not in ready_store else b"SQLite format 3\x00" + bytes(100))
    status, _, err = run_cli("db", "restore", other, "--db", ready_store)
    assert status == 2 and "a backup of a" in err


def test_a_password_in_the_url_reaches_pg_dump_and_is_never_shown(loaded, run_cli, tmp_path):
    if "://" not in loaded:
        return  # SQLite has no password
    secret = "s3cret-" + uuid.uuid4().hex[:6]
    with_password = loaded.replace("postgresql://postgres@", f"postgresql://postgres:{secret}@")
    status, out, err = run_cli("db", "backup", "--db", with_password, "--out", tmp_path / "b.backup")
    assert status == 0, err
    assert secret not in out + err and "***" in out
    missing = with_password.rsplit("/", 1)[0] + "/no_such_database_here"
    status, out, err = run_cli("db", "backup", "--db", missing, "--out", tmp_path / "c.backup")
    assert status != 0 and secret not in out + err
