"""Exact maximum-weight b-matching (shortlists) by min-cost flow."""

from __future__ import annotations

import time

import numpy as np

from . import _flow
from ._arcs import as_index_array, pairs_of, total, validate_arcs
from ._compact import compact_positive
from ._results import MatchingResult, SolverConfig


def _capacity(name: str, values, size: int) -> np.ndarray:
    capacity = np.asarray(values)
    if capacity.ndim == 0:
        capacity = np.full(size, capacity)
    capacity = as_index_array(name, capacity, size)
    if capacity.size and capacity.min() < 0:
        raise ValueError(f"{name} must be >= 0, got {int(capacity.min())}")
    return capacity


def b_matching(
    rows,
    cols,
    weights,
    *,
    row_capacity,
    col_capacity,
    n_rows: int | None = None,
    n_cols: int | None = None,
    config: SolverConfig | None = None,
) -> MatchingResult:
    """Find a maximum-weight b-matching among the allowed arcs.

    Row ``i`` is used at most ``row_capacity[i]`` times and column ``j`` at
    most ``col_capacity[j]`` times; each arc at most once. Arcs of weight
    <= 0 are never taken. With capacity K on both sides this is a shortlist:
    up to K households per unit and K units per household.

    Parameters
    ----------
    rows, cols : array_like of int
        Row and column index of each allowed arc.
    weights : array_like of int or float
        Weight of each arc, any sign.
    row_capacity, col_capacity : int or array_like of int
        Uses allowed per row (length ``n_rows``) and per column (length
        ``n_cols``); a scalar applies to all.
    n_rows, n_cols : int, optional
        Number of rows / columns; inferred as ``max index + 1`` when omitted
        (then array capacities fix them when given).
    config : SolverConfig, optional
        Accepted for a uniform signature; the flow algorithm is exact and
        needs no limits.

    Returns
    -------
    MatchingResult
        ``pairs`` sorted by row then column, ``objective``,
        ``status="optimal"``, ``wall_time_s``, ``backend="min_cost_flow"``.

    Raises
    ------
    ValueError
        For malformed arcs (as :func:`max_weight_matching`) or capacities
        of the wrong length, dtype or sign.

    Examples
    --------
    >>> import numpy as np
    >>> result = b_matching(np.array([0, 0, 1]), np.array([0, 1, 0]),
    ...                     np.array([5, 4, 3]), row_capacity=2, col_capacity=1)
    >>> result.pairs.tolist(), result.objective
    ([[0, 0], [0, 1]], 9)
    """
    started = time.perf_counter()
    if n_rows is None and np.ndim(row_capacity) == 1:
        n_rows = len(row_capacity)
    if n_cols is None and np.ndim(col_capacity) == 1:
        n_cols = len(col_capacity)
    arcs = validate_arcs(rows, cols, weights, n_rows, n_cols)
    row_cap = _capacity("row_capacity", row_capacity, arcs.n_rows)
    col_cap = _capacity("col_capacity", col_capacity, arcs.n_cols)

    # Arcs at a row or column of capacity 0 can never be used.
    usable = (row_cap[arcs.rows] > 0) & (col_cap[arcs.cols] > 0)
    weights_used = np.where(usable, arcs.weights, 0)
    compact = compact_positive(arcs.rows, arcs.cols, weights_used, arcs.n_rows, arcs.n_cols)
    if compact.rows.size:
        # A capacity above the degree means nothing; clipping keeps the
        # total supply small and free of overflow.
        row_degree = np.bincount(compact.rows, minlength=len(compact.row_ids))
        col_degree = np.bincount(compact.cols, minlength=len(compact.col_ids))
        chosen = _flow.solve_flow(
            compact.rows, compact.cols, compact.weights, arcs.integral,
            np.minimum(row_cap[compact.row_ids], row_degree),
            np.minimum(col_cap[compact.col_ids], col_degree),
        )
    else:
        chosen = np.zeros(0, dtype=bool)
    picked = compact.arc_ids[chosen]
    return MatchingResult(
        pairs=pairs_of(arcs.rows[picked], arcs.cols[picked]),
        objective=total(arcs.weights[picked], arcs.integral),
        status="optimal",
        wall_time_s=time.perf_counter() - started,
        backend=_flow.BACKEND,
    )
