"""Maximum-weight assignment with budgets, fixed links and conflicts (CP-SAT)."""

from __future__ import annotations

import math
import time

import numpy as np

from ._arcs import Arcs, as_index_array, integer_costs, total, validate_arcs
from ._results import AssignmentResult, SolverConfig
from ._side_constraints import SideConstraints, validate_side_constraints, violates
from .matching import max_weight_matching

# CP-SAT keeps objective sums in int64 and its LP in doubles: costs stay far
# below both ranges.
_OBJECTIVE_BITS = 50

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
    side = validate_side_constraints(arcs, fees, fee_group, budgets, fixed, conflicts)
    if hint is not None:
        hint = np.unique(as_index_array("hint", hint))
        if hint.size and (hint.min() < 0 or hint.max() >= len(arcs.rows)):
            raise ValueError(f"hint must hold arc indices in [0, {len(arcs.rows)})")

    if not side.any:
        return _unconstrained(arcs, config, started)
    return _solve_cp_sat(arcs, side, hint, config, started)


def _unconstrained(arcs: Arcs, config: SolverConfig, started: float) -> AssignmentResult:
    exact = max_weight_matching(arcs.rows, arcs.cols, arcs.weights,
                                n_rows=arcs.n_rows, n_cols=arcs.n_cols, config=config)
    chosen = _arcs_of_pairs(arcs, exact.pairs)
    return _result(arcs, chosen, exact.objective, "optimal", started)


def _arcs_of_pairs(arcs: Arcs, pairs: np.ndarray) -> np.ndarray:
    """Arc indices of (row, col) pairs that are known to be arcs."""
    keys = arcs.rows * max(arcs.n_cols, 1) + arcs.cols
    order = np.argsort(keys)
    wanted = pairs[:, 0] * max(arcs.n_cols, 1) + pairs[:, 1]
    return np.sort(order[np.searchsorted(keys[order], wanted)])


def _warm_start(arcs: Arcs, side: SideConstraints, candidates: np.ndarray) -> np.ndarray:
    """The fixed arcs plus as many arcs of the exact matching
    (``candidates``) as fit: a feasible start whenever the fixed arcs
    themselves are."""
    chosen = list(side.fixed)
    used_rows = set(arcs.rows[side.fixed].tolist())
    used_cols = set(arcs.cols[side.fixed].tolist())
    # Heaviest first, so the repair keeps the links that matter most.
    for arc in candidates[np.argsort(-arcs.weights[candidates], kind="stable")].tolist():
        row, col = int(arcs.rows[arc]), int(arcs.cols[arc])
        if row in used_rows or col in used_cols:
            continue
        if violates(side, np.array(chosen + [arc], np.int64)):
            continue
        chosen.append(arc)
        used_rows.add(row)
        used_cols.add(col)
    return np.array(sorted(chosen), dtype=np.int64)


def _solve_cp_sat(arcs, side, hint, config, started) -> AssignmentResult:
    from ortools.sat.python import cp_model

    # Data: which arcs get a variable, and their integer objective costs.
    candidate = arcs.weights > 0
    candidate[side.fixed] = True
    arc_ids = np.flatnonzero(candidate)
    cardinality = max(1, min(arcs.n_rows, arcs.n_cols))
    costs, scale = integer_costs(arcs.weights[arc_ids], arcs.integral,
                                 (1 << _OBJECTIVE_BITS) // cardinality)
    position = np.full(len(arcs.rows), -1, np.int64)
    position[arc_ids] = np.arange(len(arc_ids))

    # The exact matching without side constraints: an upper bound on the
    # answer, and the answer itself when it happens to meet them (a budget
    # that does not bind, say), with no model to build.
    exact = max_weight_matching(arcs.rows, arcs.cols, arcs.weights,
                                n_rows=arcs.n_rows, n_cols=arcs.n_cols, config=config)
    exact_arcs = _arcs_of_pairs(arcs, exact.pairs)
    if not len(side.fixed) and not violates(side, exact_arcs):
        return _result(arcs, exact_arcs, exact.objective, "optimal", started)
    start = _warm_start(arcs, side, exact_arcs) if hint is None else hint

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

    # Objective and warm start (a complete hint, written straight into the
    # model: one AddHint call per variable costs seconds on large models).
    model.Maximize(cp_model.LinearExpr.WeightedSum(x, costs.tolist()))
    hinted = np.zeros(len(arc_ids), dtype=np.int64)
    hinted[position[start[position[start] >= 0]]] = 1
    solution_hint = model.Proto().solution_hint
    solution_hint.vars.extend([v.Index() for v in x])
    solution_hint.values.extend(hinted.tolist())

    # Solve.
    solver = cp_model.CpSolver()
    solver.parameters.max_deterministic_time = deterministic_limit(config.time_limit_s)
    solver.parameters.max_time_in_seconds = WALL_CLOCK_BACKSTOP * config.time_limit_s + WALL_CLOCK_BACKSTOP_EXTRA_S
    solver.parameters.num_workers = config.workers
    solver.parameters.random_seed = config.seed
    solver.parameters.linearization_level = 2
    status = solver.Solve(model)
    work = float(solver.deterministic_time)

    # Read back.
    if status == cp_model.MODEL_INVALID:
        raise RuntimeError(f"CP-SAT rejected the model: {model.Validate()}")
    upper = exact.objective  # no side constraint raises the optimum
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


def deterministic_limit(time_limit_s: float) -> float:
    """CP-SAT's deterministic time allowed for a limit of ``time_limit_s``
    seconds (at :data:`DETERMINISTIC_PER_SECOND`)."""
    return time_limit_s * DETERMINISTIC_PER_SECOND


def _result(arcs, chosen, objective, status, started, bound=None, work=0.0) -> AssignmentResult:
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
        stopped=status in ("feasible", "unknown"),
        deterministic_time=work,
    )
