"""Issue 9, item 13: a workbook (.xlsx, .ods) is read directly, its first
sheet with the header in row 1, and validated exactly like CSV; errors name
the sheet, the row (as the spreadsheet numbers it) and the column."""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import polars as pl
import pytest

from features.contract import CHILDREN, CODES, HOUSEHOLDS, Table
from matcher.generate import generate_region
from tests.conftest import AS_OF, write_region

xlsxwriter = pytest.importorskip("xlsxwriter")

AS_OF_ARG = ("--as-of", AS_OF.isoformat())


def cells_of(frame: pl.DataFrame, table: Table) -> list[list]:
    """The rows of a typed table as a spreadsheet holds them: lists in one
    cell, dates as dates, booleans as booleans, numbers as numbers."""
    flat = frame.select([pl.col(c.name).list.join(";") if c.kind == CODES else pl.col(c.name) for c in table.columns])
    return [list(table.names)] + [list(row) for row in flat.iter_rows()]


def write_xlsx(path: Path, rows: list[list], sheet: str = "Sheet1", extra_sheet: bool = True) -> None:
    """Each cell with the type a person typing it into Excel would get:
    text, numbers (always floats in a workbook), TRUE/FALSE, date cells."""
    book = xlsxwriter.Workbook(str(path))
    page = book.add_worksheet(sheet)
    date = book.add_format({"num_format": "dd/mm/yyyy"})
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, bool):
                page.write_boolean(r, c, value)
            elif isinstance(value, (int, float)):
                page.write_number(r, c, float(value))
            elif isinstance(value, dt.date):
                page.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date)
            else:
                page.write_string(r, c, str(value))
    if extra_sheet:  # only the first sheet is read
        book.add_worksheet("Notes").write_string(0, 0, "not a table")
    book.close()


def write_ods(path: Path, rows: list[list], sheet: str = "Sheet1") -> None:
    """A minimal OpenDocument spreadsheet, typed cells as LibreOffice writes
    them."""
    def cell(value) -> str:
        if value is None:
            return "<table:table-cell/>"
        if isinstance(value, bool):
            kind = f'office:value-type="boolean" office:boolean-value="{str(value).lower()}"'
        elif isinstance(value, (int, float)):
            kind = f'office:value-type="float" office:value="{value}"'
        elif isinstance(value, dt.date):
            kind = f'office:value-type="date" office:date-value="{value.isoformat()}"'
        else:
            kind = 'office:value-type="string"'
        return f"<table:table-cell {kind}><text:p>{escape(str(value))}</text:p></table:table-cell>"

    body = "".join("<table:table-row>" + "".join(cell(v) for v in row) + "</table:table-row>" for row in rows)
    office = "urn:oasis:names:tc:opendocument:xmlns"
    content = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="{office}:office:1.0" '
               f'xmlns:table="{office}:table:1.0" xmlns:text="{office}:text:1.0" office:version="1.2"><office:body>'
               f'<office:spreadsheet><table:table table:name="{sheet}">{body}</table:table></office:spreadsheet>'
               f'</office:body></office:document-content>')
    manifest = (f'<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="{office}:manifest:1.0" '
                f'manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type='
                f'"application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path='
                f'"content.xml" manifest:media-type="text/xml"/></manifest:manifest>')
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)


@pytest.fixture(scope="module")
def region():
    return generate_region(3, 60, 90, AS_OF)


def workbooks(folder: Path, region, suffix: str = "xlsx", edit=None) -> tuple[Path, Path]:
    """Both tables as workbooks; ``edit(name, rows)`` may change the cells
    first (``rows[0]`` is the header)."""
    kids, homes = region
    paths = []
    for name, frame, table in (("children", kids, CHILDREN), ("households", homes, HOUSEHOLDS)):
        rows = cells_of(frame, table)
        if edit:
            edit(name, rows)
        path = folder / f"{name}.{suffix}"
        (write_xlsx if suffix == "xlsx" else write_ods)(path, rows, sheet=name.capitalize())
        paths.append(path)
    return paths[0], paths[1]


def set_cell(rows: list[list], row: int, column: str, value) -> None:
    """``row`` is the 0-based data row: the spreadsheet's row ``row + 2``."""
    rows[row + 1][rows[0].index(column)] = value


