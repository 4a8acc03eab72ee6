"""One error type for bad input: it carries every problem found, each naming
the file, the row, the column, the bad value and what was expected."""

from __future__ import annotations

from dataclasses import dataclass

SHOWN_IN_MESSAGE = 50


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

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            kind = self.kind or ("option" if self.file == "command line" else "column")
            where += f", {kind} {self.column}"
        got = "" if self.value is None else f": got {self.value!r}"
        return f"{where}{got}; expected {self.expected}"


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


class LookupInputError(InputError):
    """An id given on the command line that the files do not hold, or that
    cannot be used (a child who is not waiting, say)."""

    def __init__(self, message: str):
        super().__init__(Problem("command line", None, None, None, message))

    def render(self, limit: int | None = SHOWN_IN_MESSAGE) -> str:
        return self.problems[0].expected
