"""The fused scorer (issue 14): the hard rules and the score of a block of
units against every household in one compiled pass, with no per-pair
temporaries.

The rules and the factors are those of :mod:`features.eligibility` and
:mod:`matcher.scoring.scorer`, which stay the reference (and the path for
small inputs, so that a cold ``rank`` or ``why-not`` never imports numba).
Every quantity here is computed with the same floating-point operations in
the same order as there, so ``points``, ``score``, ``weight``, ``fee`` and
``distance_km`` are the same bit for bit (tests/matcher/test_kernel.py
compares the two on hypothesis regions). The one operation numba cannot
reproduce, numpy's ``arcsin`` (vectorised, it may differ from libm's
``asin`` in the last bit), is left to numpy: the kernel writes each pair's
half chord, numpy turns it into kilometres in place, and a second kernel
scores.

The household side of rules 1-5 becomes one 64-bit word per household,
derived from :class:`~features.eligibility.HouseholdTables` (so the two
cannot disagree), and the unit side one word per unit: a pair passes when
their sum keeps every guard bit (see ``_FIELDS``).

numba is imported when this module is; the callers import it only for
inputs of at least :data:`matcher.scoring.queries.KERNEL_MIN_CANDIDATES`
candidate pairs or :data:`matcher.scoring.scorer.KERNEL_MIN_PAIRS` pairs.
The kernels are compiled once and cached on disk (``cache=True``; loading
them costs about a second of a process's first call, see
benchmarks/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from features.eligibility import AGE_ROWS, MAX_SIZE_ROW, HouseholdTables
from features.geo import DISTANCE_TOLERANCE_KM, EARTH_RADIUS_KM, chord_squared_of_km
from features.household_encoder import HouseholdArrays
from features.unit_encoder import UnitArrays

from matcher.pool import run_all
from matcher.scoring.scorer import EXCESS, PairScores, _Sides
from matcher.scoring.weights import FACTORS, Weights

BLOCK_CANDIDATES = 1 << 20
"""Candidate pairs per block of units: one task of the thread pool."""

_OPEN = 16  # capability bit: approved, with consider levels the tables can meet


# --------------------------------------------------------------------------
# Tables (numpy, built once per region or per weights)


# Rules 1-5 as one 64-bit sum per pair. Each comparison "x >= y" is a field
# of the word holding guard + x - y, where the guard (the field's top bit)
# exceeds every x and y: the field keeps its guard bit exactly when x >= y,
# and never borrows from the next field. The household's part of the sum
# (its x's, minus its y's, plus every guard) and the unit's part are each
# computed once; a pair is eligible on rules 1-5 when
# ((household word + unit word) & GUARDS) == GUARDS.
#   field                    bits  x (>=)           y
#   size, from               4     unit size row    household's first size row
#   size, to                 4     household's end  unit size row + 1
#   youngest age, from       9     unit youngest    household's first age row
#   oldest age, to           9     household's end  unit oldest + 1
#   needs (six)              4 x 6 consider level   unit's level
#   capabilities (five)      2 x 5 household bit    unit's required bit
_FIELDS = ([("size_from", 4), ("size_to", 4), ("age_from", 9), ("age_to", 9)]
           + [(f"need_{k}", 4) for k in range(6)] + [(f"cap_{k}", 2) for k in range(5)])
_OFFSET, _at = {}, 0
for _name, _width in _FIELDS:
    _OFFSET[_name] = (_at, _width)
    _at += _width
GUARDS = sum(1 << (at + width - 1) for at, width in _OFFSET.values())


def _field(name: str, value: np.ndarray) -> np.ndarray:
    return np.asarray(value, dtype=np.int64) << _OFFSET[name][0]


def _household_word(size_lo, size_hi, age_lo, age_hi, cap, consider) -> np.ndarray:
    word = np.full(len(size_lo), GUARDS, dtype=np.int64)
    word -= _field("size_from", size_lo)
    word += _field("size_to", size_hi)
    word -= _field("age_from", age_lo)
    word += _field("age_to", age_hi)
    for k in range(consider.shape[1]):
        word += _field(f"need_{k}", consider[:, k])
    for k in range(5):
        word += _field(f"cap_{k}", (cap >> k) & 1)
    return word


def _unit_word(size_row, young, old, levels, req) -> np.ndarray:
    word = _field("size_from", size_row) - _field("size_to", size_row + 1)
    word += _field("age_from", young) - _field("age_to", old + 1)
    for k in range(levels.shape[1]):
        word -= _field(f"need_{k}", levels[:, k])
    for k in range(5):
        word -= _field(f"cap_{k}", (req >> k) & 1)
    return word


@dataclass(frozen=True)
class HouseholdRules:
    """The household side of rules 1-6: its packed word and unit vector."""

    word: np.ndarray  # int64: the household's side of every comparison, see _FIELDS
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray

    @classmethod
    def of(cls, tables: HouseholdTables, households: HouseholdArrays) -> HouseholdRules:
        # Each table row set is an interval (the rows are comparisons with
        # bounds): its ends are read off the tables themselves.
        size_ok = tables.size_ok
        rows = size_ok.shape[0]
        any_size = size_ok.any(axis=0)
        size_lo = np.where(any_size, np.argmax(size_ok, axis=0), rows)  # first size row accepted (6: none)
        size_hi = np.where(any_size, rows - np.argmax(size_ok[::-1], axis=0), 0)  # one past the last
        age_lo = AGE_ROWS - tables.age_from_ok.sum(axis=0, dtype=np.int64)  # False then True
        age_hi = tables.age_to_ok.sum(axis=0, dtype=np.int64)  # True then False
        consider = households.consider.astype(np.int64)
        needs_met = np.all(consider >= 0, axis=1)  # a negative level: no unit meets it
        cap = (tables.sex_ok[1].astype(np.int64) | 2 * tables.sex_ok[2] | 4 * tables.permanence_ok[1]
               | 8 * tables.contact_ok[1] | _OPEN * (tables.approved & needs_met))
        xyz = households.xyz
        return cls(_household_word(size_lo, size_hi, age_lo, age_hi, cap, np.clip(consider, 0, 3)),
                   np.ascontiguousarray(xyz[:, 0]), np.ascontiguousarray(xyz[:, 1]), np.ascontiguousarray(xyz[:, 2]))

    def as_tuple(self) -> tuple:
        return (self.word, self.x, self.y, self.z)


@dataclass(frozen=True)
class UnitRules:
    """The unit side of rules 1-7, one entry per unit row, and each unit's
    safety constraints (rule 6) as a range of ``safety_*``."""

    ok: np.ndarray  # uint8: waiting (rules 1 and 7)
    word: np.ndarray  # int64: the unit's side of the packed comparisons
    safety_start: np.ndarray
    safety_stop: np.ndarray
    safety_x: np.ndarray
    safety_y: np.ndarray
    safety_z: np.ndarray
    safety_limit: np.ndarray

    @classmethod
    def of(cls, units: UnitArrays) -> UnitRules:
        size = units.int_column("size")
        waiting = units.bool_column("waiting")
        req = (units.int_column("sexes_mask") | 4 * units.int_column("early_permanence")
               | 8 * units.int_column("direct_contact") | _OPEN)
        # Rule 6 exactly as features.eligibility computes its limit.
        order = np.argsort(units.safety_unit, kind="stable")
        owner = units.safety_unit[order]
        limit = 1.0 - chord_squared_of_km(np.maximum(units.safety_km[order] - DISTANCE_TOLERANCE_KM, 0.0)) / 2.0
        start = np.searchsorted(owner, np.arange(len(units)), side="left")
        stop = np.searchsorted(owner, np.arange(len(units)), side="right")
        xyz = units.safety_xyz[order].reshape(-1, 3)
        word = _unit_word(np.minimum(size, MAX_SIZE_ROW), np.clip(units.int_column("age_min_months"), 0, AGE_ROWS - 1),
                          np.clip(units.int_column("age_max_months"), 0, AGE_ROWS - 1),
                          units.needs.astype(np.int64), req)
        return cls(
            ok=(waiting & ((size == 1) | waiting)).astype(np.uint8), word=word,
            safety_start=start.astype(np.int64), safety_stop=stop.astype(np.int64),
            safety_x=np.ascontiguousarray(xyz[:, 0]), safety_y=np.ascontiguousarray(xyz[:, 1]),
            safety_z=np.ascontiguousarray(xyz[:, 2]), safety_limit=np.ascontiguousarray(limit, dtype=np.float64),
        )

    def as_tuple(self) -> tuple:
        return (self.ok, self.word, self.safety_start, self.safety_stop, self.safety_x, self.safety_y, self.safety_z,
                self.safety_limit)


HOUSE_RECORD = np.dtype([("middle", "f8"), ("half", "f8"), ("youngest", "f8"), ("limit", "f8"), ("agency", "f8"),
                         ("heritage", "i4"), ("promote", "i4"), ("wait_points", "i4"), ("codes", "i4"),
                         ("pad", "i8")])
"""A household's scoring quantities; ``codes`` packs its needs codes (accept
levels of needs 1-3 and 4-6, six bits each), the index of its most children
among the distinct values, and 2 when dual-approved (bit 29)."""


def _points(fit: np.ndarray, weights: Weights, name: str) -> np.ndarray:
    """A factor's points, exactly as score_pairs_reference rounds them."""
    return np.rint(fit * (weights.factors[name] * 1e4)).astype(np.int32)


