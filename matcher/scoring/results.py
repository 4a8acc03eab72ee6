"""Result frames in the contract's columns."""

from __future__ import annotations

import numpy as np
import polars as pl

from matcher.pool import run_all
from matcher.scoring.scorer import PairScores
from matcher.scoring.weights import FACTORS
from matcher.region import Region

# Pairs ordered at a time: a block of whole units this size sorts in cache.
ORDER_BLOCK = 1 << 16


def _bits(count: int) -> int:
    return max(1, int(count).bit_length())


def unit_blocks(units: np.ndarray, size: int | None = None) -> list[tuple[int, int]]:
    """``(start, stop)`` ranges of about ``size`` pairs (default
    ``ORDER_BLOCK``) that hold whole units, for pairs listed unit by unit
    (``units`` non-decreasing)."""
    size = size or ORDER_BLOCK
    n = len(units)
    if n == 0:
        return []
    # Each cut moves back to the first pair of the unit it falls in.
    cuts = np.searchsorted(units, units[np.arange(size, n, size)], side="left")
    bounds = np.unique(np.concatenate([[0], cuts, [n]]))
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


def table_order(units: np.ndarray, score: np.ndarray, household_rank: np.ndarray, workers: int = 2,
                block: int | None = None) -> np.ndarray:
    """The permutation that lists pairs by unit row, then score (high
    first), then household rank (the rank of its id): the scores table's
    order.

    Pairs come unit by unit (:func:`~matcher.scoring.queries.all_scores`),
    so each block of whole units is ordered on its own, in cache and in
    parallel, and the blocks are already in order one after another: no
    sort of the whole table. Within a block one packed int64 key (unit,
    score in 1e-4 points, household rank) is sorted; pairs that do not come
    unit by unit are ordered as one block.
    """
    n = len(units)
    order = np.empty(n, dtype=np.int64)
    if n == 0:
        return order
    by_unit = bool(np.all(units[1:] >= units[:-1]))
    blocks = unit_blocks(units, block) if by_unit else [(0, n)]
    rank_bits = _bits(int(household_rank.max()) if household_rank.size else 0)

    def run(bounds: tuple[int, int]) -> None:
        start, stop = bounds
        u = units[start:stop]
        ranks = household_rank[start:stop]
        # Scores are sums of whole 1e-4 points: the integer total orders them
        # exactly as the floats do, and higher score must come first.
        total = np.rint(score[start:stop] * 1e4).astype(np.int64)
        low_unit, top = int(u.min()), int(total.max())
        unit_bits = _bits(int(u.max()) - low_unit)
        score_bits = _bits(top - int(total.min()))
        if unit_bits + score_bits + rank_bits > 63:
            local = np.lexsort((ranks, -total, u))
        else:
            key = (u - low_unit) << (score_bits + rank_bits)
            key |= (top - total) << rank_bits
            key |= ranks
            local = np.argsort(key)  # keys are distinct: (unit, household) pairs are
        order[start:stop] = local + start

    run_all(run, blocks, workers if len(blocks) > 1 else 1)
    return order


def scores_frame(region: Region, scores: PairScores, workers: int = 2) -> pl.DataFrame:
    """``unit_id, household_id, score, weight`` and one column per factor,
    then ``fee`` and ``distance_km``; sorted by unit then score (high
    first) then household id (see :func:`table_order`)."""
    # Households are ordered by the rank of their id: integers, much faster
    # than comparing millions of strings.
    household_rank = np.argsort(np.argsort(region.household_arrays.household_ids, kind="stable"), kind="stable")
    order = table_order(scores.units, scores.score, household_rank[scores.households], workers)
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
