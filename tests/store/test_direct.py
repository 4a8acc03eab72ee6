"""The query commands' driver-level path into the store
(:mod:`matcher.store.direct`) reads exactly what the SQLAlchemy path reads
and writes the same audit rows, on both back ends; where it cannot answer
it steps aside and the usual errors are given; a cold ``rank --db`` does not
load SQLAlchemy at all."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from matcher import api
from matcher.store import direct
from matcher.store.engine import store_url
from matcher.store.register import read_region
from tests.conftest import AS_OF

ROOT = Path(__file__).resolve().parents[2]


def _rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _waiting_single_and_homes(region) -> tuple[str, list[str]]:
    child = next(r["child_id"] for r in _rows(region[0]) if r["status"] == "waiting" and not r["sibling_group_id"])
    homes = [r["household_id"] for r in _rows(region[1]) if r["status"] == "approved"]
    return child, homes


def _with_exclusions_and_links(db, region, run_cli) -> str:
    """An exclusion in force, one lifted, a declined link and one being
    explored: everything a region reads besides the tables."""
    child, homes = _waiting_single_and_homes(region)
    for args in (("exclude", "--child", child, "--household", homes[0], "--reason", "known to the family"),
                 ("exclude", "--child", child, "--household", homes[1], "--reason", "a mistake"),
                 ("exclude", "--undo", "--child", child, "--household", homes[1], "--reason", "not the family"),
                 ("link", "propose", "--child", child, "--household", homes[2]),
                 ("link", "decline", "--child", child, "--household", homes[2], "--reason", "too far", "--user",
                  "Ann Finder"),
                 ("link", "propose", "--child", child, "--household", homes[3]),
                 ("link", "explore", "--child", child, "--household", homes[3])):
        status, _, err = run_cli(*args, "--db", db)
        assert status == 0, err
    return child


def test_the_driver_path_reads_what_the_sqlalchemy_path_reads(loaded, region, run_cli):
    _with_exclusions_and_links(loaded, region, run_cli)
    fast = direct.read_region(loaded)
    slow = read_region(store_url(loaded))
    assert fast is not None
    assert fast.data_version == slow.data_version
    assert fast.children.equals(slow.children) and fast.children.schema == slow.children.schema
    assert fast.households.equals(slow.households) and fast.households.schema == slow.households.schema
    assert [tuple(e) for e in fast.exclusions] == [
        (e.child_id, e.household_id, e.reason, e.who, e.at) for e in slow.exclusions]
    assert len(fast.exclusions) == 2  # the exclusion in force and the declined link; not the lifted one
    assert fast.exploring == slow.exploring and len(fast.exploring) == 1
    # A holder of the region at this version gets only the version back.
    assert direct.read_region(loaded, held=lambda version: version == slow.data_version) == slow.data_version


def test_store_mode_answers_the_same_through_either_path(loaded, region, run_cli):
    child = _with_exclusions_and_links(loaded, region, run_cli)
    fast = api.region_from_store(loaded, AS_OF)
    slow_read = read_region(store_url(loaded))
    from matcher.region import Exclusion
    from matcher.validation import tables_from_frames

    slow = api.region_from_tables(tables_from_frames(slow_read.children, slow_read.households, as_of=AS_OF), AS_OF,
                                  [Exclusion(e.child_id, e.household_id, e.reason, e.who, e.at)
                                   for e in slow_read.exclusions])
    options = api.QueryOptions(top=20)
    assert api.rank(fast, child_id=child, options=options)["results"] == api.rank(
        slow, child_id=child, options=options)["results"]
    _, homes = _waiting_single_and_homes(region)
    answer = api.why_not(fast, child_id=child, household_id=homes[0])
    assert not answer["eligible"] and answer["violations"][0]["rule_name"] == "excluded"


def test_a_write_after_a_read_is_seen_by_the_next_read(loaded, region, run_cli):
    child, homes = _waiting_single_and_homes(region)
    before = api.region_from_store(loaded, AS_OF)
    status, _, err = run_cli("exclude", "--db", loaded, "--child", child, "--household", homes[0], "--reason", "r")
    assert status == 0, err
    after = api.region_from_store(loaded, AS_OF)
    assert after is not before and after.data_version != before.data_version
    assert not api.why_not(after, child_id=child, household_id=homes[0])["eligible"]


def test_audit_rows_of_reads_are_the_same_through_either_path(loaded, region, run_cli):
    child, _ = _waiting_single_and_homes(region)
    with api.acting(how="cli", acting_for="Ann Finder"):
        assert direct.audit(loaded, "rank", "rank --child " + child, child, None)
    status, out, err = run_cli("audit-log", "--db", loaded, "--child", child, "--format", "json")
    assert status == 0, err
    row = json.loads(out)[-1]
    assert row["action"] == "rank" and row["what"] == "rank --child " + child
    assert row["acting_for"] == "Ann Finder" and row["how"] == "cli" and row["child_id"] == child
    assert row["at"].endswith("+00:00")


def test_a_store_the_driver_path_cannot_read_gets_the_usual_error(tmp_path, run_cli, region, monkeypatch):
    monkeypatch.delenv("MATCHER_DB", raising=False)
    missing = tmp_path / "nothing.sqlite3"
    assert direct.read_region(missing) is None and direct.audit(missing, "rank", "x") is None
    assert not missing.exists()  # never made by a read
    child, _ = _waiting_single_and_homes(region)
    status, _, err = run_cli("rank", "--db", missing, "--child", child, "--as-of", AS_OF)
    assert status == 2 and "db init" in err
    assert not missing.exists()


def test_a_store_at_no_schema_is_refused_the_usual_way(tmp_path, region, run_cli, monkeypatch):
    import sqlite3

    monkeypatch.delenv("MATCHER_DB", raising=False)
    child, _ = _waiting_single_and_homes(region)
    empty = tmp_path / "empty.sqlite3"
    sqlite3.connect(empty).close()  # a file, but no register in it
    assert direct.read_region(empty) is None
    status, _, err = run_cli("rank", "--db", empty, "--child", child, "--as-of", AS_OF)
    assert status == 2 and "db init" in err


def test_a_cold_rank_from_the_store_does_not_load_sqlalchemy(loaded, region):
    child, _ = _waiting_single_and_homes(region)
    program = ("import sys\nfrom matcher.cli import main\nstatus = main(sys.argv[1:])\n"
               "assert status == 0, status\nprint('SQLALCHEMY' if 'sqlalchemy' in sys.modules else 'CLEAN')")
    done = subprocess.run([sys.executable, "-c", program, "rank", "--db", loaded, "--child", child, "--as-of", AS_OF.isoformat(),
                           "--format", "json"], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "MATCHER_DB": ""})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "CLEAN"


def _rewrite(path, change) -> None:
    rows = _rows(path)
    for i, row in enumerate(rows):
        change(i, row)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_awkward_cells_read_the_same_through_either_path(ready_store, region, run_cli):
    """Text that CSV must quote (commas, quotes, non-ASCII), floats that
    need every digit, empty optional cells and empty lists read the same
    through the driver path (on PostgreSQL a ``COPY`` as CSV) as through
    SQLAlchemy."""
    def children(i, row):
        if i % 3 == 0:
            row["region"] = 'Région "Nord", côte'
            row["lat"] = "51.123456789012345"
            row["birth_family_lat"] = row["birth_family_lon"] = row["min_distance_km"] = ""
        if i % 5 == 1:
            row["agency_id"] = "LA,01 Ünïcode"
            row["lon"] = "-0.30000000000000004"

    def households(i, row):
        if i % 2 == 0:
            row["can_promote"] = ""
            row["youngest_child_months"] = ""
            row["max_travel_km"] = "1e-07"
        if i % 4 == 1:
            row["region"] = 'quoted "region", with comma'
            row["ethnicities"] = "WBRI;WIRI;MWBC"

    _rewrite(region[0], children)
    _rewrite(region[1], households)
    status, _, err = run_cli("import", "--db", ready_store, "--children", region[0], "--households", region[1],
                             "--as-of", AS_OF)
    assert status == 0, err
    fast = direct.read_region(ready_store)
    slow = read_region(store_url(ready_store))
    assert fast is not None
    assert fast.children.schema == slow.children.schema and fast.children.equals(slow.children)
    assert fast.households.schema == slow.households.schema and fast.households.equals(slow.households)
    assert fast.children["region"].str.contains('"Nord", c').any()
    assert fast.households["can_promote"].list.len().min() == 0
