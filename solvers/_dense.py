"""Dense back ends: scipy's linear_sum_assignment and lap's lapjv.

On dense inputs (a large share of all row x column cells are arcs) these
Jonker-Volgenant-style solvers are one to two orders of magnitude faster
than the OR-Tools cost-scaling algorithms (benchmarks/SOLVERS.md); on square
inputs ``lap.lapjv`` is another ~9x faster than scipy, while scipy handles
very rectangular inputs natively (lapjv would pad them to a square).

Both minimise over a cost matrix holding ``-weight`` on every arc and 0
elsewhere. A zero cell is the same as leaving the row unmatched, so the
assignment returned is a maximum-weight matching once the zero cells are
dropped (every arc here has weight > 0, so its cost is < 0).

scipy is always installed with matcher (scikit-learn requires it); lap is a
core dependency too, but the solver falls back to scipy when it is missing.
"""

from __future__ import annotations

import importlib.util

import numpy as np

BACKEND = "scipy_dense"
LAP_BACKEND = "lapjv"

# Both solvers compute in float64: integer sums stay exact below 2**53.
_EXACT_FLOAT = 2.0**52


def lap_available() -> bool:
    """Whether the optional ``lap`` package can be imported."""
    return importlib.util.find_spec("lap") is not None


def fits(n_rows: int, n_cols: int, largest_weight: float, integral: bool) -> bool:
    """Whether integer weights stay exact in float64 for this size."""
    return not integral or largest_weight * max(1, min(n_rows, n_cols)) < _EXACT_FLOAT


def cost_matrix(rows, cols, weights, n_rows: int, n_cols: int, grid: bool,
                count_arcs: bool) -> tuple[np.ndarray, bool]:
    """Build the float64 cost matrix ``-weight`` (0 where there is no arc).

    Parameters
    ----------
    rows, cols : numpy.ndarray
        int64 arc ends on compact indices.
    weights : numpy.ndarray
        Strictly positive weights.
    grid : bool
        The arcs are every cell in row-major order: the weights already are
        the matrix, no scatter needed.
    count_arcs : bool
        Also report whether the arcs fill distinct cells (a repeated arc
        overwrites a cell, so fewer non-zero cells than arcs). Free of any
        extra pass over the arcs, which is why the caller may skip its own
        duplicate check.

    Returns
    -------
    (numpy.ndarray, bool)
        The (n_rows, n_cols) matrix and whether the arcs are distinct (always
        True when ``count_arcs`` is False or ``grid`` is set).
    """
    if grid:
        matrix = np.negative(weights, dtype=np.float64)
        return matrix.reshape(n_rows, n_cols), True
    flat = np.zeros(n_rows * n_cols, dtype=np.float64)
    flat[rows * n_cols + cols] = np.negative(weights, dtype=np.float64)
    distinct = not count_arcs or np.count_nonzero(flat) == rows.size
    return flat.reshape(n_rows, n_cols), distinct


def solve_scipy(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the chosen arcs (cells with a negative cost)."""
    from scipy.optimize import linear_sum_assignment

    chosen_rows, chosen_cols = linear_sum_assignment(matrix)
    return _arcs_only(matrix, chosen_rows, chosen_cols)


def solve_lap(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`solve_scipy` with ``lap.lapjv`` (zero-padded if not square)."""
    import lap

    n_rows, n_cols = matrix.shape
    col_of_row, _ = lap.lapjv(matrix, extend_cost=n_rows != n_cols, return_cost=False)
    col_of_row = np.asarray(col_of_row, dtype=np.int64)
    chosen_rows = np.flatnonzero(col_of_row >= 0)
    return _arcs_only(matrix, chosen_rows, col_of_row[chosen_rows])


def _arcs_only(matrix, chosen_rows, chosen_cols):
    chosen_rows = np.asarray(chosen_rows, dtype=np.int64)
    chosen_cols = np.asarray(chosen_cols, dtype=np.int64)
    is_arc = matrix[chosen_rows, chosen_cols] < 0
    return chosen_rows[is_arc], chosen_cols[is_arc]
