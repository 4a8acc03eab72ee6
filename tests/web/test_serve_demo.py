"""``matcher serve --demo``: a throwaway store with a generated region and
one account per role whose printed passwords log in."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from matcher import api
from matcher.cli.serve_demo import demo_store
from matcher.web.app import create_app

DAY = dt.date(2026, 6, 30)


def test_the_demo_store_holds_a_region_and_an_account_per_role(tmp_path):
    folder, db, accounts = demo_store(str(tmp_path / "demo"), DAY)
    assert [role for _, role, _, _ in accounts] == ["family_finder", "agency_manager", "admin"]
    assert len({password for *_, password in accounts}) == 3
    region = api.region_from_store(db, DAY)
    finder = accounts[0]
    assert api.waiting_table(region, agency_id=finder[2])["units"], "the finder's agency has waiting children"
    client = TestClient(create_app(db, as_of=DAY))
    for name, _, _, password in accounts:
        assert client.post("/api/login", json={"username": name, "password": password}).status_code == 200
        assert client.post("/api/login", json={"username": name, "password": password + "x"}).status_code == 401
    # A second demo in the same folder is refused: it never replaces a store.
    with pytest.raises(api.InputError):
        demo_store(folder, DAY)
    api.close_store(db)


@pytest.mark.parametrize("args", [["--demo", "--db", "x.sqlite3"], ["--out", "somewhere"],
                                  ["--demo", "--port", "0"]])
def test_serve_refuses_bad_demo_options_with_status_2(run_cli, tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    status, _, err = run_cli("serve", *args)
    assert status == 2, err
    assert not any(tmp_path.iterdir())


def test_serve_loads_the_compiled_scorer_before_it_listens(tmp_path):
    """A served process answers its first large query with the compiled
    scorer, not the numpy path a one-off command keeps (a fresh interpreter:
    this test process may have loaded the kernel already)."""
    import subprocess
    import sys

    code = """
import sys
import uvicorn
from matcher.cli import main
from matcher.scoring.scorer import kernel_loaded

seen = {}
def run(app, **kwargs):
    from matcher.scoring import kernel
    # loaded, and its machine code too (each pass has a compiled signature)
    seen['kernel'] = kernel_loaded() and all(
        getattr(kernel, name).signatures for name in ('_count_block', '_fill_block', '_score_runs', '_half_chords'))
uvicorn.run = run
assert not kernel_loaded()
status = main(['serve', '--demo', '--out', sys.argv[1], '--port', '8765'])
print('status', status, 'kernel', seen.get('kernel'))
"""
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "demo")], capture_output=True, text=True,
                          timeout=300)
    assert "status 0 kernel True" in done.stdout, done.stdout + done.stderr
