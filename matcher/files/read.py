"""Reading and validating the contract's input files (CSV or Parquet).

Every cell is read as text first, then parsed column by column against
:mod:`matcher.schema`, so that one pass collects every problem in both files
before anything fails. Work is vectorised with polars; Python only touches
the rows that are wrong.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from matcher.errors import InputError, Problem
from features.contract import (
    BOOL,
    CHILDREN,
    CODE,
    CODES,
    DATE,
    FLOAT,
    HOUSEHOLDS,
    INT,
    NEEDS,
    STR,
    Column,
    Table,
)

ROW = "__row__"


@dataclass
class ReadResult:
    """A table read from one file: the typed frame (``None`` when the file
    could not be read at all), its problems and its warnings."""

    path: str
    frame: pl.DataFrame | None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RegionFiles:
    """Both validated tables of a region, typed, defaults filled."""

    children: pl.DataFrame
    households: pl.DataFrame
    warnings: tuple[str, ...] = ()


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
    as_text = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if isinstance(dtype, (pl.List, pl.Array)):
            expr = col.cast(pl.List(pl.String)).list.join(";")
        elif dtype == pl.Date:
            expr = col.dt.strftime("%Y-%m-%d")
        elif isinstance(dtype, pl.Datetime):  # pandas writes dates as timestamps
            expr = col.dt.date().dt.strftime("%Y-%m-%d")
        elif dtype == pl.Boolean:
            expr = pl.when(col).then(pl.lit("true")).when(~col).then(pl.lit("false")).otherwise(None)
        else:
            expr = col.cast(pl.String)
        as_text.append(expr.alias(name))
    return frame.select(as_text), []


def _parse(values: pl.Series, col: Column) -> tuple[pl.Series, pl.Series]:
    """Parse a text column. Returns the typed series and a mask of cells that
    are present but not valid."""
    present = values.is_not_null()
    if col.kind == STR:
        return values, pl.Series([False] * len(values))
    if col.kind == INT:
        number = values.cast(pl.Float64, strict=False)
        finite = number.is_not_null() & number.is_finite() & (number.abs() < 2**62)
        typed = pl.select(pl.when(finite).then(number).otherwise(None)).to_series().cast(pl.Int64, strict=False)
        bad = present & (~finite.fill_null(False) | (number != number.round(0)).fill_null(True))
    elif col.kind == FLOAT:
        typed = values.cast(pl.Float64, strict=False)
        bad = present & (typed.is_null() | typed.is_nan() | typed.is_infinite())
    elif col.kind == DATE:
        typed = values.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
        bad = present & (typed.is_null() | (values.str.len_chars() != 10))
    elif col.kind == BOOL:
        lowered = values.str.to_lowercase()
        typed = pl.Series(values.name, lowered == "true", dtype=pl.Boolean)
        typed = pl.select(pl.when(present).then(typed).otherwise(None)).to_series().alias(values.name)
        bad = present & ~lowered.is_in(["true", "false"])
    elif col.kind == CODE:
        typed = values
        bad = present & ~values.is_in(list(col.codes or ()))
    elif col.kind == CODES:
        typed = values.str.split(";").list.eval(pl.element().str.strip_chars()).list.eval(
            pl.element().filter(pl.element() != "")
        )
        allowed = list(col.codes or ())
        ok = typed.list.eval(pl.element().is_in(allowed)).list.all()
        bad = present & ~ok.fill_null(True)
    else:  # pragma: no cover - the schema only uses the kinds above
        raise ValueError(f"unknown column kind {col.kind!r}")
    if col.kind in (INT, FLOAT) and (col.lo is not None or col.hi is not None):
        out = pl.Series([False] * len(values))
        if col.lo is not None:
            out = out | (typed < col.lo).fill_null(False)
        if col.hi is not None:
            out = out | (typed > col.hi).fill_null(False)
        bad = bad | out
    return typed, bad.fill_null(False)


def _row_numbers(n: int, fmt: str) -> pl.Series:
    # CSV: the header is line 1, so data row i (0-based) is on line i + 2.
    start = 2 if fmt == "csv" else 1
    return pl.Series(ROW, range(start, start + n), dtype=pl.Int64)


def _report(problems: list[Problem], path: str, frame: pl.DataFrame, mask: pl.Series, column: str | None,
            expected: str, value_column: str | None = None) -> None:
    """Add one problem per row where ``mask`` holds."""
    if not mask.any():
        return
    picked = frame.filter(mask)
    rows = picked[ROW].to_list()
    source = value_column or column
    if source in picked.columns:
        values = picked[source]
        if isinstance(values.dtype, pl.List):
            values = values.list.join(";")
        values = values.cast(pl.String).to_list()
    else:
        values = [None] * len(rows)
    for row, value in zip(rows, values):
        problems.append(Problem(path, row, column, value, expected))


def read_table(path: str | os.PathLike, table: Table, *, as_of: dt.date | None = None) -> ReadResult:
    """Read one input file and check it against ``table``'s columns.

    Never raises for bad input: problems are returned in the result. The
    frame is typed (dates, numbers, booleans, lists) with defaults filled,
    and carries the source row number in column ``__row__``.
    """
    path = str(path)
    result = ReadResult(path, None)
    if not os.path.exists(path):
        result.problems.append(Problem(path, None, None, None, f"an existing {table.name} file; no such file"))
        return result
    if os.path.isdir(path):
        result.problems.append(Problem(path, None, None, None, f"a {table.name} file; this is a folder"))
        return result
    fmt = file_format(path)
    raw, problems = _raw_csv(path) if fmt == "csv" else _raw_parquet(path)
    result.problems.extend(problems)
    if raw is None:
        return result
    raw = raw.with_columns(pl.col(c).str.strip_chars().replace("", None) for c in raw.columns)
    known = set(table.names)
    for name in raw.columns:
        if name not in known:
            result.warnings.append(f"{path}: unknown column {name!r} ignored")
    missing = [c for c in table.required if c not in raw.columns]
    for name in missing:
        result.problems.append(Problem(path, None, name, None, f"a required column {name!r}; it is missing"))
    if raw.height == 0:
        result.problems.append(Problem(path, None, None, None, f"at least one {table.name} row; the file has none"))
    if result.problems:
        return result

    raw = raw.with_columns(_row_numbers(raw.height, fmt))
    typed_columns = []
    for col in table.columns:
        if col.name not in raw.columns:
            values = pl.Series(col.name, [None] * raw.height, dtype=pl.String)
        else:
            values = raw[col.name]
        typed, bad = _parse(values, col)
        _report(result.problems, path, raw, bad, col.name, col.expected())
        if col.name.endswith("_id"):
            # Ids appear inside ;-separated lists in output files.
            awkward = values.str.contains(r"[;\r\n]").fill_null(False)
            _report(result.problems, path, raw, awkward, col.name, "an id without ';' or line breaks")
        if col.required:
            _report(result.problems, path, raw, values.is_null(), col.name, f"a value ({col.expected()})")
        typed_columns.append(typed.alias(col.name))
    frame = pl.DataFrame(typed_columns).with_columns(raw[ROW])
    for col in table.columns:
        if col.unique:
            _check_duplicates(result.problems, path, frame, col.name)
    frame = frame.with_columns(pl.col(c.name).fill_null(c.default) for c in table.columns if c.default is not None)
    if table is CHILDREN:
        _check_children(result.problems, path, frame, as_of)
        frame = _child_defaults(frame)
    else:
        _check_households(result.problems, path, frame, as_of)
        frame = _household_defaults(frame)
    result.frame = frame
    return result


def _check_duplicates(problems: list[Problem], path: str, frame: pl.DataFrame, id_column: str) -> None:
    ids = frame[id_column]
    again = ids.is_not_null() & ~ids.is_first_distinct()
    _report(problems, path, frame, again, id_column, f"a unique {id_column}; this id appears on an earlier row")


def _check_children(problems: list[Problem], path: str, frame: pl.DataFrame, as_of: dt.date | None) -> None:
    dob, entered, po = frame["date_of_birth"], frame["entered_care_date"], frame["placement_order_date"]
    if as_of is not None:
        for column in ("date_of_birth", "entered_care_date", "placement_order_date"):
            _report(problems, path, frame, (frame[column] > as_of).fill_null(False), column,
                    f"a date on or before --as-of {as_of.isoformat()}")
    _report(problems, path, frame, (entered < dob).fill_null(False), "entered_care_date",
            "a date on or after date_of_birth")
    _report(problems, path, frame, (po < entered).fill_null(False), "placement_order_date",
            "a date on or after entered_care_date")
    has_bf_lat, has_bf_lon = frame["birth_family_lat"].is_not_null(), frame["birth_family_lon"].is_not_null()
    _report(problems, path, frame, has_bf_lat & ~has_bf_lon, "birth_family_lon",
            "a value, since birth_family_lat is given")
    _report(problems, path, frame, has_bf_lon & ~has_bf_lat, "birth_family_lat",
            "a value, since birth_family_lon is given")
    _report(problems, path, frame, frame["min_distance_km"].is_not_null() & ~(has_bf_lat & has_bf_lon),
            "min_distance_km", "a birth-family location (birth_family_lat, birth_family_lon) to keep it from")
    collides = frame["sibling_group_id"].is_in(frame["child_id"].drop_nulls().implode()).fill_null(False)
    _report(problems, path, frame, collides, "sibling_group_id",
            "a sibling_group_id that is not also a child_id (a together group's unit id is its sibling_group_id)")
    grouped = frame.filter(pl.col("sibling_group_id").is_not_null()).with_columns(
        pl.col("sibling_plan").fill_null("together").alias("__plan__")
    )
    if grouped.height:
        stats = grouped.group_by("sibling_group_id").agg(
            pl.len().alias("__n__"), pl.col("__plan__").n_unique().alias("__plans__")
        )
        grouped = grouped.join(stats, on="sibling_group_id", how="left").sort(ROW)
        _report(problems, path, grouped, grouped["__n__"] == 1, "sibling_group_id",
                "a sibling group of at least two children; no other child has this sibling_group_id",
                value_column="sibling_group_id")
        _report(problems, path, grouped, grouped["__plans__"] > 1, "sibling_plan",
                "the same sibling_plan for every member of the group (empty counts as together)",
                value_column="sibling_plan")


def _check_households(problems: list[Problem], path: str, frame: pl.DataFrame, as_of: dt.date | None) -> None:
    if as_of is not None:
        _report(problems, path, frame, (frame["approval_date"] > as_of).fill_null(False), "approval_date",
                f"a date on or before --as-of {as_of.isoformat()}")
    _report(problems, path, frame, (frame["min_children"] > frame["max_children"]).fill_null(False),
            "min_children", "min_children <= max_children")
    _report(problems, path, frame, (frame["min_age_months"] > frame["max_age_months"]).fill_null(False),
            "min_age_months", "min_age_months <= max_age_months")
    for need in NEEDS:
        low = (frame[f"consider_{need}"] < frame[f"accept_{need}"]).fill_null(False)
        _report(problems, path, frame, low, f"consider_{need}", f"consider_{need} >= accept_{need}")
    empty_sexes = frame["sexes"].is_not_null() & (frame["sexes"].list.len() == 0)
    _report(problems, path, frame, empty_sexes, "sexes", "at least one of F M")
    empty_eth = frame["ethnicities"].is_not_null() & (frame["ethnicities"].list.len() == 0)
    _report(problems, path, frame, empty_eth, "ethnicities", "at least one ethnicity code")


def _child_defaults(frame: pl.DataFrame) -> pl.DataFrame:
    """Defaults that depend on other columns (the plain ones come from the
    schema): a sibling plan is ``together`` only for children in a group."""
    return frame.with_columns(
        pl.when(pl.col("sibling_group_id").is_not_null())
        .then(pl.col("sibling_plan").fill_null("together"))
        .otherwise(None)
        .alias("sibling_plan"),
    )


def _household_defaults(frame: pl.DataFrame) -> pl.DataFrame:
    """Defaults that depend on other columns: consider defaults to accept;
    an empty can_promote is an empty list."""
    return frame.with_columns(
        *(pl.col(f"consider_{n}").fill_null(pl.col(f"accept_{n}")) for n in NEEDS),
        pl.col("can_promote").fill_null(pl.lit([], dtype=pl.List(pl.String))),
    )


def read_region(children: str | os.PathLike, households: str | os.PathLike, *,
                as_of: dt.date | None = None) -> RegionFiles:
    """Read and validate both files; raise :class:`InputError` listing every
    problem in either file when anything is wrong."""
    kids = read_table(children, CHILDREN, as_of=as_of)
    homes = read_table(households, HOUSEHOLDS, as_of=as_of)
    problems = kids.problems + homes.problems
    if problems:
        raise InputError(problems)
    assert kids.frame is not None and homes.frame is not None
    return RegionFiles(kids.frame, homes.frame, tuple(kids.warnings + homes.warnings))


def _for_writing(frame: pl.DataFrame, table: Table, *, text: bool) -> pl.DataFrame:
    """Contract columns in order; lists `;`-joined (the contract keeps lists
    in one cell in every format); dates and booleans as text for CSV only,
    so Parquet keeps its native types."""
    out = []
    for col in table.columns:
        expr = pl.col(col.name)
        if col.kind == CODES:
            expr = expr.list.join(";")
        elif not text:
            pass
        elif col.kind == BOOL:
            expr = pl.when(expr).then(pl.lit("true")).when(~expr).then(pl.lit("false")).otherwise(None)
        elif col.kind == DATE:
            expr = expr.dt.strftime("%Y-%m-%d")
        out.append(expr.alias(col.name))
    return frame.select(out)


def write_table(frame: pl.DataFrame, path: str | os.PathLike, table: Table) -> None:
    """Write a table in the contract's format (CSV or Parquet by extension),
    with the columns in the contract's order; written to a temporary file
    first so that a failure never leaves a half-written file behind."""
    from matcher.files.write import write_frame

    path = Path(path)
    write_frame(_for_writing(frame, table, text=file_format(path) == "csv"), path)
