"""Issue 9, "files in": spreadsheet-safe ids, plausibility, id rules, Parquet
types, spreadsheet habits in CSV files, grouped messages. Every case: exit
2 (or 0 with a warning), a message naming the file, row and column, no
traceback, nothing written."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from matcher import api
from tests.conftest import AS_OF, write_region
from tests.matcher.test_validation import line_of, rewrite_cell, snapshot

AS_OF_ARG = ("--as-of", AS_OF.isoformat())


def rows_of(path: Path) -> list[dict]:
    return list(csv.DictReader(path.open(encoding="utf-8")))


def validate(run_cli, children, households, *extra):
    return run_cli("validate", "--children", children, "--households", households, *AS_OF_ARG, *extra)


def lines_naming(err: str, path: Path, row: int | None, column: str) -> list[str]:
    """The message lines about ``path``'s data row ``row`` (0-based) and
    ``column``."""
    where = f"{line_of(row)}, column {column}" if row is not None else f"column {column}"
    return [line for line in err.splitlines() if str(path) in line and where in line]


# --- item 5: ids a spreadsheet would run as formulas ---------------------------------------------------------

@pytest.mark.parametrize("which,column", [("children", "child_id"), ("children", "agency_id"),
                                          ("children", "sibling_group_id"), ("households", "household_id"),
                                          ("households", "agency_id")])
@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_an_id_beginning_like_a_formula_is_refused(region_files, run_cli, which, column, start):
    children, households = region_files
    target = children if which == "children" else households
    row = 3
    if column == "sibling_group_id":
        row = next(i for i, r in enumerate(rows_of(children)) if r["sibling_group_id"])
    value = {"=": "=HYPERLINK(\"http://x\")", "+": "+441234", "-": "-2+3", "@": "@SUM(A1)"}[start]
    rewrite_cell(target, row, column, value)
    before = snapshot(target.parent)
    status, _, err = validate(run_cli, children, households)
    assert status == 2
    [line] = [ln for ln in lines_naming(err, target, row, column) if "formula" in ln]
    assert value in line and "Traceback" not in err
    assert snapshot(target.parent) == before


def test_in_memory_frames_follow_the_same_id_rules():
    kids, homes = api.generate(2, 10, 10, AS_OF)
    homes = homes.with_columns(pl.when(pl.int_range(pl.len()) == 2).then(pl.lit("=cmd|' /C calc'!A0"))
                               .otherwise(pl.col("household_id")).alias("household_id"))
    with pytest.raises(api.InputError) as caught:
        api.region_from_frames(kids, homes, AS_OF)
    [problem] = caught.value.problems
    assert (problem.file, problem.row, problem.column) == ("households", 3, "household_id")
    assert "formula" in problem.expected


# --- item 10: plausibility ---------------------------------------------------------------------------------------

def test_a_waiting_child_aged_18_or_more_is_an_error(region_files, run_cli):
    children, households = region_files
    rows = rows_of(children)
    waiting = [i for i, r in enumerate(rows) if r["status"] == "waiting" and not r["sibling_group_id"]]
    placed = next(i for i, r in enumerate(rows) if r["status"] != "waiting" and not r["sibling_group_id"])
    adult, almost = waiting[0], waiting[1]
    rewrite_cell(children, adult, "date_of_birth", "2008-06-30")  # 18 on --as-of
    rewrite_cell(children, almost, "date_of_birth", "2008-07-01")  # 17 years 11 months
    rewrite_cell(children, placed, "date_of_birth", "2001-01-01")  # not waiting: not proposed, not an error
    status, _, err = validate(run_cli, children, households)
    assert status == 2
    assert len(lines_naming(err, children, adult, "date_of_birth")) == 1
    assert "18" in lines_naming(err, children, adult, "date_of_birth")[0]
    assert not lines_naming(err, children, almost, "date_of_birth")
    assert not lines_naming(err, children, placed, "date_of_birth")
    assert err.count("problems found") == 0  # exactly one problem


def test_a_safety_distance_over_1000_km_is_an_error(region_files, run_cli):
    children, households = region_files
    row = next(i for i, r in enumerate(rows_of(children)) if r["birth_family_lat"])
    rewrite_cell(children, row, "min_distance_km", "1000")
    assert validate(run_cli, children, households)[0] == 0
    rewrite_cell(children, row, "min_distance_km", "1000.5")
    status, _, err = validate(run_cli, children, households)
    assert status == 2 and lines_naming(err, children, row, "min_distance_km")


@pytest.mark.parametrize("which,column,value", [
    ("children", "date_of_birth", "0000-01-01"),
    ("children", "date_of_birth", "-001-01-01"),
    ("children", "date_of_birth", "+002-01-01"),
    ("children", "entered_care_date", "1899-12-31"),
    ("households", "approval_date", "0000-01-01"),
])
def test_dates_before_1900_or_with_a_sign_or_year_0_are_errors(region_files, run_cli, which, column, value):
    children, households = region_files
    target = children if which == "children" else households
    rewrite_cell(target, 2, column, value)
    status, _, err = validate(run_cli, children, households)
    assert status == 2, err
    assert lines_naming(err, target, 2, column) and "Traceback" not in err


def test_dates_before_1900_in_parquet_are_errors(tmp_path, run_cli):
    children, households = write_region(tmp_path, fmt="parquet")
    frame = pl.read_parquet(children)
    frame.with_columns(pl.when(pl.int_range(pl.len()) == 1).then(pl.lit(dt.date(1, 1, 1)))
                       .otherwise(pl.col("date_of_birth")).alias("date_of_birth")).write_parquet(children)
    status, _, err = validate(run_cli, children, households)
    assert status == 2 and "row 2, column date_of_birth" in err


@pytest.mark.parametrize("command", ["validate", "generate"])
def test_as_of_before_1900_is_an_error(region_files, run_cli, tmp_path, command):
    children, households = region_files
    out = tmp_path / "new-region"
    if command == "validate":
        args = ("validate", "--children", children, "--households", households)
    else:
        args = ("generate", "--seed", 1, "--children", 5, "--households", 5, "--out", out)
    status, _, err = run_cli(*args, "--as-of", "1899-12-31")
    assert status == 2 and "--as-of" in err and "1900" in err
    assert not out.exists()


def test_locations_outside_the_british_isles_are_warnings_naming_the_rows(region_files, run_cli):
    children, households = region_files
    rows = rows_of(households)
    rewrite_cell(households, 4, "lat", rows[4]["lon"])  # swapped
    rewrite_cell(households, 4, "lon", rows[4]["lat"])
    rewrite_cell(children, 6, "lat", "40.42")  # Madrid
    rewrite_cell(children, 6, "lon", "-3.70")
    status, out, err = validate(run_cli, children, households)
    assert status == 0, err
    assert "valid" in out
    [swapped] = [ln for ln in err.splitlines() if str(households) in ln and line_of(4) in ln]
    assert swapped.startswith("warning:") and "swapped" in swapped
    [away] = [ln for ln in err.splitlines() if str(children) in ln and line_of(6) in ln]
    assert away.startswith("warning:") and "British Isles" in away and "swapped" not in away
    assert err.count("British Isles") == 2


def test_generated_regions_raise_no_location_warning(tmp_path, run_cli):
    # Households are spread widest; a large region used to put a few east
    # of 2 E (seed 3, 100,000 households: one).
    from matcher.generate import SPREAD_DEG, _points

    lat, lon = _points(np.random.default_rng(0), 2_000_000, SPREAD_DEG * 1.2)
    assert lat.min() >= 49 and lat.max() <= 61 and lon.min() >= -11 and lon.max() <= 2
    children, households = write_region(tmp_path, seed=4, n_children=300, n_households=400)
    status, _, err = validate(run_cli, children, households)
    assert status == 0 and "warning" not in err


# --- item 11: ids ------------------------------------------------------------------------------------------------

def test_ids_longer_than_64_characters_are_errors(region_files, run_cli):
    children, households = region_files
    rewrite_cell(households, 1, "household_id", "H" * 64)
    assert validate(run_cli, children, households)[0] == 0
    rewrite_cell(households, 1, "household_id", "H" * 65)
    status, _, err = validate(run_cli, children, households)
    assert status == 2 and lines_naming(err, households, 1, "household_id")


@pytest.mark.parametrize("value", ["C-NUL\x00", "C\x07BELL", "C\tTAB", "C\x7fDEL"])
def test_ids_with_control_characters_are_errors(region_files, run_cli, value):
    # An id ending in a NUL byte used to pass validate and then break
    # propose with "unknown unit".
    children, households = region_files
    rewrite_cell(children, 2, "child_id", value)
    status, _, err = validate(run_cli, children, households)
    assert status == 2
    [line] = lines_naming(err, children, 2, "child_id")
    assert "control characters" in line


@pytest.mark.parametrize("variant", [
    str.lower,                                  # case
    lambda v: v + "\u200b",                     # a zero-width space
    lambda v: "\u00a0" + v + " ",               # surrounding (no-break) spaces
    lambda v: v.translate({ord(c): ord(c) + 0xFEE0 for c in v}),  # full-width forms (NFKC)
])
def test_ids_differing_only_in_case_spaces_or_unicode_form_are_the_same_id(region_files, run_cli, variant):
    children, households = region_files
    first = rows_of(households)[0]["household_id"]
    rewrite_cell(households, 6, "household_id", variant(first))
    status, _, err = validate(run_cli, children, households)
    assert status == 2
    [line] = lines_naming(err, households, 6, "household_id")
    assert "written twice" in line or "earlier row" in line


def test_agency_ids_spelt_two_ways_are_errors_within_and_across_files(region_files, run_cli):
    children, households = region_files
    kids = rows_of(children)
    agency = kids[0]["agency_id"]
    other = next(i for i, r in enumerate(kids) if r["agency_id"] == agency and i > 0)
    rewrite_cell(children, other, "agency_id", agency.lower())
    homes = rows_of(households)
    home_agency = next(r["agency_id"] for r in homes if r["agency_id"] in {k["agency_id"] for k in kids})
    home_rows = [i for i, r in enumerate(homes) if r["agency_id"] == home_agency]
    for i in home_rows:  # the households file spells this agency otherwise, throughout
        rewrite_cell(households, i, "agency_id", home_agency.lower())
    status, _, err = validate(run_cli, children, households)
    assert status == 2
    assert any("written twice" in ln for ln in lines_naming(err, children, other, "agency_id"))
    assert any("same agency" in ln for ln in lines_naming(err, households, home_rows[0], "agency_id"))


@pytest.mark.parametrize("value", ["1e-400", "2.5", "1e0", "0x1", "1_0"])
def test_a_whole_number_column_takes_only_whole_numbers(region_files, run_cli, value):
    # "1e-400" used to be read as 0.
    children, households = region_files
    rewrite_cell(children, 3, "need_health", value)
    status, _, err = validate(run_cli, children, households)
    assert status == 2 and lines_naming(err, children, 3, "need_health")


def test_whole_numbers_written_with_a_zero_fraction_are_read(region_files, run_cli):
    children, households = region_files
    rewrite_cell(households, 3, "max_age_months", rows_of(households)[3]["max_age_months"] + ".0")
    rewrite_cell(children, 3, "need_health", "+0")
    assert validate(run_cli, children, households)[0] == 0


def test_error_lines_quote_at_most_80_characters_of_a_value(region_files, run_cli):
    children, households = region_files
    index = pl.int_range(pl.len())
    pl.read_csv(children, infer_schema=False).with_columns(
        pl.when(index == 2).then(pl.lit("7" * 1_000_000)).otherwise(pl.col("need_learning")).alias("need_learning"),
        pl.when(index == 3).then(pl.lit("C" * 500_000)).otherwise(pl.col("child_id")).alias("child_id"),
    ).write_csv(children)
    status, _, err = validate(run_cli, children, households)
    assert status == 2 and len(err) < 2_000
    assert "1,000,000 characters" in err and lines_naming(err, children, 3, "child_id")


# --- item 12: Parquet types, and a CSV quote left open -----------------------------------------------------------

def _with_column(frame: pl.DataFrame, name: str, array: pa.Array) -> pa.Table:
    table = frame.to_arrow()
    if name in table.column_names:
        return table.set_column(table.column_names.index(name), name, array)
    return table.append_column(name, array)


UNREADABLE = {
    "nested list": lambda n: pa.array([[[1]]] * n, type=pa.list_(pa.list_(pa.int64()))),
    "map": lambda n: pa.array([[("a", 1)]] * n, type=pa.map_(pa.string(), pa.int64())),
    "duration": lambda n: pa.array([86_400] * n, type=pa.duration("s")),
    "binary": lambda n: pa.array([b"\xff\xfe" + bytes([i % 200]) for i in range(n)], type=pa.binary()),
}


@pytest.mark.parametrize("kind", UNREADABLE)
@pytest.mark.parametrize("column", ["child_id", "need_physical", "date_of_birth", "ethnicity"])
def test_a_parquet_column_of_an_unreadable_type_is_an_error_naming_file_and_column(tmp_path, run_cli, kind,
                                                                                   column):
    children, households = write_region(tmp_path, fmt="parquet")
    frame = pl.read_parquet(children)
    pq.write_table(_with_column(frame, column, UNREADABLE[kind](frame.height)), children)
    status, _, err = validate(run_cli, children, households)
    assert status == 2, err
    [line] = err.splitlines()
    assert str(children) in line and f"column {column}" in line
    assert "cast" not in line and "Traceback" not in err


@pytest.mark.parametrize("kind", UNREADABLE)
def test_an_unknown_parquet_column_of_an_unreadable_type_is_a_warning(tmp_path, run_cli, kind):
    children, households = write_region(tmp_path, fmt="parquet")
    frame = pl.read_parquet(households)
    pq.write_table(_with_column(frame, "notes", UNREADABLE[kind](frame.height)), households)
    status, out, err = validate(run_cli, children, households)
    assert status == 0, err
    assert "warning" in err and "notes" in err and "valid" in out


def test_binary_parquet_ids_in_utf8_are_read(tmp_path, run_cli):
    children, households = write_region(tmp_path, fmt="parquet")
    frame = pl.read_parquet(children)
    ids = pa.array([v.encode() for v in frame["child_id"].to_list()], type=pa.binary())
    pq.write_table(_with_column(frame, "child_id", ids), children)
    assert validate(run_cli, children, households)[0] == 0


@pytest.mark.parametrize("column", ["region", "status"])
def test_a_csv_quote_left_open_is_reported_where_it_opens(region_files, run_cli, column):
    children, households = region_files
    lines = children.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    at = header.index(column)
    cells = lines[5].split(",")
    cells[at] = '"' + cells[at]  # never closed: swallows every later line
    lines[5] = ",".join(cells)
    children.write_text("\n".join(lines) + "\n", encoding="utf-8")
    status, _, err = validate(run_cli, children, households)
    assert status == 2
    [line] = err.splitlines()
    assert f"{children}, row 6" in line and "quote" in line


def test_quoted_fields_with_quote_marks_are_read(region_files, run_cli):
    children, households = region_files
    rewrite_cell(children, 2, "region", 'R1 "north"')  # the writer quotes it and doubles the marks
    assert '"R1 ""north"""' in children.read_text(encoding="utf-8")
    status, _, err = validate(run_cli, children, households)
    assert status == 0, err


