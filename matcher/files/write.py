"""Writing result files and printing results: atomic writes, tables, JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl

from matcher.errors import InputError, Problem
from matcher.files.read import file_format


def check_out_path(path: str, option: str = "--out") -> Path:
    """An output file path whose folder exists; an input error otherwise."""
    out = Path(path)
    if out.is_dir():
        raise InputError(Problem("command line", None, option, path, "a file path; this is a folder"))
    if not out.parent.exists():
        raise InputError(Problem("command line", None, option, path, f"a path in an existing folder; "
                                                                    f"{out.parent} does not exist"))
    if out.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise InputError(Problem("command line", None, option, path, "a .csv or .parquet file name"))
    return out


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


def dumps(data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


def progress_printer(total: int, label: str):
    """A callback taking a count of finished items, showing a progress bar
    on stderr when it is a terminal and doing nothing otherwise."""
    import sys

    if not sys.stderr.isatty() or total <= 0:
        return None, None
    from rich.progress import Progress

    bar = Progress(transient=True)
    task = bar.add_task(label, total=total)
    bar.start()
    return (lambda n: bar.advance(task, n)), bar.stop
