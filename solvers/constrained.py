"""Maximum-weight assignment with budgets, fixed links and conflicts.

Budgets alone go through an LP bound (HiGHS) and CP-SAT on what the bound
cannot rule out (:func:`_solve_budgets`, solvers/_budgets.py); fixed links
or conflicts through one CP-SAT model (:func:`_solve_cp_sat`). Contact
pairs alone (:class:`~solvers.Contact`, the aggregated form of distance
conflicts) are first solved by parts (exact matchings, solvers/_contact.py)
and answered there when certified within ``relative_gap``; else CP-SAT on
the arcs the LP duals keep, or, past :data:`CP_SAT_MAX_ARCS` arcs, the best
start with its certified bound."""

from __future__ import annotations

import math
import time

import numpy as np

from ._arcs import Arcs, as_index_array, integer_costs, total, validate_arcs
from ._results import AssignmentResult, SolverConfig
from . import _budgets
from ._contact import contact_reduction, solve_by_parts
from ._side_constraints import Contact, SideConstraints, far_blocks, row_arcs, validate_side_constraints, violates
from .matching import max_weight_matching

# CP-SAT keeps objective sums in int64 and its LP in doubles: costs stay far
# below both ranges.
_OBJECTIVE_BITS = 50
# The budgeted path certifies its LP bound in int64 with the duals on a
# binary grid: costs leave room for that grid (see solvers/_budgets.py).
_BUDGET_OBJECTIVE_BITS = 40
# The budgeted path's first, small CP-SAT models: the LP solution's arcs and
# the best of each row by LP reduced cost, this many a row in turn (each
# model hinted with the best solution so far), each given this share of the
# time limit. Small first: on 3,000 children x 2,000 households with every
# agency budgeted (benchmarks/bench_propose.py, seed 1) the model of one arc
# a row is solved to its optimum in 0.15 s, within 0.02% of the LP bound,
# where a first model of four a row found nothing better than the rounding
# in 3 s and the whole run stopped at a 0.19% gap after 80 s. Measured on
# seven budgeted regions from 400 x 600 to 5,000 x 3,000 (2026-12-04):
# (1, 2, 4, 8) at 0.1 certified every one within 0.1% in 0.1-3.9 s, with
# a time limit of 4 s as with 60 s; (1, 2, 4) at 0.05 missed one at 4 s.
_NEIGHBOURHOOD_PER_ROW = (1, 2, 4, 8)
_NEIGHBOURHOOD_SHARE = 0.1
# An LP value above this counts the arc as in the LP solution's support.
_LP_SUPPORT = 1e-6
# The CP-SAT road (fixed arcs, conflicts, contact) drops, on models with at
# least this many arc variables, every arc that the LP duals of the
# unconstrained matching rule out of any solution better than the repaired
# warm start (reduced-cost fixing, exact: see :func:`_reduced_by_duals`).
REDUCE_FROM_ARCS = 20_000
# Past this many arc variables (after that fixing) no CP-SAT model is built:
# the best start is returned with its certified gap (see _solve_cp_sat).
CP_SAT_MAX_ARCS = 300_000

# The time limit is CP-SAT's deterministic time (a count of work done that
# is the same on every run with one worker), not the wall clock: a search
# stopped by the limit stops at the same point and gives the same answer.
# The limit stays in seconds for the user, converted at this rate.
#
# Measured 2026-11-26 on the project machine (2 shared cores, AMD EPYC,
# OR-Tools 9.15, one worker), on budgeted proposals (`propose` with a budget
# for every agency at half of what the unconstrained optimum spends, as in
# benchmarks/bench_propose.py): CP-SAT's deterministic_time divided by its
# wall_time (process CPU time agreed within 2%), for runs to optimality and
# runs stopped at 1 and 2 units. Whole runs to optimality: 400 x 600 seed 1
# 0.22-0.31/s (3.60 units in 11.7-16.0 s), seed 2 0.22-0.39/s (3.76 units
# in 9.7-16.8 s), 600 x 900 seed 3 0.15-0.25/s (6.32 units in 24.9-42.6 s);
# the first unit runs faster (0.27-0.57/s). The spread is the load of other
# jobs on the shared cores. 0.25 is about the median of whole runs: a limit
# of T seconds stops after about T seconds here, sooner on a quiet machine.
DETERMINISTIC_PER_SECOND = 0.25
# A wall-clock limit well beyond the time limit only guards against a
# machine far slower than the one measured (or a presolve that the
# deterministic count underrates); it is not expected to fire, and if it
# does the answer may differ between runs.
WALL_CLOCK_BACKSTOP = 10.0
WALL_CLOCK_BACKSTOP_EXTRA_S = 30.0