def test_a_quote_mark_inside_an_unquoted_field_names_its_line(region_files, run_cli):
    children, households = region_files
    lines = children.read_text(encoding="utf-8").splitlines()
    cells = lines[4].split(",")
    cells[2] = 'R"1'
    lines[4] = ",".join(cells)
    children.write_text("\n".join(lines) + "\n", encoding="utf-8")
    status, _, err = validate(run_cli, children, households)
    assert status == 2
    [line] = err.splitlines()
    assert f"{children}, row 5" in line and "quote" in line


# --- item 13: spreadsheet habits in CSV files --------------------------------------------------------------------

def test_a_byte_order_mark_and_crlf_line_ends_are_accepted(region_files, run_cli):
    children, households = region_files
    for path in (children, households):
        text = path.read_text(encoding="utf-8")
        path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    status, out, err = validate(run_cli, children, households)
    assert status == 0, err
    assert "valid" in out and "warning" not in err


@pytest.mark.parametrize("separator,name", [(";", "semicolon"), ("\t", "tab")])
def test_a_semicolon_or_tab_separated_file_is_named_as_such(region_files, run_cli, separator, name):
    children, households = region_files
    frame = pl.read_csv(households, infer_schema=False)
    frame.write_csv(households, separator=separator)
    status, _, err = validate(run_cli, children, households)
    assert status == 2
    [line] = err.splitlines()
    assert str(households) in line and f"{name}-separated" in line and "save it as comma-separated CSV" in line