@pytest.mark.parametrize("suffix", ["xlsx", "ods"])
def test_a_workbook_is_read_like_csv(tmp_path, run_cli, region, suffix):
    children, households = workbooks(tmp_path, region, suffix)
    csv_children, csv_households = write_region(tmp_path, seed=3, n_children=60, n_households=90)
    status, out, err = run_cli("validate", "--children", children, "--households", households, *AS_OF_ARG)
    assert status == 0, err
    assert err == ""
    _, csv_out, _ = run_cli("validate", "--children", csv_children, "--households", csv_households, *AS_OF_ARG)
    assert out == csv_out
    from matcher import api

    from_csv = api.region_from_files(csv_children, csv_households, AS_OF)
    child = next(c for c in region[0].filter(pl.col("status") == "waiting")["child_id"]
                 if api.rank(from_csv, child_id=c)["results"])
    ranked = [run_cli("rank", "--child", child, "--format", "json", "--children", c, "--households", h,
                      *AS_OF_ARG)[1] for c, h in ((children, households), (csv_children, csv_households))]
    assert json.loads(ranked[0]) == json.loads(ranked[1])


def test_excel_booleans_date_cells_and_whole_floats_read_as_the_contracts_values(tmp_path, run_cli, region):
    # The cells are typed as Excel types them: every number a float, TRUE and
    # FALSE booleans, dates as date cells (serial numbers with a date format).
    children, households = workbooks(tmp_path, region)
    import fastexcel

    kinds = {c.name: c.dtype for c in fastexcel.read_excel(children).load_sheet(0).available_columns()}
    assert kinds["need_physical"] == "float" and kinds["early_permanence"] == "boolean"
    assert kinds["date_of_birth"] in ("date", "datetime")
    from matcher.files.read import read_region

    tables = read_region(children, households, as_of=AS_OF)
    kids = region[0]
    assert tables.children["need_physical"].to_list() == kids["need_physical"].to_list()
    assert tables.children["date_of_birth"].to_list() == kids["date_of_birth"].to_list()
    assert tables.children["early_permanence"].to_list() == kids["early_permanence"].to_list()
    assert tables.households["sexes"].to_list() == region[1]["sexes"].to_list()


def test_text_and_numbers_mixed_in_a_column_read_as_typed(tmp_path, run_cli, region):
    def edit(name, rows):
        if name == "children":
            set_cell(rows, 1, "need_health", "2")           # typed as text
            set_cell(rows, 2, "early_permanence", "TRUE")   # text, not a boolean cell
            set_cell(rows, 3, "date_of_birth", "2019-05-04")  # text among date cells
            set_cell(rows, 4, "region", 7)                  # a number in a text column reads as 7
    children, households = workbooks(tmp_path, region, edit=edit)
    from matcher.files.read import read_region

    kids = read_region(children, households, as_of=AS_OF).children
    assert kids["need_health"][1] == 2 and kids["early_permanence"][2] is True
    assert kids["date_of_birth"][3] == dt.date(2019, 5, 4) and kids["region"][4] == "7"


@pytest.mark.parametrize("suffix", ["xlsx", "ods"])
def test_errors_name_the_sheet_row_and_column(tmp_path, run_cli, region, suffix):
    def edit(name, rows):
        if name == "children":
            set_cell(rows, 4, "need_learning", 7)
            set_cell(rows, 9, "sex", "X")
        else:
            set_cell(rows, 2, "adults", 1.5)
    children, households = workbooks(tmp_path, region, suffix, edit=edit)
    before = sorted(p.name for p in tmp_path.iterdir())
    status, _, err = run_cli("validate", "--children", children, "--households", households, *AS_OF_ARG)
    assert status == 2
    assert f"{children}, sheet Children, row 6, column need_learning" in err
    assert f"{children}, sheet Children, row 11, column sex" in err
    assert f"{households}, sheet Households, row 4, column adults" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_rows_keep_the_spreadsheets_numbers_past_an_empty_row(tmp_path, run_cli, region):
    def edit(name, rows):
        if name == "children":
            rows.insert(5, [None] * len(rows[0]))  # an empty spreadsheet row 6
            set_cell(rows, 10, "sex", "X")          # now on spreadsheet row 12
    children, households = workbooks(tmp_path, region, edit=edit)
    status, _, err = run_cli("validate", "--children", children, "--households", households, *AS_OF_ARG)
    assert status == 2
    [line] = err.splitlines()
    assert line.startswith(f"{children}, sheet Children, row 12, column sex")


