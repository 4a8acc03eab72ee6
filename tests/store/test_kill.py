"""An import killed with SIGKILL half-way leaves the store exactly as it was
(on both back ends), and the next import succeeds."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.store.test_register import AS_OF, _export

ROOT = Path(__file__).resolve().parents[2]
BIG = 100_000
CLI = "import sys; from matcher.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture(scope="module")
def big_region(tmp_path_factory) -> tuple[Path, Path]:
    from tests.conftest import write_region

    folder = tmp_path_factory.mktemp("big")
    return write_region(folder, seed=11, n_children=BIG, n_households=BIG)


def _writing_sqlite(path: str) -> bool:
    """The importer holds the write lock and has spilled pages to the WAL."""
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:  # locked: the import's transaction is open
        wal = Path(path + "-wal")
        return wal.exists() and wal.stat().st_size > 2_000_000
    finally:
        probe.close()


def _writing_postgres(url: str) -> bool:
    """The importer's transaction has written (it has a transaction id)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as probe:
        return probe.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                             "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL").fetchone()[0] > 0


def _audit(run_cli, db) -> list:
    status, out, err = run_cli("audit-log", "--db", db, "--format", "json")
    assert status == 0, err
    return [r for r in json.loads(out) if r["action"] != "export"]


def test_an_import_killed_midway_leaves_the_store_as_it_was(loaded, big_region, run_cli, tmp_path):
    before = _export(run_cli, loaded, tmp_path / "before")
    audit_before = _audit(run_cli, loaded)
    environment = {k: v for k, v in os.environ.items() if k != "MATCHER_DB"}
    environment["PYTHONPATH"] = str(ROOT)
    importer = subprocess.Popen([sys.executable, "-c", CLI, "import", "--db", loaded, "--children", big_region[0],
                                 "--households", big_region[1], "--as-of", AS_OF], env=environment,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    writing = _writing_postgres if "://" in loaded else _writing_sqlite
    deadline = time.monotonic() + 40
    try:
        while not writing(loaded):
            assert importer.poll() is None, ("the import ended before it could be killed", importer.communicate())
            assert time.monotonic() < deadline, "the import never began writing"
            time.sleep(0.02)
        importer.send_signal(signal.SIGKILL)
    finally:
        if importer.poll() is None:
            importer.kill()
        importer.wait()
    assert importer.returncode == -signal.SIGKILL

    if "://" not in loaded:
        with sqlite3.connect(loaded) as check:
            assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert _export(run_cli, loaded, tmp_path / "after") == before
    assert _audit(run_cli, loaded) == audit_before

    status, out, err = run_cli("import", "--db", loaded, "--children", big_region[0], "--households", big_region[1],
                               "--as-of", AS_OF)
    assert status == 0, err
    import re

    for table in ("children", "households"):
        counts = re.search(table + r": (\d+) added, (\d+) updated, (\d+) unchanged", out)
        assert counts and sum(map(int, counts.groups())) == BIG and int(counts[1]) > BIG - 100, out
