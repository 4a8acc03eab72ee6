"""Units: what is placed with one household (CONTRACT.md, "Words").

A ``together`` sibling group is one unit whose id is its
``sibling_group_id``; every other child (a single child, or a member of an
``apart`` group) is a unit of one whose id is its ``child_id``. Units are
sorted by ``unit_id`` so that every run sees them in the same order.
"""

from __future__ import annotations

import datetime as dt

import polars as pl


def age_in_months(date_of_birth: pl.Expr, as_of: dt.date) -> pl.Expr:
    """Whole calendar months completed at ``as_of``.

    A month is completed on the day of the month the child was born on; in
    a shorter month that has no such day, on the first of the next month (a
    child born on 31 January has completed one month on 1 March, not on
    28 February).
    """
    months = (as_of.year - date_of_birth.dt.year()) * 12 + (as_of.month - date_of_birth.dt.month())
    return (months - (date_of_birth.dt.day() > as_of.day).cast(pl.Int32)).cast(pl.Int32)


def unit_ids(children: pl.DataFrame) -> pl.Series:
    """The unit id of each child row, in row order."""
    return children.select(
        pl.when((pl.col("sibling_plan") == "together") & pl.col("sibling_group_id").is_not_null())
        .then(pl.col("sibling_group_id"))
        .otherwise(pl.col("child_id"))
        .alias("unit_id")
    ).to_series()


def build_units(children: pl.DataFrame, as_of: dt.date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Group validated children into units.

    Returns ``(children, units)``: the children frame with ``unit_id`` and
    ``age_months`` added, sorted by unit then child id, and one row per unit
    with ``unit_id``, ``child_ids`` (list, sorted), ``size``, ``agency_id``
    (the first child's, which pays any inter-agency fee), ``region``,
    ``sibling_group_id`` and ``waiting`` (every child in it is waiting).
    """
    kids = children.with_columns(
        unit_ids(children),
        age_in_months(pl.col("date_of_birth"), as_of).alias("age_months"),
    ).sort(["unit_id", "child_id"])
    units = (
        kids.group_by("unit_id", maintain_order=True)
        .agg(
            pl.col("child_id").alias("child_ids"),
            pl.len().cast(pl.Int64).alias("size"),
            pl.col("agency_id").first(),
            pl.col("region").first(),
            pl.col("sibling_group_id").first(),
            (pl.col("status") == "waiting").all().alias("waiting"),
        )
    )
    return kids, units
