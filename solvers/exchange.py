"""Meeting schedule of an exchange day (CP-SAT): which household meets which
unit, in which slot.

Arrays in, a frozen :class:`ExchangeResult` out; no domain objects. The
caller lists the candidate meetings as arcs (unit, household, weight, and
whether the arc counts towards the unit's meetings), the table of each unit
with its capacity per slot, the number of slots, each household's and each
unit's limits, and the meetings already held or promised (locked arc, slot).

Lexicographic objective, two solves of one model:

1. minimise the total shortfall: for each unit, how far its counting
   meetings fall short of ``unit_min``;
2. with the shortfall held at the best found, maximise the total weight of
   the meetings plus ``reach_bonus`` for each unit that gets at least one
   counting meeting.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ._results import SolverConfig
from .constrained import cp_sat_solver

# Weights, bonuses and counts stay far below CP-SAT's int64 objective range.
_MAX_COEFFICIENT = 1 << 40


@dataclass(frozen=True)
class ExchangeResult:
    """A schedule of meetings.

    Attributes
    ----------
    arcs : numpy.ndarray
        int64 indices of the chosen arcs (meetings), sorted by slot then arc.
    slots : numpy.ndarray
        int64 slot (0-based) of each chosen arc, in the order of ``arcs``.
    shortfall : numpy.ndarray
        int64, per unit: ``unit_min`` less its counting meetings, at least 0.
    objective : int
        Weight of the meetings plus ``reach_bonus`` per unit reached.
    bound : int or float
        Best proven upper bound on ``objective`` (at the shortfall found);
        ``nan`` without a solution.
    gap : float
        ``(bound - objective) / max(1, |bound|)``; 0 when optimal.
    status : str
        ``"optimal"`` (both stages proved), ``"feasible"`` (a time limit
        stopped a stage), ``"infeasible"`` (the locked meetings cannot all
        be kept) or ``"unknown"`` (no schedule found in time).
    shortfall_proven : bool
        Whether the total shortfall is proven the least possible.
    wall_time_s : float
        Time spent inside the call.
    deterministic_time : float
        CP-SAT's deterministic time over both stages (repeatable with one
        worker, unlike the wall time).
    """

    arcs: np.ndarray
    slots: np.ndarray
    shortfall: np.ndarray
    objective: int
    bound: int | float
    gap: float
    status: str
    shortfall_proven: bool
    wall_time_s: float
    deterministic_time: float


def _int_array(name: str, values, length: int | None = None) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if np.issubdtype(array.dtype, np.bool_) or not np.all(np.isfinite(array)) or \
                not np.all(array == np.round(array)):
            raise ValueError(f"{name} must hold whole numbers")
    array = array.astype(np.int64)
    if length is not None and len(array) != length:
        raise ValueError(f"{name} must have length {length}, got {len(array)}")
    return array


def _check_range(name: str, array: np.ndarray, low: int, high: int) -> None:
    if array.size and (array.min() < low or array.max() >= high):
        raise ValueError(f"{name} must hold values in [{low}, {high})")


def exchange_schedule(arc_unit, arc_household, arc_weight, arc_counts, unit_table, table_capacity, *,
                      n_households: int, n_slots: int, max_meetings: int, unit_min, reach_bonus: int,
                      locked_arc=(), locked_slot=(), config: SolverConfig | None = None) -> ExchangeResult:
    """Choose meetings and their slots.

    Parameters
    ----------
    arc_unit, arc_household : array_like of int
        The unit and household of each candidate meeting; a (unit,
        household) pair appears at most once (a pair meets at most once).
    arc_weight : array_like of int
        Non-negative weight of each arc.
    arc_counts : array_like of bool
        Whether the arc counts towards its unit's meetings (``unit_min`` and
        ``reach_bonus``).
    unit_table : array_like of int
        The table of each unit.
    table_capacity : array_like of int
        Meetings a table holds in one slot (at least 1).
    n_households, n_slots, max_meetings : int
        Households, slots (at least 1) and the most meetings a household has
        in all (at least 0). A household has at most one meeting per slot.
    unit_min : array_like of int
        Meetings each unit should have (the shortfall is minimised first).
    reach_bonus : int
        Added to the objective for each unit with a counting meeting.
    locked_arc, locked_slot : array_like of int
        Meetings kept in their slots.
    config : SolverConfig, optional
        Time limit (per stage), workers and seed.

    Returns
    -------
    ExchangeResult

    Raises
    ------
    ValueError
        For malformed arrays (lengths, ranges, a repeated pair, a negative
        weight, an arc locked twice).

    Examples
    --------
    >>> # One table, one meeting a slot: household 0 meets both units (5 + 9 + two reach bonuses of 10).
    >>> r = exchange_schedule([0, 1, 1], [0, 0, 1], [5, 9, 4], [True, True, True], [0, 0], [1],
    ...                       n_households=2, n_slots=2, max_meetings=2, unit_min=[1, 1], reach_bonus=10)
    >>> r.status, r.objective, r.shortfall.tolist(), sorted(r.arcs.tolist())
    ('optimal', 34, [0, 0], [0, 1])
    """
    started = time.perf_counter()
    config = config or SolverConfig()
    unit = _int_array("arc_unit", arc_unit)
    n_arcs = len(unit)
    household = _int_array("arc_household", arc_household, n_arcs)
    weight = _int_array("arc_weight", arc_weight, n_arcs)
    counts = np.asarray(arc_counts, dtype=bool)
    if counts.shape != (n_arcs,):
        raise ValueError(f"arc_counts must have length {n_arcs}")
    table_of = _int_array("unit_table", unit_table)
    capacity = _int_array("table_capacity", table_capacity)
    n_units, n_tables = len(table_of), len(capacity)
    minimum = _int_array("unit_min", unit_min, n_units)
    locked = _int_array("locked_arc", locked_arc)
    locked_at = _int_array("locked_slot", locked_slot, len(locked))
    _check_range("arc_unit", unit, 0, n_units)
    _check_range("arc_household", household, 0, n_households)
    _check_range("unit_table", table_of, 0, n_tables)
    _check_range("locked_arc", locked, 0, n_arcs)
    _check_range("locked_slot", locked_at, 0, n_slots)
    if n_slots < 1 or max_meetings < 0 or capacity.size and capacity.min() < 1:
        raise ValueError("n_slots and table_capacity must be at least 1 and max_meetings at least 0")
    if weight.size and (weight.min() < 0 or weight.max() > _MAX_COEFFICIENT):
        raise ValueError(f"arc_weight must hold values in [0, {_MAX_COEFFICIENT}]")
    if not 0 <= reach_bonus <= _MAX_COEFFICIENT:
        raise ValueError(f"reach_bonus must be in [0, {_MAX_COEFFICIENT}]")
    if minimum.size and minimum.min() < 0:
        raise ValueError("unit_min must be at least 0")
    if len(np.unique(unit * max(n_households, 1) + household)) != n_arcs:
        raise ValueError("a (unit, household) pair appears twice among the arcs")
    if len(np.unique(locked)) != len(locked):
        raise ValueError("an arc is locked twice")
    return _solve(unit, household, weight, counts, table_of, capacity, n_households, n_slots, max_meetings,
                  minimum, int(reach_bonus), locked, locked_at, config, started)


def _groups(keys: np.ndarray) -> list[np.ndarray]:
    """Indices of equal keys, one array per key, in key order."""
    if not keys.size:
        return []
    order = np.argsort(keys, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(keys[order])) + 1)


def _solve(unit, household, weight, counts, table_of, capacity, n_households, n_slots, max_meetings, minimum,
           reach_bonus, locked, locked_at, config, started) -> ExchangeResult:
    from ortools.sat.python import cp_model

    n_arcs, n_units = len(unit), len(table_of)
    # Model and variables: x[a, s] is arc a met in slot s.
    model = cp_model.CpModel()
    x = [[model.NewBoolVar("") for _ in range(n_slots)] for _ in range(n_arcs)]
    meets = [sum(row) for row in x]

    # Constraints: a pair meets at most once; a household at most once per
    # slot and max_meetings in all; a table within its capacity per slot.
    for a in range(n_arcs):
        if n_slots > 1:
            model.AddAtMostOne(x[a])
    for group in _groups(household):
        arcs = group.tolist()
        for s in range(n_slots):
            if len(arcs) > 1:
                model.AddAtMostOne([x[a][s] for a in arcs])
        if len(arcs) > max_meetings:
            model.Add(sum(meets[a] for a in arcs) <= max_meetings)
    arc_table = table_of[unit] if n_arcs else np.zeros(0, np.int64)
    for group in _groups(arc_table):
        arcs = group.tolist()
        cap = int(capacity[arc_table[arcs[0]]])
        if len(arcs) > cap:
            for s in range(n_slots):
                model.Add(sum(x[a][s] for a in arcs) <= cap)
    for a, s in zip(locked.tolist(), locked_at.tolist()):
        model.Add(x[a][s] == 1)

    # Shortfall and reach per unit, over its counting arcs.
    counting = [[] for _ in range(n_units)]
    for a in np.flatnonzero(counts).tolist():
        counting[int(unit[a])].append(a)
    shortfall, reached = [], []
    for u in range(n_units):
        need = int(minimum[u])
        met = sum(meets[a] for a in counting[u]) if counting[u] else 0
        short = model.NewIntVar(0, need, "")
        model.Add(short >= need - met)
        shortfall.append(short)
        if counting[u] and reach_bonus:
            hit = model.NewBoolVar("")
            model.Add(hit <= met)
            reached.append(hit)
    total_short = sum(shortfall)

    solver = cp_sat_solver(config)
    every_var = [v for row in x for v in row] + shortfall + reached
    work = 0.0

    # Stage 1: the least total shortfall.
    model.Minimize(total_short)
    status = solver.Solve(model)
    work += float(solver.deterministic_time)
    if status == cp_model.MODEL_INVALID:  # pragma: no cover - a bug, not an input
        raise RuntimeError(f"CP-SAT rejected the model: {model.Validate()}")
    if status in (cp_model.INFEASIBLE, cp_model.UNKNOWN):
        name = "infeasible" if status == cp_model.INFEASIBLE else "unknown"
        return ExchangeResult(np.zeros(0, np.int64), np.zeros(0, np.int64), minimum.copy(), 0, float("nan"),
                              float("nan"), name, False, time.perf_counter() - started, work)
    least = int(round(solver.ObjectiveValue()))
    proven = status == cp_model.OPTIMAL
    values = [solver.Value(v) for v in every_var]

    # Stage 2: the most weight and reach at that shortfall, from stage 1's schedule.
    model.Add(total_short <= least)
    objective = sum(int(weight[a]) * meets[a] for a in range(n_arcs) if weight[a]) + reach_bonus * sum(reached)
    model.Maximize(objective)
    model.ClearHints()
    for var, value in zip(every_var, values):
        model.AddHint(var, value)
    status = solver.Solve(model)
    work += float(solver.deterministic_time)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise RuntimeError(f"CP-SAT found no schedule in stage 2 ({solver.StatusName(status)}) although stage 1 "
                           "found one")
    chosen, slots = [], []
    for s in range(n_slots):
        for a in range(n_arcs):
            if solver.BooleanValue(x[a][s]):
                chosen.append(a)
                slots.append(s)
    chosen = np.array(chosen, dtype=np.int64)
    found = int(weight[chosen].sum()) if len(chosen) else 0
    got = np.zeros(n_units, np.int64)
    for a in chosen.tolist():
        if counts[a]:
            got[unit[a]] += 1
    found += reach_bonus * int(np.count_nonzero(got[[u for u in range(n_units) if counting[u]]] > 0)) \
        if reach_bonus else 0
    optimal = status == cp_model.OPTIMAL
    bound = found if optimal else max(found, int(np.floor(solver.BestObjectiveBound() + 1e-9)))
    gap = (bound - found) / max(1.0, abs(bound))
    return ExchangeResult(
        arcs=chosen, slots=np.array(slots, dtype=np.int64), shortfall=np.maximum(minimum - got, 0),
        objective=found, bound=bound, gap=float(gap), status="optimal" if optimal and proven else "feasible",
        shortfall_proven=proven, wall_time_s=time.perf_counter() - started, deterministic_time=work)
