"""Writing result files and the contract's tables: CSV or Parquet by
extension, several files committed together, never half-written.

A command's files (its result, a summary, a manifest) are written as one
:class:`FileSet`: each to a temporary name in its own folder, flushed to the
disk (fsync), then renamed over its final name in the order they were
staged, then the folder itself is flushed. A failure before the renames
(a full disk, a folder that cannot be written) leaves every old file as it
was and no temporary behind; a kill leaves each file whole-old or whole-new,
and the next run in that folder removes the temporaries a killed run left.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from features.contract import BOOL, CODES, DATE, Table
from matcher.errors import InputError, option_problem
from matcher.files.paths import output_file_problem
from matcher.files.read import file_format

# --- CSV injection -------------------------------------------------------------------------------------------------

# A spreadsheet reads a cell that begins with one of these as a formula
# (OWASP, "CSV Injection"): such text cells get a leading single quote,
# which spreadsheets take as "this is text" and never evaluate.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_START = "^[" + re.escape("".join(FORMULA_STARTS)) + "]"


def neutralise_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text cell that a spreadsheet would take for a formula, with a
    single quote in front; numbers, dates and booleans untouched (a
    negative longitude stays a number)."""
    text = [name for name, dtype in frame.schema.items() if dtype in (pl.String, pl.Categorical) or
            isinstance(dtype, pl.Enum)]
    return frame.with_columns(
        pl.when(pl.col(name).cast(pl.String).str.contains(_FORMULA_START))
        .then(pl.lit("'") + pl.col(name).cast(pl.String))
        .otherwise(pl.col(name).cast(pl.String))
        .alias(name)
        for name in text
    )


# --- temporary files -----------------------------------------------------------------------------------------------

# Short and of fixed length whatever the final name, so a temporary name is
# never too long where the final name is not; the process id says whose it
# is, so a later run can tell a dead run's leftovers from a live run's files.
_TEMPORARY = re.compile(r"^\.matcher-(\d+)-[0-9a-f]{8}\.tmp$")


