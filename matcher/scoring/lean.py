"""What ``propose`` keeps of every eligible pair: 32 bytes a pair.

:func:`~matcher.scoring.queries.all_scores` keeps each pair's ten factor
contributions, its distance, fee, score and weight (about 88 bytes a pair,
and as much again in temporaries). A proposal needs far less of the pairs
it does not choose: which unit and household (int64 each: the solver takes
them as they are, without a copy), the link weight it maximises (int64),
the fee a budget counts (int32) and the score a minimum score compares
(int32, the sum of the rounded contributions in units of 1e-4, so
``score`` is exactly the scorer's). :func:`lean_scores` scores the pairs
block by block of units and keeps only these; the chosen pairs are scored
again in full (:func:`~matcher.scoring.scorer.score_pairs`, which scores
each pair on its own, so the figures are the same to the bit) for the
links' distances and reasons.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.eligibility import eligible

from matcher.pool import run_all
from matcher.region import Region
from matcher.scoring.scorer import PairScores, score_pairs
from matcher.scoring.weights import Weights

BYTES_PER_PAIR = 8 + 8 + 8 + 4 + 4
"""What a :class:`LeanPairs` holds per pair (units, households, weight,
fee, score points)."""

BLOCK_PAIRS = 2_000_000
"""Candidate (unit x household) cells per block: a block's full scores
(about 100 bytes an eligible pair, with temporaries) stay a few tens of
MiB whatever the region's size."""


@dataclass(frozen=True)
class LeanPairs:
    """Every eligible pair, unit by unit and households ascending (as
    :func:`~matcher.scoring.queries.all_scores` lists them), with what a
    proposal needs of each. Reads like a :class:`PairScores` for
    ``units``, ``households``, ``weight``, ``fee`` and ``score``."""

    units: np.ndarray  # int64 unit row per pair
    households: np.ndarray  # int64 household row per pair
    weight: np.ndarray  # int64, the coefficient propose maximises
    fee: np.ndarray  # int32 inter-agency fee
    score_points: np.ndarray  # int32 score in units of 1e-4 (the sum of the rounded contributions)

    def __len__(self) -> int:
        return len(self.units)

    @property
    def score(self) -> np.ndarray:
        """(n,) float64 score, exactly the scorer's (computed on each read:
        index it once, or use :meth:`score_of`)."""
        return self.score_points / 1e4

    def score_of(self, at) -> np.ndarray | float:
        """The score of the pairs at positions ``at``."""
        return self.score_points[at] / 1e4

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.units, self.households, self.weight, self.fee, self.score_points))

    def full(self, region: Region, weights: Weights, at: np.ndarray) -> PairScores:
        """Full scores (contributions, distances) of the pairs at positions ``at``."""
        at = np.asarray(at, dtype=np.int64)
        return score_pairs(region.unit_arrays, region.household_arrays, self.units[at], self.households[at], weights,
                           workers=1, cache=region.cache)


def lean_of(scores: PairScores) -> LeanPairs:
    """The lean table of full scores (for tests and small callers)."""
    return LeanPairs(np.asarray(scores.units, np.int64), np.asarray(scores.households, np.int64),
                     np.asarray(scores.weight, np.int64), np.asarray(scores.fee).astype(np.int32),
                     np.rint(np.asarray(scores.score) * 1e4).astype(np.int32))


def lean_scores(region: Region, weights: Weights, unit_rows: np.ndarray | None = None, workers: int = 2,
                progress=None) -> LeanPairs:
    """The same pairs as :func:`~matcher.scoring.queries.all_scores`, in the
    same order, with the same weights, fees and scores, kept lean: peak
    memory is :data:`BYTES_PER_PAIR` a pair plus a few blocks, instead of
    the full table and its temporaries. On Dask (inside a
    :func:`matcher.scoring.distributed.session`) the blocks are scored on
    the cluster and gathered whole, then made lean: the same table."""
    from matcher.scoring import distributed

    runner = distributed.active()
    if runner is not None:
        return lean_of(runner.all_scores(region, weights, unit_rows, progress))
    rows = region.waiting_unit_rows if unit_rows is None else np.asarray(unit_rows, dtype=np.int64)
    tables = region.tables
    n_households = tables.n_households
    per_block = max(1, BLOCK_PAIRS // max(1, n_households))
    blocks = [rows[i:i + per_block] for i in range(0, len(rows), per_block)]
    # The per-unit and per-household quantities, built once (and cached)
    # before the threads share them.
    score_pairs(region.unit_arrays, region.household_arrays, np.zeros(0, np.int64), np.zeros(0, np.int64), weights,
                workers=1, cache=region.cache)

    def pairs_of(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        flat = np.flatnonzero(eligible(region.unit_arrays, block, tables))
        u = flat // n_households
        h = flat - u * n_households
        u = block[u]
        kept = ~region.excluded_mask(u, h)
        return u[kept], h[kept]

    # Two passes: count each block's pairs, then score each block straight
    # into its slice of the table. Eligibility runs twice (a small share of
    # the time), and the peak is the table plus a block or two in flight,
    # not the table twice over (blocks kept, then concatenated).
    counts = run_all(lambda block: len(pairs_of(block)[0]), blocks, workers)
    offsets = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
    n = int(offsets[-1])
    table = LeanPairs(np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int32),
                      np.empty(n, np.int32))

    def run(k: int) -> None:
        u, h = pairs_of(blocks[k])
        full = score_pairs(region.unit_arrays, region.household_arrays, u, h, weights, workers=1, cache=region.cache)
        at = slice(int(offsets[k]), int(offsets[k + 1]))
        table.units[at], table.households[at], table.weight[at], table.fee[at] = u, h, full.weight, full.fee
        table.score_points[at] = full.points.sum(axis=1, dtype=np.int64)
        if progress is not None:
            progress(len(blocks[k]))

    run_all(run, range(len(blocks)), workers)
    release_freed_memory()
    return table


def release_freed_memory() -> None:
    """Hand memory freed by the blocks back to the system (glibc keeps
    freed small blocks in its heaps, which would count against the peak of
    whatever comes next); a no-op elsewhere."""
    import ctypes
    import sys

    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass
