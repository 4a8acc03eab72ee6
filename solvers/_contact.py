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
# Arcs per row (highest reduced cost) in the neighbourhood model tried when
# the whole model is too large for CP-SAT.
NEIGHBOURHOOD_PER_ROW = 24


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
    duals = _budgets.plain_duals(arcs, arc_ids, costs, start)
    rows, cols, position, at_start, u, v = duals.rows, duals.cols, duals.position, duals.at_start, duals.u, duals.v

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
    priced_upper, priced_choice = _priced_bound(rows, cols, costs, v_int, bits, side)
    # A neighbourhood for a small model: each row's few arcs of highest
    # reduced cost.
    order = np.lexsort((-d, rows))
    first = np.r_[True, rows[order][1:] != rows[order][:-1]] if len(order) else np.zeros(0, bool)
    rank = np.arange(len(order)) - np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
    near = np.zeros(len(arc_ids), dtype=bool)
    near[order[rank < NEIGHBOURHOOD_PER_ROW]] = True
    return keep, min((bound - lower) >> bits, priced_upper), priced_choice, near


def _priced_bound(rows, cols, costs, v_int, bits: int, side: SideConstraints) -> tuple[int, np.ndarray]:
    """A Lagrangian bound: each column priced at its dual ``v_c >= 0``, so
    that rows need not share columns any more. Any feasible ``X`` is worth
    at most ``sum v + sum over rows of what X gives them at the prices``,
    and at most: a row in no contact pair its best priced arc (or
    nothing), a component of paired rows its best compatible choice at the
    prices (:func:`_component_best`, exact for a pair). In integers on the
    dual grid, rounded down. Also returns the components' best choices at
    the prices (positions), a start that heeds what other rows pay."""
    from types import SimpleNamespace

    priced = (costs.astype(np.int64) << bits) - v_int[cols]
    paired_rows = np.unique(side.contact.row_pairs)
    paired = np.isin(rows, paired_rows)
    gain = priced > 0
    best = np.zeros(int(rows.max()) + 1 if len(rows) else 0, np.int64)
    np.maximum.at(best, rows[gain & ~paired], priced[gain & ~paired])
    total = int(v_int.astype(object).sum()) + int(best.astype(object).sum())
    view = SimpleNamespace(rows=rows, cols=cols, weights=priced)
    by_row = {r: a[gain[a]] for r, a in row_arcs(rows, paired_rows).items()}
    for r in paired_rows.tolist():
        by_row.setdefault(r, np.zeros(0, np.int64))
    linked = {tuple(p) for p in side.contact.row_pairs.tolist()}
    choice: list[int] = []
    for members in _components(sorted(linked)):
        upper, kept, _ = _component_best(view, side.contact, members, by_row, linked)
        total += upper
        choice += kept
    return total >> bits, np.array(sorted(choice), np.int64)


def _components(pairs: list[tuple[int, int]]) -> list[list[int]]:
    """Rows linked by contact pairs, as connected components (sorted)."""
    parent: dict[int, int] = {}

    def find(r: int) -> int:
        while parent.setdefault(r, r) != r:
            parent[r] = parent[parent[r]]
            r = parent[r]
        return r

    for a, b in pairs:
        parent[find(a)] = find(b)
    groups: dict[int, list[int]] = {}
    for r in sorted(parent):
        groups.setdefault(find(r), []).append(r)
    return sorted(groups.values())


def _component_best(arcs: Arcs, contact, members: list[int], by_row: dict[int, np.ndarray],
                    linked: set[tuple[int, int]]) -> tuple[int, list[int], np.ndarray]:
    """For one component of contact rows: an upper bound on what its rows
    can weigh together in any feasible solution, and a feasible choice of
    arcs (one per row at most, near where the pairs require, distinct
    columns). The bound keeps only the constraints to one hub row (a star;
    exact for a pair): the best hub arc with, for each other row, its best
    arc near it, or the hub left out and every other row at its best."""
    # The hub: the row with the most links (a star's centre: then the
    # bound is exact for a pair and for any star).
    degree = {r: sum(1 for a, b in linked if r in (a, b) and {a, b} <= set(members)) for r in members}
    hub = max(members, key=lambda r: (degree[r], -r))
    others = [r for r in members if r != hub]
    weights = arcs.weights
    best_alone = {r: (int(weights[by_row[r]].max()) if len(by_row[r]) else 0) for r in members}
    upper = sum(best_alone[r] for r in others)  # the hub takes nothing
    choice: list[int] = [int(by_row[r][np.argmax(weights[by_row[r]])]) for r in others if len(by_row[r])]
    hub_arcs = by_row[hub]
    if len(hub_arcs):
        total = weights[hub_arcs].astype(np.int64).copy()
        partner = {}
        for r in others:
            mine = by_row[r]
            if (hub, r) not in linked and (r, hub) not in linked:
                total += best_alone[r]
                partner[r] = None
                continue
            best = np.zeros(len(hub_arcs), np.int64)
            at = np.full(len(hub_arcs), -1, np.int64)
            if len(mine):
                for block, far in far_blocks(contact, arcs.cols, hub_arcs, mine):
                    value = np.where(far | (arcs.cols[block][:, None] == arcs.cols[mine][None, :]), 0,
                                     weights[mine][None, :])
                    k = np.searchsorted(hub_arcs, block[0])
                    j = value.argmax(axis=1)
                    got = value[np.arange(len(block)), j]
                    at[k:k + len(block)] = np.where(got > 0, mine[j], -1)
                    best[k:k + len(block)] = got
            total += best
            partner[r] = at
        i = int(np.argmax(total))
        if int(total[i]) > upper:
            upper = int(total[i])
            choice = [int(hub_arcs[i])]
            for r in others:
                if partner[r] is None:
                    if len(by_row[r]):
                        choice.append(int(by_row[r][np.argmax(weights[by_row[r]])]))
                elif partner[r][i] >= 0:
                    choice.append(int(partner[r][i]))
    # The choice may break a constraint between two non-hub rows, or reuse
    # a column: drop the lighter arc until it does neither.
    choice.sort(key=lambda a: -int(weights[a]))
    kept: list[int] = []
    for a in choice:
        ok = int(arcs.cols[a]) not in {int(arcs.cols[b]) for b in kept}
        for b in kept:
            pair = (int(arcs.rows[a]), int(arcs.rows[b]))
            if ok and (pair in linked or pair[::-1] in linked) and contact.far(arcs.cols[[a]], arcs.cols[[b]])[0, 0]:
                ok = False
        if ok:
            kept.append(a)
    # The arcs the joint matching may give this component, all compatible:
    # the hub's kept arc, each row linked to the hub alone any arc near it,
    # every other row its kept arc (or none).
    kept_of_row = {int(arcs.rows[a]): a for a in kept}
    hub_pick = kept_of_row.get(hub)
    allowed = [np.zeros(0, np.int64)]
    if hub_pick is not None:
        allowed.append(np.array([hub_pick], np.int64))
    for r in others:
        links = {b if a == r else a for a, b in linked if r in (a, b) and {a, b} <= set(members)}
        if hub_pick is not None and links == {hub}:
            mine = by_row[r]
            allowed.append(mine[~contact.far(arcs.cols[[hub_pick]], arcs.cols[mine])[0]] if len(mine) else mine)
        elif r in kept_of_row:
            allowed.append(np.array([kept_of_row[r]], np.int64))
    return upper, kept, np.concatenate(allowed)