def constrained_assignment(
    rows,
    cols,
    weights,
    *,
    n_rows: int | None = None,
    n_cols: int | None = None,
    fees=None,
    fee_group=None,
    budgets=None,
    fixed=None,
    conflicts=None,
    contact: Contact | None = None,
    hint=None,
    config: SolverConfig | None = None,
) -> AssignmentResult:
    """Maximise the total weight of a matching under side constraints.

    Each row and column is used at most once. Optional side constraints:
    a budget per fee group, arcs that must be chosen, and pairs of arcs that
    may not both be chosen.

    Parameters
    ----------
    rows, cols, weights : array_like
        The allowed arcs, as for :func:`max_weight_matching`.
    n_rows, n_cols : int, optional
        Number of rows / columns; inferred when omitted.
    fees : array_like of int, optional
        Non-negative fee of each arc.
    fee_group : array_like of int, optional
        Budget group of each arc; -1 when the arc's fee is not budgeted.
    budgets : array_like of int, optional
        Budget per group: the fees of the chosen arcs in group ``g`` sum to
        at most ``budgets[g]``. ``fees``, ``fee_group`` and ``budgets`` go
        together.
    fixed : array_like of int, optional
        Indices of arcs that must be chosen (whatever their weight).
    conflicts : array_like of int, shape (k, 2), optional
        Pairs of arc indices that may not both be chosen.
    contact : Contact, optional
        Pairs of rows whose chosen arcs must end at columns close together
        (``col_points[c] @ col_points[d] >= min_dot``): the same as listing
        every far pair of their arcs in ``conflicts``
        (:func:`solvers.contact_conflicts`), without the list. The model
        gets one constraint per arc of the row with fewer arcs: ``x_i`` plus
        the other row's arcs far from it at most 1, or, when most of them
        are far, ``x_i + y - (its near arcs) <= 1`` with ``y`` the other
        row's (at most one) chosen arc: exact because a row takes one arc
        at most.
    hint : array_like of int, optional
        Arc indices of a warm start. When omitted, the exact unconstrained
        matching, repaired greedily to respect the side constraints, is used.
    config : SolverConfig, optional
        Time limit, workers and seed; defaults to ``SolverConfig()``.

    Returns
    -------
    AssignmentResult
        ``arcs``, ``pairs``, ``objective``, ``bound``, ``gap``, ``status``
        and ``wall_time_s``. An infeasible problem (say, fixed arcs over
        budget) gives status ``"infeasible"`` and no arcs.

    Raises
    ------
    ValueError
        For malformed arcs or side constraints, or two fixed arcs sharing
        a row or column.
    RuntimeError
        If CP-SAT rejects the model (MODEL_INVALID), with its explanation.

    Notes
    -----
    Only arcs of positive weight, and fixed arcs, get a variable: with
    non-negative fees, dropping any other arc from a solution keeps it
    feasible and never lowers the total. Without side constraints the exact
    matching is returned directly. CP-SAT runs with the LP relaxation at
    full strength (``linearization_level=2``), which is what proves budgeted
    matchings optimal quickly, and with a deterministic time limit of
    ``time_limit_s`` converted at :data:`DETERMINISTIC_PER_SECOND`. With one
    worker (the default) repeated runs give identical output, also when the
    limit stops the search (``stopped`` in the result); a wall-clock limit
    far beyond ``time_limit_s`` only guards against a pathologically slow
    machine. With several workers the parallel portfolio may return a
    different solution of the same proven-optimal weight. (The
    deterministic ``interleave_search`` mode was measured and rejected: on a
    400 x 600 region with every agency budgeted it did not prove optimality
    in 60 s, where one worker does in about 9 s.)

    With budgets and neither fixed arcs nor conflicts, a faster road is
    taken (measured in benchmarks/README.md, "Issue 12"): the LP relaxation
    with the facets of each budget's integer hull, solved by column
    generation with HiGHS; its duals, rounded and recomputed exactly in
    integers, bound the optimum; the rounded LP solution, improved by
    CP-SAT on each row's few best arcs by reduced cost, is the start. The
    answer is returned once certified within ``config.relative_gap``
    (default 0.1%: status ``"feasible"`` with ``stopped`` false; 0 insists
    on proof), else CP-SAT runs on the arcs whose reduced cost does not rule
    them out of every better solution, hinted with the start. Both CP-SAT
    stages share ``time_limit_s`` in deterministic time; the LP stage is
    not counted and always completes (HiGHS single-threaded simplex, same
    output for the same input). Weights are made integers with fewer bits
    than on the CP-SAT road (so the exact certificate fits in int64);
    "optimal" means the integer costs' bound equals the value found.

    Examples
    --------
    >>> import numpy as np
    >>> result = constrained_assignment(
    ...     np.array([0, 0, 1]), np.array([0, 1, 0]), np.array([5, 4, 3]),
    ...     conflicts=np.array([[1, 2]]))
    >>> result.arcs.tolist(), result.objective, result.status
    ([0], 5, 'optimal')
    """
    started = time.perf_counter()
    config = config or SolverConfig()
    arcs = validate_arcs(rows, cols, weights, n_rows, n_cols)
    side = validate_side_constraints(arcs, fees, fee_group, budgets, fixed, conflicts, contact)
    if hint is not None:
        hint = np.unique(as_index_array("hint", hint))
        if hint.size and (hint.min() < 0 or hint.max() >= len(arcs.rows)):
            raise ValueError(f"hint must hold arc indices in [0, {len(arcs.rows)})")

    if not side.any:
        return _unconstrained(arcs, config, started)
    if side.has_contact and not side.budgets.size and not side.fixed.size and not side.conflicts.size \
            and hint is None:
        answer, by_parts = _contact_by_parts(arcs, side, config, started)
        if answer is not None:
            return answer
        return _solve_cp_sat(arcs, side, hint, config, started, by_parts)
    if side.budgets.size and not side.fixed.size and not side.conflicts.size and not side.has_contact:
        return _solve_budgets(arcs, side, hint, config, started)
    return _solve_cp_sat(arcs, side, hint, config, started)


