"""Domain errors: bad input carries every problem found, each with a code and
where it is (a table or file, its row and column, or an option and its
value), the bad value and what was expected. No command-line words: the CLI
maps option names to its flags and errors to exit statuses."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

SHOWN_IN_MESSAGE = 50
"""Lines of problems a message shows (``matcher validate`` shows all)."""
SHOWN_PER_COLUMN = 20
"""Lines shown for one file and column before "and N more rows like this"."""
QUOTED_CHARS = 80
"""At most this much of a bad cell value is quoted."""
QUOTED_OPTION_CHARS = 4_352
"""An option's value (often a path, up to PATH_MAX) is quoted whole up to here."""

OPTIONS = "options"
"""The ``file`` of a problem with an option value rather than with a table."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file.

    ``row`` is the line number in a CSV file (the header is line 1) or the
    1-based row number in a Parquet file; ``None`` when the problem is with
    the file as a whole or with a column.
    """

    file: str
    row: int | None
    column: str | None
    value: str | None
    expected: str
    kind: str | None = None
    """What ``column`` names: "column" (the default for files), "option"
    (the default on the command line), or "key" (a TOML file)."""
    code: str = "invalid"
    """What kind of problem, for front ends: "invalid" (a bad cell or file),
    "bad_option", "unknown_id", "not_waiting", "infeasible"."""
    sheet: str | None = None
    """The sheet of a workbook the problem is on."""

    def where(self, row: bool = True) -> str:
        """File (and sheet), row and column, as messages name them."""
        where = self.file
        if self.sheet is not None:
            where += f", sheet {self.sheet}"
        if row and self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            kind = self.kind or ("option" if self.file in ("command line", OPTIONS) else "column")
            where += f", {kind} {self.column}"
        return where

    def __str__(self) -> str:
        limit = QUOTED_OPTION_CHARS if self.file in ("command line", OPTIONS) else QUOTED_CHARS
        got = "" if self.value is None else f": got {quoted(self.value, limit)}"
        return f"{self.where()}{got}; expected {name_options(self.expected)}"


def quoted(value: str, limit: int = QUOTED_CHARS) -> str:
    """A value as a message quotes it: at most ``limit`` characters of it,
    and its length when it is longer."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value):,} characters)"


def grouped_lines(problems: list[Problem], per_column: int = SHOWN_PER_COLUMN, render=str) -> list[str]:
    """One line per problem (``render(problem)``), but at most
    ``per_column`` for one file and column: the rest are counted on one
    line, "and N more rows like this", where the first of them would have
    been."""
    seen: Counter = Counter()
    lines: list[str | None] = []
    more_at: dict[tuple, int] = {}
    for p in problems:
        key = (p.file, p.sheet, p.column, p.kind)
        seen[key] += 1
        if seen[key] <= per_column:
            lines.append(render(p))
        elif key not in more_at:
            more_at[key] = len(lines)
            lines.append(None)
    for key, at in more_at.items():
        first = next(p for p in problems if (p.file, p.sheet, p.column, p.kind) == key)
        lines[at] = f"{first.where(row=False)}: and {seen[key] - per_column} more rows like this"
    return [line for line in lines if line is not None]


class InputError(Exception):
    """Bad input. The CLI prints it and exits with status 2."""

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem("input", None, None, None, problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__(self.render())

    def render(self, limit: int | None = SHOWN_IN_MESSAGE) -> str:
        """Every problem, one a line, at most :data:`SHOWN_PER_COLUMN` for
        one file and column; then at most ``limit`` lines."""
        grouped = grouped_lines(self.problems)
        lines = grouped if limit is None else grouped[:limit]
        rest = len(grouped) - len(lines)
        if rest > 0:
            lines.append(f"... and {rest} more lines of problems (matcher validate lists them all)")
        if len(self.problems) > 1:
            lines.insert(0, f"{len(self.problems)} problems found:")
        return "\n".join(lines)


OPTION_MENTION = re.compile(r"\{option:(\w+)\}")


def name_options(text: str, names=None) -> str:
    """Replace the ``{option:NAME}`` mentions in a message by each option's
    name in ``names`` (a front end's own, such as a CLI flag), or by NAME."""
    return OPTION_MENTION.sub(lambda m: (names or {}).get(m.group(1), m.group(1)), text)


def option_problem(option: str, value, expected: str, code: str = "bad_option") -> Problem:
    """A problem with the value of option ``option`` (its domain name, such
    as ``budgets`` or ``min_score``)."""
    return Problem(OPTIONS, None, option, None if value is None else str(value), expected, kind="option", code=code)


class LookupInputError(InputError):
    """An id asked about that the region does not hold, or that cannot be
    used (a child who is not waiting, say)."""

    def __init__(self, message: str, code: str = "unknown_id"):
        super().__init__(Problem(OPTIONS, None, None, None, message, code=code))

    def render(self, limit: int | None = SHOWN_IN_MESSAGE) -> str:
        return self.problems[0].expected


class SolverTimeout(RuntimeError):
    """The solver found no proposal within its time limit (not bad input).
    ``template`` names options as ``{option:NAME}`` for a front end to
    render; ``str()`` gives the domain's names."""

    def __init__(self, template: str):
        self.template = template
        super().__init__(name_options(template))


class LoginRefused(Exception):
    """A web login that did not succeed; ``locked`` when the account's
    limit of failed logins is reached (no password was checked then)."""

    def __init__(self, message: str, *, locked: bool = False, retry_after_s: int = 0):
        super().__init__(message)
        self.locked = locked
        self.retry_after_s = retry_after_s
