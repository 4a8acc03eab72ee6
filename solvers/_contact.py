"""Reduced-cost fixing for contact pairs, with the pairs' own cost in the
bound (see :func:`contact_reduction`)."""

from __future__ import annotations

import numpy as np

from . import _budgets
from ._arcs import Arcs
from ._side_constraints import SideConstraints, far_blocks, row_arcs

# Dual grid: multiples of 1 / 2**_DUAL_BITS (fewer bits for large costs,
# so that every exact product stays within int64).
_DUAL_BITS = 30
_INT64_HEADROOM_BITS = 60


def contact_reduction(arcs: Arcs, side: SideConstraints, arc_ids: np.ndarray, costs: np.ndarray,
                      start: np.ndarray) -> tuple[np.ndarray, int] | None:
    """Which variables (``arc_ids``, integer ``costs``) may belong to a
    solution better than ``start`` (a feasible solution, arc indices), and
    an upper bound on the optimum in ``costs``; ``None`` when the costs are
    too large for exact integer arithmetic.

    With any duals ``u, v >= 0`` (those of the matching's LP, HiGHS) and
    reduced costs ``d_j = c_j - u_r - v_c``, every matching ``X`` obeys
    ``P - c(X) = sum_r pen_r(X) + sum_c (v_c if c is unmatched)``, where
    ``P = sum u + sum v + sum max(d, 0)`` and row ``r``'s penalty is
    ``pos_r - d_j`` when it takes arc ``j`` and ``pos_r + u_r`` when it
    takes none (``pos_r``: the sum of ``max(d, 0)`` over its arcs). All
    penalties are >= 0. A contact pair of rows ``(a, b)`` in a feasible
    ``X`` takes near arcs or leaves a row out, so ``pen_a + pen_b`` is at
    least ``m_ab``, the least over such choices; over disjoint pairs and the
    other rows' least penalties this gives a lower bound ``L`` on the total
    penalty, so ``P - L`` bounds the optimum. An arc whose own least total
    penalty exceeds ``P - (value of start + 1)`` is in no better solution
    and is dropped: the plain reduced-cost fixing, tightened by what the
    contact pairs must cost. All in integers on the dual grid, so no
    floating tolerance reaches the answer."""
    n_rows, n_cols = arcs.n_rows, arcs.n_cols
    rows, cols = arcs.rows[arc_ids], arcs.cols[arc_ids]
    position = np.full(len(arcs.rows), -1, np.int64)
    position[arc_ids] = np.arange(len(arc_ids))
    at_start = position[start]
    no_groups, no_fees, no_budgets = np.full(len(arc_ids), -1, np.int64), np.zeros(len(arc_ids), np.int64), \
        np.zeros(0, np.int64)
    u, v, _, _ = _budgets.lp_duals(rows, cols, costs, no_fees, no_groups, no_budgets, n_rows, n_cols, at_start, [])

    largest = int(np.abs(costs).max()) if len(costs) else 0
    # Every sum below adds at most len(costs) terms of at most 4 * largest * 2**bits.
    bits = min(_DUAL_BITS, _INT64_HEADROOM_BITS - largest.bit_length() - max(1, len(costs)).bit_length())
    if bits < 0:
        return None
    scale = float(1 << bits)
    u_int = np.rint(np.clip(u, 0.0, largest) * scale).astype(np.int64)
    v_int = np.rint(np.clip(v, 0.0, largest) * scale).astype(np.int64)
    d = (costs.astype(np.int64) << bits) - u_int[rows] - v_int[cols]
    bound = int(u_int.astype(object).sum()) + int(v_int.astype(object).sum()) + \
        int(np.maximum(d, 0).astype(object).sum())
    allowed = bound - ((int(costs[at_start].sum()) + 1) << bits)  # the most penalty a better solution pays

    positive = np.zeros(n_rows, np.int64)
    np.add.at(positive, rows, np.maximum(d, 0))
    pen_arc = positive[rows] - d
    pen_none = positive + u_int
    least_arc = np.full(n_rows, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(least_arc, rows, pen_arc)
    base = np.minimum(least_arc, pen_none)

    # Disjoint contact pairs, each with its least joint penalty m_ab and,
    # per arc of either row, the least penalty of a compatible choice of
    # the other row.
    by_row = row_arcs(rows, side.contact.row_pairs.reshape(-1))
    none = np.zeros(0, np.int64)
    used: set[int] = set()
    partner_least = np.zeros(len(arc_ids), np.int64)  # for arcs of paired rows
    pair_of_row: dict[int, int] = {}
    pair_min: dict[int, int] = {}
    for a, b in side.contact.row_pairs.tolist():
        if a in used or b in used:
            continue
        used.update((a, b))
        left, right = by_row.get(a, none), by_row.get(b, none)
        for mine, other, other_row in ((left, right, b), (right, left, a)):
            best = np.full(len(mine), pen_none[other_row], np.int64)
            if len(mine) and len(other):
                for block, far in far_blocks(side.contact, cols, mine, other):
                    near_pen = np.where(far, np.iinfo(np.int64).max, pen_arc[other][None, :])
                    k = np.searchsorted(mine, block[0])
                    best[k:k + len(block)] = np.minimum(best[k:k + len(block)], near_pen.min(axis=1))
            partner_least[mine] = best
        joint = [int(pen_none[a]) + int(min(pen_none[b], pen_arc[right].min() if len(right) else pen_none[b]))]
        if len(left):
            joint.append(int((pen_arc[left] + partner_least[left]).min()))
        pair_min[a] = pair_min[b] = min(joint)
        pair_of_row[a], pair_of_row[b] = b, a
    lower = int(base.astype(object).sum())
    for a in sorted(pair_of_row):
        if a < pair_of_row[a]:
            lower += pair_min[a] - int(base[a]) - int(base[pair_of_row[a]])

    # An arc's least total penalty: the bound's, with its row's (or its
    # pair's) least replaced by what taking the arc costs.
    need = lower - base[rows] + pen_arc
    paired = np.isin(rows, np.fromiter(pair_of_row, np.int64, len(pair_of_row)))
    if paired.any():
        idx = np.flatnonzero(paired)
        pair_mins = np.array([pair_min[int(r)] for r in rows[idx].tolist()], np.int64)
        need[idx] = lower - pair_mins + pen_arc[idx] + partner_least[idx]
    keep = need <= allowed
    keep[at_start] = True
    keep[position[side.fixed]] = True
    return keep, (bound - lower) >> bits
