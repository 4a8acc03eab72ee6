"""What every section of the report reads: the scores of every eligible
(waiting unit, approved household) pair, computed once with the project's
vectorised eligibility and scorer (never a per-pair loop)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matcher.region import Region
from matcher.reports.profiles import WaitingUnits, waiting_units
from matcher.scoring.queries import all_scores
from matcher.scoring.scorer import PairScores
from matcher.scoring.weights import Weights

TOP_PLACES = 10
"""How many ranked households of each unit count as its top places (the
concentration measure)."""


@dataclass(frozen=True, eq=False)
class Rankings:
    """The waiting units, every eligible pair's scores, and per waiting
    unit (aligned with ``units.rows``) its number of eligible households
    and the score of its best one (NaN when it has none)."""

    units: WaitingUnits
    pairs: PairScores
    eligible: np.ndarray
    best_score: np.ndarray
    position: np.ndarray  # unit row -> position in ``units`` (-1 when not waiting)
    household_ids: np.ndarray  # household row -> id

    def top_places(self, k: int = TOP_PLACES) -> np.ndarray:
        """Household rows of every waiting unit's first ``k`` ranked
        households (score high to low, ties by household id, as ``rank``
        orders them), all units together."""
        pairs = self.pairs
        if not len(pairs.units):
            return np.empty(0, np.int64)
        # Ties go by household id text, as rank orders them (rows need not follow id order): each
        # household's place in id order, so the sort compares integers, not strings.
        id_order = np.empty(len(self.household_ids), dtype=np.int64)
        id_order[np.argsort(self.household_ids, kind="stable")] = np.arange(len(self.household_ids))
        order = np.lexsort((id_order[pairs.households], -pairs.score, pairs.units))
        units = pairs.units[order]
        starts = np.flatnonzero(np.r_[True, units[1:] != units[:-1]])
        place = np.arange(len(units)) - np.repeat(starts, np.diff(np.r_[starts, len(units)]))
        return pairs.households[order[place < k]]


def rankings(region: Region, weights: Weights, workers: int = 2) -> Rankings:
    """Score every eligible pair of the region's waiting units once."""
    units = waiting_units(region)
    pairs = all_scores(region, weights, workers=workers)
    n = len(region.unit_arrays)
    position = np.full(n, -1, dtype=np.int64)
    position[units.rows] = np.arange(len(units.rows))
    eligible = np.bincount(pairs.units, minlength=n)[units.rows]
    best = np.full(n, -np.inf)
    np.maximum.at(best, pairs.units, pairs.score)
    best = best[units.rows]
    best[~np.isfinite(best)] = np.nan
    return Rankings(units, pairs, eligible.astype(np.int64), best, position, region.household_arrays.household_ids)
