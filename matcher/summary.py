"""Counts a family finder reads first: children, units by size, households."""

from __future__ import annotations

import datetime as dt

import polars as pl

from matcher.validation import RegionTables
from features.units import build_units


def region_summary(region: RegionTables, as_of: dt.date) -> dict:
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
        # approved households whose approving agency is a voluntary one
        "households_vaa": int(((homes["status"] == "approved") & (homes["agency_type"] == "vaa")).sum()),
    }