def _temporary_name(folder: Path) -> Path:
    return folder / f".matcher-{os.getpid()}-{secrets.token_hex(4)}.tmp"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_leftover_temporaries(folder: Path) -> list[Path]:
    """Remove the temporary files that runs which have since died (killed,
    say) left in ``folder``; returns what was removed."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        found = _TEMPORARY.match(name)
        if found and not _alive(int(found.group(1))):
            try:
                (folder / name).unlink()
                removed.append(folder / name)
            except FileNotFoundError:
                pass
    return removed


def sha256_of(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - a platform without folder handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse; the renames stand
        pass
    finally:
        os.close(fd)


def _for_csv(frame: pl.DataFrame) -> pl.DataFrame:
    """Lists `;`-joined (the contract keeps a list in one cell), then text
    that a spreadsheet would run as a formula neutralised."""
    frame = frame.with_columns(pl.col(c).list.join(";") for c, t in frame.schema.items() if isinstance(t, pl.List))
    return neutralise_formulas(frame)


class OutputNotWritten(RuntimeError):
    """A result could not be written (a full disk, say): not bad input.
    The message says which file and whether anything was changed."""


class FileSet:
    """Files that belong together, written all or nothing.

    Stage each file (its bytes go to a temporary name beside its final
    name and are flushed to the disk), then :meth:`commit` renames them in
    the order staged. Leaving the ``with`` block without committing removes
    the temporaries, so an error before the renames changes nothing.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with FileSet() as files:
    ...     _ = files.stage_text("hello\\n", folder / "a.txt")
    ...     files.commit()
    >>> (folder / "a.txt").read_text()
    'hello\\n'
    """

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path]] = []
        self._cleaned: set[Path] = set()
        self._done = False

    def __enter__(self) -> FileSet:
        return self

    def __exit__(self, *exc) -> None:
        self.discard()

    def _temporary(self, path: Path) -> Path:
        folder = path.parent
        if folder not in self._cleaned:
            remove_leftover_temporaries(folder)
            self._cleaned.add(folder)
        tmp = _temporary_name(folder)
        self._staged.append((tmp, path))
        return tmp

    def _finish(self, tmp: Path) -> str:
        _fsync_file(tmp)
        return sha256_of(tmp)

    def stage_frame(self, frame: pl.DataFrame, path: str | os.PathLike, compression: str = "zstd") -> str:
        """Stage a table as CSV (lists `;`-joined, formulas neutralised) or
        Parquet (values as they are, pages compressed with ``compression``),
        by ``path``'s extension; returns the SHA-256 of the bytes staged."""
        path = Path(path)
        try:
            tmp = self._temporary(path)
            if file_format(path) == "parquet":
                frame.write_parquet(tmp, compression=compression)
            else:
                _for_csv(frame).write_csv(tmp, null_value="")
            return self._finish(tmp)
        except OSError as error:
            raise self._failed(path, error) from None

    def stage_text(self, text: str, path: str | os.PathLike) -> str:
        """Stage a UTF-8 text file; returns the SHA-256 of its bytes."""
        path = Path(path)
        try:
            tmp = self._temporary(path)
            with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
            return self._finish(tmp)
        except OSError as error:
            raise self._failed(path, error) from None

    def stage_bytes(self, data: bytes, path: str | os.PathLike) -> str:
        """Stage a file of bytes (a picture, say); returns its SHA-256."""
        path = Path(path)
        try:
            tmp = self._temporary(path)
            with open(tmp, "wb") as handle:
                handle.write(data)
            return self._finish(tmp)
        except OSError as error:
            raise self._failed(path, error) from None

    def _failed(self, path: Path, error: OSError) -> OutputNotWritten:
        self.discard()
        return OutputNotWritten(f"could not write {path} ({error.strerror or error}); no file was changed")

    def commit(self) -> None:
        """Rename every staged file over its final name, in the order
        staged, then flush the folders."""
        for done, (tmp, path) in enumerate(self._staged):
            try:
                os.replace(tmp, path)
            except OSError as error:
                self._staged = self._staged[done:]
                self.discard()
                raise OutputNotWritten(f"could not replace {path} ({error.strerror or error}); "
                                       + (f"{done} file(s) before it were replaced, and the SHA-256 each records "
                                          "shows which belong together" if done else "no file was changed")
                                       ) from None
        for folder in sorted({path.parent for _, path in self._staged}):
            _fsync_folder(folder)
        self._done = True

    def discard(self) -> None:
        """Remove the temporaries of a set that was not committed."""
        if self._done:
            return
        for tmp, _ in self._staged:
            try:
                tmp.unlink()
            except FileNotFoundError:
                pass
        self._staged.clear()


def write_frame(frame: pl.DataFrame, path: str | os.PathLike) -> str:
    """Write one table, CSV or Parquet by extension, atomically (see
    :class:`FileSet`); returns its SHA-256."""
    with FileSet() as files:
        digest = files.stage_frame(frame, path)
        files.commit()
    return digest


# --- the contract's tables -----------------------------------------------------------------------------------------

def for_writing(frame: pl.DataFrame, table: Table, path: str | os.PathLike) -> pl.DataFrame:
    """Contract columns in order; lists `;`-joined (the contract keeps lists
    in one cell in every format); dates and booleans as text for CSV only,
    so Parquet keeps its native types."""
    text = file_format(path) == "csv"
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


def write_table(frame: pl.DataFrame, path: str | os.PathLike, table: Table) -> str:
    """Write a table in the contract's format (CSV or Parquet by extension),
    columns in the contract's order, atomically; returns its SHA-256."""
    return write_frame(for_writing(frame, table, path), path)


# --- where outputs go ----------------------------------------------------------------------------------------------

RESULT_SUFFIXES = (".csv", ".parquet", ".pq")


@dataclass(frozen=True)
class OutputPaths:
    """A result file and its companions: the summary (``X.csv.summary.txt``,
    when the command writes one) and the manifest (``X.manifest.json``)."""

    result: Path
    summary: Path | None
    manifest: Path

    @property
    def every(self) -> tuple[Path, ...]:
        return tuple(p for p in (self.result, self.summary, self.manifest) if p is not None)


def manifest_path(result: str | os.PathLike) -> Path:
    """``X.manifest.json`` beside ``X.csv`` or ``X.parquet`` (CONTRACT.md)."""
    result = Path(result)
    return result.with_name(result.stem + ".manifest.json")


