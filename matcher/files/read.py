"""Reading the contract's input files (CSV or Parquet).

A file is read as text cells with its line (CSV) or row (Parquet) numbers;
:mod:`matcher.validation` then checks it exactly as it checks any other
source. This module only adds file names and line numbers.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import polars as pl

from features.contract import CHILDREN, HOUSEHOLDS, Table
from matcher.errors import Problem
from matcher.files.paths import input_file_problem
from matcher.validation import ROW, CheckedTable, RegionTables, as_text, check_table, region_tables


def file_format(path: str | os.PathLike) -> str:
    """``"parquet"`` for a ``.parquet``/``.pq`` path, otherwise ``"csv"``."""
    suffix = Path(path).suffix.lower()
    return "parquet" if suffix in (".parquet", ".pq") else "csv"



def _raw_csv(path: str) -> tuple[pl.DataFrame | None, list[Problem]]:
    data = Path(path).read_bytes()
    if not data.strip():
        return None, [Problem(path, None, None, None, "a header row and data rows; the file is empty")]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        bad = data[exc.start : exc.start + 4]
        return None, [Problem(path, line, None, repr(bad)[2:-1], "UTF-8 text; found bytes that are not UTF-8")]
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    text = data.decode("utf-8")
    problems = _csv_shape_problems(path, text, rows=False)
    if problems:
        return None, problems
    try:
        frame = pl.read_csv(data, infer_schema=False, has_header=True)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        # Find the line at fault with the (slower) standard reader.
        problems = _csv_shape_problems(path, text, rows=True)
        if problems:
            return None, problems
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, [Problem(path, None, None, None, f"a well-formed CSV file ({first})")]
    return frame, []



def _csv_shape_problems(path: str, text: str, rows: bool) -> list[Problem]:
    """Repeated header names, and (with ``rows``) rows whose number of fields
    differs from the header's, each with its line number."""
    import csv
    import io as text_io

    problems = []
    reader = csv.reader(text_io.StringIO(text, newline=""))
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



def _raw_parquet(path: str) -> tuple[pl.DataFrame | None, list[Problem]]:
    try:
        frame = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, [Problem(path, None, None, None, f"a readable Parquet file ({first})")]
    return as_text(frame), []


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
    raw, problems = _raw_csv(path) if fmt == "csv" else _raw_parquet(path)
    if raw is None:
        return CheckedTable(path, None, problems)
    checked = check_table(raw, table, source=path, rows=_row_numbers(raw.height, fmt), as_of=as_of)
    checked.problems[:0] = problems
    return checked


def read_region(children: str | os.PathLike, households: str | os.PathLike, *,
                as_of: dt.date | None = None) -> RegionTables:
    """Read and validate both files; raise :class:`InputError` listing every
    problem in either file when anything is wrong."""
    return region_tables(read_table(children, CHILDREN, as_of=as_of), read_table(households, HOUSEHOLDS, as_of=as_of))
