"""Rich tables for the terminal."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from matcher.scoring.explain import money


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
