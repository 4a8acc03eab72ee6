"""Waiting against the adoption scorecard thresholds, per agency.

For each waiting child (status ``waiting``; one row per child, a sibling
group's children each counted), at the as-of date:

- **days in care** = as-of date - ``entered_care_date`` (scorecard A1
  runs from entering care to placement: a waiting child is not yet placed,
  so this is the wait so far);
- **days since the placement order** = as-of date -
  ``placement_order_date`` (A2 runs from the order to the match); none for
  a child with no order yet.

A child is *over* a threshold when its days are strictly more than the
threshold (the weights' ``care_threshold_days``, 426 by default, and
``order_threshold_days``, 121). Agency: the child's own ``agency_id`` (the
responsible local authority).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from matcher.region import Region


@dataclass(frozen=True)
class AgencyWaiting:
    agency_id: str
    waiting_children: int
    with_order: int
    over_care: int
    over_order: int
    mean_care_days: float
    longest_care_days: int


@dataclass(frozen=True)
class ChildOver:
    """A waiting child over a threshold, by how many days."""

    child_id: str
    agency_id: str
    unit_id: str
    days: int
    over_by: int


@dataclass(frozen=True)
class Waiting:
    care_threshold_days: int
    order_threshold_days: int
    agencies: tuple[AgencyWaiting, ...]
    over_care: tuple[ChildOver, ...]  # longest over first, then child id
    over_order: tuple[ChildOver, ...]


def _days(column: str, as_of: dt.date) -> pl.Expr:
    return (pl.lit(as_of) - pl.col(column)).dt.total_days()


def waiting_against_scorecard(region: Region, care_threshold_days: float, order_threshold_days: float) -> Waiting:
    """Waiting children's days in care and since the placement order, per
    agency, and every child over each threshold."""
    kids = (region.children.filter(pl.col("status") == "waiting")
            .select("child_id", "agency_id", "unit_id", _days("entered_care_date", region.as_of).alias("care"),
                    _days("placement_order_date", region.as_of).alias("order")))
    care_t, order_t = int(care_threshold_days), int(order_threshold_days)
    agencies = []
    for agency in sorted(set(kids["agency_id"].to_list())):
        mine = kids.filter(pl.col("agency_id") == agency)
        agencies.append(AgencyWaiting(agency, mine.height, int(mine["order"].is_not_null().sum()),
                                      int((mine["care"] > care_threshold_days).sum()),
                                      int((mine["order"] > order_threshold_days).sum()),
                                      round(float(mine["care"].mean()), 1), int(mine["care"].max())))

    def over(column: str, threshold: float) -> tuple[ChildOver, ...]:
        late = kids.filter(pl.col(column) > threshold).sort([column, "child_id"], descending=[True, False])
        return tuple(ChildOver(c, a, u, int(d), int(d - threshold))
                     for c, a, u, d in late.select("child_id", "agency_id", "unit_id", column).iter_rows())

    return Waiting(care_t, order_t, tuple(agencies), over("care", care_threshold_days),
                   over("order", order_threshold_days))
