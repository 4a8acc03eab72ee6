"""Reading a workbook (``.xlsx``, ``.ods`` and the other formats calamine
reads) as the contract's table: the first sheet, its header in row 1.

fastexcel (Rust's calamine) reads the sheet with a type per column, guessed
from every row. Excel's booleans, date cells and whole numbers stored as
floats become the contract's text cells through
:func:`matcher.validation.text_cells`, exactly as Parquet's types do; then
the sheet is validated like a CSV file. Rows are numbered as the spreadsheet
numbers them (the header is row 1), and every problem names the sheet.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import polars as pl

from features.contract import DATE, STR, Table
from matcher.errors import Problem

SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
EXACT_IN_A_FLOAT = 2**53
"""Whole numbers up to this are held exactly by a spreadsheet's numbers."""


@dataclass
class Sheet:
    """The first sheet of a workbook, as typed cells with their row numbers
    (``frame`` is ``None`` when it could not be read)."""

    name: str | None
    frame: pl.DataFrame | None
    rows: pl.Series | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _load(path: str) -> tuple[str | None, pl.DataFrame]:
    """The first sheet's name and its typed cells (header from row 1);
    raises what fastexcel raises."""
    import fastexcel

    reader = fastexcel.read_excel(path)
    if not reader.sheet_names:
        return None, pl.DataFrame()
    # fastexcel logs a warning for a column with no values at all (an empty
    # optional column is normal here).
    quiet = logging.getLogger("fastexcel")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        cells = reader.load_sheet(0, header_row=0, schema_sample_rows=None, whitespace_as_null=True,
                                  skip_whitespace_tail_rows=True).to_polars()
    finally:
        quiet.setLevel(level)
    return reader.sheet_names[0], cells


REPEATED = re.compile(r"^(.+)_(\d+)$")
"""fastexcel names the second ``status`` column ``status_1``."""


def read_sheet(path: str, table: Table) -> Sheet:
    """The first sheet of the workbook at ``path``, ready for
    :func:`matcher.validation.text_cells`; never raises for bad input."""
    try:
        import fastexcel  # noqa: F401 - only to say clearly when it is missing
    except ImportError:
        return Sheet(None, None, problems=[Problem(path, None, None, None, "a CSV or Parquet file; reading a "
                                                   "workbook needs the fastexcel package (pip install fastexcel)")])
    try:
        name, cells = _load(path)
    except Exception as exc:  # noqa: BLE001 - fastexcel raises its own errors and pyarrow's
        return Sheet(None, None, problems=[Problem(path, None, None, None, f"a readable workbook ({_first_line(exc)})")])
    if name is None or cells.width == 0:
        return Sheet(name, None, problems=[Problem(path, None, None, None, "a header row in row 1 of the first "
                                                   "sheet and data rows below it; the sheet is empty",
                                                   sheet=name)])
    sheet = Sheet(name, None)
    for label in cells.columns:
        again = REPEATED.match(label)
        if again and again.group(1) in cells.columns and again.group(1) in table.names:
            sheet.problems.append(Problem(path, 1, again.group(1), None,
                                          "each column once in the header; it is repeated", sheet=name))
    if sheet.problems:
        return sheet
    rows = pl.Series("__row__", range(2, cells.height + 2), dtype=pl.Int64)
    filled = ~cells.select(pl.all_horizontal(pl.all().is_null())).to_series()
    cells, rows = cells.filter(filled), rows.filter(filled)
    sheet.frame, sheet.rows = _spreadsheet_habits(path, name, table, cells, rows, sheet)
    return sheet


def _spreadsheet_habits(path: str, name: str, table: Table, cells: pl.DataFrame, rows: pl.Series,
                        sheet: Sheet) -> tuple[pl.DataFrame, pl.Series]:
    """What spreadsheets do to text columns: ids and codes typed as numbers
    (1001 held as 1001.0), and date cells in a column that also holds text
    (read as ``YYYY-MM-DD 00:00:00``)."""
    known = {c.name: c for c in table.columns}
    fixed = []
    for column in cells.columns:
        col = known.get(column)
        values = cells[column]
        if col is not None and col.kind == STR and values.dtype.is_numeric():
            values = _numbers_as_codes(path, name, values, rows, col.is_id, sheet)
        elif col is not None and col.kind == DATE and values.dtype == pl.String:
            values = values.str.replace(r"^(\d{4}-\d{2}-\d{2})[ T]00:00:00(?:\.0+)?$", "$1")
        fixed.append(values)
    return pl.DataFrame(fixed) if fixed else cells, rows


def _numbers_as_codes(path: str, name: str, values: pl.Series, rows: pl.Series, is_id: bool,
                      sheet: Sheet) -> pl.Series:
    """A column of codes the spreadsheet holds as numbers, as the codes
    typed: whole numbers without ``.0``. An id with more digits than a
    spreadsheet's number keeps exactly is a problem; a column of ids held
    as numbers is a warning, since numbers lose leading zeros."""
    number = values.cast(pl.Float64)
    whole = number == number.round(0)
    exact = number.abs() < EXACT_IN_A_FLOAT
    digits = [None if v is None else f"{v:.0f}" for v in number.to_list()]
    text = pl.select(pl.when(whole & exact).then(number.cast(pl.Int64, strict=False).cast(pl.String))
                     .when(whole).then(pl.Series(digits, dtype=pl.String))
                     .otherwise(number.cast(pl.String)).alias(values.name)).to_series()
    if not is_id:
        return text
    inexact = (number.is_not_null() & ~exact).fill_null(False)
    for row, value in zip(rows.filter(inexact).to_list(), text.filter(inexact).to_list()):
        sheet.problems.append(Problem(
            path, row, values.name, value,
            "an id as it was typed; the spreadsheet holds this id as a number with more digits than it keeps "
            "exactly (it shows such numbers like 1.2E+19): format the column as text and enter the id again",
            sheet=name))
    sheet.warnings.append(
        f"{path}, sheet {name}, column {values.name}: the ids are held as numbers, and a spreadsheet drops "
        f"leading zeros from numbers (00123 becomes 123); if any id had them, format the column as text and "
        f"enter the ids again")
    return text
