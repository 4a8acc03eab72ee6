"""Counts a family finder reads first: children, units by size, households."""

from __future__ import annotations

import datetime as dt

import polars as pl

from matcher.files.read import RegionFiles
from matcher.units import build_units


def region_summary(region: RegionFiles, as_of: dt.date) -> dict:
    """Counts for ``matcher validate`` and the demo, as plain data."""
    kids, units = build_units(region.children, as_of)
    waiting_units = units.filter(pl.col("waiting"))
    by_size = {int(k): int(v) for k, v in waiting_units.group_by("size").len().sort("size").iter_rows()}
    homes = region.households
    return {
        "children": kids.height,
        "children_waiting": int((kids["status"] == "waiting").sum()),
        "units": units.height,
        "units_waiting": waiting_units.height,
        "waiting_units_by_size": by_size,
        "children_aged_5_plus_waiting": int(kids.filter((pl.col("status") == "waiting")
                                                         & (pl.col("age_months") >= 60)).height),
        "households": homes.height,
        "households_approved": int((homes["status"] == "approved").sum()),
        "households_vaa": int((homes["agency_type"] == "vaa").sum()),
    }


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
