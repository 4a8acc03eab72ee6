"""Budgeted matchings: the LP bound by column generation (HiGHS), a rounded
LP solution as a start, and reduced-cost fixing that leaves a small exact
model (see :func:`solvers.constrained.constrained_assignment`).

The problem: maximise ``sum c_j x_j`` over a bipartite matching (each row
and column at most once) with, per fee group ``g``, ``sum f_j x_j <= B_g``
over the arcs of ``g``. Costs ``c`` and fees ``f`` are integers.

Any dual vector ``y = (u, v, lam) >= 0`` (rows, columns, budgets) bounds
every solution ``x``::

    c.x = sum_j d_j x_j + y.(A x) <= y.b + sum_j d_j x_j,
    d_j = c_j - u_r(j) - v_c(j) - lam_g(j) f_j,

so ``value(x) <= P + sum_{d_j < 0} d_j x_j`` with ``P = y.b +
sum_{d_j > 0} d_j``. ``P`` is the LP bound when ``y`` is LP optimal (and the
Lagrangian bound of the budgets, since the matching polytope is integral),
but it is a valid bound for any ``y >= 0``: the duals come from HiGHS in
floating point, are rounded to multiples of ``1 / 2**k`` and the bound is
then computed exactly in integers, so no floating tolerance reaches the
certificate. An arc with ``P + d_j < L + 1``, where ``L`` is the value of a
known solution, belongs to no solution better than ``L`` (values are
integers) and is dropped: what remains is small, and an exact solver on it
proves the optimum of the whole problem.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Column generation: the restricted LP starts with the best arcs of each row
# and adds every arc of positive reduced cost (up to a cap a round).
_START_PER_ROW = 8
_ADD_PER_ROUND = 50_000
_MAX_ROUNDS = 30
_PRICE_TOLERANCE = 1e-7
# The duals are rounded to multiples of 1 / 2**_DUAL_BITS at most; fewer
# when the costs are large, so every exact product stays within int64.
_DUAL_BITS = 30
_INT64_HEADROOM_BITS = 60


@dataclass(frozen=True)
class Certificate:
    """An exact bound and per-arc reduced costs, all scaled by ``2**bits``."""

    bits: int
    bound: int  # P * 2**bits, a Python int
    reduced: np.ndarray  # d_j * 2**bits, int64, per arc

    def upper(self) -> int:
        """The bound P rounded down to an integer (values are integers)."""
        return self.bound >> self.bits

    def may_beat(self, value: int) -> np.ndarray:
        """Arcs that may belong to a solution worth more than ``value``."""
        threshold = (value + 1) << self.bits
        return self.bound + np.minimum(self.reduced, 0) >= threshold


def group_rows(groups: np.ndarray, fees: np.ndarray, n_groups: int) -> np.ndarray:
    """Budget row of each arc in the LP, -1 when its fee is not budgeted."""
    return np.where((groups >= 0) & (fees > 0), groups, -1) if n_groups else np.full(len(groups), -1)


@dataclass(frozen=True)
class SideRow:
    """A row ``sum coef(f_j) x_j <= rhs`` over the arcs of one fee group,
    the coefficient a function of the arc's fee: ``coefs[i]`` for fee
    ``fees[i]`` (0 for any other fee)."""

    group: int
    fees: np.ndarray
    coefs: np.ndarray
    rhs: int

    def of(self, arc_fees: np.ndarray) -> np.ndarray:
        at = np.clip(np.searchsorted(self.fees, arc_fees), 0, len(self.fees) - 1)
        return np.where(self.fees[at] == arc_fees, self.coefs[at], 0)


_HULL_MAX_FEES = 3
_HULL_MAX_POINTS = 200_000


def side_rows(rows, fees, groups, budgets) -> list[SideRow]:
    """The LP's rows beyond the matching: each budget itself, and the facets
    of the integer hull of the budget in terms of how many arcs of each fee
    are chosen (when a group has at most three distinct fees).

    A budget that pays for a few fees lets the LP buy a fraction of one
    more; counted per fee value, the 0/1 solutions are the integer points
    ``n`` with ``sum fee_i n_i <= B``, and every facet ``a.n <= b`` of their
    convex hull (``a >= 0``) is a valid row ``sum a(f_j) x_j <= b``. Facet
    normals are computed from integer points in integers, and ``b`` as the
    exact maximum over all points, so each row is valid exactly.
    """
    out = []
    for g, budget in enumerate(budgets.tolist()):
        mine = (groups == g) & (fees > 0)
        values = np.unique(fees[mine])
        if not values.size:
            continue
        out.append(SideRow(g, values, values.astype(np.int64), int(budget)))
        if values.size > _HULL_MAX_FEES:
            continue
        caps = np.array([min(budget // int(f), int(np.unique(rows[mine & (fees == f)]).size))
                         for f in values.tolist()], dtype=np.int64)
        # A fee above the whole budget is never paid: it gets coefficient 0.
        values, caps = values[caps > 0], caps[caps > 0].tolist()
        if not values.size or int(np.prod(np.array(caps, dtype=np.float64) + 1)) > _HULL_MAX_POINTS:
            continue
        grid = np.stack(np.meshgrid(*[np.arange(c + 1) for c in caps], indexing="ij"), -1).reshape(-1, len(caps))
        points = grid[grid @ values.astype(np.int64) <= budget].astype(np.int64)
        for normal in _upper_facets(points):
            rhs = int((points @ normal).max())
            out.append(SideRow(g, values, normal, rhs))
    return out


def _upper_facets(points: np.ndarray) -> list[np.ndarray]:
    """Integer normals ``a >= 0`` (not all 0) of the convex hull's facets."""
    from math import gcd

    dim = points.shape[1]
    if dim == 1:
        return [np.ones(1, np.int64)]
    from scipy.spatial import ConvexHull, QhullError

    try:
        hull = ConvexHull(points.astype(np.float64))
    except QhullError:  # flat (a fee the budget cannot pay once): no facets
        return []
    seen, out = set(), []
    for simplex in hull.simplices:
        p = points[simplex]
        if dim == 2:
            d = p[1] - p[0]
            normal = np.array([d[1], -d[0]], dtype=np.int64)
        else:
            normal = np.cross(p[1] - p[0], p[2] - p[0]).astype(np.int64)
        if normal.sum() < 0 or (normal < 0).any():
            normal = -normal
        if (normal < 0).any() or not normal.any():
            continue
        divisor = 0
        for value in normal.tolist():
            divisor = gcd(divisor, int(value))
        normal //= divisor
        key = tuple(normal.tolist())
        if key not in seen:
            seen.add(key)
            out.append(normal)
    return out


