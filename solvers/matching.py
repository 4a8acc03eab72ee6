"""Exact maximum-weight bipartite matching on arc arrays."""

from __future__ import annotations

import time

import numpy as np

from . import _assignment, _flow
from ._arcs import pairs_of, total, validate_arcs
from ._compact import compact_positive
from ._results import MatchingResult, SolverConfig

BACKENDS = ("auto", _flow.BACKEND, _assignment.BACKEND)


# Float weights are rounded to 1 / scale; the assignment back end's tighter
# cost range is only used while that rounding stays this fine.
_FLOAT_RESOLUTION = 1e-8


def choose_backend(n_arcs: int, n_rows: int, n_cols: int, largest_weight: float,
                   integral: bool) -> str:
    """Pick the faster exact back end for a compacted input's shape.

    The assignment solver wins on dense inputs (many arcs per row), the
    min-cost flow on sparse ones; see benchmarks/SOLVERS.md for the figures
    behind the threshold. The assignment solver also has the narrower cost
    range, so weights too large for it go to the min-cost flow.
    """
    if n_rows == 0 or n_cols == 0:
        return _flow.BACKEND
    density = n_arcs / (n_rows * n_cols)
    limit = _assignment.cost_limit(_assignment.side_size(n_rows, n_cols, n_arcs))
    fits = largest_weight <= limit if integral else largest_weight / limit <= _FLOAT_RESOLUTION
    return _assignment.BACKEND if density >= 0.25 and fits else _flow.BACKEND


def max_weight_matching(
    rows,
    cols,
    weights,
    *,
    n_rows: int | None = None,
    n_cols: int | None = None,
    config: SolverConfig | None = None,
    backend: str = "auto",
) -> MatchingResult:
    """Find a maximum-weight matching among the allowed arcs.

    Each row and each column is used at most once; the matching need not be
    perfect, and an arc of weight <= 0 is never taken.

    Parameters
    ----------
    rows, cols : array_like of int
        Row and column index of each allowed arc.
    weights : array_like of int or float
        Weight of each arc, any sign.
    n_rows, n_cols : int, optional
        Number of rows / columns; inferred as ``max index + 1`` when omitted.
    config : SolverConfig, optional
        Accepted for a uniform signature; the exact algorithms need no
        limits.
    backend : {"auto", "min_cost_flow", "linear_sum_assignment"}
        Algorithm; ``"auto"`` chooses by the input's density.

    Returns
    -------
    MatchingResult
        ``pairs`` sorted by row, ``objective`` (int for integer weights),
        ``status="optimal"``, ``wall_time_s`` and ``backend``.

    Raises
    ------
    ValueError
        If the arrays are malformed (lengths differ, not 1-D, non-integer or
        negative or out-of-range index, repeated arc, NaN or inf weight).

    Notes
    -----
    Exact for integer weights. Float weights are scaled by a power of two
    and rounded to int64, so the result is within ``1 / scale`` per pair of
    the optimum (far below 1e-6 for weights of ordinary size); the objective
    is summed from the original floats.

    Examples
    --------
    >>> import numpy as np
    >>> result = max_weight_matching(
    ...     np.array([0, 0, 1]), np.array([0, 1, 0]), np.array([5, 4, 3]))
    >>> result.pairs.tolist(), result.objective
    ([[0, 1], [1, 0]], 7)
    """
    started = time.perf_counter()
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    arcs = validate_arcs(rows, cols, weights, n_rows, n_cols)
    compact = compact_positive(arcs.rows, arcs.cols, arcs.weights, arcs.n_rows, arcs.n_cols)
    n_r, n_c = len(compact.row_ids), len(compact.col_ids)
    if backend == "auto":
        largest = float(compact.weights.max()) if compact.weights.size else 0.0
        backend = choose_backend(len(compact.rows), n_r, n_c, largest, arcs.integral)
    if compact.rows.size == 0:
        chosen = np.zeros(0, dtype=bool)
    elif backend == _flow.BACKEND:
        ones_r, ones_c = np.ones(n_r, np.int64), np.ones(n_c, np.int64)
        chosen = _flow.solve_flow(
            compact.rows, compact.cols, compact.weights, arcs.integral, ones_r, ones_c
        )
    else:
        chosen = _assignment.solve_assignment(
            compact.rows, compact.cols, compact.weights, arcs.integral, n_r, n_c
        )
    picked = compact.arc_ids[chosen]
    return MatchingResult(
        pairs=pairs_of(arcs.rows[picked], arcs.cols[picked]),
        objective=total(arcs.weights[picked], arcs.integral),
        status="optimal",
        wall_time_s=time.perf_counter() - started,
        backend=backend,
    )