def summary_path(result: str | os.PathLike) -> Path:
    """``X.csv.summary.txt`` beside ``X.csv`` (``X.parquet.summary.txt``
    beside ``X.parquet``): each result file has its own summary."""
    result = Path(result)
    return result.with_name(result.name + ".summary.txt")


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # pragma: no cover - no pathconf
        return 255


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths are one file: the same real path, or one file
    reached through a hard link (same device and inode)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return False


def check_not_inputs(paths: dict[str, Path], inputs: dict[str, str | os.PathLike | None], value: str,
                     option: str = "out") -> None:
    """An input error if any path to be written is one of the inputs, or
    an input's manifest (a result must never replace what it was made from,
    nor the record of how that was made)."""
    protected = [(f"{role} file", Path(given)) for role, given in inputs.items() if given is not None]
    protected += [(f"{role} file's manifest", manifest_path(given)) for role, given in inputs.items()
                  if given is not None]
    for what, path in paths.items():
        for role, given in protected:
            if _same_file(path, given):
                it = "it" if what == "result" else f"its {what} {path.name}"
                raise InputError(option_problem(option, value, f"a path that is not one of the inputs; {it} would "
                                                               f"replace the {role} {given}"))


def plan_output(path: str | os.PathLike, *, inputs: dict[str, str | os.PathLike | None], summary: bool,
                option: str = "out") -> OutputPaths:
    """Where a result and its companions go, checked before anything is
    read or computed: a ``.csv`` or ``.parquet`` file name in an existing
    folder, short enough for its companions' names, none of them a folder
    or one of the ``inputs`` (role -> path; the same real path or the same
    file through a link counts)."""
    value = os.fspath(path)
    out = Path(value)
    if out.suffix.lower() not in RESULT_SUFFIXES:
        raise InputError(option_problem(option, value, "a .csv or .parquet file name"))
    # A folder, a pipe, a path under a file; the companions' names are measured below.
    unusable = output_file_problem(value)
    if unusable is not None:
        raise InputError(option_problem(option, value, unusable))
    if not out.parent.exists():
        raise InputError(option_problem(option, value, f"a path in an existing folder; {out.parent} does not exist"))
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise InputError(option_problem(option, value, f"a path in a folder that can be written; {out.parent} "
                                                       "cannot"))
    paths = OutputPaths(out, summary_path(out) if summary else None, manifest_path(out))
    limit = _name_max(out.parent)
    longest = max(paths.every, key=lambda p: len(os.fsencode(p.name)))
    if len(os.fsencode(longest.name)) > limit:
        spare = limit - (len(os.fsencode(longest.name)) - len(os.fsencode(out.name)))
        raise InputError(option_problem(option, value, f"a file name of at most {spare} bytes, so that "
                                                       f"{longest.name[len(out.stem):]} fits beside it"))
    for what, p in (("result", out), ("summary", paths.summary), ("manifest", paths.manifest)):
        if p is not None and p.is_dir():
            it = "this" if what == "result" else f"its {what} {p}"
            raise InputError(option_problem(option, value, f"a file path; {it} is a folder"))
    check_not_inputs({k: v for k, v in (("result", out), ("summary", paths.summary), ("manifest", paths.manifest))
                      if v is not None}, inputs, value, option)
    return paths


def region_files(folder: str | os.PathLike, fmt: str = "csv") -> tuple[Path, Path]:
    """Where a region's two files go in ``folder``."""
    return Path(folder) / f"children.{fmt}", Path(folder) / f"households.{fmt}"


def region_folder_problem(folder: str | os.PathLike, *, replace: bool, made_by: str | None = None) -> str | None:
    """Why a region cannot be written into ``folder`` (it is a file, or it
    holds a region, CSV or Parquet, that ``made_by`` did not write, and
    ``replace`` is not given), or None."""
    from matcher.files.manifest import read_manifest

    folder_path = Path(folder)
    if folder_path.exists() and not folder_path.is_dir():
        return "a folder; this is a file"
    if replace or not folder_path.is_dir():
        return None

    def made_by_it(path: Path) -> bool:
        record = read_manifest(manifest_path(path))
        return record is not None and record.get("command") == made_by

    held = [p.name for fmt in ("csv", "parquet") for p in region_files(folder_path, fmt)
            if p.exists() and not (made_by and made_by_it(p))]
    if held:
        return (f"a folder that holds no region ({', '.join(held)} already there); give {{option:force}} to "
                "replace it")
    return None