def solve_by_parts(arcs: Arcs, side: SideConstraints, config, matching) -> tuple[np.ndarray, int, int] | None:
    """Contact pairs alone (no budgets, fixed arcs or conflicts): the rows
    in no pair are matched exactly on every column (worth ``R``), each
    component of paired rows gets its best choice and an upper bound
    (:func:`_component_best`); no feasible solution is worth more than
    ``R`` plus the components' bounds. The components' choices, with the
    free rows matched again without their columns, are a feasible solution.
    Returns (arcs chosen, its value, the bound) in integer weights, or
    ``None`` for float weights."""
    if not arcs.integral:
        return None
    pairs = [tuple(p) for p in side.contact.row_pairs.tolist()]
    linked = set(pairs)
    members = _components(pairs)
    paired_rows = np.array(sorted({r for m in members for r in m}), np.int64)
    positive = arcs.weights > 0
    in_pair = np.isin(arcs.rows, paired_rows)
    by_row = row_arcs(arcs.rows, paired_rows)
    by_row = {r: a[positive[a]] for r, a in by_row.items()}
    for r in paired_rows.tolist():
        by_row.setdefault(r, np.zeros(0, np.int64))
    upper_parts, chosen, allowed = 0, [], []
    for m in members:
        upper, kept, restricted = _component_best(arcs, side.contact, m, by_row, linked)
        upper_parts += upper
        chosen += kept
        allowed.append(restricted)
    free = np.flatnonzero(~in_pair & positive)
    whole = matching(arcs.rows[free], arcs.cols[free], arcs.weights[free], arcs.n_rows, arcs.n_cols)
    bound = int(arcs.weights[free[whole]].sum()) + upper_parts

    candidates = []
    # 1. The components' choices as they are, the free rows matched on the
    # columns they leave (the heavier component keeps a shared column).
    chosen.sort(key=lambda a: -int(arcs.weights[a]))
    used, parts = set(), []
    for a in chosen:
        if int(arcs.cols[a]) not in used:
            used.add(int(arcs.cols[a]))
            parts.append(a)
    rest = free[~np.isin(arcs.cols[free], np.array(sorted(used), np.int64))]
    after = matching(arcs.rows[rest], arcs.cols[rest], arcs.weights[rest], arcs.n_rows, arcs.n_cols)
    candidates.append(np.concatenate([rest[after], np.array(parts, np.int64)]))
    # 2. One matching of every row, each component held to its hub's arc
    # and what is near it; a pair of non-hub rows it leaves too far apart
    # loses its lighter arc.
    joint = np.unique(np.concatenate([free] + allowed))
    picked = joint[matching(arcs.rows[joint], arcs.cols[joint], arcs.weights[joint], arcs.n_rows, arcs.n_cols)]
    candidates.append(_repaired(arcs, side.contact, picked, linked))
    solution = np.sort(max(candidates, key=lambda c: int(arcs.weights[c].sum())))
    value = int(arcs.weights[solution].sum())
    return solution, value, max(bound, value)


def _repaired(arcs: Arcs, contact, picked: np.ndarray, linked: set[tuple[int, int]]) -> np.ndarray:
    """``picked`` (a matching) less the lighter arc of each linked pair of
    rows placed too far apart."""
    of_row = {int(arcs.rows[a]): int(a) for a in picked.tolist()}
    dropped: set[int] = set()
    for a, b in sorted(linked):
        if a in of_row and b in of_row and of_row[a] not in dropped and of_row[b] not in dropped \
                and contact.far(arcs.cols[[of_row[a]]], arcs.cols[[of_row[b]]])[0, 0]:
            lighter = min(of_row[a], of_row[b], key=lambda arc: (int(arcs.weights[arc]), arc))
            dropped.add(lighter)
    return np.array([a for a in picked.tolist() if a not in dropped], np.int64)