def _codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values (NaN included once) and each value's index among them."""
    distinct, index = np.unique(values, return_inverse=True, equal_nan=True)
    return distinct, index.reshape(-1).astype(np.int64)


@dataclass(frozen=True)
class ScoreSides:
    """Everything a pair's score reads, per unit and per household, and the
    weights' tables. Factors that depend on few distinct values (needs
    excess, heritage counts, unit size against a household's most children,
    the early-permanence reserve, the fee, the waits) are turned into
    points once, with the reference's expressions on the same values, so a
    pair only looks its points up; the rest (age fit, age gap, distance)
    are computed per pair with the reference's operations."""

    unit: tuple
    house: tuple
    scalars: tuple

    @classmethod
    def of(cls, units: UnitArrays, households: HouseholdArrays, weights: Weights, cache=None) -> ScoreSides:
        if cache is None:
            return cls.build(units, households, weights)
        return cache.get_or_make(("kernel sides", weights.key()), lambda: cls.build(units, households, weights,
                                                                                     cache))

    @classmethod
    def build(cls, units: UnitArrays, households: HouseholdArrays, weights: Weights, cache=None) -> ScoreSides:
        sides = _Sides.of(units, households, weights, cache)
        uc, hc = units.column, households.column
        overdue = np.clip(uc("days_since_care") / (2 * weights.care_threshold_days), 0.0, 1.0)
        boost = 1.0 + weights.wait_boost * overdue
        f64, i64 = (lambda a: np.ascontiguousarray(a, dtype=np.float64)), \
            (lambda a: np.ascontiguousarray(a, dtype=np.int64))

        # needs: points by total excess (0-18 levels)
        excess = np.arange(int(EXCESS.max()) * 2 + 1, dtype=np.int8)
        needs_points = _points(np.clip(1.0 - weights.needs_step * excess, 0.0, 1.0), weights, "needs")
        # heritage: points by (codes, shared, promoted), each at most the unit's code count
        child_heritage = units.int_column("heritage_mask")
        n_codes = np.bitwise_count(child_heritage)
        k = int(n_codes.max(initial=0)) + 1
        grid_n, grid_s, grid_p = (g.astype(np.uint8) for g in np.meshgrid(np.arange(k), np.arange(k), np.arange(k),
                                                                             indexing="ij"))
        heritage = np.where(grid_n > 0, (grid_s + weights.promote_credit * grid_p) / np.maximum(grid_n, 1),
                            weights.unrecorded_heritage_fit)
        heritage_points = _points(heritage, weights, "heritage").ravel()
        # siblings: points by (unit size, household's most children)
        sizes, size_code = _codes(uc("size"))
        most, most_code = _codes(hc("max_children"))
        siblings = np.clip(1.0 - (most[None, :] - sizes[:, None]) / 3.0, 0.0, 1.0)
        sibling_points = _points(siblings, weights, "siblings").ravel()
        reserve = np.array([1.0, 1.0, 1.0 - weights.dual_reserve, 1.0])
        reserve_points = _points(reserve, weights, "early_permanence")
        fee_fit = 1.0 - sides.unit_fee / (2.0 * (max(weights.fees_by_size) or 1))
        no_fee_fit = 1.0 - np.zeros_like(sides.unit_fee) / (2.0 * (max(weights.fees_by_size) or 1))

        unit = (f64(uc("size")), i64(sides.unit_first), i64(sides.unit_last), i64(child_heritage),
                f64(sides.middle_age), f64(uc("age_max_months")), f64(units.xyz[:, 0]), f64(units.xyz[:, 1]),
                f64(units.xyz[:, 2]), i64(_points(sides.child_wait, weights, "child_wait")), i64(sides.unit_fee),
                f64(uc("agency_code")), i64(sides.planned), f64(boost), i64(n_codes), i64(size_code * len(most)),
                i64(_points(fee_fit, weights, "agency_fee")), i64(_points(no_fee_fit, weights, "agency_fee")))
        # One 64-byte record per household: a pair reads one cache line.
        record = np.zeros(len(households), dtype=HOUSE_RECORD)
        record["middle"], record["half"] = sides.house_middle, sides.house_half
        record["youngest"], record["limit"] = hc("youngest_child_months"), sides.travel_limit
        record["agency"] = hc("agency_code")
        record["heritage"] = households.int_column("heritage_mask")
        record["promote"] = households.int_column("promote_mask")
        record["wait_points"] = _points(sides.household_wait, weights, "household_wait")
        record["codes"] = (sides.house_first | sides.house_last << 6 | most_code << 12 | sides.dual << 29)
        if len(most) >= 1 << 17 or np.any(households.int_column("promote_mask") >= 1 << 31):
            raise ValueError("household codes out of the kernel's range")  # never for contract data
        house = (record,)
        multiplier = np.array([weights.factors[name] * 1e4 for name in FACTORS])
        scalars = (float(weights.age_gap_months), multiplier, EXCESS.astype(np.int64), needs_points.astype(np.int64),
                   heritage_points.astype(np.int64), k, sibling_points.astype(np.int64),
                   reserve_points.astype(np.int64))
        return cls(unit, house, scalars)