def coefficients(fees, groups, sides, ids):
    """(row k, arc position, coefficient) of the side rows for arcs ``ids``."""
    entries = []
    for k, side in enumerate(sides):
        pos = np.flatnonzero(groups[ids] == side.group)
        coef = side.of(fees[ids[pos]])
        nz = coef > 0
        entries.append((np.full(int(nz.sum()), k), pos[nz], coef[nz]))
    if not entries:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    return tuple(np.concatenate(parts) for parts in zip(*entries))


_highs_greeted = False


def _greet_highs_on_stderr() -> None:
    """HiGHS prints its banner on standard output when the first solver of
    a process is made; that would mix into output meant for a pipe (a
    proposal's summary, JSON). The first one is made here with standard
    output pointed at standard error for that moment."""
    global _highs_greeted
    if _highs_greeted:
        return
    import os
    import sys

    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    _highs_greeted = True


def lp_duals(rows, cols, costs, fees, groups, budgets, n_rows, n_cols, start, sides):
    """LP duals of the budgeted matching with its cuts, by column generation.

    Parameters are per-arc int arrays (``groups`` already -1 for unbudgeted
    fees); ``start`` holds arc indices to put in the first restricted LP
    (a good solution's arcs); ``sides`` as from :func:`side_rows`. Returns
    float duals ``(u, v, lam)`` for rows, columns and side rows, clipped
    to ``>= 0``, and the LP's primal values per arc (0 outside the final
    restricted LP). HiGHS runs single-threaded with its simplex solver: the
    same input gives the same duals.
    """
    import highspy

    _greet_highs_on_stderr()
    n_arcs = len(rows)
    costs_f = costs.astype(np.float64)
    # First restricted LP: the best few arcs of each row, the best few
    # unbudgeted (fee-free) ones, and the start.
    member = np.zeros(n_arcs, dtype=bool)
    member[start] = True
    for pool in (np.ones(n_arcs, dtype=bool), groups < 0):
        ids = np.flatnonzero(pool)
        order = ids[np.lexsort((-costs[ids], rows[ids]))]
        first = np.r_[True, rows[order][1:] != rows[order][:-1]]
        rank = np.arange(len(order)) - np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
        member[order[rank < _START_PER_ROW]] = True

    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("threads", 1)
    highs.setOptionValue("random_seed", 0)
    highs.setOptionValue("solver", "simplex")
    n_lp_rows = n_rows + n_cols + len(sides)
    upper = np.concatenate([np.ones(n_rows + n_cols), [float(side.rhs) for side in sides]])
    highs.addRows(n_lp_rows, np.full(n_lp_rows, -highspy.kHighsInf), upper, 0,
                  np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0))
    highs.changeObjectiveSense(highspy.ObjSense.kMaximize)

    in_lp: list[np.ndarray] = []

    def add(ids: np.ndarray) -> None:
        side_row, side_pos, side_coef = coefficients(fees, groups, sides, ids)
        entry_col = np.concatenate([np.arange(len(ids)), np.arange(len(ids)), side_pos])
        entry_row = np.concatenate([rows[ids], n_rows + cols[ids], n_rows + n_cols + side_row])
        entry_val = np.concatenate([np.ones(2 * len(ids)), side_coef.astype(np.float64)])
        order = np.argsort(entry_col, kind="stable")
        starts = np.searchsorted(entry_col[order], np.arange(len(ids)))
        highs.addCols(len(ids), costs_f[ids], np.zeros(len(ids)), np.ones(len(ids)), len(order),
                      starts.astype(np.int32), entry_row[order].astype(np.int32), entry_val[order])
        in_lp.append(ids)

    add(np.flatnonzero(member))
    for _ in range(_MAX_ROUNDS):
        highs.run()
        duals = np.abs(np.asarray(highs.getSolution().row_dual))
        u, v, lam = duals[:n_rows], duals[n_rows:n_rows + n_cols], duals[n_rows + n_cols:]
        reduced = costs_f - u[rows] - v[cols]
        for k, side in enumerate(sides):
            if lam[k] > 0:
                mine = groups == side.group
                reduced[mine] -= lam[k] * side.of(fees[mine])
        wanted = np.flatnonzero((reduced > _PRICE_TOLERANCE) & ~member)
        if not wanted.size:
            break
        if wanted.size > _ADD_PER_ROUND:
            wanted = np.sort(wanted[np.argsort(-reduced[wanted], kind="stable")[:_ADD_PER_ROUND]])
        member[wanted] = True
        add(wanted)
    values = np.zeros(n_arcs)
    values[np.concatenate(in_lp)] = np.asarray(highs.getSolution().col_value)
    return u, v, lam, values


