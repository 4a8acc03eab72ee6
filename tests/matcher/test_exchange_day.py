"""``matcher exchange-day``: every schedule passes the checker of
``exchange_checker`` (written apart from the solver), tiny events reach the
brute-force optimum, bad events and lock files exit 2 naming the entry or
row and column with nothing written, re-planning keeps locked meetings, and
household pages say nothing that identifies a child or a place."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher import api
from tests.conftest import AS_OF, write_region
from tests.matcher import exchange_checker as check

SEED, N_CHILDREN, N_HOUSEHOLDS = 3, 60, 90


@pytest.fixture(scope="module")
def region():
    from matcher.generate import generate_region

    kids, homes = generate_region(SEED, N_CHILDREN, N_HOUSEHOLDS, AS_OF)
    return api.region_from_frames(kids, homes, AS_OF)


@pytest.fixture(scope="module")
def pairs(region):
    """Eligible (unit, household) pairs of the region."""
    frame = api.scores(region).frame
    return set(zip(frame["unit_id"].to_list(), frame["household_id"].to_list()))


def _busy_units_and_households(pairs):
    units = sorted({u for u, _ in pairs})
    households = sorted({h for _, h in pairs})
    return units, households


def an_event(pairs, n_units=12, n_households=24, n_tables=6, slots=4, capacity=2, max_meetings=3, min_meetings=1,
             requests=2) -> dict:
    units, households = _busy_units_and_households(pairs)
    units, households = units[:n_units], households[:n_households]
    tables = [{"table_id": f"T{t + 1}", "capacity": capacity, "unit_ids": units[t::n_tables]} for t in range(n_tables)]
    return {"slots": slots, "max_meetings": max_meetings, "min_meetings": min_meetings, "tables": tables,
            "household_ids": households,
            "requests": [{"household_id": households[i], "table_id": tables[i % n_tables]["table_id"]}
                         for i in range(requests)]}


def rows_of(day) -> list[dict]:
    return [{"slot": m.slot, "table_id": m.table_id, "unit_id": m.unit_id, "household_id": m.household_id,
             "requested": m.requested} for m in day.meetings]


def plan(region, event: dict, tmp_path: Path, **kwargs):
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event), encoding="utf-8")
    return api.exchange_day(region, api.read_exchange_event(path, region), **kwargs)


# --- the domain: valid schedules, brute-force optima ----------------------------------------------------------------

@st.composite
def events(draw, pairs):
    units, households = _busy_units_and_households(pairs)
    n_tables = draw(st.integers(1, 4))
    chosen = draw(st.lists(st.sampled_from(units), min_size=n_tables, max_size=8, unique=True))
    homes = draw(st.lists(st.sampled_from(households), min_size=1, max_size=14, unique=True))
    tables = [{"table_id": f"T{t}", "capacity": draw(st.integers(1, 3)), "unit_ids": chosen[t::n_tables]}
              for t in range(n_tables)]
    most = draw(st.integers(1, 4))
    requests = draw(st.lists(st.tuples(st.sampled_from(homes), st.integers(0, n_tables - 1)), max_size=4,
                             unique=True))
    return {"slots": draw(st.integers(1, 4)), "max_meetings": most, "min_meetings": draw(st.integers(0, most)),
            "tables": tables, "household_ids": homes,
            "requests": [{"household_id": h, "table_id": f"T{t}"} for h, t in requests]}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_events_get_valid_schedules(region, pairs, tmp_path, data):
    event = data.draw(events(pairs))
    absent = data.draw(st.lists(st.sampled_from(event["household_ids"]), max_size=2, unique=True))
    day = plan(region, event, tmp_path, absent=absent)
    assert day.status == "optimal"
    checked = check.Day(region, event, absent)
    rows = rows_of(day)
    assert check.problems(checked, rows) == []
    short, objective = check.value(checked, rows)
    assert (short, objective) == (sum(u.short for u in day.units), day.objective)
    for unit in day.units:
        if unit.short:
            assert unit.why  # every unit short of min_meetings is named with a reason
    for request in day.requests:
        assert (request.slot is None) == (request.why is not None)


@pytest.mark.parametrize("offset, slots, n_tables, n_households", [(0, 2, 2, 3), (3, 3, 2, 3), (7, 2, 3, 4),
                                                                   (11, 2, 2, 4)])
def test_tiny_events_reach_the_brute_force_optimum(region, pairs, tmp_path, offset, slots, n_tables, n_households):
    units, households = _busy_units_and_households(pairs)
    # A unit each table, households eligible for them, one of them asking to visit a table.
    featured = units[offset:offset + n_tables]
    homes = sorted({h for u, h in pairs if u in featured})[:n_households]
    homes += [h for h in households if h not in homes][:n_households - len(homes)]
    event = {"slots": slots, "max_meetings": 2, "min_meetings": 1,
             "tables": [{"table_id": f"T{t}", "capacity": 1, "unit_ids": [u]} for t, u in enumerate(featured)],
             "household_ids": homes, "requests": [{"household_id": homes[-1], "table_id": "T0"}]}
    checked = check.Day(region, event)
    # Small enough to search exhaustively, big enough to matter.
    assert len(checked.arcs()) >= 2 and (slots + 1) ** len(checked.arcs()) <= 120_000
    day = plan(region, event, tmp_path)
    assert check.problems(checked, rows_of(day)) == []
    assert check.value(checked, rows_of(day)) == check.brute_force(checked)


def test_a_request_by_a_household_not_eligible_is_a_visit_to_the_tables_first_unit(region, pairs, tmp_path):
    units, households = _busy_units_and_households(pairs)
    table_units = sorted(units[:2])
    outsider = next(h for h in households if all((u, h) not in pairs for u in table_units))
    event = {"slots": 2, "max_meetings": 2, "min_meetings": 0,
             "tables": [{"table_id": "A", "capacity": 1, "unit_ids": table_units[::-1]}],
             "household_ids": [outsider], "requests": [{"household_id": outsider, "table_id": "A"}]}
    day = plan(region, event, tmp_path)
    [meeting] = day.meetings
    assert (meeting.unit_id, meeting.requested, meeting.eligible) == (table_units[0], True, False)
    assert day.units[0].meetings == 0  # a visit by a household not eligible does not count as a meeting


def test_an_excluded_pair_never_meets(region, pairs, tmp_path):
    import datetime as dt

    from matcher.generate import generate_region
    from matcher.region import Exclusion
    from matcher.validation import tables_from_frames

    unit, household = sorted(pairs)[0]
    child = region.units.filter(region.units["unit_id"] == unit)["child_ids"][0][0]
    tables = tables_from_frames(*generate_region(SEED, N_CHILDREN, N_HOUSEHOLDS, AS_OF), as_of=AS_OF)
    excluded = api.region_from_tables(tables, AS_OF, [Exclusion(child, household, "a test", "tester",
                                                                dt.datetime(2026, 1, 1))])
    event = {"slots": 2, "max_meetings": 2, "min_meetings": 1,
             "tables": [{"table_id": "A", "capacity": 1, "unit_ids": [unit]}], "household_ids": [household]}
    assert [m.household_id for m in plan(region, event, tmp_path).meetings] == [household]
    day = plan(excluded, event, tmp_path)
    assert day.meetings == () and day.units[0].why == "no eligible attending household"


def test_a_unit_short_of_min_meetings_is_named_with_why_and_the_run_succeeds(region, pairs, tmp_path, run_cli):
    units, _ = _busy_units_and_households(pairs)
    unit = units[0]
    few = sorted(h for u, h in pairs if u == unit)[:2]
    event = {"slots": 3, "max_meetings": 3, "min_meetings": 3,
             "tables": [{"table_id": "A", "capacity": 1, "unit_ids": [unit]}], "household_ids": few}
    children, households = write_region(tmp_path)
    (tmp_path / "event.json").write_text(json.dumps(event), encoding="utf-8")
    status, out, err = run_cli("exchange-day", "--event", tmp_path / "event.json", "--out", tmp_path / "out",
                               "--children", children, "--households", households, "--as-of", AS_OF.isoformat())
    assert status == 0, err
    assert f"{unit} (table A): 2 of 3; only 2 eligible attending households" in out
    assert "solver: optimal" in out and "gap 0.00%" in out


# --- the command line -----------------------------------------------------------------------------------------------

@pytest.fixture
def files(tmp_path, pairs):
    children, households = write_region(tmp_path)
    event = an_event(pairs)
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event, indent=1), encoding="utf-8")
    return {"children": children, "households": households, "event": path, "json": event, "tmp": tmp_path}


def run_day(run_cli, files, out, *extra):
    return run_cli("exchange-day", "--event", files["event"], "--out", out, "--children", files["children"],
                   "--households", files["households"], "--as-of", AS_OF.isoformat(), *extra)


def test_cli_writes_the_schedule_pages_and_summary_and_they_check(region, files, run_cli):
    out = files["tmp"] / "out"
    status, stdout, err = run_day(run_cli, files, out)
    assert status == 0, err
    rows = check.read_schedule(out / "schedule.csv")
    assert rows and check.problems(check.Day(region, files["json"]), rows) == []
    for household_id in files["json"]["household_ids"]:
        assert (out / "households" / f"{household_id}.html").is_file()
    for table in files["json"]["tables"]:
        assert (out / "tables" / f"{table['table_id']}.html").is_file()
    units = list(csv.DictReader(open(out / "units.csv", encoding="utf-8")))
    assert sorted(u["unit_id"] for u in units) == sorted(u for t in files["json"]["tables"] for u in t["unit_ids"])
    for word in ("meetings", "units reached", "short of min_meetings", "requests:", "solver: optimal", "bound",
                 "gap"):
        assert word in stdout
    manifest = json.loads((out / "schedule.manifest.json").read_text(encoding="utf-8"))
    assert {i["role"] for i in manifest["inputs"]} == {"children", "households", "event"}


def test_a_rerun_writes_the_same_bytes(files, run_cli):
    out = files["tmp"] / "out"
    assert run_day(run_cli, files, out)[0] == 0
    first = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert run_day(run_cli, files, out)[0] == 0
    second = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert first == second


def test_household_pages_hold_nothing_that_identifies_a_child_or_a_place(region, files, run_cli):
    out = files["tmp"] / "out"
    assert run_day(run_cli, files, out)[0] == 0
    featured = [u for t in files["json"]["tables"] for u in t["unit_ids"]]
    kids = region.children.filter(region.children["unit_id"].is_in(featured))
    secrets = set(kids["child_id"].to_list()) | set(featured) | {str(d) for d in kids["date_of_birth"].to_list()}
    secrets |= {s for s in kids["sibling_group_id"].to_list() if s}
    places = [f"{v:.2f}" for c in ("lat", "lon", "birth_family_lat", "birth_family_lon")
              for v in kids[c].drop_nulls().to_list()]
    pages = list((out / "households").glob("*.html"))
    assert len(pages) == len(files["json"]["household_ids"])
    shown_a_child = 0
    for page in pages:
        html = page.read_text(encoding="utf-8")
        text = re.sub(r"<style>.*?</style>", "", html, flags=re.S)
        for secret in secrets:
            assert secret not in html, (page.name, secret)
        for place in places:
            assert place not in text, (page.name, place)
        for word in ("km", "distance", "travel", "birth", "location", "date of birth", "lat", "lon"):
            assert not re.search(rf"\b{word}\b", text, re.IGNORECASE), (page.name, word)
        for fetch in ("http", "<script", "src=", "url(", "@import", "<link"):
            assert fetch not in html.lower(), (page.name, fetch)
        shown_a_child += "Why you were matched" in html
    assert shown_a_child  # the pages do show meetings with their reasons


def test_page_text_is_escaped(region, pairs, tmp_path):
    from matcher.exchange import table_page

    units, households = _busy_units_and_households(pairs)
    event = {"slots": 1, "max_meetings": 1, "min_meetings": 0,
             "tables": [{"table_id": "<b>T&1</b>", "capacity": 1, "unit_ids": [units[0]]}],
             "household_ids": households[:2]}
    day = plan(region, event, tmp_path)
    html = table_page(day, "<b>T&1</b>")
    assert "<b>T&1</b>" not in html and "&lt;b&gt;T&amp;1&lt;/b&gt;" in html


BAD_EVENTS = [
    (lambda e: e.update(slots=0), "entry slots"),
    (lambda e: e.update(slots=-2), "entry slots"),
    (lambda e: e.update(slots="4"), "entry slots"),
    (lambda e: e.update(slots=True), "entry slots"),
    (lambda e: e["tables"][3].update(capacity=0), "entry tables[3].capacity"),
    (lambda e: e["tables"][2].update(capacity=-1), "entry tables[2].capacity"),
    (lambda e: e["tables"][1].update(capacity=1.5), "entry tables[1].capacity"),
    (lambda e: e.update(min_meetings=4, max_meetings=3), "entry min_meetings"),
    (lambda e: e["tables"][1]["unit_ids"].append(e["tables"][0]["unit_ids"][0]), "entry tables[1].unit_ids[2]"),
    (lambda e: e["tables"][1].update(table_id=e["tables"][0]["table_id"]), "entry tables[1].table_id"),
    (lambda e: e["household_ids"].append(e["household_ids"][0]), "entry household_ids[24]"),
    (lambda e: e["tables"][0]["unit_ids"].append("NOBODY"), "entry tables[0].unit_ids[2]"),
    (lambda e: e["household_ids"].append("H-NONE"), "entry household_ids[24]"),
    (lambda e: e["tables"][0].update(unit_ids="C000001"), "entry tables[0].unit_ids"),
    (lambda e: e.update(requests=[{"household_id": e["household_ids"][0], "table_id": "T99"}]),
     "entry requests[0].table_id"),
    (lambda e: e.update(requests=[{"household_id": "H-NONE", "table_id": "T1"}]), "entry requests[0].household_id"),
    (lambda e: e.pop("slots"), "entry slots"),
    (lambda e: e.update(slot=3), "entry slot"),
    (lambda e: e.update(tables={}), "entry tables"),
]


@pytest.mark.parametrize("spoil, entry", BAD_EVENTS)
def test_a_bad_event_exits_2_naming_the_entry_and_writes_nothing(files, run_cli, spoil, entry):
    event = json.loads(json.dumps(files["json"]))
    spoil(event)
    files["event"].write_text(json.dumps(event), encoding="utf-8")
    out = files["tmp"] / "out"
    status, stdout, err = run_day(run_cli, files, out)
    assert status == 2, (stdout, err)
    assert f"{files['event']}, {entry}:" in err or f"{files['event']}, {entry};" in err, err
    assert "Traceback" not in err
    assert not out.exists()


def test_households_and_units_not_available_are_bad_input(region, files, run_cli):
    not_approved = region.households.filter(region.households["status"] != "approved")["household_id"][0]
    not_waiting = region.units.filter(~region.units["waiting"])["unit_id"][0]
    event = json.loads(json.dumps(files["json"]))
    event["household_ids"].append(not_approved)
    event["tables"][0]["unit_ids"].append(not_waiting)
    files["event"].write_text(json.dumps(event), encoding="utf-8")
    status, _, err = run_day(run_cli, files, files["tmp"] / "out")
    assert status == 2
    assert "entry household_ids[24]" in err and "an approved household" in err
    assert "entry tables[0].unit_ids[2]" in err and "a waiting unit" in err


def test_an_event_that_is_not_json_names_the_line(files, run_cli):
    files["event"].write_text('{"slots": 4,\n "tables": [}', encoding="utf-8")
    status, _, err = run_day(run_cli, files, files["tmp"] / "out")
    assert status == 2 and "row 2" in err and "JSON" in err


def write_lock(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=check.COLUMNS)
        writer.writeheader()
        for r in rows:
            writer.writerow({**r, "requested": str(r["requested"]).lower()})
    return path


def test_replanning_keeps_locked_meetings_and_drops_those_of_absent_households(region, files, run_cli):
    first = files["tmp"] / "first"
    assert run_day(run_cli, files, first)[0] == 0
    rows = check.read_schedule(first / "schedule.csv")
    held = [r for r in rows if r["slot"] <= 2]
    gone = held[0]["household_id"]
    lock = write_lock(files["tmp"] / "lock.csv", held)
    again = files["tmp"] / "again"
    status, out, err = run_day(run_cli, files, again, "--lock", lock, "--absent", gone)
    assert status == 0, err
    new = check.read_schedule(again / "schedule.csv")
    checked = check.Day(region, files["json"], absent=[gone])
    assert check.problems(checked, new, locks=held) == []
    kept = {(r["slot"], r["unit_id"], r["household_id"]) for r in new}
    assert all((r["slot"], r["unit_id"], r["household_id"]) in kept for r in held if r["household_id"] != gone)
    assert all(r["household_id"] != gone for r in new)
    assert f"dropped locked meeting (row 2): {gone}" in out
    assert not (again / "households" / f"{gone}.html").exists()
    # A re-plan in the first run's folder removes the absent household's old page.
    status, _, err = run_day(run_cli, files, first, "--lock", lock, "--absent", gone)
    assert status == 0, err
    assert not (first / "households" / f"{gone}.html").exists()


def _lock_spoilers(rows):
    a = rows[0]
    b = next(r for r in rows if r["slot"] != a["slot"])
    busy = next(h for h in {r["household_id"] for r in rows} if sum(r["household_id"] == h for r in rows) >= 2)
    first, second = [r for r in rows if r["household_id"] == busy][:2]
    return [
        ("two meetings of one household in a slot", [first, {**second, "slot": first["slot"]}], "row 3, column slot"),
        ("unknown table", [{**a, "table_id": "NOWHERE"}], "row 2, column table_id"),
        ("unknown unit", [{**a, "unit_id": "NOBODY"}], "row 2, column unit_id"),
        ("unknown household", [{**a, "household_id": "H-NONE"}], "row 2, column household_id"),
        ("slot out of range", [{**a, "slot": 9}], "row 2, column slot"),
        ("bad requested", [{**a, "requested": "maybe"}], "row 2, column requested"),
        ("pair twice", [a, {**a, "slot": b["slot"]}], "row 3, column household_id"),
    ]


def test_a_lock_row_that_cannot_be_kept_exits_2_naming_file_row_and_column(files, run_cli):
    first = files["tmp"] / "first"
    assert run_day(run_cli, files, first)[0] == 0
    rows = check.read_schedule(first / "schedule.csv")
    for what, lock_rows, where in _lock_spoilers(rows):
        lock = write_lock(files["tmp"] / "lock.csv", lock_rows)
        out = files["tmp"] / "bad"
        status, _, err = run_day(run_cli, files, out, "--lock", lock)
        assert status == 2, what
        assert f"{lock}, {where}" in err, (what, err)
        assert not out.exists(), what


def test_a_lock_over_a_tables_capacity_is_bad_input(files, run_cli, pairs):
    first = files["tmp"] / "first"
    assert run_day(run_cli, files, first)[0] == 0
    rows = check.read_schedule(first / "schedule.csv")
    # Three meetings at one table (capacity 2) in one slot, by three households eligible for its units.
    table = files["json"]["tables"][0]
    trio = [(u, h) for u in table["unit_ids"] for h in files["json"]["household_ids"] if (u, h) in pairs]
    households = []
    lock_rows = []
    for u, h in trio:
        if h not in households and not any(r["household_id"] == h and r["unit_id"] == u for r in lock_rows):
            households.append(h)
            lock_rows.append({"slot": 1, "table_id": table["table_id"], "unit_id": u, "household_id": h,
                              "requested": any(r["household_id"] == h and r["unit_id"] == u and r["requested"]
                                               for r in rows)})
        if len(lock_rows) == 3:
            break
    assert len(lock_rows) == 3
    lock = write_lock(files["tmp"] / "lock.csv", lock_rows)
    status, _, err = run_day(run_cli, files, files["tmp"] / "bad", "--lock", lock)
    assert status == 2
    assert f"{lock}, row 4, column slot" in err and "has room" in err


def test_an_unknown_absent_household_is_bad_input(files, run_cli):
    status, _, err = run_day(run_cli, files, files["tmp"] / "out", "--absent", "H-NONE")
    assert status == 2 and "--absent" in err
    assert not (files["tmp"] / "out").exists()


def test_the_output_never_replaces_an_input(files, run_cli):
    first = files["tmp"] / "first"
    assert run_day(run_cli, files, first)[0] == 0
    lock = first / "schedule.csv"
    before = lock.read_bytes()
    status, _, err = run_day(run_cli, files, first, "--lock", lock)
    assert status == 2 and "--out" in err and "lock file" in err
    assert lock.read_bytes() == before
    # The event file inside the output folder, where the summary would go.
    files["event"].rename(first / "summary.txt")
    files["event"] = first / "summary.txt"
    status, _, err = run_day(run_cli, files, first)
    assert status == 2 and "event file" in err


def test_store_mode_reads_the_register(files, run_cli, tmp_path, monkeypatch):
    db = tmp_path / "register.sqlite3"
    assert run_cli("db", "init", "--db", db)[0] == 0
    assert run_cli("import", "--db", db, "--children", files["children"], "--households", files["households"],
                   "--as-of", AS_OF.isoformat())[0] == 0
    monkeypatch.setenv("MATCHER_DB", str(db))
    status, _, err = run_cli("exchange-day", "--event", files["event"], "--out", tmp_path / "via-db",
                             "--as-of", AS_OF.isoformat())
    assert status == 0, err
    assert run_day(run_cli, files, tmp_path / "via-files")[0] == 0
    assert (tmp_path / "via-db" / "schedule.csv").read_bytes() == (tmp_path / "via-files" / "schedule.csv").read_bytes()


def test_the_page_templates_ship_with_the_package():
    import fnmatch
    import tomllib

    root = Path(__file__).resolve().parents[2]
    data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"]
    templates = root / "matcher" / "exchange" / "templates"
    shipped = [p for p in templates.iterdir() if any(fnmatch.fnmatch(f"templates/{p.name}", g)
                                                     for g in data["matcher.exchange"])]
    assert sorted(shipped) == sorted(templates.iterdir()) and shipped