def _contact_by_parts(arcs: Arcs, side: SideConstraints, config: SolverConfig, started: float):
    """Contact pairs alone: the free rows' exact matching and each
    component's best choice (solvers/_contact.py, :func:`solve_by_parts`),
    returned when certified within ``config.relative_gap`` (optimal when
    the bound is met); else ``None`` and the solution found, a start for
    CP-SAT."""
    def matching(rows, cols, weights, n_rows, n_cols):
        exact = max_weight_matching(rows, cols, weights, n_rows=n_rows, n_cols=n_cols, config=config)
        return _arcs_of_pairs(Arcs(rows, cols, weights, n_rows, n_cols, arcs.integral), exact.pairs)

    parts = solve_by_parts(arcs, side, config, matching)
    if parts is None:
        return None, None
    chosen, value, bound = parts
    if value >= bound:
        return _result(arcs, chosen, value, "optimal", started), chosen
    if bound - value <= config.relative_gap * bound:
        return _result(arcs, chosen, value, "feasible", started, bound, stopped=False), chosen
    return None, chosen


def _unconstrained(arcs: Arcs, config: SolverConfig, started: float) -> AssignmentResult:
    exact = max_weight_matching(arcs.rows, arcs.cols, arcs.weights,
                                n_rows=arcs.n_rows, n_cols=arcs.n_cols, config=config)
    chosen = _arcs_of_pairs(arcs, exact.pairs)
    return _result(arcs, chosen, exact.objective, "optimal", started)


