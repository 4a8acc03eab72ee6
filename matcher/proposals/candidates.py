"""Candidate arcs without the full pair table (``propose --candidates K``).

Units are streamed in blocks through the vectorised rules and the scorer
(:func:`~matcher.scoring.queries.eligible_pairs` and
:func:`~matcher.scoring.scorer.score_pairs` on unit-row blocks); of each
block only what can still matter is kept:

* the best ``K`` households of every unit (a block holds every pair of its
  units, so this is decided within the block), and
* the arcs that may still be among the best ``K`` units of their household:
  a pool, compacted now and then to each household's best ``K`` so far; a
  household's ``K``-th best so far is a threshold below which the arcs of
  later blocks are dropped at once.

The union of both is scored once more and solved exactly (the caller's
solver, so budgets and every other option apply to the kept arcs). Memory
grows with (units + households) x K, never with units x households.

"Best" orders arcs by whether the request can propose them at all (an arc
below ``min_score`` or excluded comes last, so it is kept only where a unit
or a household has fewer than K others, which lets the summary say why a unit
was left out), then by ``weight`` high to low, then by the other side's id:
ties are broken the same way on every run. Fixed links are always kept.

Up to :data:`PRICE_PAIRS_LIMIT` eligible pairs, one pricing round follows:
the LP duals of the kept arcs price every eligible pair in a second pass and
the pairs they cannot rule out (positive reduced cost) are added (issue 12:
K = 50 alone kept 98.8% of the optimum's weight on 10,000 x 20,000; with the
round, 99.99%).

The result is optimal on the kept arcs. Every eligible pair also feeds a
valid upper bound on the full problem's optimum, computed in the same pass
from each unit's best proposable weight ``b_u`` and each household's
``b_h``: for any ``c >= 0``, ``y_u = max(0, b_u - c)`` and ``z_h = min(c,
b_h)`` satisfy ``y_u + z_h >= w_uh`` on every arc, so they are a solution of
the matching LP's dual and ``sum y + sum z`` bounds the optimum (``c = 0``
is the sum of the units' best weights, a large ``c`` the households'). The
bound is the best ``c``. Side constraints only lower the optimum, so it
bounds a budgeted proposal too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matcher.proposals.propose import _resolve_pairs
from matcher.region import Region
from matcher.scoring.queries import BLOCK_PAIRS, eligible_pairs
from matcher.scoring.scorer import PairScores, score_pairs

# Added to the weight of an arc the request can propose, so that such arcs
# always come before the ones it sets aside (a link's weight is 10 x score x
# unit size x wait boost: thousands, far below this; checked).
_PROPOSABLE = np.int64(1) << np.int64(30)


@dataclass(frozen=True)
class Pruning:
    """What ``--candidates K`` kept, and the bound it certifies.

    ``eligible_pairs``: every eligible pair seen while streaming;
    ``arcs_kept``: the union of each unit's and each household's best K;
    ``unit_bound`` / ``household_bound``: the sums over units (households)
    of each one's best proposable weight, each an upper bound on the full
    problem's optimum; ``bound``: the best of the family of dual solutions
    between them (:func:`dual_bound`)."""

    k: int
    eligible_pairs: int
    arcs_kept: int
    unit_bound: int
    household_bound: int
    bound: int
    """The best valid bound found: the family's, or the priced LP duals'."""
    union_arcs: int = 0
    """Arcs in the union of the best K (``arcs_kept`` less those priced in)."""
    priced: int | None = None
    """Arcs added by the pricing round; None when there was none."""
    family_bound: int = 0
    """The bound of :func:`dual_bound` alone (``bound`` is lower when the
    priced duals gave better)."""

    @property
    def complete(self) -> bool:
        """Whether no eligible pair was dropped (K at least every degree)."""
        return self.arcs_kept == self.eligible_pairs


@dataclass(frozen=True)
class PrunedScores(PairScores):
    """The scores of the kept arcs (by unit, then household), and how they
    were pruned."""

    pruning: Pruning | None = None


def dual_bound(best_unit: np.ndarray, best_household: np.ndarray) -> int:
    """``min over c >= 0`` of ``sum max(0, b_u - c) + sum min(c, b_h)``: an
    upper bound on a max-weight matching where ``b_u`` (``b_h``) is the
    largest weight at unit u (household h). The function is convex and
    piecewise linear in ``c``, so its minimum is at 0 or at one of the
    weights: each is tried, with sorted prefix sums."""
    bu = np.sort(np.maximum(np.asarray(best_unit, dtype=np.int64), 0))
    bh = np.sort(np.maximum(np.asarray(best_household, dtype=np.int64), 0))
    c = np.unique(np.concatenate([[0], bu, bh]))
    su = np.concatenate([[0], np.cumsum(bu)])
    sh = np.concatenate([[0], np.cumsum(bh)])
    over = np.searchsorted(bu, c, side="right")  # units with b_u <= c
    upto = np.searchsorted(bh, c, side="right")  # households with b_h <= c
    units_part = (su[-1] - su[over]) - c * (len(bu) - over)
    households_part = sh[upto] + c * (len(bh) - upto)
    return int((units_part + households_part).min())


def id_rank(ids: np.ndarray) -> np.ndarray:
    """The rank of each id among all of them (ties cannot occur: ids are
    unique), to break ties between equal weights by id."""
    rank = np.empty(len(ids), dtype=np.int64)
    rank[np.argsort(ids, kind="stable")] = np.arange(len(ids), dtype=np.int64)
    return rank


def first_k_of_runs(group: np.ndarray, k: int) -> np.ndarray:
    """For ``group`` sorted (runs of equal values), whether each position is
    among the first ``k`` of its run."""
    n = len(group)
    if n == 0:
        return np.zeros(0, dtype=bool)
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(group[1:], group[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    run_start = np.repeat(starts, np.diff(np.append(starts, n)))
    return (np.arange(n) - run_start) < k


def arc_value(weight: np.ndarray, proposable: np.ndarray) -> np.ndarray:
    """The value arcs are ranked by: proposable arcs first, then weight."""
    weight = weight.astype(np.int64)
    if len(weight) and (int(weight.max()) >= _PROPOSABLE or int(weight.min()) < 0):
        raise ValueError("link weights must lie in [0, 2**30) to be ranked")
    return weight + proposable.astype(np.int64) * _PROPOSABLE


def best_first(group: np.ndarray, value: np.ndarray, tie: np.ndarray) -> np.ndarray:
    """The order that lists arcs by ``group`` (ascending), then ``value``
    (high first), then ``tie`` (ascending): one sort of a packed int64 key
    when the three fit in 63 bits (they do up to millions of rows), else a
    lexsort."""
    if len(group) == 0:
        return np.empty(0, dtype=np.int64)
    g0, v1, t0 = int(group.min()), int(value.max()), int(tie.min())
    bits_g = max(1, (int(group.max()) - g0).bit_length())
    bits_v = max(1, (v1 - int(value.min())).bit_length())
    bits_t = max(1, (int(tie.max()) - t0).bit_length())
    if bits_g + bits_v + bits_t > 63:
        return np.lexsort((tie, -value, group))
    key = (group - g0) << (bits_v + bits_t)
    key |= (v1 - value) << bits_t
    key |= tie - t0
    return np.argsort(key)  # keys are distinct: (group, tie) pairs are


BUCKETS = 256


def best_k_of_groups(group: np.ndarray, value: np.ndarray, tie: np.ndarray, k: int) -> np.ndarray:
    """Indices of each group's best ``k`` arcs (value high first, then tie
    ascending), listed by group then rank. Only arcs that can be among them
    are sorted: values are put in :data:`BUCKETS` ordered buckets, and per
    group only the buckets from the one holding its k-th best upward are
    kept (one counting pass, no sort), so the sort sees about k arcs per
    group instead of all of them."""
    n = len(group)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    g0 = int(group.min())
    local = group - g0
    n_groups = int(local.max()) + 1
    degree = np.bincount(local, minlength=n_groups)
    if int(degree.max()) > k:
        half = BUCKETS // 2
        proposable = value >= _PROPOSABLE
        weight = value - proposable * _PROPOSABLE
        top = int(weight.max()) + 1
        bucket = proposable * half + (weight * half) // top  # non-decreasing in value
        # Buckets are counted only for the groups with more than k arcs.
        big = np.flatnonzero(degree > k)
        slot = np.full(n_groups, -1, dtype=np.int64)
        slot[big] = np.arange(len(big))
        at = slot[local]
        counted = at >= 0
        counts = np.bincount(at[counted] * BUCKETS + bucket[counted],
                             minlength=len(big) * BUCKETS).reshape(len(big), BUCKETS)
        at_or_above = np.cumsum(counts[:, ::-1], axis=1)
        lowest = np.zeros(n_groups, dtype=np.int64)
        lowest[big] = BUCKETS - 1 - np.argmax(at_or_above >= k, axis=1)
        may = np.flatnonzero(bucket >= lowest[local])
    else:
        may = np.arange(n)
    order = may[best_first(group[may], value[may], tie[may])]
    return order[first_k_of_runs(group[order], k)]


def proposable_mask(scores: PairScores, min_score, excluded_keys: np.ndarray, n_households: int) -> np.ndarray:
    """Arcs the request can propose: at or above ``min_score`` and not
    excluded by the request (``excluded_keys``: sorted ``unit * n_households
    + household``)."""
    keep = np.ones(len(scores.weight), dtype=bool)
    if min_score is not None:
        keep &= scores.score >= min_score
    if len(excluded_keys):
        keep &= ~np.isin(scores.units * n_households + scores.households, excluded_keys)
    return keep


def _distinct(keys: np.ndarray) -> np.ndarray:
    keys = np.sort(keys)
    return keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys


def _keys(pairs: list[tuple[int, int]], n_households: int) -> np.ndarray:
    return np.unique(np.array([u * n_households + h for u, h in pairs], dtype=np.int64))


class _HouseholdPool:
    """Arcs that may still be among their household's best K."""

    def __init__(self, n_households: int, k: int, unit_rank: np.ndarray):
        self.k = k
        self.unit_rank = unit_rank
        # A household's K-th best value so far (-1 while it has fewer than K).
        self.threshold = np.full(n_households, -1, dtype=np.int64)
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.size = 0
        self.limit = max(2 * n_households * k, 1_000_000)

    def add(self, u: np.ndarray, h: np.ndarray, v: np.ndarray) -> None:
        may = v >= self.threshold[h]
        self.parts.append((u[may], h[may], v[may]))
        self.size += int(may.sum())
        if self.size > self.limit:
            self.compact()

    def compact(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Keep each household's best K; returns them (unit rows, household
        rows, values), by household then rank."""
        if not self.parts:
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)
        u = np.concatenate([p[0] for p in self.parts])
        h = np.concatenate([p[1] for p in self.parts])
        v = np.concatenate([p[2] for p in self.parts])
        best = best_k_of_groups(h, v, self.unit_rank[u], self.k)
        u, h, v = u[best], h[best], v[best]
        # The K-th of each household's run is its new threshold.
        last = first_k_of_runs(h, self.k - 1) if self.k > 1 else np.zeros(len(h), dtype=bool)
        kth = ~last
        counts = np.bincount(h, minlength=len(self.threshold))
        full = counts[h[kth]] >= self.k
        self.threshold[h[kth][full]] = v[kth][full]
        self.parts = [(u, h, v)]
        self.size = len(u)
        return u, h, v


def pruned_links(region: Region, request, progress=None, excluded: list[tuple[int, int]] | None = None,
                 workers: int = 2) -> tuple[PrunedScores, np.ndarray]:
    """The kept arcs' scores (a :class:`PrunedScores`, by unit then
    household) and the mask of those the request can propose, as
    :func:`~matcher.proposals.propose.candidate_links` gives for every
    eligible pair."""
    k = int(request.candidates)
    if excluded is None:
        excluded = _resolve_pairs(region, request.excluded, "excluded")
    fixed = _resolve_pairs(region, request.fixed, "fixed")
    units, households = region.unit_arrays, region.household_arrays
    n_u, n_h = len(units), len(households)
    excluded_keys = _keys(excluded, n_h)
    fixed_keys = _keys(fixed, n_h)
    unit_rank, household_rank = id_rank(units.unit_ids), id_rank(households.household_ids)
    pool = _HouseholdPool(n_h, k, unit_rank)
    best_unit = np.zeros(n_u, dtype=np.int64)
    best_household = np.zeros(n_h, dtype=np.int64)
    unit_top: list[np.ndarray] = []
    n_eligible = 0

    rows = region.waiting_unit_rows
    # Two of eligible_pairs' blocks at a time: both threads check eligibility.
    per_chunk = max(1, BLOCK_PAIRS // max(1, n_h)) * max(1, workers)
    stage = getattr(progress, "stage", None)
    if stage is not None:
        stage(f"scoring units, keeping the best {k}", len(rows))
    for start in range(0, len(rows), per_chunk):
        u, h = eligible_pairs(region, rows[start:start + per_chunk], workers, progress)
        if len(u) == 0:
            continue
        n_eligible += len(u)
        scores = score_pairs(units, households, u, h, request.weights, workers, cache=region.cache)
        proposable = proposable_mask(scores, request.min_score, excluded_keys, n_h)
        v = arc_value(scores.weight, proposable)
        del scores, proposable
        # Each unit's best K: every pair of these units is in this chunk.
        top = best_k_of_groups(u, v, household_rank[h], k)
        unit_top.append(u[top] * n_h + h[top])
        if len(fixed_keys):
            key = u * n_h + h
            unit_top.append(key[np.isin(key, fixed_keys)])
        # Bound: a unit's best arc is the first of its best K.
        lead = top[first_k_of_runs(u[top], 1)]
        lead = lead[v[lead] >= _PROPOSABLE]
        best_unit[u[lead]] = v[lead] - _PROPOSABLE
        pool.add(u, h, v)
    pool_u, pool_h, pool_v = pool.compact()
    del pool
    # Bound: a household's best arc is the first of its best K (every arc
    # left out of the pool ranked below K others of the household).
    lead = first_k_of_runs(pool_h, 1) & (pool_v >= _PROPOSABLE)
    best_household[pool_h[lead]] = pool_v[lead] - _PROPOSABLE
    keys = _distinct(np.concatenate([*unit_top, pool_u * n_h + pool_h]).astype(np.int64))
    n_union = len(keys)
    if stage is not None:
        stage(f"scoring the {len(keys):,} kept arcs", 1)
    scores = score_pairs(units, households, keys // n_h, keys % n_h, request.weights, workers, cache=region.cache)
    if stage is not None and progress is not None:
        progress(1)
    bound = dual_bound(best_unit[rows], best_household)
    priced = None
    if n_union < n_eligible <= PRICE_PAIRS_LIMIT:
        added, priced_bound = price(region, request, scores, proposable_mask(scores, request.min_score,
                                                                             excluded_keys, n_h),
                                    excluded_keys, progress, workers)
        bound = min(bound, priced_bound)
        keys = _distinct(np.concatenate([keys, added]))
        priced = len(keys) - n_union
        if priced:
            scores = score_pairs(units, households, keys // n_h, keys % n_h, request.weights, workers,
                                 cache=region.cache)
    pruning = Pruning(k=k, eligible_pairs=n_eligible, arcs_kept=len(keys),
                      unit_bound=int(np.maximum(best_unit, 0).sum()),
                      household_bound=int(np.maximum(best_household, 0).sum()),
                      bound=bound, union_arcs=n_union, priced=priced,
                      family_bound=dual_bound(best_unit[rows], best_household))
    pruned = PrunedScores(scores.units, scores.households, scores.points, scores.score, scores.weight, scores.fee,
                          scores.distance_km, pruning=pruning)
    return pruned, proposable_mask(pruned, request.min_score, excluded_keys, n_h)


PRICE_PAIRS_LIMIT = 60_000_000
"""Up to this many eligible pairs, one pricing round follows the pruning:
LP duals of the kept arcs (HiGHS, column generation) price every eligible
pair in a second streamed pass; arcs of positive reduced cost are added,
and the duals, raised where an arc needs it, give a bound on the full
problem. Beyond it the second pass (as long as the first) is left out."""


def _lp_duals(rows, cols, weights, n_rows, n_cols) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative duals (rows, columns) of the matching LP on these arcs."""
    from solvers import _budgets

    n = len(rows)
    u, v, _, _ = _budgets.lp_duals(rows, cols, weights, np.zeros(n, np.int64), np.full(n, -1, np.int64),
                                   np.zeros(0, np.int64), n_rows, n_cols, np.empty(0, np.int64), [])
    return np.maximum(u, 0.0), np.maximum(v, 0.0)