# --------------------------------------------------------------------------
# Kernels


@njit(nogil=True, cache=True)
def _unit_pairs(u, unit, house, excluded, ex_start, ex_stop, picked):
    """The households eligible with unit row ``u``, ascending, in
    ``picked[:n]``; returns n."""
    ok, unit_word, s_start, s_stop, s_x, s_y, s_z, s_limit = unit
    house_word, hx, hy, hz = house
    if ok[u] == 0:
        return 0
    e = unit_word[u]
    n = 0
    for h in range(len(house_word)):  # rules 1-5, branch-free compaction
        picked[n] = h
        n += ((house_word[h] + e) & GUARDS) == GUARDS
    if ex_stop > ex_start:  # pairs excluded by hand (households ascending, as picked)
        kept, k = 0, ex_start
        for j in range(n):
            h = picked[j]
            while k < ex_stop and excluded[k] < h:
                k += 1
            if k < ex_stop and excluded[k] == h:
                continue
            picked[kept] = h
            kept += 1
        n = kept
    a, b = s_start[u], s_stop[u]
    if b > a:  # rule 6, the same expression as features.eligibility.rule_6_safety_distance
        kept = 0
        for j in range(n):
            h = picked[j]
            far = True
            for c in range(a, b):
                dot = s_x[c] * hx[h] + s_y[c] * hy[h] + s_z[c] * hz[h]
                if not dot <= s_limit[c]:
                    far = False
                    break
            picked[kept] = h
            kept += far
        n = kept
    return n


