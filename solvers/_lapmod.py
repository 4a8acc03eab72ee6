"""Sparse square back end: lap.lapmod on the best arcs, certified by duals.

``lap.lapmod`` (sparse Jonker-Volgenant) only solves *perfect* assignments,
and it is fastest on few arcs. For a square input we therefore

1. keep each row's ``k`` heaviest arcs (one packed-integer sort, which also
   groups all arcs by row for step 3),
2. ask lapmod for the best perfect assignment among them (costs
   ``max weight - weight``, so it maximises the weight),
3. *certify* that assignment as a maximum-weight matching of the whole
   input, where rows and columns may stay unmatched: we look for duals
   ``u, v >= 0`` with ``u_i + v_j >= w_ij`` on every arc, equality on the
   chosen arcs and zero on unmatched rows and columns (LP duality: such
   duals exist if and only if the matching is optimal). With
   ``u_i = w(i, mate i) - v(mate i)`` the conditions are difference
   constraints on ``v``; their least solution is found by label-correcting
   (Bellman-Ford restricted to the columns whose value changed) and only
   ever grows, so the first upper bound it crosses disproves optimality.

Everything is checked in int64 (integer weights exactly; float weights
after the same power-of-two scaling as the OR-Tools back ends), so a
certified answer is exact. Whenever a step fails (the kept arcs hold no
perfect assignment, lapmod returns a non-arc, or the certificate fails
because the optimum leaves something unmatched) the caller falls back to
min-cost flow, which is always exact. The failed attempt only costs time.
"""

from __future__ import annotations

import numpy as np

from ._arcs import integer_costs

BACKEND = "lapmod"

# Arcs kept per row for lapmod: on 100k x 100k with 50 arcs a row, the
# 10 best miss the optimum, the 15 best hold it (benchmarks/SOLVERS.md).
KEEP_PER_ROW = 15
# lapmod rejects costs >= lap.LARGE (1e6); stay well below it.
_LAPMOD_MAX_COST = 1e5
# Give up certifying after this many arc relaxations per arc.
_RELAXATIONS_PER_ARC = 40


def applicable(n_rows: int, n_cols: int, n_arcs: int) -> bool:
    """Whether the input has the shape this back end can try (square, packable)."""
    if n_rows != n_cols or n_rows < 2 or n_arcs < n_rows:
        return False
    return _bits(n_rows) + _bits(n_arcs) <= 47  # leaves >= 16 bits for the weight


def _bits(count: int) -> int:
    return max(1, int(count - 1).bit_length())


def solve_lapmod(rows, cols, weights, integral, n: int):
    """Choose the arcs of a certified maximum-weight matching, or None.

    Parameters
    ----------
    rows, cols : numpy.ndarray
        int64 arc ends, compacted to ``0..n-1`` (square).
    weights : numpy.ndarray
        Strictly positive weights (int64 or float64), no repeated arc.
    integral : bool
        Whether ``weights`` are integers.
    n : int
        Number of compact rows (= columns).

    Returns
    -------
    numpy.ndarray or None
        Boolean mask of the chosen arcs, or None when no certified answer
        was found (the caller must then use another back end).
    """
    import lap

    n_arcs = rows.size
    arc_bits, row_bits = _bits(n_arcs), _bits(n)
    weight_bits = 63 - arc_bits - row_bits
    # Pack (row, descending weight, arc) into one int64 and sort the keys
    # themselves: much faster than an argsort or a lexsort.
    low, high = float(weights.min()), float(weights.max())
    span = high - low
    levels = (1 << weight_bits) - 1
    # Integer weights with a small enough span get their exact rank
    # (max - w), which lets the certificate skip hopeless arcs.
    exact_rank = integral and span <= levels
    if exact_rank:
        rank = int(high) - weights
    elif span > 0:
        rank = ((high - weights) / span * levels).astype(np.int64)
        np.clip(rank, 0, levels, out=rank)
    else:
        rank = np.zeros(n_arcs, np.int64)
    keys = (rows << (weight_bits + arc_bits)) | (rank << arc_bits) | np.arange(n_arcs)
    keys.sort()
    by_row = keys & ((1 << arc_bits) - 1)  # arc ids grouped by row, best first
    del rank
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])

    # 1. the k best arcs of every row, as a CSR matrix with sorted columns.
    row_of_sorted = np.repeat(np.arange(n), np.diff(indptr))
    position = np.arange(n_arcs) - indptr[row_of_sorted]
    best = by_row[position < KEEP_PER_ROW]
    best_keys = rows[best] * n + cols[best]
    order = np.argsort(best_keys)
    best, best_keys = best[order], best_keys[order]
    kept_indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(rows[best], minlength=n), out=kept_indptr[1:])
    lap_costs = (high - weights[best]).astype(np.float64)
    if span > 0 and (not integral or span >= _LAPMOD_MAX_COST):
        # Only a proposal: rounding here can cost certification, not exactness.
        lap_costs = lap_costs / span * _LAPMOD_MAX_COST

    # 2. lapmod's best perfect assignment among them.
    mate, _ = lap.lapmod(n, lap_costs, kept_indptr.astype(np.int32),
                         cols[best].astype(np.int32), return_cost=False)
    mate = np.asarray(mate, np.int64)
    if mate.shape != (n,) or mate.min() < 0 or mate.max() >= n:
        return None
    wanted = np.arange(n) * n + mate
    found = np.minimum(np.searchsorted(best_keys, wanted), best_keys.size - 1)
    if not np.array_equal(best_keys[found], wanted):  # not a perfect matching of arcs
        return None
    chosen_arcs = best[found]
    if np.unique(mate).size != n:
        return None

    # 3. certify on every arc.
    costs, _ = integer_costs(weights, integral, 1 << 60)
    order_keys = (keys, weight_bits, arc_bits, int(high)) if exact_rank else None
    if not _certify(cols, costs, by_row, indptr, mate, costs[chosen_arcs], order_keys):
        return None
    mask = np.zeros(n_arcs, dtype=bool)
    mask[chosen_arcs] = True
    return mask


