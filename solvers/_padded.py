"""Sparse padded back end: scipy's sparse assignment with one stand-in per row.

``scipy.sparse.csgraph.min_weight_full_bipartite_matching`` (a sparse
Jonker-Volgenant) only answers *full* assignments: every row of the smaller
side matched. Our problem lets a row stay unmatched, so each row ``i`` of
the smaller side gets one private stand-in column ``C + i`` reachable only
from it. Taking the stand-in is leaving the row unmatched; a full matching
of the rows then always exists (the stand-ins alone are one), and the
cheapest one, minus its stand-ins, is a maximum-weight matching.

This is enough because every row is matched exactly once in a full
matching, so adding the same constant ``K`` to every cost (real arcs and
stand-ins alike) moves every full matching's cost by ``R * K`` and keeps the
optimum. The doubled graph of ``_assignment.py`` is only needed by solvers
that demand a *perfect* assignment of both sides.

scipy removes explicit zeros from the matrix (with a warning), so a zero-cost
stand-in would vanish. Stand-ins cost ``-2**-1074`` (the smallest float64)
instead: the constant shift ``K = -2**-1074``, under which a real arc's
cost ``-w + K`` rounds to ``-w`` (for any ``w`` above a few subnormals), so
the real costs are ``-w`` bit for bit and nothing else changes.

Costs are float64, as in the dense back ends: integer weights are exact
while ``max w * min(R, C) < 2**52`` (see :func:`solvers._dense.fits`).
"""

from __future__ import annotations

import numpy as np

BACKEND = "padded_sparse"

# The stand-in cost: the smallest positive float64, negated (not zero:
# scipy drops explicit zeros).
_STAND_IN_COST = -np.nextafter(0.0, 1.0)
# Rows this long on average are copied block by block, not scattered.
_SLICES_FROM = 64


def padded_matrix(rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, n_rows: int, n_cols: int,
                  in_row_order: bool = False):
    """The CSR matrix ``n_rows x (n_cols + n_rows)``: ``-w`` on every arc,
    then each row's stand-in column last in its row.

    Built directly in CSR form. Arcs already listed row by row (a region's
    arcs come unit by unit; ``in_row_order`` says the caller has checked)
    need no sort at all; otherwise one stable argsort of the rows groups
    them.
    """
    from scipy.sparse import csr_array

    n_arcs = rows.size
    if not in_row_order and n_arcs > 1 and not bool(np.all(rows[1:] >= rows[:-1])):
        order = np.argsort(rows, kind="stable")
        rows, cols, weights = rows[order], cols[order], weights[order]
    # Row r's arcs end where row r + 1's begin: a binary search per row.
    ends = np.searchsorted(rows, np.arange(1, n_rows + 1, dtype=rows.dtype))
    # Arc k of row r moves r places right (the stand-ins of rows 0..r-1 sit
    # before it); row r's stand-in takes the slot after its last arc.
    stand_in_at = ends + np.arange(n_rows, dtype=np.int64)
    width = n_cols + n_rows
    index_type = np.int32 if max(width, n_arcs + n_rows) < 2**31 else np.int64
    data = np.empty(n_arcs + n_rows, dtype=np.float64)
    indices = np.empty(n_arcs + n_rows, dtype=index_type)
    if n_arcs >= _SLICES_FROM * n_rows:
        # Long rows: one block copy per row beats a scatter of every arc.
        begin = 0
        for row, end in enumerate(ends.tolist()):
            at = begin + row
            np.negative(weights[begin:end], out=data[at:at + end - begin])
            indices[at:at + end - begin] = cols[begin:end]
            begin = end
    else:
        arc_at = rows + np.arange(n_arcs, dtype=np.int64)
        data[arc_at] = weights
        np.negative(data, out=data)
        indices[arc_at] = cols
    data[stand_in_at] = _STAND_IN_COST
    indices[stand_in_at] = np.arange(n_cols, width, dtype=index_type)
    indptr = np.empty(n_rows + 1, dtype=index_type)
    indptr[0] = 0
    indptr[1:] = stand_in_at + 1
    return csr_array((data, indices, indptr), shape=(n_rows, width))


def solve_padded(rows, cols, weights, n_rows: int, n_cols: int, in_row_order: bool = False) -> np.ndarray:
    """Choose arcs of a maximum-weight matching.

    Parameters
    ----------
    rows, cols : numpy.ndarray
        int64 arc ends in ``0..n_rows-1`` and ``0..n_cols-1``, no arc twice.
    weights : numpy.ndarray
        Strictly positive weights (int64 or float64).
    n_rows, n_cols : int
        Number of rows and columns (rows and columns without arcs cost
        little: a lone stand-in, or no entry at all).
    in_row_order : bool
        The arcs are listed row by row (checked by the caller).

    Returns
    -------
    numpy.ndarray
        Boolean mask of the chosen arcs.
    """
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    # Stand-ins go to the smaller side: fewer of them, and the solver's
    # work grows with the rows it must assign.
    if n_rows > n_cols:
        return solve_padded(cols, rows, weights, n_cols, n_rows)
    matrix = padded_matrix(rows, cols, weights, n_rows, n_cols, in_row_order)
    row_of, col_of = min_weight_full_bipartite_matching(matrix)
    mate = np.full(n_rows, -1, dtype=np.int64)
    mate[row_of] = col_of  # a stand-in (>= n_cols) never equals a real column
    return mate[rows] == cols