def test_day_first_dates_get_one_message_per_column(region_files, run_cli):
    children, households = region_files
    frame = pl.read_csv(children, infer_schema=False)
    n = 30
    frame.with_columns(
        pl.when(pl.int_range(pl.len()) < n)
        .then(pl.col("date_of_birth").str.to_date().dt.strftime("%d/%m/%Y"))
        .otherwise(pl.col("date_of_birth")).alias("date_of_birth"),
        pl.when(pl.int_range(pl.len()) == 40).then(pl.lit("soon")).otherwise(pl.col("entered_care_date"))
        .alias("entered_care_date"),
    ).write_csv(children)
    status, _, err = validate(run_cli, children, households)
    assert status == 2
    dob = [line for line in err.splitlines() if "column date_of_birth" in line]
    assert len(dob) == 1
    assert f"{n} rows" in dob[0] and "DD/MM/YYYY" in dob[0] and line_of(0) in dob[0]
    example = frame["date_of_birth"].str.to_date()[0].strftime("%d/%m/%Y")
    assert example in dob[0]
    assert lines_naming(err, children, 40, "entered_care_date")  # other bad dates: one line each


@pytest.mark.parametrize("given_as", ["children", "households"])
def test_a_file_given_as_the_other_kind_is_named(region_files, run_cli, given_as):
    children, households = region_files
    if given_as == "households":
        status, _, err = validate(run_cli, children, children)
        expected = f"{children}; expected a households file; this looks like a children file"
    else:
        status, _, err = validate(run_cli, households, households)
        expected = f"{households}; expected a children file; this looks like a households file"
    assert status == 2
    [line] = err.splitlines()
    assert line.startswith(expected) and "--children" in line and "--households" in line


