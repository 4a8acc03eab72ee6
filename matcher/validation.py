"""Validation of the contract's tables, from any source.

A source (a CSV, Parquet or workbook file, an in-memory polars frame, later
the store) hands over a table as text cells plus one row label per row (its
line number in a CSV file, its 1-based row elsewhere, the spreadsheet's row
in a workbook). The functions here parse every column against its
declaration in :mod:`features.contract`, then check across columns, and
return every problem with its source, row and column: nothing here knows
about files.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

from features.contract import (
    ADULT_MONTHS,
    BOOL,
    BRITISH_ISLES,
    CHILDREN,
    CODE,
    CODES,
    DATE,
    EARLIEST_DATE,
    FLOAT,
    HOUSEHOLDS,
    ID_FORMULA_STARTS,
    ID_MAX_CHARS,
    INT,
    NEEDS,
    STR,
    Column,
    Table,
    id_key,
)
from features.units import age_in_months
from matcher.errors import InputError, Problem, grouped_lines

ROW = "__row__"
_KEY = "__key__"

WHOLE_NUMBER = r"^[+-]?\d+(?:\.0*)?$"
ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
DAY_FIRST_DATE = r"^\d{1,2}[/.]\d{1,2}[/.]\d{2,4}$"
SERIAL_DATE = r"^\d{1,6}(?:\.\d*)?$"
SCIENTIFIC = r"^[+-]?\d+(?:\.\d*)?[eE][+-]?\d+$"

ROWS_NAMED = 5
"""A message about many rows of a column names this many of them."""


@dataclass
class CheckedTable:
    """A table after validation: the typed frame (``None`` when it could not
    be read at all), its problems and its warnings."""

    source: str
    frame: pl.DataFrame | None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sheet: str | None = None


@dataclass(frozen=True)
class RegionTables:
    """Both validated tables of a region, typed, defaults filled."""

    children: pl.DataFrame
    households: pl.DataFrame
    warnings: tuple[str, ...] = ()


@dataclass
class _Sink:
    """Where problems go, and the source and sheet they name."""

    source: str
    sheet: str | None
    problems: list[Problem]

    def add(self, row: int | None, column: str | None, value: str | None, expected: str, **extra) -> None:
        self.problems.append(Problem(self.source, row, column, value, expected, sheet=self.sheet, **extra))

    def report(self, frame: pl.DataFrame, mask: pl.Series, column: str | None, expected: str,
               value_column: str | None = None) -> None:
        """One problem per row where ``mask`` holds."""
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
            self.add(row, column, value, expected)

    def report_once(self, frame: pl.DataFrame, mask: pl.Series, column: str, expected: str) -> None:
        """One problem for every row where ``mask`` holds, on the first of
        them, with the count and the first few rows: for a habit repeated
        down a column (dates written DD/MM/YYYY), one message, not one per
        cell."""
        if not mask.any():
            return
        picked = frame.filter(mask)
        rows = picked[ROW].to_list()
        named = ", ".join(str(r) for r in rows[:ROWS_NAMED])
        more = f" and {len(rows) - ROWS_NAMED} more" if len(rows) > ROWS_NAMED else ""
        count = f"1 row ({named})" if len(rows) == 1 else f"{len(rows)} rows ({named}{more})"
        self.add(rows[0], column, picked[column][0], expected.format(count=count))


# --- typed sources -----------------------------------------------------------------------------------------------

_SCALAR_TYPES = (pl.String, pl.Categorical, pl.Enum, pl.Null, pl.Boolean, pl.Date, pl.Datetime, pl.Decimal)
_CODE_TYPES = (pl.String, pl.Categorical, pl.Enum, pl.Null)


def _is_scalar(dtype: pl.DataType) -> bool:
    return dtype.is_numeric() or isinstance(dtype, _SCALAR_TYPES) or dtype in _SCALAR_TYPES


def _type_words(dtype: pl.DataType) -> str:
    """A column type as a family finder's IT colleague would name it."""
    if isinstance(dtype, (pl.List, pl.Array)):
        inner = dtype.inner
        if isinstance(inner, pl.Struct):
            return "map"
        if isinstance(inner, (pl.List, pl.Array)):
            return "nested list"
        return f"list of {_type_words(inner)}"
    if isinstance(dtype, pl.Struct):
        return "struct (record)"
    if isinstance(dtype, pl.Duration):
        return "duration"
    if dtype == pl.Time:
        return "time of day"
    if dtype == pl.Binary:
        return "binary"
    return str(dtype).lower()