def _certify(cols, costs, by_row, indptr, mate, mate_cost, order_keys=None) -> bool:
    """Whether duals prove the perfect matching ``mate`` optimal.

    ``v`` (column duals) must satisfy ``v[j] >= v[mate[i]] + c_ij - c(i, mate i)``
    for every arc, ``v >= 0`` and ``v[mate[i]] <= c(i, mate i)`` (so that
    ``u_i >= 0``). Starting from 0, only columns whose value rose are
    propagated again (through the row matched to them). With
    ``order_keys`` (the sorted packed keys ``row, max - c, arc`` and their
    bit widths, for integer costs) only each row's arcs with ``c_ij > u_i``
    are scanned, found by one binary search: the others cannot lift ``v``
    above 0.
    """
    n = mate.size
    row_of_col = np.empty(n, np.int64)
    row_of_col[mate] = np.arange(n)
    upper = mate_cost[row_of_col]  # v[j] <= c(row matched to j, j)
    sorted_cols = cols[by_row]
    sorted_costs = costs[by_row]
    del by_row
    v = np.zeros(n, np.int64)
    active_rows = np.arange(n)
    marked = np.zeros(n, dtype=bool)
    steps = int(np.diff(indptr).max()).bit_length()
    budget = _RELAXATIONS_PER_ARC * cols.size
    while active_rows.size:
        starts = indptr[active_rows]
        base = v[mate[active_rows]] - mate_cost[active_rows]  # = -u_i
        if order_keys is None:
            stops = indptr[active_rows + 1]
        else:
            keys, weight_bits, arc_bits, top = order_keys
            # First arc of the row with rank >= top - u_i, i.e. c_ij <= u_i:
            # a binary search inside each active row, all rows at once.
            needles = ((active_rows << weight_bits) | (top + base)) << arc_bits
            low, high = starts.copy(), indptr[active_rows + 1]
            for _ in range(steps):
                middle = (low + high) >> 1
                below = keys[np.minimum(middle, keys.size - 1)] < needles
                below &= middle < high
                low = np.where(below, middle + 1, low)
                high = np.where(below, high, middle)
            stops = low
        counts = stops - starts
        total = int(counts.sum())
        budget -= total
        if budget < 0:
            return False
        if total == 0:
            break
        # Positions of the relevant arcs of the active rows.
        offsets = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(total)
        candidate = np.repeat(base, counts) + sorted_costs[offsets]
        target = sorted_cols[offsets]
        before = v[target]
        rising = candidate > before
        if not rising.any():
            break
        target, candidate = target[rising], candidate[rising]
        np.maximum.at(v, target, candidate)
        if np.any(v[target] > upper[target]):
            return False
        marked[row_of_col[target]] = True
        active_rows = np.flatnonzero(marked)
        marked[active_rows] = False
    return True
