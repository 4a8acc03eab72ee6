"""Result frames in the contract's columns."""

from __future__ import annotations

import numpy as np
import polars as pl

from matcher.scoring.scorer import PairScores
from matcher.scoring.weights import FACTORS
from matcher.region import Region


def scores_frame(region: Region, scores: PairScores) -> pl.DataFrame:
    """``unit_id, household_id, score, weight`` and one column per factor,
    then ``fee`` and ``distance_km``; sorted by unit then score (high
    first) then household."""
    # Sort on integer keys (units are already in unit_id order; households by
    # the rank of their id), then attach the ids: much faster than sorting
    # millions of strings.
    household_rank = np.argsort(np.argsort(region.household_arrays.household_ids, kind="stable"), kind="stable")
    keys = pl.DataFrame({"u": scores.units, "s": scores.score, "h": household_rank[scores.households]})
    order = keys.with_row_index().sort(["u", "s", "h"], descending=[False, True, False])["index"].to_numpy()
    # Typed columns, so that no pair at all still gives the contract's
    # columns and types (an empty result is a result).
    frame = pl.DataFrame({
        "unit_id": pl.Series(region.unit_arrays.unit_ids, dtype=pl.String).gather(scores.units[order]),
        "household_id": pl.Series(region.household_arrays.household_ids, dtype=pl.String).gather(
            scores.households[order]),
        "score": scores.score[order],
        "weight": scores.weight[order],
        **{name: scores.points[order, k] / 1e4 for k, name in enumerate(FACTORS)},
        "fee": scores.fee[order],
        "distance_km": scores.distance_km[order].round(2),
    }, schema=SCORES_SCHEMA)
    return frame


SCORES_SCHEMA = {
    "unit_id": pl.String, "household_id": pl.String, "score": pl.Float64, "weight": pl.Int64,
    **{name: pl.Float64 for name in FACTORS}, "fee": pl.Int64, "distance_km": pl.Float64,
}