def _readable(dtype: pl.DataType, col: Column) -> bool:
    """Whether a typed column can be read as the contract's column ``col``."""
    if isinstance(dtype, (pl.List, pl.Array)):
        inner = dtype.inner
        return col.kind == CODES and (isinstance(inner, _CODE_TYPES) or inner in _CODE_TYPES or inner.is_integer())
    return _is_scalar(dtype) or dtype == pl.Binary


def _kind_words(col: Column) -> str:
    return {STR: "text", INT: "whole numbers", FLOAT: "numbers", DATE: "dates", BOOL: "true/false values",
            CODE: "codes", CODES: "lists of codes"}[col.kind]


def _decode_binary(values: pl.Series) -> tuple[pl.Series | None, int | None]:
    """Binary cells as UTF-8 text; ``(None, index)`` of the first cell that
    is not UTF-8."""
    out = []
    for i, cell in enumerate(values.to_list()):
        if cell is None:
            out.append(None)
            continue
        try:
            out.append(cell.decode("utf-8"))
        except UnicodeDecodeError:
            return None, i
    return pl.Series(values.name, out, dtype=pl.String), None


def text_cells(frame: pl.DataFrame, table: Table, *, source: str, rows: pl.Series,
               sheet: str | None = None) -> tuple[pl.DataFrame, list[Problem]]:
    """A typed frame (Parquet, a workbook, in memory) as text cells in the
    contract's form (dates ``YYYY-MM-DD``, booleans ``true``/``false``, lists
    ``;``-joined), so that typed sources are validated exactly like CSV
    text. A column of the contract whose type cannot be read as its kind
    (nested lists, maps, durations, binary that is not UTF-8) is a problem;
    an unknown column is not read at all (``check_table`` warns about it).
    """
    sink = _Sink(source, sheet, [])
    known = {c.name: c for c in table.columns}
    out = []
    for name, dtype in frame.schema.items():
        col = known.get(name)
        values = frame[name]
        if col is None:
            out.append(pl.Series(name, [None] * frame.height, dtype=pl.String))
            continue
        if not _readable(dtype, col):
            sink.add(None, name, None, f"a column of {_kind_words(col)}; found a {_type_words(dtype)} column")
            continue
        if dtype == pl.Binary:
            values, bad = _decode_binary(values)
            if values is None:
                sink.add(int(rows[bad]), name, None, "UTF-8 text; found bytes that are not UTF-8")
                continue
        if col.kind == INT and dtype.is_float():
            values = _whole_floats(values)
        out.append(_as_text(values))
    return pl.DataFrame(out) if out else pl.DataFrame(), sink.problems


def _whole_floats(values: pl.Series) -> pl.Series:
    """Whole numbers held as floats (every number in a workbook, a Parquet
    float column) as the digits a person typed: 2.0 is "2"."""
    whole = (values == values.round(0)) & (values.abs() < 2.0**62)
    return pl.select(pl.when(whole).then(values.cast(pl.Int64, strict=False).cast(pl.String))
                     .otherwise(values.cast(pl.String)).alias(values.name)).to_series()


def _as_text(values: pl.Series) -> pl.Series:
    dtype = values.dtype
    if isinstance(dtype, (pl.List, pl.Array)):
        return values.cast(pl.List(pl.String)).list.join(";")
    if dtype == pl.Date:
        return values.dt.strftime("%Y-%m-%d")
    if isinstance(dtype, pl.Datetime):  # pandas writes dates as timestamps
        return values.dt.date().dt.strftime("%Y-%m-%d")
    if dtype == pl.Boolean:
        return pl.select(pl.when(values).then(pl.lit("true")).when(~values).then(pl.lit("false"))
                         .otherwise(None).alias(values.name)).to_series()
    return values.cast(pl.String)


