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
    return _ordered_blocks(units, score, household_rank, workers, block)[0]


def _ordered_blocks(units, score, household_rank, workers, block):
    n = len(units)
    order = np.empty(n, dtype=np.int64)
    if n == 0:
        return order, []
    by_unit = bool(np.all(units[1:] >= units[:-1]))
    blocks = unit_blocks(units, block) if by_unit else [(0, n)]
    rank_bits = _bits(int(household_rank.max()))

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
    return order, blocks


def _gathered(columns: list[tuple[np.ndarray, float | None]], order: np.ndarray, blocks, workers: int
              ) -> list[np.ndarray]:
    """Each column taken in ``order`` (divided by its divisor if any), block
    by block: a block's order only points inside the block, so each block
    gathers from memory in cache, and blocks run in parallel."""
    outs = [np.empty(len(order), dtype=np.float64 if divisor else column.dtype) for column, divisor in columns]

    def run(bounds: tuple[int, int]) -> None:
        start, stop = bounds
        at = order[start:stop] if len(blocks) > 1 else order
        for (column, divisor), out in zip(columns, outs):
            if divisor:
                np.divide(np.take(column, at), divisor, out=out[start:stop])
            else:
                np.take(column, at, out=out[start:stop])

    run_all(run, blocks, workers if len(blocks) > 1 else 1)
    return outs


def scores_frame(region: Region, scores: PairScores, workers: int = 2) -> pl.DataFrame:
    """``unit_id, household_id, score, weight`` and one column per factor,
    then ``fee`` and ``distance_km``; sorted by unit then score (high
    first) then household id (see :func:`table_order`)."""
    # Households are ordered by the rank of their id: integers, much faster
    # than comparing millions of strings.
    household_rank = np.argsort(np.argsort(region.household_arrays.household_ids, kind="stable"), kind="stable")
    order, blocks = _ordered_blocks(scores.units, scores.score, household_rank[scores.households], workers, None)
    columns = [(scores.units, None), (scores.households, None), (scores.score, None), (scores.weight, None),
               *((scores.points[:, k], 1e4) for k in range(len(FACTORS))),
               (scores.fee, None), (scores.distance_km, None)]
    units, households, score, weight, *factors, fee, distance_km = _gathered(columns, order, blocks, workers)
    # Typed columns, so that no pair at all still gives the contract's
    # columns and types (an empty result is a result).
    frame = pl.DataFrame({
        "unit_id": pl.Series(region.unit_arrays.unit_ids, dtype=pl.String).gather(units),
        "household_id": pl.Series(region.household_arrays.household_ids, dtype=pl.String).gather(households),
        "score": score,
        "weight": weight,
        **dict(zip(FACTORS, factors)),
        "fee": fee,
        "distance_km": distance_km.round(2),
    }, schema=SCORES_SCHEMA)
    return frame


SCORES_SCHEMA = {
    "unit_id": pl.String, "household_id": pl.String, "score": pl.Float64, "weight": pl.Int64,
    **{name: pl.Float64 for name in FACTORS}, "fee": pl.Int64, "distance_km": pl.Float64,
}
