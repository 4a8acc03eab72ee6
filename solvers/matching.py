"""Exact maximum-weight bipartite matching on arc arrays."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import _assignment, _dense, _flow, _lapmod, _padded
from ._arcs import Arcs, pairs_of, reject_repeated_arcs, total, validate_arcs
from ._compact import CompactArcs as Compact, compact_positive
from ._results import MatchingResult, SolverConfig

@dataclass(frozen=True)
class Backend:
    """One exact algorithm. ``solve(arcs, compact, count_repeats)`` takes the
    validated arcs and their compacted positive part (see
    :func:`~solvers._compact.compact_positive`) and returns the chosen rows,
    columns and weights, and the name of the algorithm that answered (a back
    end may hand over to another, as lapmod does to the flow). ``dense``:
    it builds the full cost matrix; ``float64``: it computes in float64, so
    integer weights must stay below 2**52 in sum (:func:`_dense.fits`)."""

    name: str
    solve: Callable[[Arcs, Compact, bool], tuple[np.ndarray, np.ndarray, np.ndarray, str]]
    dense: bool = False
    float64: bool = False


def _picked(arcs: Arcs, compact: Compact, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    picked = np.flatnonzero(chosen) if compact.kept_all else compact.keep[chosen]
    return arcs.rows[picked], arcs.cols[picked], arcs.weights[picked]


def _flow_solve(arcs: Arcs, compact: Compact, count_repeats: bool = False):
    n_r, n_c = len(compact.row_ids), len(compact.col_ids)
    chosen = _flow.solve_flow(compact.rows, compact.cols, compact.weights, arcs.integral,
                              np.ones(n_r, np.int64), np.ones(n_c, np.int64))
    return (*_picked(arcs, compact, chosen), _flow.BACKEND)


def _assignment_solve(arcs: Arcs, compact: Compact, count_repeats: bool = False):
    n_r, n_c = len(compact.row_ids), len(compact.col_ids)
    chosen = _assignment.solve_assignment(compact.rows, compact.cols, compact.weights, arcs.integral, n_r, n_c)
    return (*_picked(arcs, compact, chosen), _assignment.BACKEND)


def _padded_solve(arcs: Arcs, compact: Compact, count_repeats: bool = False):
    # On the original indices: a row without arcs only gets its stand-in and
    # a column without arcs is no entry at all, so renumbering buys nothing.
    # Dropping arcs keeps the others in their order.
    chosen = _padded.solve_padded(compact.kept_rows, compact.kept_cols, compact.weights, arcs.n_rows, arcs.n_cols,
                                  in_row_order=arcs.ordered)
    return (*_picked(arcs, compact, chosen), _padded.BACKEND)


def _lapmod_solve(arcs: Arcs, compact: Compact, count_repeats: bool = False):
    n_r = len(compact.row_ids)
    chosen = None
    if _lapmod.applicable(n_r, len(compact.col_ids), len(compact.rows)):
        chosen = _lapmod.solve_lapmod(compact.rows, compact.cols, compact.weights, arcs.integral, n_r)
    if chosen is None:  # no certified answer: the always-exact flow
        return _flow_solve(arcs, compact)
    return (*_picked(arcs, compact, chosen), _lapmod.BACKEND)


def _dense_solver(name: str, solve_matrix):
    def solve(arcs: Arcs, compact: Compact, count_repeats: bool = False):
        n_r, n_c = len(compact.row_ids), len(compact.col_ids)
        matrix, distinct = _dense.cost_matrix(compact.rows, compact.cols, compact.weights, n_r, n_c,
                                              grid=arcs.grid and compact.kept_all,
                                              count_arcs=count_repeats and not arcs.grid)
        if not distinct:  # names the repeated arc
            reject_repeated_arcs(arcs.rows, arcs.cols, arcs.n_rows, arcs.n_cols)
        chosen_rows, chosen_cols = solve_matrix(matrix)
        # The matrix holds -weight exactly (integers are below 2**52 here).
        weights = -matrix[chosen_rows, chosen_cols]
        if arcs.integral:
            weights = weights.astype(np.int64)
        return compact.row_ids[chosen_rows], compact.col_ids[chosen_cols], weights, name
    return solve


# Every exact back end by name, all with one signature; lapjv and lapmod
# only when the lap package is installed.
REGISTRY: dict[str, Backend] = {
    _flow.BACKEND: Backend(_flow.BACKEND, _flow_solve),
    _assignment.BACKEND: Backend(_assignment.BACKEND, _assignment_solve),
    _dense.BACKEND: Backend(_dense.BACKEND, _dense_solver(_dense.BACKEND, _dense.solve_scipy), dense=True,
                            float64=True),
    _padded.BACKEND: Backend(_padded.BACKEND, _padded_solve, float64=True),
}
if _dense.lap_available():
    REGISTRY[_dense.LAP_BACKEND] = Backend(_dense.LAP_BACKEND, _dense_solver(_dense.LAP_BACKEND, _dense.solve_lap),
                                           dense=True, float64=True)
    REGISTRY[_lapmod.BACKEND] = Backend(_lapmod.BACKEND, _lapmod_solve)

BACKENDS = ("auto", *REGISTRY)

# The dense back end allocates two n_rows x n_cols matrices (12 bytes a cell).
_DENSE_MAX_CELLS = 250_000_000
# lapjv on a square input pays off once this share of the cells are arcs ...
_DENSE_MIN_DENSITY = 0.05
# ... scipy's dense solver on a rectangular one only from this share: below
# it the padded sparse back end is as fast or faster (benchmarks/SOLVERS.md).
_DENSE_RECT_MIN_DENSITY = 0.6


def choose_backend(n_arcs: int, n_rows: int, n_cols: int, largest_weight: float,
                   integral: bool) -> str:
    """Pick the fastest exact back end for a compacted input's shape.

    - square, at least 5 % of the cells are arcs, lap installed: ``lapjv``;
    - square and sparser: the certified ``lapmod`` (min-cost flow when it
      cannot certify);
    - rectangular with at least 60 % of the cells arcs: scipy's dense
      ``linear_sum_assignment`` (``scipy_dense``);
    - any other rectangular input: ``padded_sparse`` (scipy's sparse
      assignment with one stand-in column per row);
    - integer weights too large for float64 (``max w * min(R, C) >=
      2**52``): the OR-Tools assignment for a complete square input, the
      OR-Tools min-cost flow otherwise.

    The dense back ends are limited to 250 M cells. See
    benchmarks/SOLVERS.md for the measurements behind these thresholds.
    """
    if n_rows == 0 or n_cols == 0:
        return _flow.BACKEND
    cells = n_rows * n_cols
    density = n_arcs / cells
    fits = _dense.fits(n_rows, n_cols, largest_weight, integral)
    square = n_rows == n_cols
    if fits and cells <= _DENSE_MAX_CELLS:
        # lapjv is ~3-9x faster than scipy on square input, but slower on
        # any rectangular one (it pads to a square).
        if square and density >= _DENSE_MIN_DENSITY:
            return _dense.LAP_BACKEND if _dense.LAP_BACKEND in BACKENDS else _dense.BACKEND
        if not square and density >= _DENSE_RECT_MIN_DENSITY:
            return _dense.BACKEND
    if not fits and density >= _DENSE_MIN_DENSITY and cells <= _DENSE_MAX_CELLS:
        limit = _assignment.cost_limit(_assignment.side_size(n_rows, n_cols, n_arcs))
        if _assignment.is_complete_square(n_rows, n_cols, n_arcs) and largest_weight <= limit:
            return _assignment.BACKEND
    if _lapmod.BACKEND in BACKENDS and _lapmod.applicable(n_rows, n_cols, n_arcs):
        return _lapmod.BACKEND  # falls back to min_cost_flow if not certified
    if fits:
        return _padded.BACKEND
    return _flow.BACKEND


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
    backend : {"auto", "min_cost_flow", "linear_sum_assignment", "scipy_dense", \
"padded_sparse", "lapjv", "lapmod"}
        Algorithm; ``"auto"`` chooses by the input's shape (see
        :func:`choose_backend`). ``"lapjv"`` and ``"lapmod"`` exist only
        when the lap package is installed (see ``BACKENDS``); ``"lapmod"``
        falls back to ``"min_cost_flow"`` (and says so in ``backend``) when
        it cannot certify its answer.

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
    Exact for integer weights. For the OR-Tools back ends float weights are
    scaled by a power of two and rounded to int64, so the result is within
    ``1 / scale`` per pair of the optimum (far below 1e-6 for weights of
    ordinary size); the scipy (dense and padded sparse) and lap back ends work
    in float64 directly. The objective is always summed from the original
    weights.

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
    arcs = validate_arcs(rows, cols, weights, n_rows, n_cols, check_repeats=False)
    compact = compact_positive(arcs.rows, arcs.cols, arcs.weights, arcs.n_rows, arcs.n_cols,
                               grid=arcs.grid)
    n_r, n_c = len(compact.row_ids), len(compact.col_ids)
    largest = float(compact.weights.max()) if compact.weights.size else 0.0
    if backend == "auto":
        backend = choose_backend(len(compact.rows), n_r, n_c, largest, arcs.integral)
    dense = REGISTRY[backend].dense
    if REGISTRY[backend].float64 and not _dense.fits(n_r, n_c, largest, arcs.integral):
        raise ValueError(
            f"integer weights up to {largest:.0f} are too large for the exact "
            f"{backend} back end at this size; use backend='auto'"
        )
    # The dense matrix shows repeated arcs for free when no arc was dropped
    # (each arc then owns a non-zero cell); otherwise check them here.
    matrix_checks_repeats = dense and compact.kept_all and compact.rows.size > 0
    if not arcs.grid and not matrix_checks_repeats:
        if reject_repeated_arcs(arcs.rows, arcs.cols, arcs.n_rows, arcs.n_cols):
            arcs = dataclasses.replace(arcs, ordered=True)
    if compact.rows.size == 0:
        picked_rows = picked_cols = np.zeros(0, dtype=np.int64)
        picked_weights = arcs.weights[:0]
    else:
        picked_rows, picked_cols, picked_weights, backend = REGISTRY[backend].solve(arcs, compact,
                                                                                    matrix_checks_repeats)
    return MatchingResult(
        pairs=pairs_of(picked_rows, picked_cols),
        objective=total(picked_weights, arcs.integral),
        status="optimal",
        wall_time_s=time.perf_counter() - started,
        backend=backend,
    )
