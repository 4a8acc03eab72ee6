"""Validation of the contract's tables, from any source.

A source (a CSV or Parquet file, an in-memory polars frame, later the
store) hands over a table as text cells plus one row label per row (its line
number in a CSV file, its 1-based row elsewhere). The functions here parse
every column against its declaration in :mod:`features.contract`, then check
across columns, and return every problem with its source, row and column:
nothing here knows about files.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

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
from matcher.errors import InputError, Problem

ROW = "__row__"


@dataclass
class CheckedTable:
    """A table after validation: the typed frame (``None`` when it could not
    be read at all), its problems and its warnings."""

    source: str
    frame: pl.DataFrame | None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RegionTables:
    """Both validated tables of a region, typed, defaults filled."""

    children: pl.DataFrame
    households: pl.DataFrame
    warnings: tuple[str, ...] = ()


def as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column of a typed frame as text cells in the contract's form
    (dates ``YYYY-MM-DD``, booleans ``true``/``false``, lists ``;``-joined),
    so that typed sources are validated exactly like CSV text."""
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
    return frame.select(as_text)


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





def check_table(raw: pl.DataFrame, table: Table, *, source: str, rows: pl.Series,
                as_of: dt.date | None = None) -> CheckedTable:
    """Validate one table given as text cells.

    ``rows`` labels each row for messages (a CSV line number, or the 1-based
    row). Never raises for bad input: problems are returned in the result.
    The frame is typed (dates, numbers, booleans, lists) with defaults
    filled, and carries the row label in column ``__row__``.
    """
    path = source
    result = CheckedTable(source, None)
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

    raw = raw.with_columns(rows.alias(ROW))
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


def region_tables(children: CheckedTable, households: CheckedTable) -> RegionTables:
    """Both checked tables as a region's tables; an :class:`InputError`
    listing every problem in either when anything is wrong."""
    problems = children.problems + households.problems
    if problems:
        raise InputError(problems)
    assert children.frame is not None and households.frame is not None
    return RegionTables(children.frame, households.frame, tuple(children.warnings + households.warnings))


def tables_from_frames(children: pl.DataFrame, households: pl.DataFrame, *,
                       as_of: dt.date | None = None) -> RegionTables:
    """Validate in-memory frames (typed or text) exactly as files are;
    problems name the table (``children``, ``households``) and the 1-based
    row."""
    def check(frame: pl.DataFrame, table: Table) -> CheckedTable:
        rows = pl.Series(ROW, range(1, frame.height + 1), dtype=pl.Int64)
        return check_table(as_text(frame), table, source=table.name, rows=rows, as_of=as_of)

    return region_tables(check(children, CHILDREN), check(households, HOUSEHOLDS))