def price(region: Region, request, scores: PairScores, proposable: np.ndarray, excluded_keys: np.ndarray,
          progress=None, workers: int = 2) -> tuple[np.ndarray, int]:
    """One pricing round: the keys (``unit * households + household``) of
    the eligible pairs whose reduced cost against the kept arcs' LP duals
    is positive, and an upper bound on the optimum over every eligible pair
    (the duals, each unit's raised to cover its arcs: ``y_u = max(u_u,
    max_h w_uh - v_h)``, a feasible dual solution)."""
    units, households = region.unit_arrays, region.household_arrays
    n_u, n_h = len(units), len(households)
    use = proposable & (scores.weight > 0)
    u_dual, v_dual = _lp_duals(scores.units[use], scores.households[use], scores.weight[use].astype(np.int64),
                               n_u, n_h)
    y = u_dual.copy()
    rows = region.waiting_unit_rows
    per_chunk = max(1, BLOCK_PAIRS // max(1, n_h)) * max(1, workers)
    stage = getattr(progress, "stage", None)
    if stage is not None:
        stage("pricing every pair against the kept arcs' LP duals", len(rows))
    added = []
    for start in range(0, len(rows), per_chunk):
        u, h = eligible_pairs(region, rows[start:start + per_chunk], workers, progress if stage else None)
        if len(u) == 0:
            continue
        chunk = score_pairs(units, households, u, h, request.weights, workers, cache=region.cache)
        ok = proposable_mask(chunk, request.min_score, excluded_keys, n_h)
        u, h = u[ok], h[ok]
        slack = chunk.weight[ok] - v_dual[h]
        del chunk
        if len(u) == 0:
            continue
        added.append(u[slack - u_dual[u] > 1e-6] * n_h + h[slack - u_dual[u] > 1e-6])
        # Pairs come unit by unit: each unit's largest w - v over its run.
        starts = np.flatnonzero(np.r_[True, u[1:] != u[:-1]])
        y[u[starts]] = np.maximum(y[u[starts]], np.maximum.reduceat(slack, starts))
    total = float(y.sum() + v_dual.sum())
    bound = int(np.ceil(total * (1 + 1e-12) + 1e-6))
    keys = np.concatenate(added) if added else np.empty(0, np.int64)
    return keys, bound


def pruning_lines(pruning: Pruning, objective: float, shortlist: bool) -> list[str]:
    """What the summary says about the pruning: K, arcs kept against
    eligible pairs, and what it may have cost (no times: the summary is the
    same on every run)."""
    share = pruning.arcs_kept / pruning.eligible_pairs if pruning.eligible_pairs else 1.0
    lines = [f"Candidates ({{option:candidates}} {pruning.k}): the best {pruning.k} households of each unit and the "
             f"best {pruning.k} units of each household (their union): {pruning.arcs_kept:,} arcs kept of "
             f"{pruning.eligible_pairs:,} eligible pairs ({share:.2%})."]
    if pruning.complete:
        lines.append("  No eligible pair was dropped: the proposal is the one the full set of pairs gives.")
        return lines
    if pruning.priced is not None:
        lines.append(f"  Of them {pruning.priced:,} were added by one pricing round: the LP duals of the union "
                     f"({pruning.union_arcs:,} arcs) priced every eligible pair in a second pass, and each pair "
                     "they could not rule out was added.")
    else:
        lines.append(f"  No pricing round (more than {PRICE_PAIRS_LIMIT:,} eligible pairs: a second pass over "
                     "them would take as long as the first).")
    lines.append("  The solve is exact on the kept arcs only (its status above is about them); pairs outside "
                 "them were not considered, and units left unproposed below are explained by their kept arcs.")
    if not shortlist:
        # Side constraints only lower the optimum: the bound holds for them too.
        bound = pruning.bound
        lost = max(0.0, bound - objective)
        how = ("the priced LP duals, raised to cover every eligible pair" if bound < pruning.family_bound else
               "a dual bound from each unit's and each household's best weight")
        lines.append(f"  Upper bound on the optimum over every eligible pair: {bound:,} ({how}; the sums of the best "
                     f"weights alone give {pruning.unit_bound:,} over units and {pruning.household_bound:,} over "
                     f"households); pruning lost at most {lost:,.0f} weight ({lost / bound if bound else 0.0:.2%} "
                     "of the bound).")
    return lines
