"""Result frames in the contract's columns."""

from __future__ import annotations

import polars as pl

from .scorer import PairScores
from .weights import FACTORS
from .world import World


def scores_frame(world: World, scores: PairScores) -> pl.DataFrame:
    """``unit_id, household_id, score, weight`` and one column per factor,
    then ``fee`` and ``distance_km``; sorted by unit then score (high
    first) then household."""
    frame = pl.DataFrame({
        "unit_id": world.unit_arrays.unit_ids[scores.units],
        "household_id": world.household_arrays.household_ids[scores.households],
        "score": scores.score,
        "weight": scores.weight,
        **{name: scores.contributions[:, k] for k, name in enumerate(FACTORS)},
        "fee": scores.fee,
        "distance_km": scores.distance_km.round(2),
    })
    return frame.sort(["unit_id", "score", "household_id"], descending=[False, True, False])
