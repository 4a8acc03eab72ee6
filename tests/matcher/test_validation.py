"""Every bad-input case of the foundation issue: exit 2, a message naming the
file, the row and the column, and nothing written."""

from __future__ import annotations

import csv

from pathlib import Path

import polars as pl
import pytest

from tests.conftest import AS_OF

AS_OF_ARG = ("--as-of", AS_OF.isoformat())


def rewrite_cell(path: Path, row: int, column: str, value: str) -> None:
    """Set one cell of a CSV file; ``row`` is the 0-based data row."""
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    rows[row][column] = value
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def first_row_where(path: Path, predicate) -> int:
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    return next(i for i, r in enumerate(rows) if predicate(r))


def line_of(row: int) -> str:
    return f"row {row + 2}"  # header is line 1


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


CELL_CASES = [
    # (file, column, bad value) set on data row 4
    ("children", "need_learning", "4"),
    ("children", "need_health", "-1"),
    ("children", "need_physical", "two"),
    ("children", "date_of_birth", "2020-02-30"),
    ("children", "date_of_birth", "12/03/2020"),
    ("children", "ethnicity", "XXXX"),
    ("children", "status", "adopted"),
    ("children", "sex", "X"),
    ("children", "lat", "91.5"),
    ("children", "lon", "-181"),
    ("children", "early_permanence", "yes"),
    ("children", "date_of_birth", "2026-07-01"),  # after --as-of
    ("households", "ethnicities", "WBRI;ZZZZ"),
    ("households", "sexes", "F;Q"),
    ("households", "status", "waiting"),
    ("households", "adults", "3"),
    ("households", "adults", "1.5"),
    ("households", "lat", "-95"),
    ("households", "approval_date", "yesterday"),
    ("households", "max_children", "5"),
]


@pytest.mark.parametrize("which,column,value", CELL_CASES)
def test_bad_cell_exits_2_naming_file_row_column(region_files, run_cli, which, column, value):
    children, households = region_files
    target = children if which == "children" else households
    rewrite_cell(target, 4, column, value)
    before = snapshot(target.parent)
    status, out, err = run_cli("validate", "--children", children, "--households", households, *AS_OF_ARG)
    assert status == 2
    assert str(target) in err and line_of(4) in err and f"column {column}" in err
    assert "Traceback" not in err
    assert snapshot(target.parent) == before


def test_cross_field_rules(region_files, run_cli):
    children, households = region_files
    rewrite_cell(households, 1, "min_children", "2")
    rewrite_cell(households, 1, "max_children", "1")
    rewrite_cell(households, 2, "min_age_months", "60")
    rewrite_cell(households, 2, "max_age_months", "12")
    rewrite_cell(households, 3, "accept_emotional", "2")
    rewrite_cell(households, 3, "consider_emotional", "1")
    rewrite_cell(households, 5, "household_id", csv_value(households, 0, "household_id"))
    rewrite_cell(children, 7, "child_id", csv_value(children, 0, "child_id"))
    rewrite_cell(children, 8, "entered_care_date", "2024-01-01")
    rewrite_cell(children, 8, "placement_order_date", "2023-12-31")
    rewrite_cell(children, 8, "date_of_birth", "2020-01-01")
    status, _, err = run_cli("validate", "--children", children, "--households", households, *AS_OF_ARG)
    assert status == 2
    expected = [
        (households, 1, "min_children"),
        (households, 2, "min_age_months"),
        (households, 3, "consider_emotional"),
        (households, 5, "household_id"),
        (children, 7, "child_id"),
        (children, 8, "placement_order_date"),
    ]
    lines = err.splitlines()
    for path, row, column in expected:
        assert any(str(path) in line and line_of(row) in line and f"column {column}" in line for line in lines), \
            (path, row, column, err)


def csv_value(path: Path, row: int, column: str) -> str:
    return list(csv.DictReader(path.open(encoding="utf-8")))[row][column]


