"""What the terminal shows: rich tables, JSON and progress bars."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING

from matcher.api import counts_against, money

if TYPE_CHECKING:  # rich is loaded only when something is drawn: JSON output never needs it
    from rich.console import Console, Group
    from rich.table import Table

REASONS_MIN_WIDTH = 100
"""Below this many columns a table leaves out its reasons column and lists
the reasons under it instead."""
UNFITTED_WIDTH = 120
"""Width when no terminal is there to fit (output to a file or a pipe, and
no COLUMNS given)."""


def console() -> Console:
    """A console as wide as the terminal (or COLUMNS); ``UNFITTED_WIDTH``
    when there is no terminal at all."""
    from rich.console import Console

    if "COLUMNS" in os.environ:
        return Console()
    for descriptor in (1, 2, 0):
        try:
            if os.get_terminal_size(descriptor).columns:
                return Console()
        except (OSError, ValueError):
            continue
    return Console(width=UNFITTED_WIDTH)


def reasons_block(result: dict, against_shown: int | None = None, for_shown: int | None = None) -> Group:
    """A scored link's reasons: where it stands against the approval, then
    "what counts against" (the factor that lost most first) apart from
    "what counts for" (the factor that earned most first). ``against_shown``
    and ``for_shown`` keep only the first few of each."""
    from rich.console import Group
    from rich.text import Text

    details = result["reason_details"]
    # reasons[0] is the placement; the others follow reason_details one for one.
    text = dict(zip((d["factor"] for d in details), result["reasons"][1:]))
    against = [d for d in details if counts_against(d["points"], d["max_points"])]
    earned = [d for d in details if not counts_against(d["points"], d["max_points"])]
    parts = [Text(result["reasons"][0])]
    for heading, group, shown in (("what counts against:", against, against_shown),
                                  ("what counts for:", earned, for_shown)):
        if group:
            parts.append(Text(heading))
            parts.append(_list([text[d["factor"]] for d in group[:shown]], bullet="-"))
    return Group(*parts)


def print_rank(result: dict, against_shown: int = 3, for_shown: int = 2) -> None:
    """Print a rank result: score, the main reasons for and against, the
    fee, and any near misses, as wide as the terminal allows."""
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    out = console()
    if "household_id" in result and "unit_id" not in result:
        title = f"Best units for household {result['household_id']} ({result['eligible_units']} eligible)"
        first = "unit"
    else:
        title = (f"Best households for unit {result['unit_id']} ({', '.join(result['child_ids'])}); "
                 f"{result['eligible_households']} eligible")
        first = "household"
    if not result["results"]:
        _emit(out, Text(f"{title}: no eligible match"))
    else:
        with_reasons = out.width >= REASONS_MIN_WIDTH
        table = Table(title=Text(title), show_lines=with_reasons)
        table.add_column("#", justify="right")
        table.add_column(first)
        table.add_column("score", justify="right")
        if with_reasons:
            table.add_column("main reasons", ratio=1)
        table.add_column("fee", justify="right")
        reasons = []
        for i, r in enumerate(result["results"], 1):
            who = r.get("household_id") or f"{r['unit_id']} ({', '.join(r['child_ids'])})"
            block = reasons_block(r, against_shown, for_shown)
            fee = money(r["fee"]) if r["fee"] else "none"
            table.add_row(str(i), Text(who), f"{r['score']:.1f}", *([block] if with_reasons else []), fee)
            reasons.append((f"{i}. {who}", block))
        _emit(out, table)
        if not with_reasons:  # too narrow for a reasons column: each link's reasons under the table
            for heading, block in reasons:
                _emit(out, Text(heading))
                _emit(out, Padding(block, (0, 0, 0, 3), expand=False))
    for i, r in enumerate(result["results"], 1):
        for note in r.get("exploring", ()):
            _emit(out, Text(f"{i}. a link of unit {note['unit_id']} and household {note['household_id']} is being "
                            f"explored (since {note['since']}, by {note['by']})"))
    if "near_misses" in result:
        print_near_misses(result["near_misses"], f"Near misses for unit {result['unit_id']}", out)


def print_near_misses(near_misses, title: str, out: Console | None = None) -> None:
    """Households one hard rule away, marked as not eligible, with the rule
    and by how much."""
    from rich.table import Table
    from rich.text import Text

    out = out or console()
    if not near_misses:
        _emit(out, Text(f"{title}: none (no approved household breaks just one hard rule)"))
        return
    table = Table(title=Text(f"{title}: NOT eligible, each breaks one hard rule"))
    table.add_column("#", justify="right")
    table.add_column("household")
    table.add_column("not eligible because", ratio=1)
    for i, miss in enumerate(near_misses, 1):
        table.add_row(str(i), Text(miss["household_id"]),
                      Text(f"rule {miss['rule']}, {miss['rule_name']}: {miss['message']}"))
    _emit(out, table)


def print_why_not(result: dict) -> None:
    """Print a why-not answer: every broken rule by number and name, or the
    pair's score and its reasons."""
    from rich.padding import Padding
    from rich.text import Text

    out = console()
    who = f"unit {result['unit_id']} ({', '.join(result['child_ids'])}) and household {result['household_id']}"
    if result["eligible"]:
        _emit(out, Text(f"{who}: eligible, score {result['score']:.1f}"))
        _emit(out, Padding(reasons_block(result), (0, 0, 0, 2), expand=False))
    else:
        _emit(out, Text(f"{who}: not eligible"))
        _emit(out, Padding(_list([f"rule {v['rule']}, {v['rule_name']}: {v['message']}"
                                  for v in result["violations"]], bullet="-"), (0, 0, 0, 2), expand=False))