def _variables(arcs: Arcs, fixed, bits: int):
    """The arcs that get a variable (positive weight, or fixed), their
    integer costs within ``bits`` for the whole objective, the scale, and
    each arc's position among them (-1 for none)."""
    candidate = arcs.weights > 0
    candidate[np.asarray(fixed, dtype=np.int64)] = True
    arc_ids = np.flatnonzero(candidate)
    cardinality = max(1, min(arcs.n_rows, arcs.n_cols))
    costs, scale = integer_costs(arcs.weights[arc_ids], arcs.integral, (1 << bits) // cardinality)
    position = np.full(len(arcs.rows), -1, np.int64)
    position[arc_ids] = np.arange(len(arc_ids))
    return arc_ids, costs, scale, position


def _exact(arcs: Arcs, config: SolverConfig):
    """The exact matching without side constraints, and its arc indices."""
    exact = max_weight_matching(arcs.rows, arcs.cols, arcs.weights,
                                n_rows=arcs.n_rows, n_cols=arcs.n_cols, config=config)
    return exact, _arcs_of_pairs(arcs, exact.pairs)


def _arcs_of_pairs(arcs: Arcs, pairs: np.ndarray) -> np.ndarray:
    """Arc indices of (row, col) pairs that are known to be arcs."""
    keys = arcs.rows * max(arcs.n_cols, 1) + arcs.cols
    order = np.argsort(keys)
    wanted = pairs[:, 0] * max(arcs.n_cols, 1) + pairs[:, 1]
    return np.sort(order[np.searchsorted(keys[order], wanted)])


def _warm_start(arcs: Arcs, side: SideConstraints, candidates: np.ndarray) -> np.ndarray:
    """The fixed arcs plus as many arcs of the exact matching
    (``candidates``) as fit: a feasible start whenever the fixed arcs
    themselves are (when they are not, the fixed arcs alone).

    Each arc is checked against what is chosen so far only: its conflicts
    among the candidates, its budget's spending, its contact partners'
    chosen arcs."""
    chosen = list(side.fixed)
    if violates(side, side.fixed):
        return np.array(sorted(chosen), dtype=np.int64)
    used_rows = set(arcs.rows[side.fixed].tolist())
    used_cols = set(arcs.cols[side.fixed].tolist())
    chosen_set = set(chosen)
    partners: dict[int, list[int]] = {}
    if side.conflicts.size:
        pool = np.union1d(candidates, side.fixed)
        for a, b in side.conflicts[np.isin(side.conflicts, pool).all(axis=1)].tolist():
            partners.setdefault(a, []).append(b)
            partners.setdefault(b, []).append(a)
    spent = np.zeros(len(side.budgets), np.int64)
    budgeted = side.fixed[side.fee_group[side.fixed] >= 0]
    np.add.at(spent, side.fee_group[budgeted], side.fees[budgeted])
    partner_rows: dict[int, list[int]] = {}
    if side.has_contact:
        for a, b in side.contact.row_pairs.tolist():
            partner_rows.setdefault(a, []).append(b)
            partner_rows.setdefault(b, []).append(a)
    arc_of_row = {int(arcs.rows[a]): int(a) for a in chosen}
    # Heaviest first, so the repair keeps the links that matter most.
    for arc in candidates[np.argsort(-arcs.weights[candidates], kind="stable")].tolist():
        row, col = int(arcs.rows[arc]), int(arcs.cols[arc])
        if row in used_rows or col in used_cols:
            continue
        if any(other in chosen_set for other in partners.get(arc, ())):
            continue
        group = int(side.fee_group[arc])
        if group >= 0 and spent[group] + side.fees[arc] > side.budgets[group]:
            continue
        if any(r in arc_of_row and side.contact.far(arcs.cols[[arc]], arcs.cols[[arc_of_row[r]]])[0, 0]
               for r in partner_rows.get(row, ())):
            continue
        chosen.append(arc)
        chosen_set.add(arc)
        arc_of_row[row] = arc
        if group >= 0:
            spent[group] += side.fees[arc]
        used_rows.add(row)
        used_cols.add(col)
    return np.array(sorted(chosen), dtype=np.int64)


_CONTACT_START_ROUNDS = 8


def _contact_start(arcs: Arcs, side: SideConstraints, exact_arcs: np.ndarray, config: SolverConfig):
    """A start for contact pairs that loses little: where the exact
    matching places a pair's rows too far apart, the lighter of the two
    chosen arcs' rows loses its arcs far from the heavier one's column, and
    the matching is solved again exactly; a few rounds, then the greedy
    repair of :func:`_warm_start` for what is left."""
    allowed = np.ones(len(arcs.rows), dtype=bool)
    current = exact_arcs
    pairs = side.contact.row_pairs.tolist()
    by_row = row_arcs(arcs.rows, side.contact.row_pairs.reshape(-1))
    for _ in range(_CONTACT_START_ROUNDS):
        chosen_of_row = {int(arcs.rows[a]): int(a) for a in current.tolist()}
        dropped = False
        for a, b in pairs:
            if a not in chosen_of_row or b not in chosen_of_row:
                continue
            keep_arc, other = chosen_of_row[a], b
            if arcs.weights[chosen_of_row[b]] > arcs.weights[keep_arc]:
                keep_arc, other = chosen_of_row[b], a
            if not side.contact.far(arcs.cols[[keep_arc]], arcs.cols[[chosen_of_row[other]]])[0, 0]:
                continue
            mine = by_row[other]
            allowed[mine[side.contact.far(arcs.cols[[keep_arc]], arcs.cols[mine])[0]]] = False
            dropped = True
        if not dropped:
            break
        ids = np.flatnonzero(allowed)
        exact = max_weight_matching(arcs.rows[ids], arcs.cols[ids], arcs.weights[ids], n_rows=arcs.n_rows,
                                    n_cols=arcs.n_cols, config=config)
        current = ids[_arcs_of_pairs(Arcs(arcs.rows[ids], arcs.cols[ids], arcs.weights[ids], arcs.n_rows,
                                          arcs.n_cols, arcs.integral), exact.pairs)]
    # Whatever the rounds left broken, the greedy repair settles.
    return _warm_start(arcs, side, np.sort(current))


def _around(arcs: Arcs, side: SideConstraints, arc_ids: np.ndarray, fixed_choice: np.ndarray,
            config: SolverConfig) -> np.ndarray:
    """The contact rows held to ``fixed_choice`` (compatible arcs within
    each component; where components want the same column the heavier arc
    keeps it), every other row matched exactly on the columns left."""
    order = fixed_choice[np.argsort(-arcs.weights[fixed_choice], kind="stable")]
    _, first = np.unique(arcs.cols[order], return_index=True)
    fixed_choice = np.sort(order[first])
    paired = np.isin(arcs.rows[arc_ids], np.unique(side.contact.row_pairs))
    free = arc_ids[~paired & ~np.isin(arcs.cols[arc_ids], arcs.cols[fixed_choice])]
    exact = max_weight_matching(arcs.rows[free], arcs.cols[free], arcs.weights[free], n_rows=arcs.n_rows,
                                n_cols=arcs.n_cols, config=config)
    picked = free[_arcs_of_pairs(Arcs(arcs.rows[free], arcs.cols[free], arcs.weights[free], arcs.n_rows,
                                      arcs.n_cols, arcs.integral), exact.pairs)]
    return np.sort(np.concatenate([picked, fixed_choice]))


def _reduced_by_duals(arcs: Arcs, arc_ids: np.ndarray, costs: np.ndarray, start: np.ndarray,
                      fixed: np.ndarray) -> np.ndarray | None:
    """Which of the variables ``arc_ids`` may belong to a solution better
    than ``start`` (a feasible solution): reduced-cost fixing with the LP
    duals of the matching without side constraints (HiGHS, as on the
    budgeted road; see solvers/_budgets.py). Side constraints only remove
    solutions, so every solution ``x`` is worth at most ``P + sum d_j x_j``
    (``P`` the dual bound, ``d_j <= 0`` the reduced costs); an arc with
    ``P + d_j`` not above the start's value is in no better solution. The
    start's and the fixed arcs are kept. ``None`` when the costs are too
    large for the exact certificate."""
    duals = _budgets.plain_duals(arcs, arc_ids, costs, start)
    position, at_start, certificate = duals.position, duals.at_start, duals.certificate()
    if certificate is None:
        return None
    keep = certificate.may_beat(int(costs[at_start].sum()))
    keep[at_start] = True
    keep[position[fixed]] = True
    return keep


def _add_contact(model, x, arcs: Arcs, side: SideConstraints, arc_ids: np.ndarray) -> list:
    """The contact pairs as constraints on the variables ``x`` (one per
    arc of ``arc_ids``); returns the helper variables ``y`` made, each with
    the positions whose sum it is (for the hint)."""
    from ortools.sat.python import cp_model

    rows, cols = arcs.rows[arc_ids], arcs.cols[arc_ids]
    by_row = row_arcs(rows, side.contact.row_pairs.reshape(-1))
    none = np.zeros(0, np.int64)
    helpers = []
    for a, b in side.contact.row_pairs.tolist():
        left, right = by_row.get(a, none), by_row.get(b, none)
        if not len(left) or not len(right):
            continue
        if len(left) > len(right):  # a constraint per arc of the smaller row
            left, right = right, left
        y = None
        for block, far in far_blocks(side.contact, cols, left, right):
            n_far = far.sum(axis=1)
            for k, i in enumerate(block.tolist()):
                count = int(n_far[k])
                if count == 0:
                    continue
                if count <= len(right) - count + 1:  # x_i + (far arcs) <= 1
                    model.AddAtMostOne([x[i]] + [x[j] for j in right[far[k]].tolist()])
                    continue
                if y is None:  # y = the other row's chosen arc, if any
                    y = model.NewBoolVar("")
                    model.Add(cp_model.LinearExpr.Sum([x[j] for j in right.tolist()]) == y)
                    helpers.append((y, right))
                near = [x[j] for j in right[~far[k]].tolist()]
                model.Add(x[i] + y - cp_model.LinearExpr.Sum(near) <= 1)
    return helpers


def _solve_cp_sat(arcs, side, hint, config, started, other_start=None) -> AssignmentResult:
    from ortools.sat.python import cp_model

    # Data: which arcs get a variable, and their integer objective costs.
    arc_ids, costs, scale, position = _variables(arcs, side.fixed, _OBJECTIVE_BITS)

    # The exact matching without side constraints: an upper bound on the
    # answer, and the answer itself when it happens to meet them (a budget
    # that does not bind, say), with no model to build.
    exact, exact_arcs = _exact(arcs, config)
    if not len(side.fixed) and not violates(side, exact_arcs):
        return _result(arcs, exact_arcs, exact.objective, "optimal", started)
    start = _warm_start(arcs, side, exact_arcs) if hint is None else hint
    if hint is None and side.has_contact and not len(side.fixed) and not side.conflicts.size:
        for better in (_contact_start(arcs, side, exact_arcs, config), other_start):
            if better is not None and _is_matching(arcs, better) and not violates(side, better) and \
                    total(arcs.weights[better], arcs.integral) > total(arcs.weights[start], arcs.integral):
                start = np.sort(better)

    upper_from_contact = None
    near = None
    # Large models: only the arcs that may beat the start (exact, see
    # _reduced_by_duals; the bound below stays valid for the whole problem).
    if len(arc_ids) >= REDUCE_FROM_ARCS and _is_matching(arcs, start) and not violates(side, start) \
            and np.all(position[start] >= 0):
        if side.has_contact:
            reduced = contact_reduction(arcs, side, arc_ids, costs, start)
            keep = None
            if reduced is not None:
                keep, contact_upper, priced_choice, near = reduced
                if arcs.integral and scale == 1.0:
                    upper_from_contact = contact_upper
                priced = _around(arcs, side, arc_ids, arc_ids[priced_choice], config)
                if not len(side.fixed) and _is_matching(arcs, priced) and not violates(side, priced) and \
                        total(arcs.weights[priced], arcs.integral) > \
                        total(arcs.weights[start], arcs.integral):
                    start = priced
        else:
            keep = _reduced_by_duals(arcs, arc_ids, costs, start, side.fixed)
        if keep is not None:
            arc_ids, costs = arc_ids[keep], costs[keep]
            near = near[keep] if near is not None else None
            position = np.full(len(arcs.rows), -1, np.int64)
            position[arc_ids] = np.arange(len(arc_ids))

    restricted = False
    if len(arc_ids) > CP_SAT_MAX_ARCS and _is_matching(arcs, start) and not violates(side, start):
        # A model this size would not fit in memory (CP-SAT holds about a
        # kilobyte per variable with its LP): the start, certified against
        # the bound, is the answer, improved by CP-SAT on a neighbourhood
        # (each row's best arcs by reduced cost, and the start) when there
        # is one. Its answer is a solution, not a proof: the bound stays.
        bound = exact.objective if upper_from_contact is None else min(exact.objective, upper_from_contact)
        if near is None:
            return _result(arcs, start, total(arcs.weights[start], arcs.integral), "feasible", started, bound,
                           stopped=False)
        near[position[start]] = True
        arc_ids, costs = arc_ids[near], costs[near]
        position = np.full(len(arcs.rows), -1, np.int64)
        position[arc_ids] = np.arange(len(arc_ids))
        restricted = True

    # Model and variables: one boolean per candidate arc (unnamed: names
    # cost seconds on large models and CP-SAT does not need them).
    model = cp_model.CpModel()
    x = [model.NewBoolVar("") for _ in range(len(arc_ids))]

    # Constraints: each row and column at most once.
    for ends in (arcs.rows[arc_ids], arcs.cols[arc_ids]):
        order = np.argsort(ends, kind="stable")
        groups = np.split(order, np.flatnonzero(np.diff(ends[order])) + 1)
        for group in groups:
            if len(group) > 1:
                model.AddAtMostOne([x[k] for k in group.tolist()])
    # Budgets per fee group.
    groups_of = side.fee_group[arc_ids]
    for group, budget in enumerate(side.budgets.tolist()):
        members = np.flatnonzero((groups_of == group) & (side.fees[arc_ids] > 0))
        if members.size:
            fees = side.fees[arc_ids[members]].tolist()
            model.Add(cp_model.LinearExpr.WeightedSum([x[k] for k in members.tolist()], fees) <= budget)
    # Fixed links and conflicting pairs.
    for arc in side.fixed.tolist():
        model.Add(x[position[arc]] == 1)
    for a, b in side.conflicts.tolist():
        if position[a] >= 0 and position[b] >= 0:
            model.AddBoolOr([x[position[a]].Not(), x[position[b]].Not()])
    helpers = _add_contact(model, x, arcs, side, arc_ids) if side.has_contact else []

    # Objective and warm start (a complete hint, written straight into the
    # model: one AddHint call per variable costs seconds on large models).
    model.Maximize(cp_model.LinearExpr.WeightedSum(x, costs.tolist()))
    hinted = np.zeros(len(arc_ids), dtype=np.int64)
    hinted[position[start[position[start] >= 0]]] = 1
    solution_hint = model.Proto().solution_hint
    solution_hint.vars.extend([v.Index() for v in x])
    solution_hint.values.extend(hinted.tolist())
    solution_hint.vars.extend([y.Index() for y, _ in helpers])
    solution_hint.values.extend([int(hinted[right].sum()) for _, right in helpers])

    # Solve.
    solver = cp_sat_solver(config)
    status = solver.Solve(model)
    work = float(solver.deterministic_time)

    # Read back.
    if status == cp_model.MODEL_INVALID:
        raise RuntimeError(f"CP-SAT rejected the model: {model.Validate()}")
    upper = exact.objective  # no side constraint raises the optimum
    if upper_from_contact is not None:  # what the contact pairs must cost, too
        upper = min(upper, upper_from_contact)
    if restricted:
        chosen = start
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            found = arc_ids[np.array([solver.BooleanValue(v) for v in x], dtype=bool)]
            if total(arcs.weights[found], arcs.integral) > total(arcs.weights[start], arcs.integral):
                chosen = found
        objective = total(arcs.weights[chosen], arcs.integral)
        return _result(arcs, chosen, objective, "optimal" if objective >= upper else "feasible", started,
                       None if objective >= upper else upper, work=work, stopped=False)
    if status == cp_model.UNKNOWN and hint is None and not violates(side, start):
        # Stopped before CP-SAT reported a solution: the repaired warm start
        # is one (deterministic, so the output still repeats), certified
        # against the unconstrained optimum.
        return _result(arcs, start, total(arcs.weights[start], arcs.integral), "feasible", started, upper,
                       work=work)
    if status in (cp_model.INFEASIBLE, cp_model.UNKNOWN):
        name = "infeasible" if status == cp_model.INFEASIBLE else "unknown"
        return _result(arcs, np.zeros(0, np.int64), None, name, started, work=work)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise RuntimeError(f"unexpected CP-SAT status {solver.StatusName(status)}")
    values = np.array([solver.BooleanValue(v) for v in x], dtype=bool)
    chosen = arc_ids[values]
    objective = total(arcs.weights[chosen], arcs.integral)
    if status == cp_model.OPTIMAL:
        return _result(arcs, chosen, objective, "optimal", started, work=work)
    bound = solver.BestObjectiveBound() / scale
    bound = int(math.floor(bound + 1e-9)) if arcs.integral else float(bound)
    return _result(arcs, chosen, objective, "feasible", started, min(bound, upper), work=work)


def _solve_budgets(arcs, side, hint, config, started) -> AssignmentResult:
    """Budgets only: the LP bound with the budgets' integer-hull rows
    (HiGHS, column generation), the rounded LP solution (or the caller's
    hint, if better and feasible), improved by CP-SAT on growing
    neighbourhoods of the LP solution (see :data:`_NEIGHBOURHOOD_PER_ROW`),
    and, unless that is certified within
    ``config.relative_gap``, CP-SAT on the arcs that reduced costs cannot
    rule out, started from it (see solvers/_budgets.py)."""
    arc_ids, costs, scale, position = _variables(arcs, (), _BUDGET_OBJECTIVE_BITS)
    exact, exact_arcs = _exact(arcs, config)
    if not violates(side, exact_arcs):
        return _result(arcs, exact_arcs, exact.objective, "optimal", started)

    rows, cols = arcs.rows[arc_ids], arcs.cols[arc_ids]
    fees = side.fees[arc_ids]
    groups = _budgets.group_rows(side.fee_group[arc_ids], fees, len(side.budgets))
    budgets = side.budgets
    problem = (rows, cols, costs, fees, groups, budgets)

    # Starts: the rounded LP solution, and the caller's hint when it is a
    # feasible one; the more valuable is kept. (The repaired exact matching
    # of the CP-SAT path was measured worse than the rounding on every
    # budgeted benchmark, and costs seconds on large regions.)
    sides = _budgets.side_rows(rows, fees, groups, budgets)
    u, v, lam, values = _budgets.lp_duals(rows, cols, costs, fees, groups, budgets, arcs.n_rows, arcs.n_cols,
                                          position[exact_arcs], sides)
    certificate = _budgets.certify(rows, cols, costs, fees, groups, budgets, sides, u, v, lam)
    starts = [_budgets.round_lp(*problem, arcs.n_rows, arcs.n_cols, values)]
    if hint is not None:
        mine = hint[position[hint] >= 0]
        if _is_matching(arcs, mine) and not violates(side, mine):
            starts.append(position[mine])
    best = max(starts, key=lambda s: int(costs[s].sum()))
    lower = int(costs[best].sum())
    # No budget raises the optimum (for float weights, allow for each
    # arc's rounding to an integer cost).
    upper = int(costs[position[exact_arcs]].sum()) + (0 if arcs.integral else max(1, min(arcs.n_rows, arcs.n_cols)))
    if certificate is not None:
        upper = min(upper, certificate.upper())
    if lower >= upper or (upper - lower) <= config.relative_gap * upper:
        return _budget_result(arcs, side, arc_ids[best], lower, upper, scale, config, started, 0.0)

    # Every solution better than `lower` uses only arcs kept here.
    keep = certificate.may_beat(lower) if certificate is not None else np.ones(len(arc_ids), dtype=bool)
    keep[best] = True
    kept = np.flatnonzero(keep)
    work = 0.0
    used = 0.0
    if certificate is not None:
        # Better starts first, from small models around the LP solution.
        order = np.lexsort((-certificate.reduced, rows))
        first = np.r_[True, rows[order][1:] != rows[order][:-1]]
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order)) - np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
        support = values > _LP_SUPPORT
        for per_row in _NEIGHBOURHOOD_PER_ROW:
            near = ((rank < per_row) | support) & keep
            near[best] = True
            if 2 * int(near.sum()) > len(kept):  # not much smaller: the last stage does it
                break
            used += _NEIGHBOURHOOD_SHARE
            found, _, spent = _budget_cp_sat(np.flatnonzero(near), best, problem, sides,
                                             _NEIGHBOURHOOD_SHARE * config.time_limit_s, 0.0, config)
            work += spent
            if int(costs[found].sum()) > lower:
                best, lower = found, int(costs[found].sum())
                if (upper - lower) <= config.relative_gap * upper:
                    return _budget_result(arcs, side, arc_ids[best], lower, upper, scale, config, started, work)
                keep = certificate.may_beat(lower)
                keep[best] = True
                kept = np.flatnonzero(keep)

    # The CP-SAT stages share the time limit in deterministic time (the LP
    # stage before them is not counted): the output repeats run to run.
    found, bound, spent = _budget_cp_sat(kept, best, problem, sides, (1 - used) * config.time_limit_s,
                                         config.relative_gap, config)
    work += spent
    if int(costs[found].sum()) > lower:
        best, lower = found, int(costs[found].sum())
    if bound is not None:  # past the start's value, the reduced model's bound holds for all
        upper = min(upper, max(lower, bound))
    return _budget_result(arcs, side, arc_ids[best], lower, upper, scale, config, started, work)