def test_sibling_plan_mismatch_and_group_of_one(region_files, run_cli):
    children, households = region_files
    rows = list(csv.DictReader(children.open(encoding="utf-8")))
    grouped = [i for i, r in enumerate(rows) if r["sibling_group_id"]]
    first = grouped[0]
    group = rows[first]["sibling_group_id"]
    rewrite_cell(children, first, "sibling_plan", "apart" if rows[first]["sibling_plan"] != "apart" else "together")
    single = next(i for i, r in enumerate(rows) if not r["sibling_group_id"])
    rewrite_cell(children, single, "sibling_group_id", "LONELY-GROUP")
    status, _, err = run_cli("validate", "--children", children, "--households", households, *AS_OF_ARG)
    assert status == 2
    assert f"{line_of(first)}, column sibling_plan" in err
    assert f"{line_of(single)}, column sibling_group_id" in err
    assert group and "LONELY-GROUP" in err


def test_missing_and_empty_and_non_utf8_files(region_files, run_cli, tmp_path):
    children, households = region_files
    status, _, err = run_cli("validate", "--children", tmp_path / "nowhere.csv", "--households", households)
    assert status == 2 and "nowhere.csv" in err and "no such file" in err
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    status, _, err = run_cli("validate", "--children", empty, "--households", households)
    assert status == 2 and "empty.csv" in err and "empty" in err
    text = children.read_bytes().splitlines(keepends=True)
    text[3] = text[3].replace(b"R1", b"R\xff1")
    children.write_bytes(b"".join(text))
    status, _, err = run_cli("validate", "--children", children, "--households", households, *AS_OF_ARG)
    assert status == 2 and str(children) in err and "row 4" in err and "UTF-8" in err


def test_missing_required_column_and_unknown_column(region_files, run_cli):
    children, households = region_files
    frame = pl.read_csv(households, infer_schema=False)
    frame.drop("sexes").with_columns(pl.lit("x").alias("favourite_colour")).write_csv(households)
    status, _, err = run_cli("validate", "--children", children, "--households", households, *AS_OF_ARG)
    assert status == 2
    assert "column sexes" in err and "missing" in err
    assert "favourite_colour" in err and "warning" in err
    # An unknown column alone is only a warning.
    pl.read_csv(children, infer_schema=False).with_columns(pl.lit("x").alias("notes")).write_csv(children)
    frame.write_csv(households)
    status, out, err = run_cli("validate", "--children", children, "--households", households, *AS_OF_ARG)
    assert status == 0, err
    assert "notes" in err and "valid" in out


def test_every_problem_is_listed_not_just_the_first(region_files, run_cli):
    children, households = region_files
    for row in range(10):
        rewrite_cell(children, row, "need_emotional", "9")
    status, _, err = run_cli("validate", "--children", children, "--households", households, *AS_OF_ARG)
    assert status == 2
    assert sum("column need_emotional" in line for line in err.splitlines()) == 10


def test_parquet_row_numbers_are_one_based(tmp_path, run_cli):
    from tests.conftest import write_region

    children, households = write_region(tmp_path, fmt="parquet")
    frame = pl.read_parquet(children)
    frame.with_columns(pl.when(pl.int_range(pl.len()) == 2).then(7).otherwise(pl.col("need_health"))
                       .alias("need_health")).write_parquet(children)
    status, _, err = run_cli("validate", "--children", children, "--households", households, *AS_OF_ARG)
    assert status == 2 and "row 3, column need_health" in err


