"""Where the report goes: an ``.html`` file in an existing folder that is
none of the inputs, written atomically (temporary file, fsync, rename)."""

from __future__ import annotations

import os
from pathlib import Path

from matcher.errors import InputError, option_problem
from matcher.files.paths import output_file_problem
from matcher.files.write import FileSet, check_not_inputs

SUFFIXES = (".html", ".htm")


def plan_report(path: str | os.PathLike, inputs: dict[str, str | os.PathLike | None], option: str = "out") -> Path:
    """``path`` checked before any work: an input error naming ``option``
    when it is no ``.html`` file name, cannot be written, or is one of the
    ``inputs`` (role -> path; the same file through a link counts)."""
    value = os.fspath(path)
    out = Path(value)
    if out.suffix.lower() not in SUFFIXES:
        raise InputError(option_problem(option, value, "an .html file name"))
    unusable = output_file_problem(value)
    if unusable is not None:
        raise InputError(option_problem(option, value, unusable))
    check_not_inputs({"result": out}, inputs, value, option)
    return out


def write_report(html: str, path: str | os.PathLike) -> Path:
    """Write the report's HTML atomically; returns its path."""
    out = Path(path)
    with FileSet() as files:
        files.stage_text(html, out)
        files.commit()
    return out