def _budget_cp_sat(kept, start, problem, sides, time_limit_s, relative_gap, config):
    """CP-SAT on the arcs ``kept`` (positions in ``problem``), hinted with
    ``start`` (a feasible solution among them). Returns the best solution
    (``start`` when CP-SAT found none better), CP-SAT's bound on the
    reduced model (None when it reported none) and its deterministic time."""
    from ortools.sat.python import cp_model

    rows, cols, costs, fees, groups, budgets = problem
    model = cp_model.CpModel()
    x = [model.NewBoolVar("") for _ in range(len(kept))]
    for ends in (rows[kept], cols[kept]):
        order = np.argsort(ends, kind="stable")
        for group in np.split(order, np.flatnonzero(np.diff(ends[order])) + 1):
            if len(group) > 1:
                model.AddAtMostOne([x[k] for k in group.tolist()])
    # The budgets and their hull rows (valid for every 0/1 solution; they
    # give CP-SAT's LP the bound of solvers/_budgets.py from the start).
    for row in sides:
        members = np.flatnonzero(groups[kept] == row.group)
        coefs = row.of(fees[kept[members]])
        members, coefs = members[coefs > 0], coefs[coefs > 0]
        if members.size:
            model.Add(cp_model.LinearExpr.WeightedSum([x[k] for k in members.tolist()], coefs.tolist()) <= row.rhs)
    model.Maximize(cp_model.LinearExpr.WeightedSum(x, costs[kept].tolist()))
    hinted = np.isin(kept, start).astype(np.int64)
    solution_hint = model.Proto().solution_hint
    solution_hint.vars.extend([var.Index() for var in x])
    solution_hint.values.extend(hinted.tolist())

    solver = cp_sat_solver(config, time_limit_s)
    solver.parameters.relative_gap_limit = relative_gap
    # Probing in presolve cost most of the time on these models, for no
    # gain measured (400 x 600, every agency budgeted: 9.6 s -> 2.6 s).
    solver.parameters.cp_model_probing_level = 0
    status = solver.Solve(model)
    work = float(solver.deterministic_time)
    if status == cp_model.MODEL_INVALID:
        raise RuntimeError(f"CP-SAT rejected the model: {model.Validate()}")
    if status == cp_model.INFEASIBLE:  # the start is a solution of this model
        raise RuntimeError("CP-SAT found the reduced budgeted model infeasible; please report this as a bug")
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return start, None, work
    found = kept[np.array([solver.BooleanValue(var) for var in x], dtype=bool)]
    if int(costs[found].sum()) <= int(costs[start].sum()):
        found = start
    return found, int(math.floor(solver.BestObjectiveBound() + 1e-9)), work


