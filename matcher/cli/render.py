"""What the terminal shows: rich tables, JSON and progress bars."""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.table import Table

from matcher.api import money


def print_rank(result: dict, reasons: int = 3) -> None:
    """Print a rank result: score, the main reasons and the fee."""
    console = Console(width=max(120, Console().width))
    if "household_id" in result and "unit_id" not in result:
        title = f"Best units for household {result['household_id']} ({result['eligible_units']} eligible)"
        first = "unit"
    else:
        title = (f"Best households for unit {result['unit_id']} ({', '.join(result['child_ids'])}); "
                 f"{result['eligible_households']} eligible")
        first = "household"
    table = Table(title=title, show_lines=True)
    table.add_column("#", justify="right")
    table.add_column(first)
    table.add_column("score", justify="right")
    table.add_column("main reasons")
    table.add_column("fee", justify="right")
    for i, r in enumerate(result["results"], 1):
        who = r.get("household_id") or f"{r['unit_id']} ({', '.join(r['child_ids'])})"
        table.add_row(str(i), who, f"{r['score']:.1f}", "\n".join(r["reasons"][:reasons]),
                      money(r["fee"]) if r["fee"] else "none")
    if not result["results"]:
        console.print(f"{title}: no eligible match")
        return
    console.print(table)


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


def format_summary(counts: dict) -> str:
    """The summary as lines of text."""
    sizes = ", ".join(f"{n} of {k}" for k, n in counts["waiting_units_by_size"].items()) or "none"
    return "\n".join(
        [
            f"children:   {counts['children']} ({counts['children_waiting']} waiting, "
            f"{counts['children_aged_5_plus_waiting']} of them aged 5 or over)",
            f"units:      {counts['units']} ({counts['units_waiting']} waiting; waiting units by size: {sizes})",
            f"households: {counts['households']} ({counts['households_approved']} approved, "
            f"{counts['households_vaa']} approved by voluntary agencies)",
        ]
    )