@dataclass(frozen=True)
class PlainDuals:
    """The LP duals of the plain matching (no budgets) on some arcs:
    their rows and columns, each arc's position among them (-1 for none),
    the start's positions, and the duals ``u``, ``v``, ``lam``."""

    rows: np.ndarray
    cols: np.ndarray
    costs: np.ndarray
    position: np.ndarray
    at_start: np.ndarray
    u: np.ndarray
    v: np.ndarray
    lam: np.ndarray

    def certificate(self) -> Certificate | None:
        """:func:`certify` of these duals, with no budgets."""
        n = len(self.rows)
        return certify(self.rows, self.cols, self.costs, np.zeros(n, np.int64), np.full(n, -1, np.int64),
                       np.zeros(0, np.int64), [], self.u, self.v, self.lam)


def plain_duals(arcs, arc_ids: np.ndarray, costs: np.ndarray, start: np.ndarray) -> PlainDuals:
    """The LP duals of the plain matching on the arcs ``arc_ids`` of
    ``arcs`` with integer ``costs``, started from the arcs ``start``."""
    rows, cols = arcs.rows[arc_ids], arcs.cols[arc_ids]
    position = np.full(len(arcs.rows), -1, np.int64)
    position[arc_ids] = np.arange(len(arc_ids))
    at_start = position[start]
    n = len(arc_ids)
    u, v, lam, _ = lp_duals(rows, cols, costs, np.zeros(n, np.int64), np.full(n, -1, np.int64),
                            np.zeros(0, np.int64), arcs.n_rows, arcs.n_cols, at_start, [])
    return PlainDuals(rows, cols, costs, position, at_start, u, v, lam)


