"""The ``matcher`` command line.

Each command imports what it needs inside its own body so that a quick query
(``rank``) does not pay for the solver or report libraries at start-up.
Bad input raises :class:`matcher.errors.InputError`; :func:`main` turns it
into one clear message on stderr and exit status 2. Any other failure exits
with status 1 and a one-line message (set ``MATCHER_DEBUG=1`` for the
traceback).
"""

from __future__ import annotations

import datetime as dt
import os
import sys

import click

from .errors import InputError, Problem


def _parse_date(value: str | None, option: str) -> dt.date:
    if value is None:
        return dt.date.today()
    try:
        if len(value) != 10:
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(Problem("command line", None, option, value, "a date YYYY-MM-DD")) from None


def region_options(func):
    """--children, --households and --as-of, shared by every file-mode command."""
    func = click.option("--as-of", "as_of", default=None, metavar="DATE",
                        help="Date ages and waits are measured at (YYYY-MM-DD; default today).")(func)
    func = click.option("--households", "households", required=True, metavar="FILE",
                        help="Households file (CSV or Parquet).")(func)
    func = click.option("--children", "children", required=True, metavar="FILE",
                        help="Children file (CSV or Parquet).")(func)
    return func


def load_region(children: str, households: str, as_of: str | None):
    """Read and validate both files; returns (RegionFiles, as_of date)."""
    from .io import read_region

    day = _parse_date(as_of, "--as-of")
    region = read_region(children, households, as_of=day)
    for warning in region.warnings:
        click.echo(f"warning: {warning}", err=True)
    return region, day


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="matcher")
def cli() -> None:
    """matcher: explainable family-finding matches for adoption agencies.

    People decide; matcher proposes and explains.
    """


@cli.command()
@region_options
def validate(children: str, households: str, as_of: str | None) -> None:
    """Check both files against the contract and print counts, or every
    problem found."""
    from .io import CHILDREN, HOUSEHOLDS, RegionFiles, read_table
    from .summary import format_summary, region_summary

    day = _parse_date(as_of, "--as-of")
    kids = read_table(children, CHILDREN, as_of=day)
    homes = read_table(households, HOUSEHOLDS, as_of=day)
    for warning in kids.warnings + homes.warnings:
        click.echo(f"warning: {warning}", err=True)
    problems = kids.problems + homes.problems
    if problems:
        error = InputError(problems)
        click.echo(error.render(limit=None), err=True)
        sys.exit(2)
    counts = region_summary(RegionFiles(kids.frame, homes.frame), day)
    click.echo("valid")
    click.echo(format_summary(counts))


@cli.command()
@click.option("--seed", type=int, required=True, help="Random seed; the same seed gives the same region.")
@click.option("--children", "n_children", type=int, required=True, help="Number of children.")
@click.option("--households", "n_households", type=int, required=True, help="Number of households.")
@click.option("--out", "out", required=True, metavar="DIR", help="Folder to write children and households to.")
@click.option("--as-of", "as_of", default=None, metavar="DATE", help="Date the region is drawn at (default today).")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True)
def generate(seed: int, n_children: int, n_households: int, out: str, as_of: str | None, fmt: str) -> None:
    """Write a synthetic region in the contract's format."""
    from .generate import generate_region
    from .io import write_table
    from .schema import CHILDREN, HOUSEHOLDS

    day = _parse_date(as_of, "--as-of")
    if n_children < 1 or n_households < 1:
        raise InputError(Problem("command line", None, "--children/--households",
                                 f"{n_children}/{n_households}", "at least one child and one household"))
    if os.path.exists(out) and not os.path.isdir(out):
        raise InputError(Problem("command line", None, "--out", out, "a folder; this is a file"))
    kids, homes = generate_region(seed, n_children, n_households, day)
    os.makedirs(out, exist_ok=True)
    write_table(kids, os.path.join(out, f"children.{fmt}"), CHILDREN)
    write_table(homes, os.path.join(out, f"households.{fmt}"), HOUSEHOLDS)
    click.echo(f"wrote {n_children} children and {n_households} households to {out}")


@cli.command()
@click.option("--out", "out", default="demo-output", show_default=True, metavar="DIR",
              help="Folder for the demo region and its report.")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--as-of", "as_of", default="2026-06-30", show_default=True, metavar="DATE")
def demo(out: str, seed: int, as_of: str) -> None:
    """Make a synthetic region, validate it and show what matcher does."""
    from .demo import run_demo

    run_demo(out, seed, _parse_date(as_of, "--as-of"))


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, map errors to exit statuses."""
    try:
        cli.main(args=argv, prog_name="matcher", standalone_mode=False)
    except InputError as error:
        click.echo(f"error: {error.render()}", err=True)
        return 2
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return 2
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback for users
        if os.environ.get("MATCHER_DEBUG"):
            raise
        click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