@njit(nogil=True, cache=True)
def _count_block(rows, unit, house, excluded, ex_start, ex_stop, n_households, counts):
    picked = np.empty(n_households + 1, dtype=np.int32)
    ok, unit_word, s_start, s_stop = unit[0], unit[1], unit[2], unit[3]
    house_word = house[0]
    for i in range(len(rows)):
        u = rows[i]
        if ok[u] and ex_start[i] == ex_stop[i] and s_start[u] == s_stop[u]:
            e = unit_word[u]
            n = 0
            for h in range(n_households):  # rules 1-5 only: a plain count
                n += ((house_word[h] + e) & GUARDS) == GUARDS
            counts[i] = n
        else:
            counts[i] = _unit_pairs(u, unit, house, excluded, ex_start[i], ex_stop[i], picked)


@njit(nogil=True, cache=True)
def _fill_block(rows, unit, house, excluded, ex_start, ex_stop, n_households, start, out_u, out_h,
                half_chord, ux, uy, uz, with_chord):
    """Write the eligible pairs of ``rows`` from ``start`` on, unit by unit,
    households ascending; with ``with_chord``, also each pair's half chord
    (the argument of the arcsin, as :func:`features.geo.km_of_chord_squared`
    computes it from the dot product of :func:`factor_fits`)."""
    picked = np.empty(n_households + 1, dtype=np.int32)
    hx, hy, hz = house[1], house[2], house[3]
    at = start
    for i in range(len(rows)):
        u = rows[i]
        n = _unit_pairs(u, unit, house, excluded, ex_start[i], ex_stop[i], picked)
        if n == 0:
            continue
        first = at
        at += n
        out_h[first:at] = picked[:n]
        out_u[first:at] = u
        if with_chord:
            ax, ay, az = ux[u], uy[u], uz[u]
            for j in range(first, at):
                h = out_h[j]
                dot = ax * hx[h]
                dot += ay * hy[h]
                dot += az * hz[h]
                c2 = 2.0 - 2.0 * dot
                if c2 < 0.0:
                    c2 = 0.0
                s = np.sqrt(c2) / 2.0
                half_chord[j] = min(max(s, 0.0), 1.0)
    return at