# --- item 14: repeated problems are grouped ----------------------------------------------------------------------

def test_validate_shows_at_most_20_lines_per_file_and_column(region_files, run_cli):
    children, households = region_files
    frame = pl.read_csv(children, infer_schema=False)
    frame.with_columns(pl.when(pl.int_range(pl.len()) < 35).then(pl.lit("9")).otherwise(pl.col("need_emotional"))
                       .alias("need_emotional"),
                       pl.when(pl.int_range(pl.len()) == 50).then(pl.lit("X")).otherwise(pl.col("sex"))
                       .alias("sex")).write_csv(children)
    status, _, err = validate(run_cli, children, households)
    assert status == 2
    lines = err.splitlines()
    assert lines[0] == "36 problems found:"
    assert sum("column need_emotional" in line for line in lines) == 21
    assert f"{children}, column need_emotional: and 15 more rows like this" in lines
    assert lines_naming(err, children, 50, "sex")


def test_other_commands_group_too_and_warnings_are_grouped(region_files, run_cli):
    children, households = region_files
    frame = pl.read_csv(households, infer_schema=False)
    frame = frame.with_columns(pl.when(pl.int_range(pl.len()) < 25).then(pl.lit("40.4")).otherwise(pl.col("lat"))
                               .alias("lat"))
    frame.write_csv(households)
    status, _, err = validate(run_cli, children, households)
    assert status == 0
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 21 and warnings[-1].endswith("and 5 more rows like this")
    frame.with_columns(pl.lit("7").alias("adults")).write_csv(households)
    child = rows_of(children)[0]["child_id"]
    status, _, err = run_cli("rank", "--child", child, "--children", children, "--households", households, *AS_OF_ARG)
    assert status == 2
    assert sum("column adults" in line for line in err.splitlines()) == 21
    assert f"and {frame.height - 20} more rows like this" in err
