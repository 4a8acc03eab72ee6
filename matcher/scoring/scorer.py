"""The explainable compatibility score: a pure function of encoded arrays
and a frozen :class:`~matcher.scoring.weights.Weights`.

Each factor has a fit in [0, 1]; its contribution is fit x its weight (points
out of 100), and the score is the sum of the contributions, so the score is
in [0, 100] and the explanation is the contributions themselves.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from features.eligibility import need_codes
from features.geo import km_of_chord_squared
from features.household_encoder import HouseholdArrays
from features.unit_encoder import UnitArrays

from matcher.pool import run_all
from matcher.scoring.weights import FACTORS, Weights


@dataclass(frozen=True)
class PairScores:
    """Scores of unit-household pairs given as index arrays."""

    units: np.ndarray  # unit row per pair
    households: np.ndarray  # household row per pair
    points: np.ndarray  # (n, len(FACTORS)) int32: each factor's contribution in units of 1e-4
    score: np.ndarray  # (n,) sum of contributions, in [0, 100]
    weight: np.ndarray  # (n,) int64, the coefficient propose maximises
    fee: np.ndarray  # (n,) int64 inter-agency fee
    distance_km: np.ndarray  # (n,)

    @cached_property
    def contributions(self) -> np.ndarray:
        """(n, len(FACTORS)) points per factor; they add up to ``score``."""
        return self.points / 1e4



def _excess_table() -> np.ndarray:
    """excess[child_code * 64 + accept_code]: levels above accept, summed
    over the three needs a code holds."""
    codes = np.arange(64)
    levels = np.stack([codes % 4, (codes // 4) % 4, codes // 16], axis=1)
    return np.maximum(levels[:, None, :] - levels[None, :, :], 0).sum(axis=2).astype(np.int8).ravel()


EXCESS = _excess_table()


@dataclass(frozen=True)
class _Sides:
    """Per-unit and per-household quantities the factors need, computed once
    per call so that each pair only gathers them."""

    unit_first: np.ndarray
    unit_last: np.ndarray
    house_first: np.ndarray
    house_last: np.ndarray
    middle_age: np.ndarray
    house_middle: np.ndarray
    house_half: np.ndarray
    travel_limit: np.ndarray
    child_wait: np.ndarray
    household_wait: np.ndarray
    unit_fee: np.ndarray
    dual: np.ndarray  # 2 for a dual-approved household, else 0
    planned: np.ndarray  # 1 for an early-permanence plan, else 0

    @classmethod
    def of(cls, units: UnitArrays, households: HouseholdArrays, weights: Weights, cache=None) -> _Sides:
        """Built once per region and weights when the caller passes its
        cache (keyed by the weights' content); else built for this call."""
        if cache is None:
            return cls.build(units, households, weights)
        return cache.get_or_make(("scorer sides", weights.key()), lambda: cls.build(units, households, weights))

    @classmethod
    def build(cls, units: UnitArrays, households: HouseholdArrays, weights: Weights) -> _Sides:
        uc, hc = units.column, households.column
        unit_first, unit_last = need_codes(units.needs)
        low, high = hc("min_age_months"), hc("max_age_months")
        house_first, house_last = need_codes(households.accept)
        house_middle, house_half = (low + high) * 0.5, (high - low) * 0.5 + 12.0
        limit = hc("max_travel_km").copy()
        limit[~(limit > 0)] = weights.default_travel_km  # NaN (not given) or 0
        household_wait = np.clip(hc("days_since_approval") / weights.approval_full_days, 0.0, 1.0)
        order = np.nan_to_num(uc("days_since_placement_order"), nan=0.0)
        child_wait = 0.5 * np.clip(uc("days_since_care") / (2 * weights.care_threshold_days), 0.0, 1.0) + \
            0.5 * np.clip(order / (2 * weights.order_threshold_days), 0.0, 1.0)
        fee_table = np.array((0, *weights.fees_by_size), dtype=np.int64)
        return cls(
            unit_first=unit_first * 64, unit_last=unit_last * 64, house_first=house_first, house_last=house_last,
            middle_age=(uc("age_min_months") + uc("age_max_months")) * 0.5,
            house_middle=house_middle, house_half=house_half,
            travel_limit=limit,
            child_wait=child_wait,
            household_wait=household_wait,
            unit_fee=fee_table[np.minimum(units.int_column("size"), len(weights.fees_by_size))],
            dual=2 * households.int_column("dual_approved"),
            planned=units.int_column("early_permanence"),
        )


def factor_fits(units: UnitArrays, households: HouseholdArrays, u: np.ndarray, h: np.ndarray,
                weights: Weights, sides: _Sides | None = None
                ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Fit in [0, 1] of every factor for pairs (u[i], h[i]); also returns the
    fee and the distance of each pair.

    Every array read here is a contiguous column (the encoders store their
    matrices column-major) or a per-unit / per-household vector from
    :class:`_Sides`, gathered once per pair.
    """
    sides = sides or _Sides.build(units, households, weights)
    uc, hc = units.column, households.column
    size = uc("size")[u]

    excess = EXCESS[sides.unit_first[u] + sides.house_first[h]] + EXCESS[sides.unit_last[u] + sides.house_last[h]]
    needs = np.clip(1.0 - weights.needs_step * excess, 0.0, 1.0)

    child_heritage = units.int_column("heritage_mask")[u]
    own = households.int_column("heritage_mask")[h]
    n_codes = np.bitwise_count(child_heritage)
    shared = np.bitwise_count(child_heritage & own)
    promoted = np.bitwise_count(child_heritage & households.int_column("promote_mask")[h] & ~own)
    heritage = np.where(n_codes > 0, (shared + weights.promote_credit * promoted) / np.maximum(n_codes, 1),
                        weights.unrecorded_heritage_fit)

    siblings = np.clip(1.0 - (hc("max_children")[h] - size) / 3.0, 0.0, 1.0)

    age_fit = np.clip(1.0 - np.abs(sides.middle_age[u] - sides.house_middle[h]) / sides.house_half[h], 0.0, 1.0)

    youngest_home = hc("youngest_child_months")[h]
    age_gap = np.clip((youngest_home - uc("age_max_months")[u]) / weights.age_gap_months, 0.0, 1.0)
    age_gap[np.isnan(youngest_home)] = 1.0

    dot = units.xyz[:, 0][u] * households.xyz[:, 0][h]
    dot += units.xyz[:, 1][u] * households.xyz[:, 1][h]
    dot += units.xyz[:, 2][u] * households.xyz[:, 2][h]
    distance_km = km_of_chord_squared(np.maximum(2.0 - 2.0 * dot, 0.0))
    ratio = distance_km / sides.travel_limit[h]
    # 1 - 0.3 r up to the limit (r = 1), then 0.7 (2 - r) down to 0 at twice it:
    # the smaller of the two lines, floored at 0.
    distance = np.minimum(1.0 - 0.3 * ratio, 1.4 - 0.7 * ratio)
    np.maximum(distance, 0.0, out=distance)

    # A dual-approved household for a child without an early-permanence plan.
    reserve = np.array([1.0, 1.0, 1.0 - weights.dual_reserve, 1.0])
    early_permanence = reserve[sides.dual[h] + sides.planned[u]]

    fee = sides.unit_fee[u]
    fee[uc("agency_code")[u] == hc("agency_code")[h]] = 0
    fee_fit = 1.0 - fee / (2.0 * (max(weights.fees_by_size) or 1))

    fits = {
        "needs": needs, "heritage": heritage, "siblings": siblings, "age_fit": age_fit, "age_gap": age_gap,
        "distance": distance, "early_permanence": early_permanence, "child_wait": sides.child_wait[u],
        "household_wait": sides.household_wait[h], "agency_fee": fee_fit,
    }
    return fits, fee, distance_km


CHUNK = 1 << 16  # pairs scored at a time: temporaries stay in cache

KERNEL_MIN_PAIRS = 50_000
"""From this many pairs :func:`score_pairs` runs the compiled kernel
(:mod:`matcher.scoring.kernel`) once the process has loaded it; below it
the numpy reference."""
KERNEL_COLD_MIN_PAIRS = 10_000_000
"""From this many pairs a process that has not loaded the kernel yet loads
it (about a CPU second, repaid from about this size on), so that a quick
query never imports numba."""


def kernel_loaded() -> bool:
    """Whether this process has loaded the compiled kernel already."""
    return "matcher.scoring.kernel" in sys.modules


def score_pairs(units: UnitArrays, households: HouseholdArrays, u: np.ndarray, h: np.ndarray,
                weights: Weights, workers: int = 2, cache=None) -> PairScores:
    """Score pairs (u[i], h[i]) of unit and household rows: the compiled
    kernel for many pairs, else :func:`score_pairs_reference` (the two give
    the same arrays bit for bit)."""
    if len(u) >= (KERNEL_MIN_PAIRS if kernel_loaded() else KERNEL_COLD_MIN_PAIRS):
        from matcher.scoring import kernel

        return kernel.score_pairs(units, households, u, h, weights, workers, cache)
    return score_pairs_reference(units, households, u, h, weights, workers, cache)


def score_pairs_reference(units: UnitArrays, households: HouseholdArrays, u: np.ndarray, h: np.ndarray,
                          weights: Weights, workers: int = 2, cache=None) -> PairScores:
    """Score pairs (u[i], h[i]) of unit and household rows, in numpy: the
    reference the compiled kernel is tested against.

    Contributions are rounded to 4 decimals and the score is their sum, so
    the factor columns of every output add up to its score. Pairs are scored
    in chunks so that temporaries stay small and in cache. ``cache`` (a
    region's :class:`~matcher.region.BoundedCache`) keeps the per-unit and
    per-household quantities between calls.
    """
    u = np.asarray(u, dtype=np.int64)
    h = np.asarray(h, dtype=np.int64)
    n = len(u)
    # Contributions are kept in whole units of 1e-4 points (int32: compact,
    # and the score is exactly the sum of the rounded contributions).
    points = np.empty((n, len(FACTORS)), dtype=np.int32, order="F")
    fee = np.empty(n, dtype=np.int64)
    distance_km = np.empty(n, dtype=np.float64)
    score = np.empty(n, dtype=np.float64)
    link_weight = np.empty(n, dtype=np.int64)

    sides = _Sides.of(units, households, weights, cache)
    # The link weight's per-unit parts (README: 10 x score x size x boost).
    overdue = np.clip(units.column("days_since_care") / (2 * weights.care_threshold_days), 0.0, 1.0)
    size, boost = units.column("size"), 1.0 + weights.wait_boost * overdue

    def run(start: int) -> None:
        stop = min(n, start + CHUNK)
        uu = u[start:stop]
        fits, fee[start:stop], distance_km[start:stop] = factor_fits(units, households, uu, h[start:stop],
                                                                     weights, sides)
        total = np.zeros(stop - start, dtype=np.int64)
        for k, name in enumerate(FACTORS):
            column = np.rint(fits[name] * (weights.factors[name] * 1e4)).astype(np.int32)
            points[start:stop, k] = column
            total += column
        score[start:stop] = total / 1e4
        link_weight[start:stop] = np.rint(10.0 * score[start:stop] * size[uu] * boost[uu])

    # numpy releases the GIL in its loops: chunks score in parallel.
    run_all(run, range(0, n, CHUNK), workers if n > 4 * CHUNK else 1)
    return PairScores(u, h, points, score, link_weight, fee, distance_km)