@njit(nogil=True, cache=True)
def _half_chords(u, h, ux, uy, uz, hx, hy, hz, out):
    for i in range(len(u)):
        a, b = u[i], h[i]
        dot = ux[a] * hx[b]
        dot += uy[a] * hy[b]
        dot += uz[a] * hz[b]
        c2 = 2.0 - 2.0 * dot
        if c2 < 0.0:
            c2 = 0.0
        s = np.sqrt(c2) / 2.0
        out[i] = min(max(s, 0.0), 1.0)


@njit(inline="always")
def _popcount(x):
    x = np.uint64(x)
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@njit(inline="always")
def _clip01(x):
    # np.clip(x, 0.0, 1.0) for the values met here (never NaN)
    return min(max(x, 0.0), 1.0)


@njit(nogil=True, cache=True)
def _score_runs(bounds, us, hs, distance_km, unit, house, scalars, points, score, weight, fee):
    """Score pairs (us[i], hs[i]) whose distance is known, for i in the runs
    ``bounds[r]:bounds[r + 1]`` of one unit each: the operations of
    :func:`~matcher.scoring.scorer.factor_fits` and
    :func:`~matcher.scoring.scorer.score_pairs_reference`, in the same
    order, or their points from :class:`ScoreSides`' tables; the unit's
    quantities are read once per run. ``points`` is column-major."""
    (size_u, first_u, last_u, her_u, mid_u, agemax_u, _x, _y, _z, cw_pts_u, fee_u, agency_u, planned_u, boost_u,
     codes_u, size_row_u, fee_pts_u, free_pts_u) = unit
    record = house[0]
    (age_gap_months, mult, excess_table, needs_pts, heritage_pts, k, sibling_pts, reserve_pts) = scalars
    m3, m4, m5 = mult[3], mult[4], mult[5]
    for r in range(len(bounds) - 1):
        lo, hi = bounds[r], bounds[r + 1]
        if hi == lo:
            continue
        u = us[lo]
        size = size_u[u]
        first, last, child, mid, agemax = first_u[u], last_u[u], her_u[u], mid_u[u], agemax_u[u]
        heritage_row = codes_u[u] * k * k
        sibling_row = size_row_u[u]
        p7 = cw_pts_u[u]
        unit_fee, agency, planned, boost = fee_u[u], agency_u[u], planned_u[u], boost_u[u]
        fee_pts, free_pts = fee_pts_u[u], free_pts_u[u]
        for i in range(lo, hi):
            home = record[hs[i]]
            codes = np.int64(home.codes)
            p0 = needs_pts[excess_table[first + (codes & 63)] + excess_table[last + ((codes >> 6) & 63)]]
            own = np.int64(home.heritage)
            p1 = heritage_pts[heritage_row + _popcount(child & own) * k
                              + _popcount(child & np.int64(home.promote) & ~own)]
            p2 = sibling_pts[sibling_row + ((codes >> 12) & 0x1FFFF)]
            p3 = np.int64(np.rint(_clip01(1.0 - np.abs(mid - home.middle) / home.half) * m3))
            young = home.youngest
            gap = 1.0 if np.isnan(young) else _clip01((young - agemax) / age_gap_months)
            p4 = np.int64(np.rint(gap * m4))
            ratio = distance_km[i] / home.limit
            near = min(1.0 - 0.3 * ratio, 1.4 - 0.7 * ratio)
            p5 = np.int64(np.rint(max(near, 0.0) * m5))
            p6 = reserve_pts[(codes >> 29) + planned]
            p8 = np.int64(home.wait_points)
            same = agency == home.agency
            fee[i] = 0 if same else unit_fee
            p9 = free_pts if same else fee_pts
            points[i, 0] = p0
            points[i, 1] = p1
            points[i, 2] = p2
            points[i, 3] = p3
            points[i, 4] = p4
            points[i, 5] = p5
            points[i, 6] = p6
            points[i, 7] = p7
            points[i, 8] = p8
            points[i, 9] = p9
            # int32 points, summed in int64 as the reference does
            total = (np.int64(np.int32(p0)) + np.int64(np.int32(p1)) + np.int64(np.int32(p2))
                     + np.int64(np.int32(p3)) + np.int64(np.int32(p4)) + np.int64(np.int32(p5))
                     + np.int64(np.int32(p6)) + np.int64(np.int32(p7)) + np.int64(np.int32(p8))
                     + np.int64(np.int32(p9)))
            s = np.float64(total) / 1e4
            score[i] = s
            weight[i] = np.int64(np.rint(10.0 * s * size * boost))