def as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column of a typed frame as text cells in the contract's form
    (for columns whose types are known to be readable; sources use
    :func:`text_cells`, which checks the types first)."""
    return pl.DataFrame([_as_text(frame[name]) for name in frame.columns]) if frame.width else pl.DataFrame()


# --- one column --------------------------------------------------------------------------------------------------

def _parse(values: pl.Series, col: Column) -> tuple[pl.Series, list[tuple[pl.Series, str]]]:
    """Parse a text column. Returns the typed series and the cells that are
    present but not valid, as (mask, what was expected) pairs."""
    present = values.is_not_null()
    if col.kind == STR:
        return values, []
    checks: list[tuple[pl.Series, str]] = []
    if col.kind == INT:
        # Only digits with an optional sign (the cast takes nothing else),
        # or with a zero fraction as spreadsheets write whole numbers:
        # "1e-400" is not 0 and "2.5" is not 2.
        typed = values.cast(pl.Int64, strict=False)
        other = present & typed.is_null()
        if other.any():
            zero_fraction = other & values.str.contains(WHOLE_NUMBER).fill_null(False)
            number = values.str.replace(r"\.0*$", "").cast(pl.Int64, strict=False)
            typed = pl.select(pl.when(zero_fraction).then(number).otherwise(typed).alias(values.name)).to_series()
        checks.append((present & typed.is_null(), col.expected()))
    elif col.kind == FLOAT:
        typed = values.cast(pl.Float64, strict=False)
        checks.append((present & (typed.is_null() | typed.is_nan() | typed.is_infinite()), col.expected()))
    elif col.kind == DATE:
        shaped = values.str.contains(ISO_DATE).fill_null(False)
        parsed = values.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
        typed = pl.select(pl.when(shaped).then(parsed).otherwise(None).alias(values.name)).to_series()
        checks.append((present & typed.is_null(), col.expected()))
        checks.append(((typed < EARLIEST_DATE).fill_null(False),
                       f"a date from {EARLIEST_DATE.isoformat()} on"))
    elif col.kind == BOOL:
        lowered = values.str.to_lowercase()
        typed = pl.Series(values.name, lowered == "true", dtype=pl.Boolean)
        typed = pl.select(pl.when(present).then(typed).otherwise(None)).to_series().alias(values.name)
        checks.append((present & ~lowered.is_in(["true", "false"]), col.expected()))
    elif col.kind == CODE:
        typed = values
        checks.append((present & ~values.is_in(list(col.codes or ())), col.expected()))
    elif col.kind == CODES:
        typed = values.str.split(";").list.eval(pl.element().str.strip_chars()).list.eval(
            pl.element().filter(pl.element() != "")
        )
        allowed = list(col.codes or ())
        ok = typed.list.eval(pl.element().is_in(allowed)).list.all()
        checks.append((present & ~ok.fill_null(True), col.expected()))
    else:  # pragma: no cover - the schema only uses the kinds above
        raise ValueError(f"unknown column kind {col.kind!r}")
    if col.kind in (INT, FLOAT) and (col.lo is not None or col.hi is not None):
        out = pl.Series([False] * len(values))
        if col.lo is not None:
            out = out | (typed < col.lo).fill_null(False)
        if col.hi is not None:
            out = out | (typed > col.hi).fill_null(False)
        checks[0] = (checks[0][0] | out, checks[0][1])
    return typed, [(mask.fill_null(False), expected) for mask, expected in checks]


def _report_bad_dates(sink: _Sink, raw: pl.DataFrame, bad: pl.Series, col: Column) -> None:
    """Bad dates, with the two spreadsheet habits (DD/MM/YYYY, and dates as
    serial numbers) named once per column rather than once per cell."""
    values = raw[col.name]
    day_first = bad & values.str.contains(DAY_FIRST_DATE).fill_null(False)
    serial = bad & values.str.contains(SERIAL_DATE).fill_null(False)
    sink.report_once(raw, day_first, col.name,
                     "a date YYYY-MM-DD; {count} of this column are written like DD/MM/YYYY, as this one: "
                     "save the column's dates as YYYY-MM-DD (e.g. 2020-03-12 for 12 March 2020)")
    sink.report_once(raw, serial, col.name,
                     "a date YYYY-MM-DD; {count} of this column are numbers, as this one (a spreadsheet's "
                     "date serial number?): format the column's cells as dates, or write them YYYY-MM-DD")
    sink.report(raw, bad & ~day_first & ~serial, col.name, col.expected())


# --- ids ---------------------------------------------------------------------------------------------------------

def id_keys(ids: pl.Series) -> pl.Series:
    """Each id's comparison key (:func:`features.contract.id_key`): ASCII
    ids are only lower-cased; the rest go through Unicode NFKC and case
    folding one by one (there are few)."""
    lowered = ids.str.to_lowercase()
    unusual = ids.str.contains(r"[^\x00-\x7f]").fill_null(False)
    if not unusual.any():
        return lowered.alias(_KEY)
    keys = [id_key(v) for v in ids.filter(unusual).to_list()]
    at = unusual.arg_true()
    return lowered.scatter(at, pl.Series(keys, dtype=pl.String)).alias(_KEY)


def _check_id_text(sink: _Sink, raw: pl.DataFrame, values: pl.Series, name: str) -> None:
    """The id rules that look at one id alone."""
    # One pass finds the ids any rule below could refuse (most files: none).
    starts = "".join("\\" + c for c in ID_FORMULA_STARTS)
    odd = values.str.contains(rf"[;\p{{Cc}}]|^[{starts}0-9]").fill_null(False) \
        | (values.str.len_chars() > ID_MAX_CHARS).fill_null(False)
    if not odd.any():
        return
    separators = values.str.contains(r"[;\r\n]").fill_null(False)
    sink.report(raw, separators, name, "an id without ';' or line breaks")
    control = values.str.contains(r"\p{Cc}").fill_null(False) & ~separators
    sink.report(raw, control, name, "an id without control characters (such as a NUL byte or a tab)")
    sink.report(raw, (values.str.len_chars() > ID_MAX_CHARS).fill_null(False), name,
                f"an id of at most {ID_MAX_CHARS} characters")
    formula = values.str.starts_with(ID_FORMULA_STARTS[0])
    for start in ID_FORMULA_STARTS[1:]:
        formula = formula | values.str.starts_with(start)
    scientific = values.str.contains(SCIENTIFIC).fill_null(False)
    sink.report(raw, scientific, name,
                "an id as it was written; this looks like an id a spreadsheet turned into a number "
                "(written like 1.2E+05): format the column as text and enter the id again")
    sink.report(raw, formula.fill_null(False) & ~scientific, name,
                f"an id that does not begin with {', '.join(ID_FORMULA_STARTS[:-1])} or {ID_FORMULA_STARTS[-1]} "
                f"(ids are codes, and a spreadsheet would run this one as a formula)")
    # Zero-padded ids of digits beside shorter ones: a spreadsheet that took
    # the ids for numbers dropped the zeros of those it reformatted.
    digits = values.str.contains(r"^\d+$").fill_null(False)
    padded = digits & values.str.starts_with("0").fill_null(False)
    if padded.any():
        width = values.filter(padded).str.len_chars().max()
        lost = digits & ~padded & (values.str.len_chars() < width).fill_null(False)
        sink.report(raw, lost, name,
                    f"an id with its leading zeros: other ids in this column are {width} digits with leading "
                    f"zeros, so a spreadsheet likely dropped this one's (format the column as text)")


def _spellings(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """For each id key of column ``name``: the usual spelling (the most
    frequent; the earliest on a tie) and the first row it is on."""
    keyed = frame.select(pl.col(ROW), pl.col(name), id_keys(frame[name])).filter(pl.col(name).is_not_null())
    return (keyed.group_by(_KEY, name).agg(pl.len().alias("__n__"), pl.col(ROW).min().alias("__ref_row__"))
            .sort(["__n__", "__ref_row__"], descending=[True, False])
            .group_by(_KEY, maintain_order=True).first()
            .select(_KEY, pl.col(name).alias("__ref__"), "__ref_row__"))


def _check_duplicates(sink: _Sink, frame: pl.DataFrame, col: Column) -> None:
    """Ids written twice: exactly (in a column of unique ids), or differing
    from the usual spelling of the same id only in case, surrounding or
    zero-width spaces or Unicode form (:func:`features.contract.id_key`)."""
    name = col.name
    ids = frame[name]
    present = ids.is_not_null()
    exact = pl.Series([False] * frame.height)
    if col.unique:
        exact = present & ~ids.is_first_distinct()
        sink.report(frame, exact, name, f"a unique {name}; this id appears on an earlier row")
    if id_keys(ids).n_unique() == ids.n_unique():  # no two spellings of one id: the usual case
        return
    keyed = frame.select(pl.col(ROW), pl.col(name), id_keys(ids)).join(
        _spellings(frame, name), on=_KEY, how="left", maintain_order="left")
    differs = present & (keyed[name] != keyed["__ref__"]).fill_null(False) & ~exact
    what = f"a unique {name}" if col.unique else f"one spelling of each {name}"
    for row, value, ref, ref_row in keyed.filter(differs).select(ROW, name, "__ref__", "__ref_row__").iter_rows():
        sink.add(row, name, value, f"{what}; this is likely the same id as {ref!r} on row {ref_row} written twice "
                                   f"(they differ only in case, spaces or Unicode form)")


# --- across columns ----------------------------------------------------------------------------------------------

def _check_children(sink: _Sink, frame: pl.DataFrame, as_of: dt.date | None) -> None:
    dob, entered, po = frame["date_of_birth"], frame["entered_care_date"], frame["placement_order_date"]
    if as_of is not None:
        for column in ("date_of_birth", "entered_care_date", "placement_order_date"):
            sink.report(frame, (frame[column] > as_of).fill_null(False), column,
                        f"a date on or before {{option:as_of}} {as_of.isoformat()}")
        age = frame.select(age_in_months(pl.col("date_of_birth"), as_of)).to_series()
        adult = (frame["status"] == "waiting") & (age >= ADULT_MONTHS)
        sink.report(frame, adult.fill_null(False), "date_of_birth",
                    f"a waiting child under {ADULT_MONTHS // 12} at {{option:as_of}} {as_of.isoformat()}; "
                    f"this date of birth makes the child {ADULT_MONTHS // 12} or older")
    sink.report(frame, (entered < dob).fill_null(False), "entered_care_date", "a date on or after date_of_birth")
    sink.report(frame, (po < entered).fill_null(False), "placement_order_date",
                "a date on or after entered_care_date")
    has_bf_lat, has_bf_lon = frame["birth_family_lat"].is_not_null(), frame["birth_family_lon"].is_not_null()
    sink.report(frame, has_bf_lat & ~has_bf_lon, "birth_family_lon", "a value, since birth_family_lat is given")
    sink.report(frame, has_bf_lon & ~has_bf_lat, "birth_family_lat", "a value, since birth_family_lon is given")
    sink.report(frame, frame["min_distance_km"].is_not_null() & ~(has_bf_lat & has_bf_lon),
                "min_distance_km", "a birth-family location (birth_family_lat, birth_family_lon) to keep it from")
    collides = frame["sibling_group_id"].is_in(frame["child_id"].drop_nulls().implode()).fill_null(False)
    sink.report(frame, collides, "sibling_group_id",
                "a sibling_group_id that is not also a child_id (a together group's unit id is its sibling_group_id)")
    grouped = frame.filter(pl.col("sibling_group_id").is_not_null()).with_columns(
        pl.col("sibling_plan").fill_null("together").alias("__plan__")
    )
    if grouped.height:
        stats = grouped.group_by("sibling_group_id").agg(
            pl.len().alias("__n__"), pl.col("__plan__").n_unique().alias("__plans__")
        )
        grouped = grouped.join(stats, on="sibling_group_id", how="left").sort(ROW)
        sink.report(grouped, grouped["__n__"] == 1, "sibling_group_id",
                    "a sibling group of at least two children; no other child has this sibling_group_id",
                    value_column="sibling_group_id")
        sink.report(grouped, grouped["__plans__"] > 1, "sibling_plan",
                    "the same sibling_plan for every member of the group (empty counts as together)",
                    value_column="sibling_plan")


def _check_households(sink: _Sink, frame: pl.DataFrame, as_of: dt.date | None) -> None:
    if as_of is not None:
        sink.report(frame, (frame["approval_date"] > as_of).fill_null(False), "approval_date",
                    f"a date on or before {{option:as_of}} {as_of.isoformat()}")
    sink.report(frame, (frame["min_children"] > frame["max_children"]).fill_null(False),
                "min_children", "min_children <= max_children")
    sink.report(frame, (frame["min_age_months"] > frame["max_age_months"]).fill_null(False),
                "min_age_months", "min_age_months <= max_age_months")
    for need in NEEDS:
        low = (frame[f"consider_{need}"] < frame[f"accept_{need}"]).fill_null(False)
        sink.report(frame, low, f"consider_{need}", f"consider_{need} >= accept_{need}")
    empty_sexes = frame["sexes"].is_not_null() & (frame["sexes"].list.len() == 0)
    sink.report(frame, empty_sexes, "sexes", "at least one of F M")
    empty_eth = frame["ethnicities"].is_not_null() & (frame["ethnicities"].list.len() == 0)
    sink.report(frame, empty_eth, "ethnicities", "at least one ethnicity code")


LOCATIONS = {"children": (("lat", "lon"), ("birth_family_lat", "birth_family_lon")),
             "households": (("lat", "lon"),)}


def _location_warnings(frame: pl.DataFrame, table: Table, source: str, sheet: str | None) -> list[str]:
    """Locations outside the British Isles (a warning: the contract allows
    any place on Earth), saying so when swapping latitude and longitude
    would put the point inside."""
    south, north, west, east = BRITISH_ISLES
    area = f"the British Isles ({south:g}-{north:g} N, {-west:g} W-{east:g} E)"
    sink = _Sink(source, sheet, [])
    for lat_name, lon_name in LOCATIONS[table.name]:
        lat, lon = frame[lat_name], frame[lon_name]
        inside = lat.is_between(south, north) & lon.is_between(west, east)
        swapped = lon.is_between(south, north) & lat.is_between(west, east)
        on_earth = lat.is_between(-90, 90) & lon.is_between(-180, 180)  # else an error already
        outside = (on_earth & ~inside).fill_null(False)
        for row, y, x, swap in frame.select(ROW, lat_name, lon_name).with_columns(
                swapped.alias("__swapped__")).filter(outside).iter_rows():
            where = f"{y:g}, {x:g} is outside {area}"
            sink.add(row, f"{lat_name} and {lon_name}", None,
                     f"latitude and longitude look swapped ({where}; {x:g}, {y:g} is inside)" if swap else where,
                     kind="columns")
    return grouped_lines(sink.problems, render=lambda p: f"{p.where()}: {p.expected}")


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


def _swapped_table(raw: pl.DataFrame, table: Table) -> Table | None:
    """The other table, when ``raw`` has its id column and not ``table``'s:
    the children file given as the households file, or the reverse."""
    for other in (CHILDREN, HOUSEHOLDS):
        if other is not table and table.id_column not in raw.columns and other.id_column in raw.columns:
            return other
    return None


def check_table(raw: pl.DataFrame, table: Table, *, source: str, rows: pl.Series,
                as_of: dt.date | None = None, sheet: str | None = None) -> CheckedTable:
    """Validate one table given as text cells.

    ``rows`` labels each row for messages (a CSV line number, or the 1-based
    row). Never raises for bad input: problems are returned in the result.
    The frame is typed (dates, numbers, booleans, lists) with defaults
    filled, and carries the row label in column ``__row__``.
    """
    result = CheckedTable(source, None, sheet=sheet)
    sink = _Sink(source, sheet, result.problems)
    raw = raw.with_columns(pl.col(c).str.strip_chars().replace("", None) for c in raw.columns)
    other = _swapped_table(raw, table)
    if other is not None:
        sink.add(None, None, None,
                 f"a {table.name} file; this looks like a {other.name} file (it has {other.id_column} and no "
                 f"{table.id_column}): were {{option:{other.name}}} and {{option:{table.name}}} swapped?")
        return result
    known = set(table.names)
    where = source if sheet is None else f"{source}, sheet {sheet}"
    for name in raw.columns:
        if name not in known:
            result.warnings.append(f"{where}: unknown column {name!r} ignored")
    for name in (c for c in table.required if c not in raw.columns):
        sink.add(None, name, None, f"a required column {name!r}; it is missing")
    if raw.height == 0:
        sink.add(None, None, None, f"at least one {table.name} row; the file has none")
    if result.problems:
        return result

    raw = raw.with_columns(rows.alias(ROW))
    typed_columns = []
    for col in table.columns:
        if col.name not in raw.columns:
            values = pl.Series(col.name, [None] * raw.height, dtype=pl.String)
        else:
            values = raw[col.name]
        typed, checks = _parse(values, col)
        for i, (bad, expected) in enumerate(checks):
            if col.kind == DATE and i == 0:
                _report_bad_dates(sink, raw, bad, col)
            else:
                sink.report(raw, bad, col.name, expected)
        if col.is_id:
            _check_id_text(sink, raw, values, col.name)
        if col.required:
            sink.report(raw, values.is_null(), col.name, f"a value ({col.expected()})")
        typed_columns.append(typed.alias(col.name))
    frame = pl.DataFrame(typed_columns).with_columns(raw[ROW])
    for col in table.columns:
        if col.is_id:
            _check_duplicates(sink, frame, col)
    frame = frame.with_columns(pl.col(c.name).fill_null(c.default) for c in table.columns if c.default is not None)
    if table is CHILDREN:
        _check_children(sink, frame, as_of)
        frame = _child_defaults(frame)
    else:
        _check_households(sink, frame, as_of)
        frame = _household_defaults(frame)
    result.warnings.extend(_location_warnings(frame, table, source, sheet))
    result.frame = frame
    return result


def check_across(children: CheckedTable, households: CheckedTable) -> None:
    """Checks between the two tables, added to ``households``' problems: an
    agency id spelled otherwise than the children's usual spelling of the
    same id (case, spaces, Unicode form) is likely the same agency written
    twice, and would count as another agency for inter-agency fees. (Rows
    that differ from the households' own usual spelling are named already.)"""
    if children.frame is None or households.frame is None:
        return
    spellings = pl.concat([children.frame["agency_id"], households.frame["agency_id"]]).drop_nulls().unique()
    if id_keys(spellings).n_unique() == spellings.len():  # one spelling of each agency: the usual case
        return
    theirs = _spellings(children.frame, "agency_id")
    ours = _spellings(households.frame, "agency_id").rename({"__ref__": "__ours__"}).drop("__ref_row__")
    homes = households.frame.select(pl.col(ROW), pl.col("agency_id"), id_keys(households.frame["agency_id"]))
    clash = (homes.join(ours, on=_KEY, how="inner").join(theirs, on=_KEY, how="inner")
             .filter((pl.col("agency_id") == pl.col("__ours__")) & (pl.col("agency_id") != pl.col("__ref__")))
             .sort(ROW))
    sink = _Sink(households.source, households.sheet, households.problems)
    for row, value, ref, ref_row in clash.select(ROW, "agency_id", "__ref__", "__ref_row__").iter_rows():
        sink.add(row, "agency_id", value,
                 f"one spelling of each agency_id; this is likely the same agency as {ref!r} on row {ref_row} of "
                 f"{children.source} written differently (they differ only in case, spaces or Unicode form)")


def region_tables(children: CheckedTable, households: CheckedTable) -> RegionTables:
    """Both checked tables as a region's tables; an :class:`InputError`
    listing every problem in either when anything is wrong."""
    check_across(children, households)
    problems = children.problems + households.problems
    if problems:
        raise InputError(problems)
    assert children.frame is not None and households.frame is not None
    return RegionTables(children.frame, households.frame, tuple(children.warnings + households.warnings))


def check_frame(frame: pl.DataFrame, table: Table, *, as_of: dt.date | None = None) -> CheckedTable:
    """Validate one in-memory frame (typed or text) exactly as a file is;
    problems name the table (``children``, ``households``) and the 1-based
    row."""
    rows = pl.Series(ROW, range(1, frame.height + 1), dtype=pl.Int64)
    text, problems = text_cells(frame, table, source=table.name, rows=rows)
    if problems:
        return CheckedTable(table.name, None, problems)
    return check_table(text, table, source=table.name, rows=rows, as_of=as_of)


def tables_from_frames(children: pl.DataFrame, households: pl.DataFrame, *,
                       as_of: dt.date | None = None) -> RegionTables:
    """Validate in-memory frames (typed or text) exactly as files are;
    problems name the table (``children``, ``households``) and the 1-based
    row."""
    return region_tables(check_frame(children, CHILDREN, as_of=as_of), check_frame(households, HOUSEHOLDS, as_of=as_of))