def test_ids_a_spreadsheet_turned_into_numbers_are_named(tmp_path, run_cli, region):
    ids = [f"{i:06d}" for i in range(1, 61)]

    def edit(name, rows):
        if name == "children":
            for i, value in enumerate(ids):
                set_cell(rows, i, "child_id", value)
            set_cell(rows, 5, "child_id", 6)                    # was 000006: lost its leading zeros
        else:
            set_cell(rows, 3, "household_id", "1.2E+05")        # saved as text in scientific notation
    children, households = workbooks(tmp_path, region, edit=edit)
    status, _, err = run_cli("validate", "--children", children, "--households", households, *AS_OF_ARG)
    assert status == 2
    lines = err.splitlines()
    assert any(f"{children}, sheet Children, row 7, column child_id" in ln and "leading zeros" in ln for ln in lines)
    assert any(f"{households}, sheet Households, row 5, column household_id" in ln and "1.2E+05" in ln
               for ln in lines)


def test_a_column_of_numeric_ids_is_read_with_a_warning(tmp_path, run_cli, region):
    def edit(name, rows):
        if name == "households":
            for i in range(len(rows) - 1):
                set_cell(rows, i, "household_id", 1000 + i)
    children, households = workbooks(tmp_path, region, edit=edit)
    status, out, err = run_cli("validate", "--children", children, "--households", households, *AS_OF_ARG)
    assert status == 0, err
    assert "column household_id" in err and "leading zeros" in err and "warning" in err
    status, out, err = run_cli("why-not", "--child", region[0]["child_id"][0], "--household", "1003",
                               "--children", children, "--households", households, *AS_OF_ARG)
    assert status == 0, err
    assert "household 1003" in out


@pytest.mark.parametrize("number", [12345678901234567890, 2.0**60])
def test_a_numeric_id_a_spreadsheet_cannot_hold_exactly_is_an_error(tmp_path, run_cli, region, number):
    def edit(name, rows):
        if name == "households":
            for i in range(len(rows) - 1):
                set_cell(rows, i, "household_id", 1000 + i)
            set_cell(rows, 7, "household_id", number)
    children, households = workbooks(tmp_path, region, edit=edit)
    status, _, err = run_cli("validate", "--children", children, "--households", households, *AS_OF_ARG)
    assert status == 2
    [line] = [ln for ln in err.splitlines() if not ln.startswith("warning")]
    assert line.startswith(f"{households}, sheet Households, row 9, column household_id") and "number" in line


def test_day_first_text_and_serial_numbers_in_a_date_column_are_named_once(tmp_path, run_cli, region):
    def edit(name, rows):
        if name == "children":
            for i in range(12):
                set_cell(rows, i, "date_of_birth", "04/05/2019")
            for i in range(12, 20):
                set_cell(rows, i, "entered_care_date", 43831)  # a date cell formatted as a number
    children, households = workbooks(tmp_path, region, edit=edit)
    status, _, err = run_cli("validate", "--children", children, "--households", households, *AS_OF_ARG)
    assert status == 2
    lines = err.splitlines()
    [dob] = [ln for ln in lines if "column date_of_birth" in ln]
    assert "sheet Children, row 2," in dob and "12 rows" in dob and "DD/MM/YYYY" in dob
    [entered] = [ln for ln in lines if "column entered_care_date" in ln]
    assert "row 14," in entered and "8 rows" in entered and "dates" in entered


def test_a_workbook_that_cannot_be_read_is_bad_input(tmp_path, run_cli, region):
    _, households = workbooks(tmp_path, region)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04\x14\x00\x00\x00garbage")
    status, _, err = run_cli("validate", "--children", broken, "--households", households, *AS_OF_ARG)
    assert status == 2 and err.startswith(f"{broken}; expected a readable workbook") and "Traceback" not in err
    empty = tmp_path / "empty.xlsx"
    write_xlsx(empty, [], extra_sheet=False)
    status, _, err = run_cli("validate", "--children", empty, "--households", households, *AS_OF_ARG)
    assert status == 2 and err.startswith(f"{empty}") and "the sheet is empty" in err


def test_a_repeated_header_in_a_workbook_is_named(tmp_path, run_cli, region):
    def edit(name, rows):
        if name == "households":
            rows[0].append("status")
            for row in rows[1:]:
                row.append("approved")
    children, households = workbooks(tmp_path, region, edit=edit)
    status, _, err = run_cli("validate", "--children", children, "--households", households, *AS_OF_ARG)
    assert status == 2 and f"{households}, sheet Households, row 1, column status" in err and "repeated" in err
