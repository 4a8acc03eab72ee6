"""Domain errors: bad input carries every problem found, each with a code and
where it is (a table or file, its row and column, or an option and its
value), the bad value and what was expected. No command-line words: the CLI
maps option names to its flags and errors to exit statuses."""

from __future__ import annotations

import re
from dataclasses import dataclass

SHOWN_IN_MESSAGE = 50

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

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            kind = self.kind or ("option" if self.file in ("command line", OPTIONS) else "column")
            where += f", {kind} {self.column}"
        got = "" if self.value is None else f": got {self.value!r}"
        return f"{where}{got}; expected {name_options(self.expected)}"


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
        shown = self.problems if limit is None else self.problems[:limit]
        lines = [str(p) for p in shown]
        rest = len(self.problems) - len(shown)
        if rest > 0:
            lines.append(f"... and {rest} more problems (matcher validate lists them all)")
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
    """The solver found no proposal within its time limit (not bad input)."""
