"""``matcher demo``: a synthetic region end to end, for a first look."""

from __future__ import annotations

import datetime as dt
import os

import click

from .generate import generate_region
from .io import read_region, write_table
from .schema import CHILDREN, HOUSEHOLDS
from .summary import format_summary, region_summary

DEMO_CHILDREN = 400
DEMO_HOUSEHOLDS = 600


def run_demo(out: str, seed: int, as_of: dt.date) -> None:
    """Generate a region into ``out``, validate it and print what matcher
    finds; every file written is named at the end."""
    os.makedirs(out, exist_ok=True)
    kids, homes = generate_region(seed, DEMO_CHILDREN, DEMO_HOUSEHOLDS, as_of)
    children_path = os.path.join(out, "children.csv")
    households_path = os.path.join(out, "households.csv")
    write_table(kids, children_path, CHILDREN)
    write_table(homes, households_path, HOUSEHOLDS)
    click.echo(f"Synthetic region (seed {seed}, as of {as_of.isoformat()}) written to {out}/")
    region = read_region(children_path, households_path, as_of=as_of)
    click.echo("Validated against the contract:")
    click.echo(format_summary(region_summary(region, as_of)))
    click.echo("")
    click.echo(f"Files: {os.path.abspath(children_path)}")
    click.echo(f"       {os.path.abspath(households_path)}")