def _is_matching(arcs: Arcs, chosen: np.ndarray) -> bool:
    """Whether the arcs ``chosen`` use each row and column at most once."""
    return (len(np.unique(arcs.rows[chosen])) == len(chosen)
            and len(np.unique(arcs.cols[chosen])) == len(chosen))


def _budget_result(arcs, side, chosen, lower, upper, scale, config, started, work) -> AssignmentResult:
    """The budgeted path's answer: optimal when the bound meets the value
    (both in integer costs), else feasible with the certified bound,
    ``stopped`` when the time limit came before ``config.relative_gap``.
    The solution is checked once more, in integers."""
    chosen = np.sort(chosen)
    if not _is_matching(arcs, chosen) or violates(side, chosen):
        raise RuntimeError("the budgeted solution breaks a rule; please report this as a bug")
    objective = total(arcs.weights[chosen], arcs.integral)
    if lower >= upper:
        return _result(arcs, chosen, objective, "optimal", started, work=work)
    bound = upper if arcs.integral and scale == 1.0 else upper / scale
    stopped = (upper - lower) > config.relative_gap * upper
    return _result(arcs, chosen, objective, "feasible", started, bound, work=work, stopped=stopped)


def cp_sat_solver(config: SolverConfig, time_limit_s: float | None = None):
    """A CP-SAT solver set up as every model here runs: the deterministic
    limit for ``time_limit_s`` (default ``config.time_limit_s``), the far
    wall-clock backstop, ``config``'s workers and seed, and the LP
    relaxation at full strength."""
    from ortools.sat.python import cp_model

    limit = config.time_limit_s if time_limit_s is None else time_limit_s
    solver = cp_model.CpSolver()
    solver.parameters.max_deterministic_time = deterministic_limit(limit)
    solver.parameters.max_time_in_seconds = WALL_CLOCK_BACKSTOP * limit + WALL_CLOCK_BACKSTOP_EXTRA_S
    solver.parameters.num_workers = config.workers
    solver.parameters.random_seed = config.seed
    solver.parameters.linearization_level = 2
    return solver


def deterministic_limit(time_limit_s: float) -> float:
    """CP-SAT's deterministic time allowed for a limit of ``time_limit_s``
    seconds (at :data:`DETERMINISTIC_PER_SECOND`)."""
    return time_limit_s * DETERMINISTIC_PER_SECOND


def _result(arcs, chosen, objective, status, started, bound=None, work=0.0, stopped=None) -> AssignmentResult:
    chosen = np.sort(np.asarray(chosen, dtype=np.int64))
    if objective is None:  # no solution
        zero = 0 if arcs.integral else 0.0
        bound_value, gap = float("nan"), float("nan")
        objective = zero
    else:
        bound_value = objective if bound is None else max(bound, objective)
        gap = (bound_value - objective) / max(1.0, abs(bound_value))
    return AssignmentResult(
        arcs=chosen,
        pairs=np.column_stack((arcs.rows[chosen], arcs.cols[chosen])).astype(np.int64),
        objective=objective,
        bound=bound_value,
        gap=float(gap),
        status=status,
        wall_time_s=time.perf_counter() - started,
        stopped=status in ("feasible", "unknown") if stopped is None else stopped,
        deterministic_time=work,
    )