def _emit(out: Console, *renderables) -> None:
    """Print without the spaces rich pads lines with (the output may go to a
    file or a pipe)."""
    with out.capture() as captured:
        out.print(*renderables)
    sys.stdout.write("\n".join(line.rstrip() for line in captured.get().split("\n")))


def _list(lines: list[str], bullet: str) -> Table:
    """Lines under a bullet, each wrapped with a hanging indent."""
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 1, 0, 0))
    grid.add_column(no_wrap=True)
    grid.add_column()
    for line in lines:
        grid.add_row(bullet, Text(line))
    return grid


def dumps(data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


def progress_printer(total: int, label: str):
    """A callback taking a count of finished items, showing a progress bar
    on stderr when it is a terminal and doing nothing otherwise."""
    if not sys.stderr.isatty() or total <= 0:
        return None, None
    from rich.progress import Progress

    bar = Progress(transient=True)
    task = bar.add_task(label, total=total)
    bar.start()
    return (lambda n: bar.advance(task, n)), bar.stop


class StagedProgress:
    """A progress callback (``progress(n)`` advances the current bar) with
    ``stage(label, total)``, which ends the current bar and starts the next:
    the domain calls it where a command has more than one long stage
    (scoring, pruning, solving parts). Bars go to stderr."""

    def __init__(self, total: int, label: str):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=Console(stderr=True), transient=False)
        self.task = self.bar.add_task(label, total=total)
        self.bar.start()

    def __call__(self, n: int) -> None:
        self.bar.advance(self.task, n)

    def stage(self, label: str, total: int | None) -> None:
        current = next(t for t in self.bar.tasks if t.id == self.task)
        if current.completed:
            self.bar.stop_task(self.task)
        else:  # a stage that never started (the caller's first guess)
            self.bar.remove_task(self.task)
        self.task = self.bar.add_task(label, total=total)

    def stop(self) -> None:
        self.bar.stop()


def staged_progress_printer(total: int, label: str):
    """As :func:`progress_printer`, with stages (:class:`StagedProgress`):
    nothing unless stderr is a terminal."""
    if not sys.stderr.isatty() or total <= 0:
        return None, None
    progress = StagedProgress(total, label)
    return progress, progress.stop


def format_summary(counts: dict) -> str:
    """The summary as lines of text."""
    sizes = ", ".join(f"{n} of {k}" for k, n in counts["waiting_units_by_size"].items()) or "none"
    return "\n".join(
        [
            f"children:   {counts['children']} ({counts['children_waiting']} waiting, "
            f"{counts['children_aged_5_plus_waiting']} of them aged 5 or over)",
            f"units:      {counts['units']} ({counts['units_waiting']} waiting; waiting units by size: {sizes})",
            f"households: {counts['households']} ({counts['households_approved']} approved, "
            f"{counts['households_vaa']} of them by voluntary agencies)",
        ]
    )


def link_lines(link: dict) -> str:
    """A link and its history as lines to read."""
    lines = [f"link {link['unit_id']} ({', '.join(link['child_ids'])}) - {link['household_id']}: {link['state']}"]
    for event in link["history"]:
        who = event["who"] + (f" acting for {event['acting_for']}" if event["acting_for"] else "")
        start = event["from_state"] or "new"
        reason = f": {event['reason']}" if event["reason"] else ""
        lines.append(f"  {event['at']}  {event['action']} ({start} -> {event['to_state']}) by {who}{reason}")
    return "\n".join(lines)
