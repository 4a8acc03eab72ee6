"""Dense back end: scipy's shortest-augmenting-path linear_sum_assignment.

On dense inputs (a large share of all row x column cells are arcs) the
Jonker-Volgenant-style solver in scipy is one to two orders of magnitude
faster than the OR-Tools cost-scaling algorithms (benchmarks/SOLVERS.md).
scipy is always installed alongside matcher (scikit-learn requires it) and is
imported only here. A cell with no arc gets weight 0, which the solver treats
like leaving the row unmatched, so the rectangular assignment it returns is a
maximum-weight matching once zero cells are dropped.
"""

from __future__ import annotations

import numpy as np

BACKEND = "scipy_dense"

# scipy computes in float64: integer sums stay exact below 2**53.
_EXACT_FLOAT = 2.0**52


def fits(n_rows: int, n_cols: int, largest_weight: float, integral: bool) -> bool:
    """Whether integer weights stay exact in float64 for this size."""
    return not integral or largest_weight * max(1, min(n_rows, n_cols)) < _EXACT_FLOAT


def solve_dense(rows, cols, weights, n_rows: int, n_cols: int) -> np.ndarray:
    """Choose arcs of a maximum-weight matching on compact indices.

    Parameters
    ----------
    rows, cols : numpy.ndarray
        int64 arc ends, compacted to ``0..n_rows-1`` and ``0..n_cols-1``.
    weights : numpy.ndarray
        Strictly positive weights.
    n_rows, n_cols : int
        Number of compact rows and columns.

    Returns
    -------
    numpy.ndarray
        Boolean mask of the chosen arcs.
    """
    from scipy.optimize import linear_sum_assignment

    cells = rows * n_cols + cols
    # Arcs listing every cell in row-major order already are the matrix.
    in_order = len(cells) == n_rows * n_cols and bool(np.all(cells[1:] > cells[:-1]))
    if in_order:
        matrix = weights.astype(np.float64).reshape(n_rows, n_cols)
    else:
        matrix = np.zeros(n_rows * n_cols, dtype=np.float64)
        matrix[cells] = weights
        matrix = matrix.reshape(n_rows, n_cols)
    chosen_rows, chosen_cols = linear_sum_assignment(matrix, maximize=True)
    chosen_cells = chosen_rows * n_cols + chosen_cols
    if in_order:
        arcs = chosen_cells
    else:
        arc_at = np.full(n_rows * n_cols, -1, dtype=np.int64)
        arc_at[cells] = np.arange(len(cells))
        arcs = arc_at[chosen_cells]
    mask = np.zeros(len(rows), dtype=bool)
    mask[arcs[arcs >= 0]] = True
    return mask