def test_console_script_never_shows_a_traceback(region_files, tmp_path):
    import subprocess
    import sys

    children, households = region_files
    exe = Path(sys.executable).with_name("matcher")
    bad = tmp_path / "bad.csv"
    bad.write_text("child_id\n\"unterminated\n", encoding="utf-8")
    done = subprocess.run([str(exe), "validate", "--children", str(bad), "--households", str(households)],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "bad.csv" in done.stderr


def test_bad_as_of_is_an_input_error(region_files, run_cli):
    children, households = region_files
    status, _, err = run_cli("validate", "--children", children, "--households", households, "--as-of", "30/06/2026")
    assert status == 2 and "--as-of" in err




@pytest.mark.parametrize("command", [["scores", "--out"], ["propose", "--out"], ["propose", "--shortlist", "2", "--out"]])
def test_bad_input_to_commands_that_write_leaves_the_folder_unchanged(region_files, run_cli, tmp_path, command):
    children, households = region_files
    out = tmp_path / "results"
    out.mkdir()
    (out / "earlier.csv").write_text("kept\n", encoding="utf-8")
    rewrite_cell(children, 3, "need_emotional", "7")
    before = snapshot(out)
    status, _, err = run_cli(*command, out / "new.csv", "--children", children, "--households", households,
                             *AS_OF_ARG)
    assert status == 2 and f"{line_of(3)}, column need_emotional" in err
    assert snapshot(out) == before


@pytest.mark.parametrize("which,column,value", [
    ("children", "need_physical", "nan"),
    ("children", "need_learning", "1e30"),
    ("households", "max_children", "99999999999999999999"),
    ("households", "max_age_months", "inf"),
    ("households", "ethnicities", ";"),
    ("households", "sexes", " ; "),
    ("children", "entered_care_date", "2026-07-01"),
    ("children", "placement_order_date", "2026-12-01"),
    ("households", "approval_date", "2027-01-01"),
])
def test_more_bad_cells_are_caught(region_files, run_cli, which, column, value):
    children, households = region_files
    target = children if which == "children" else households
    rewrite_cell(target, 2, column, value)
    status, _, err = run_cli("validate", "--children", children, "--households", households, *AS_OF_ARG)
    assert status == 2, err
    assert f"{line_of(2)}, column {column}" in err and "Traceback" not in err


def test_ragged_rows_and_repeated_headers_name_the_line(region_files, run_cli):
    children, households = region_files
    lines = children.read_text(encoding="utf-8").splitlines()
    lines[5] += ",surplus"
    children.write_text("\n".join(lines) + "\n", encoding="utf-8")
    status, _, err = run_cli("validate", "--children", children, "--households", households, *AS_OF_ARG)
    assert status == 2 and f"{children}, row 6" in err and "fields" in err
    head, *rest = households.read_text(encoding="utf-8").splitlines()
    households.write_text("\n".join([head + ",status"] + [r + ",approved" for r in rest]) + "\n", encoding="utf-8")
    status, _, err = run_cli("validate", "--children", children, "--households", households, *AS_OF_ARG)
    assert status == 2 and f"{households}, row 1, column status" in err and "repeated" in err


def test_generate_and_demo_refuse_bad_arguments(run_cli, tmp_path):
    status, _, err = run_cli("generate", "--seed", "-1", "--children", 3, "--households", 3, "--out", tmp_path)
    assert status == 2 and "--seed" in err
    a_file = tmp_path / "file.txt"
    a_file.write_text("x", encoding="utf-8")
    status, _, err = run_cli("demo", "--out", a_file)
    assert status == 2 and "folder" in err
    assert a_file.read_text(encoding="utf-8") == "x"


def test_ids_must_not_hold_separators_and_group_ids_must_not_be_child_ids(region_files, run_cli):
    children, households = region_files
    rewrite_cell(children, 1, "child_id", "C;1")
    rows = list(csv.DictReader(children.open(encoding="utf-8")))
    grouped = next(i for i, r in enumerate(rows) if r["sibling_group_id"] and r["sibling_plan"] != "apart")
    single = next(i for i, r in enumerate(rows) if not r["sibling_group_id"] and i != 1)
    rewrite_cell(children, single, "child_id", rows[grouped]["sibling_group_id"])
    status, _, err = run_cli("validate", "--children", children, "--households", households, *AS_OF_ARG)
    assert status == 2
    assert f"{line_of(1)}, column child_id" in err and "';'" in err
    assert f"{line_of(grouped)}, column sibling_group_id" in err and "not also a child_id" in err


def test_parquet_dates_written_as_timestamps_are_read_as_dates(tmp_path, run_cli):
    from tests.conftest import write_region

    children, households = write_region(tmp_path, fmt="parquet")
    frame = pl.read_parquet(children)
    frame.with_columns(pl.col("date_of_birth").cast(pl.Datetime("us"))).write_parquet(children)
    status, out, err = run_cli("validate", "--children", children, "--households", households, *AS_OF_ARG)
    assert status == 0, err
    assert "valid" in out


def test_generate_into_a_path_under_a_file_exits_2(run_cli, tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x", encoding="utf-8")
    status, _, err = run_cli("generate", "--seed", 1, "--children", 3, "--households", 3, "--out", a_file / "sub")
    assert status == 2 and "--out" in err and "Traceback" not in err
