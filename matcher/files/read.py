"""Reading the contract's input files (CSV, Parquet, or a workbook's first
sheet).

A file is read as text cells with its line (CSV) or row (Parquet, workbook)
numbers; :mod:`matcher.validation` then checks it exactly as it checks any
other source. This module only adds file names and line numbers, and names
what is wrong with a file as a whole (not UTF-8, not comma-separated, a
quote left open).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import polars as pl

from features.contract import CHILDREN, HOUSEHOLDS, Table
from matcher.errors import Problem
from matcher.files import workbook
from matcher.files.paths import input_file_problem
from matcher.validation import ROW, CheckedTable, RegionTables, check_table, region_tables, text_cells


def file_format(path: str | os.PathLike) -> str:
    """``"parquet"`` for a ``.parquet``/``.pq`` path, ``"workbook"`` for a
    spreadsheet (``.xlsx``, ``.ods``, ...), otherwise ``"csv"``."""
    suffix = Path(path).suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    return "workbook" if suffix in workbook.SUFFIXES else "csv"



def _raw_csv(path: str) -> tuple[pl.DataFrame | None, list[Problem]]:
    data = Path(path).read_bytes()
    if not data.strip():
        return None, [Problem(path, None, None, None, "a header row and data rows; the file is empty")]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, [Problem(path, None, None, None, "UTF-8 text; this file is UTF-16 (a spreadsheet's "
                                                      "\"Unicode text\"): save it as CSV UTF-8")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        bad = data[exc.start : exc.start + 4]
        return None, [Problem(path, line, None, repr(bad)[2:-1], "UTF-8 text; found bytes that are not UTF-8")]
    if data.startswith(b"\xef\xbb\xbf"):  # the byte-order mark spreadsheets write
        data, text = data[3:], text[1:]
    problems = _separator_problems(path, text) or _quote_problems(path, text) \
        or _csv_shape_problems(path, text, rows=False)
    if problems:
        return None, problems
    try:
        frame = pl.read_csv(data, infer_schema=False, has_header=True)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        # Find the line at fault with the (slower) standard reader.
        problems = _quote_problems(path, text, stray=True) or _csv_shape_problems(path, text, rows=True)
        if problems:
            return None, problems
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, [Problem(path, None, None, None, f"a well-formed CSV file ({first})")]
    return frame, []


def _separator_problems(path: str, text: str) -> list[Problem]:
    """A header split by ``;`` or tabs and not by commas: a spreadsheet
    saved the file with another separator."""
    end = text.find("\n")
    header = text if end < 0 else text[:end]
    if "," in header:
        return []
    for sign, name in ((";", "semicolon"), ("\t", "tab")):
        if sign in header:
            return [Problem(path, 1, None, None, f"comma-separated CSV; this file is {name}-separated: "
                                                 f"save it as comma-separated CSV (CSV UTF-8)")]
    return []


def _quote_problems(path: str, text: str, *, stray: bool = False) -> list[Problem]:
    """A quoted field never closed swallows every later line into one cell:
    name the line where the quote opens, not the end of the file. Only a
    file with an odd number of quote marks can have one, so others cost one
    count. With ``stray``, also name the first quote mark inside a field
    that does not begin with one (the CSV reader cannot read past it)."""
    if not stray and text.count('"') % 2 == 0:
        return []
    opened, stray_line = _quote_scan(text)
    if opened is not None:
        return [Problem(path, opened, None, None, "a closing quote for the quote opened on this line; left open, "
                                                  "it runs to the end of the file")]
    if stray and stray_line is not None:
        return [Problem(path, stray_line, None, None, "quote marks only around a whole field (write a quote mark "
                                                      "inside a field as \"\" and quote the field)")]
    return []


def _quote_scan(text: str) -> tuple[int | None, int | None]:
    """The line on which a quote opens that is still open at the end of
    ``text``, and the first line with a quote mark inside a field that does
    not begin with one. A quote opens a field only at the field's start;
    inside quotes, ``""`` is a quote mark."""
    in_quotes, opened, stray = False, None, None
    for number, line in enumerate(text.split("\n"), start=1):
        if not in_quotes and '"' not in line:
            continue
        field_start, i = not in_quotes, 0
        while i < len(line):
            char = line[i]
            if in_quotes:
                if char == '"':
                    if line.startswith('"', i + 1):
                        i += 1
                    else:
                        in_quotes = False
            elif char == '"':
                if field_start:
                    in_quotes, opened = True, number
                elif stray is None:
                    stray = number
            field_start = not in_quotes and char == ","
            i += 1
    return (opened if in_quotes else None), stray


def _csv_shape_problems(path: str, text: str, rows: bool) -> list[Problem]:
    """Repeated header names, and (with ``rows``) rows whose number of fields
    differs from the header's, each with its line number."""
    import csv
    import io as text_io

    problems = []
    # The header alone needs only the start of the file (a header longer
    # than a megabyte is not one).
    reader = csv.reader(text_io.StringIO(text if rows else text[: 1 << 20], newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        return problems
    seen = set()
    for name in header:
        if name.strip() in seen:
            problems.append(Problem(path, 1, name.strip(), None, "each column once in the header; it is repeated"))
        seen.add(name.strip())
    if not rows:
        return problems
    try:
        for row in reader:
            if row and len(row) != len(header):
                problems.append(Problem(path, reader.line_num, None, f"{len(row)} fields",
                                        f"{len(header)} fields, as in the header"))
                if len(problems) >= 50:
                    break
    except csv.Error as exc:
        problems.append(Problem(path, reader.line_num, None, None, f"well-formed CSV ({exc})"))
    return problems



def _raw_parquet(path: str, table: Table) -> tuple[pl.DataFrame | None, list[Problem]]:
    try:
        frame = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError, ValueError):
        return None, [Problem(path, None, None, None, "a readable Parquet file; this is not Parquet, or it is damaged "
                                                      "(a CSV file needs a .csv name)")]
    text, problems = text_cells(frame, table, source=path, rows=_row_numbers(frame.height, "parquet"))
    return (None if problems else text), problems


def _row_numbers(n: int, fmt: str) -> pl.Series:
    # CSV: the header is line 1, so data row i (0-based) is on line i + 2.
    start = 2 if fmt == "csv" else 1
    return pl.Series(ROW, range(start, start + n), dtype=pl.Int64)


def read_table(path: str | os.PathLike, table: Table, *, as_of: dt.date | None = None) -> CheckedTable:
    """Read one input file and check it against ``table``'s columns.

    Never raises for bad input: problems are returned in the result, each
    naming the file and its line (CSV) or row (Parquet).
    """
    path = str(path)
    unreadable = input_file_problem(path, f"{table.name} file")
    if unreadable is not None:
        return CheckedTable(path, None, [Problem(path, None, None, None, unreadable)])
    fmt = file_format(path)
    if fmt == "workbook":
        return _read_workbook(path, table, as_of)
    raw, problems = _raw_csv(path) if fmt == "csv" else _raw_parquet(path, table)
    if raw is None:
        return CheckedTable(path, None, problems)
    checked = check_table(raw, table, source=path, rows=_row_numbers(raw.height, fmt), as_of=as_of)
    checked.problems[:0] = problems
    return checked


def _read_workbook(path: str, table: Table, as_of: dt.date | None) -> CheckedTable:
    sheet = workbook.read_sheet(path, table)
    if sheet.frame is None:
        return CheckedTable(path, None, sheet.problems, sheet.warnings, sheet=sheet.name)
    raw, problems = text_cells(sheet.frame, table, source=path, rows=sheet.rows, sheet=sheet.name)
    problems = sheet.problems + problems
    if raw.width < sheet.frame.width:  # a column of a type the contract cannot read
        return CheckedTable(path, None, problems, sheet.warnings, sheet=sheet.name)
    checked = check_table(raw, table, source=path, rows=sheet.rows, as_of=as_of, sheet=sheet.name)
    checked.problems[:0] = problems
    checked.warnings[:0] = sheet.warnings
    return checked


def read_region(children: str | os.PathLike, households: str | os.PathLike, *,
                as_of: dt.date | None = None) -> RegionTables:
    """Read and validate both files; raise :class:`InputError` listing every
    problem in either file when anything is wrong."""
    return region_tables(read_table(children, CHILDREN, as_of=as_of), read_table(households, HOUSEHOLDS, as_of=as_of))