def certify(rows, cols, costs, fees, groups, budgets, sides, u, v, lam) -> Certificate | None:
    """The exact bound of duals ``(u, v, lam)`` rounded to a grid fine
    enough to lose next to nothing and coarse enough for int64 arithmetic;
    ``None`` if the numbers are too large for that (then the caller
    solves without the bound)."""
    largest = int(np.abs(costs).max()) if len(costs) else 0
    # Duals beyond these caps never help the bound; capped, every term of
    # d_j * 2**bits is below largest * 2**bits times a small factor.
    lam = np.clip(lam, 0.0, None)
    spread = 1
    for k, side in enumerate(sides):
        coef = side.coefs[side.coefs > 0]
        if coef.size:
            lam[k] = min(lam[k], largest / float(coef.min()))
            spread = max(spread, -(-int(coef.max()) // int(coef.min())))
        else:
            lam[k] = 0.0
    magnitude = max(1, largest) * (2 + spread * max(1, len(sides))) * 4
    bits = min(_DUAL_BITS, _INT64_HEADROOM_BITS - magnitude.bit_length())
    if bits < 0:
        return None
    scale = float(1 << bits)
    u_int = np.rint(np.clip(u, 0.0, largest) * scale).astype(np.int64)
    v_int = np.rint(np.clip(v, 0.0, largest) * scale).astype(np.int64)
    lam_int = np.rint(lam * scale).astype(np.int64)
    reduced = (costs.astype(np.int64) << bits) - u_int[rows] - v_int[cols]
    bound = int(u_int.astype(object).sum()) + int(v_int.astype(object).sum())
    for k, side in enumerate(sides):
        if lam_int[k]:
            mine = groups == side.group
            reduced[mine] -= lam_int[k] * side.of(fees[mine])
            bound += int(lam_int[k]) * side.rhs
    bound += int(np.maximum(reduced, 0).astype(object).sum())
    return Certificate(bits, bound, reduced)


def round_lp(rows, cols, costs, fees, groups, budgets, n_rows, n_cols, values) -> np.ndarray:
    """A feasible solution near the LP's: its arcs above one half, less
    budget breakers, then the best arcs that still fit, heaviest first."""
    chosen = np.flatnonzero(values > 0.5)
    # Budgets: drop the group's least integral arcs, then its lowest value
    # per fee, until the group fits (exact integers).
    keep = np.ones(len(chosen), dtype=bool)
    for g, budget in enumerate(budgets.tolist()):
        mine = np.flatnonzero(groups[chosen] == g)
        spent = int(fees[chosen[mine]].sum())
        if spent <= budget:
            continue
        arcs = chosen[mine]
        ratio = costs[arcs] / np.maximum(fees[arcs], 1)
        for k in np.lexsort((ratio, values[arcs])).tolist():
            if spent <= budget:
                break
            if fees[arcs[k]] > 0:
                keep[mine[k]] = False
                spent -= int(fees[arcs[k]])
    chosen = chosen[keep]
    return fill(rows, cols, costs, fees, groups, budgets, n_rows, n_cols, chosen)


def fill(rows, cols, costs, fees, groups, budgets, n_rows, n_cols, chosen) -> np.ndarray:
    """Add positive arcs with both ends free, heaviest first, while they fit."""
    used_row = np.zeros(n_rows, dtype=bool)
    used_col = np.zeros(n_cols, dtype=bool)
    used_row[rows[chosen]] = True
    used_col[cols[chosen]] = True
    left = budgets.astype(np.int64).copy()
    budgeted = chosen[groups[chosen] >= 0]
    np.subtract.at(left, groups[budgeted], fees[budgeted])
    open_ = np.flatnonzero((costs > 0) & ~used_row[rows] & ~used_col[cols])
    added = []
    for arc in open_[np.argsort(-costs[open_], kind="stable")].tolist():
        r, c, g = int(rows[arc]), int(cols[arc]), int(groups[arc])
        if used_row[r] or used_col[c]:
            continue
        if g >= 0:
            if fees[arc] > left[g]:
                continue
            left[g] -= int(fees[arc])
        used_row[r] = used_col[c] = True
        added.append(arc)
    return np.sort(np.concatenate([chosen, np.array(added, np.int64)]).astype(np.int64))
