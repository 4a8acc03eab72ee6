"""Checks of the paths a user gives, made before anything is read or written.

Each check returns what was expected when the path cannot be used (a phrase
for :attr:`~matcher.errors.Problem.expected`, such as "a children file; this
is a folder"), or None when it can. The caller names the path the way its
problem should (a file, an option, a weights file's key), so the words here
are a family finder's, never a command line's.

Only regular files are read: a named pipe would block the reader forever and
a device never ends. A path whose name is longer than the file system allows
is reported as such rather than as missing.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

# The files generate and demo write in a folder ("households.parquet",
# "children.csv.manifest.json", ...) must fit in it: a folder's path keeps
# this many bytes spare for them.
ROOM_BESIDE = 32


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "a file"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _limits(folder: Path) -> tuple[int, int]:
    """The longest name and the longest path (in bytes) the file system
    holding ``folder`` allows."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX"), os.pathconf(folder, "PC_PATH_MAX")
    except (OSError, ValueError):
        return 255, 4096


def _nearest_existing(path: Path) -> Path:
    """The closest ancestor of ``path`` that exists (or is a dangling name
    the system refuses to look past)."""
    for parent in path.parents:
        try:
            os.lstat(parent)
            return parent
        except OSError:
            continue
    return Path(".")


def _too_long(path: Path, room: int = 0) -> str | None:
    """Why ``path`` is too long for its file system (each name, with
    ``room`` bytes to spare, and the whole path), or None."""
    name_max, path_max = _limits(_nearest_existing(path.absolute()))
    for part in path.parts:
        size = len(os.fsencode(part))
        if size + room > name_max:
            shown = part if len(part) <= 40 else part[:37] + "..."
            return f"the name {shown!r} is too long: {size:,} bytes, at most {name_max - room:,}"
    size = len(os.fsencode(str(path.absolute())))
    if size + room > path_max:
        return f"the path is too long: {size:,} bytes, at most {path_max - room:,}"
    return None


def _file_under_a_file(path: Path) -> Path | None:
    """The ancestor of ``path`` that is a file rather than a folder, if any."""
    for parent in reversed(path.parents):
        try:
            if not stat.S_ISDIR(os.stat(parent).st_mode):
                return parent
        except OSError:
            return None
    return None


def input_file_problem(path: str | os.PathLike, what: str) -> str | None:
    """Why ``path`` cannot be read as ``what`` (say "children file"), or
    None when it is an existing regular file."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG or _too_long(path):
            return f"a {what} the file system can hold; {_too_long(path) or 'the name is too long'}"
        if exc.errno == errno.ENOTDIR:
            holder = _file_under_a_file(path)
            return f"a {what}; {holder or path.parent} is a file, not a folder"
        if exc.errno == errno.EACCES:
            return f"a {what} that can be read; permission denied"
        if exc.errno == errno.ELOOP:
            return f"a {what}; its symbolic links loop"
        return f"an existing {what}; no such file"
    if not stat.S_ISREG(mode):
        return f"a {what}; this is {_kind(mode)}"
    return None


def _mode(path: Path) -> tuple[int | None, str | None]:
    """``path``'s file mode (None when nothing is there yet), or why it
    cannot be looked at."""
    try:
        return os.stat(path).st_mode, None
    except OSError as exc:
        if exc.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG):
            return None, exc.strerror
        return None, None


def output_file_problem(path: str | os.PathLike) -> str | None:
    """Why a result cannot be written to ``path`` (an existing folder, a
    named pipe, a path under a file or in a missing folder, a path too long
    for the file system), or None. The names of the files written beside it
    are measured by :func:`matcher.files.write.plan_output`."""
    path = Path(path)
    mode, unusable = _mode(path)
    if unusable:
        return f"a file path that can be used ({unusable})"
    if mode is not None and stat.S_ISDIR(mode):
        return "a file path; this is a folder"
    if mode is not None and not stat.S_ISREG(mode):
        return f"a regular file path; this is {_kind(mode)}"
    holder = _file_under_a_file(path)
    if holder is not None:
        return f"a path in an existing folder; {holder} is a file, not a folder"
    too_long = _too_long(path)
    if too_long:
        return f"a path the file system can hold; {too_long}"
    if not path.parent.exists():
        return f"a path in an existing folder; {path.parent} does not exist"
    return None


def output_folder_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` cannot be (made into) a folder to write files in: it is
    a file or a named pipe, it lies under a file, or a name is too long."""
    path = Path(path)
    mode, unusable = _mode(path)
    if unusable:
        return f"a folder that can be used ({unusable})"
    if mode is not None:
        return None if stat.S_ISDIR(mode) else f"a folder; this is {_kind(mode)}"
    holder = _file_under_a_file(path / "x")
    if holder is not None:
        return f"a folder that can be made; {holder} is a file, not a folder"
    # Room for the names of the files written inside it.
    too_long = _too_long(path / ("x" * ROOM_BESIDE))
    if too_long:
        return f"a folder the file system can hold with the files written in it; {too_long}"
    return None
