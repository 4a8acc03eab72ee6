"""Writing result files and the contract's tables: atomic, CSV or Parquet
by extension."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from features.contract import BOOL, CODES, DATE, Table
from matcher.files.read import file_format


def write_frame(frame: pl.DataFrame, path: Path) -> None:
    """Write CSV or Parquet by extension, via a temporary file, so that a
    reader never sees a half-written file. Lists are `;`-joined."""
    frame = frame.with_columns(pl.col(c).list.join(";") for c, t in frame.schema.items() if isinstance(t, pl.List))
    tmp = path.with_name(f".{path.name}.partial")
    try:
        if file_format(path) == "parquet":
            frame.write_parquet(tmp)
        else:
            frame.write_csv(tmp, null_value="")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


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
    path = Path(path)
    write_frame(_for_writing(frame, table, text=file_format(path) == "csv"), path)
