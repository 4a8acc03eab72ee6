"""A cold ``rank``, ``why-not`` or ``validate`` loads only what it uses: no
solver (OR-Tools, scipy, lap, networkx), no scikit-learn, no store layer
(SQLAlchemy, Alembic, psycopg) for files. Each is checked in a fresh
interpreter, as a family finder's command starts."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import AS_OF

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("ortools", "scipy", "sklearn", "lap", "networkx", "sqlalchemy", "alembic", "psycopg", "numba")
PROGRAM = ("import sys\nfrom matcher.cli import main\nstatus = main(sys.argv[1:])\nassert status == 0, status\n"
           f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")


def _first(path: Path, column: str, **where) -> str:
    with open(path, newline="", encoding="utf-8") as handle:
        return next(r[column] for r in csv.DictReader(handle) if all(r[k] == v for k, v in where.items()))


@pytest.mark.parametrize("command", ["rank-child", "rank-household", "why-not", "validate"])
def test_a_cold_query_loads_no_solver_and_no_store(region_files, command):
    children, households = region_files
    child = _first(children, "child_id", status="waiting")
    household = _first(households, "household_id", status="approved")
    args = {"rank-child": ["rank", "--child", child], "rank-household": ["rank", "--household", household],
            "why-not": ["why-not", "--child", child, "--household", household], "validate": ["validate"]}[command]
    done = subprocess.run([sys.executable, "-c", PROGRAM, *args, "--children", str(children), "--households",
                           str(households), "--as-of", AS_OF.isoformat()], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, env={**os.environ, "MATCHER_DB": ""})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_json_output_loads_no_terminal_drawing(region_files):
    """``--format json`` (what scripts and the web call) never loads rich,
    the terminal tables' library."""
    children, households = region_files
    child = _first(children, "child_id", status="waiting")
    program = ("import sys\nfrom matcher.cli import main\nstatus = main(sys.argv[1:])\nassert status == 0, status\n"
               "print('rich' in sys.modules, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", program, "rank", "--child", child, "--children", str(children),
                           "--households", str(households), "--as-of", AS_OF.isoformat(), "--format", "json"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120, env={**os.environ, "MATCHER_DB": ""})
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "False"