# --------------------------------------------------------------------------
# Drivers


def _household_rules(tables: HouseholdTables, households: HouseholdArrays, cache) -> HouseholdRules:
    if cache is None:
        return HouseholdRules.of(tables, households)
    return cache.get_or_make(("kernel household rules",), lambda: HouseholdRules.of(tables, households))


def _unit_rules(units: UnitArrays, cache) -> UnitRules:
    if cache is None:
        return UnitRules.of(units)
    return cache.get_or_make(("kernel unit rules",), lambda: UnitRules.of(units))


def _blocks(rows: np.ndarray, n_households: int) -> list[tuple[int, int]]:
    per_block = max(1, BLOCK_CANDIDATES // max(1, n_households))
    return [(i, min(len(rows), i + per_block)) for i in range(0, len(rows), per_block)]


def _exclusion_ranges(rows: np.ndarray, excluded_keys: np.ndarray, n_households: int):
    """For each unit of ``rows``, the range of ``excluded_keys`` (sorted
    ``unit * H + household``) that holds it, and the household of each key."""
    if len(excluded_keys) == 0:
        zeros = np.zeros(len(rows), dtype=np.int64)
        return np.empty(0, np.int64), zeros, zeros
    start = np.searchsorted(excluded_keys, rows * n_households, side="left")
    stop = np.searchsorted(excluded_keys, (rows + 1) * n_households, side="left")
    return excluded_keys % n_households, start.astype(np.int64), stop.astype(np.int64)


def _eligible(units: UnitArrays, households: HouseholdArrays, tables: HouseholdTables, rows: np.ndarray,
              excluded_keys: np.ndarray, workers: int, cache, progress=None):
    """Counts per unit, blocks and the arguments of the fill kernel."""
    rows = np.asarray(rows, dtype=np.int64)
    n_households = tables.n_households
    unit = _unit_rules(units, cache).as_tuple()
    house = _household_rules(tables, households, cache).as_tuple()
    excluded, ex_start, ex_stop = _exclusion_ranges(rows, excluded_keys, n_households)
    counts = np.zeros(len(rows), dtype=np.int64)
    blocks = _blocks(rows, n_households)

    def count(bounds):
        a, b = bounds
        _count_block(rows[a:b], unit, house, excluded, ex_start[a:b], ex_stop[a:b], n_households, counts[a:b])

    run_all(count, blocks, workers if len(blocks) > 1 else 1)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    return rows, unit, house, excluded, ex_start, ex_stop, n_households, blocks, offsets


def eligible_pairs(units: UnitArrays, households: HouseholdArrays, tables: HouseholdTables, rows: np.ndarray,
                   excluded_keys: np.ndarray, workers: int = 2, cache=None, progress=None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Every eligible, not excluded (unit row, household row) pair of units
    ``rows``, unit by unit in the order of ``rows``, households ascending:
    what :func:`matcher.scoring.queries.eligible_pairs` returns."""
    rows, unit, house, excluded, ex_start, ex_stop, n_households, blocks, offsets = _eligible(
        units, households, tables, rows, excluded_keys, workers, cache)
    n = int(offsets[-1])
    out_u, out_h = np.empty(n, np.int64), np.empty(n, np.int64)
    none = np.empty(0)

    def fill(bounds):
        a, b = bounds
        _fill_block(rows[a:b], unit, house, excluded, ex_start[a:b], ex_stop[a:b], n_households, offsets[a], out_u,
                    out_h, none, none, none, none, False)
        if progress is not None:
            progress(b - a)

    run_all(fill, blocks, workers if len(blocks) > 1 else 1)
    return out_u, out_h


def _empty_scores(n: int):
    return (np.empty((n, len(FACTORS)), dtype=np.int32, order="F"), np.empty(n, np.float64), np.empty(n, np.int64),
            np.empty(n, np.int64), np.empty(n, np.float64))


_TWO_R = 2.0 * EARTH_RADIUS_KM  # km_of_chord_squared: 2.0 * EARTH_RADIUS_KM * arcsin(...)


def _km_in_place(half_chord: np.ndarray) -> None:
    np.arcsin(half_chord, out=half_chord)
    np.multiply(_TWO_R, half_chord, out=half_chord)


def all_scores(units: UnitArrays, households: HouseholdArrays, tables: HouseholdTables, rows: np.ndarray,
               excluded_keys: np.ndarray, weights: Weights, workers: int = 2, cache=None, progress=None
               ) -> PairScores:
    """Eligibility and scores of units ``rows`` against every household in
    one pass per block of units: what
    :func:`matcher.scoring.queries.all_scores` returns."""
    rows, unit, house, excluded, ex_start, ex_stop, n_households, blocks, offsets = _eligible(
        units, households, tables, rows, excluded_keys, workers, cache)
    sides = ScoreSides.of(units, households, weights, cache)
    n = int(offsets[-1])
    out_u, out_h = np.empty(n, np.int64), np.empty(n, np.int64)
    points, score, weight, fee, distance_km = _empty_scores(n)
    ux, uy, uz = sides.unit[6], sides.unit[7], sides.unit[8]

    def run(bounds):
        a, b = bounds
        lo, hi = int(offsets[a]), int(offsets[b])
        _fill_block(rows[a:b], unit, house, excluded, ex_start[a:b], ex_stop[a:b], n_households, lo, out_u, out_h,
                    distance_km, ux, uy, uz, True)
        _km_in_place(distance_km[lo:hi])
        _score_runs(offsets[a:b + 1], out_u, out_h, distance_km, sides.unit, sides.house, sides.scalars, points,
                    score, weight, fee)
        if progress is not None:
            progress(b - a)

    run_all(run, blocks, workers if len(blocks) > 1 else 1)
    return PairScores(out_u, out_h, points, score, weight, fee, distance_km)


SCORE_BLOCK = 1 << 16


def score_pairs(units: UnitArrays, households: HouseholdArrays, u: np.ndarray, h: np.ndarray, weights: Weights,
                workers: int = 2, cache=None) -> PairScores:
    """What :func:`matcher.scoring.scorer.score_pairs` returns, compiled."""
    u = np.ascontiguousarray(u, dtype=np.int64)
    h = np.ascontiguousarray(h, dtype=np.int64)
    n = len(u)
    sides = ScoreSides.of(units, households, weights, cache)
    points, score, weight, fee, distance_km = _empty_scores(n)
    hxyz = households.xyz
    hx, hy, hz = (np.ascontiguousarray(hxyz[:, k]) for k in range(3))

    def run(start):
        stop = min(n, start + SCORE_BLOCK)
        _half_chords(u[start:stop], h[start:stop], sides.unit[6], sides.unit[7], sides.unit[8], hx, hy, hz,
                     distance_km[start:stop])
        _km_in_place(distance_km[start:stop])
        cuts = start + np.flatnonzero(u[start + 1:stop] != u[start:stop - 1]) + 1
        bounds = np.concatenate([[start], cuts, [stop]]).astype(np.int64)
        _score_runs(bounds, u, h, distance_km, sides.unit, sides.house, sides.scalars, points, score, weight, fee)

    run_all(run, range(0, n, SCORE_BLOCK), workers if n > 4 * SCORE_BLOCK else 1)
    return PairScores(u, h, points, score, weight, fee, distance_km)
