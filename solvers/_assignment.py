"""Linear-sum-assignment back end for matching.

OR-Tools' assignment solver needs a perfect assignment, so the graph is
doubled: left nodes are the R rows then one stand-in per column, right nodes
are the C columns then one stand-in per row. Row i may go to its own
stand-in (i.e. stay unmatched) at cost 0, the stand-in of column j may take
column j at cost 0, and the stand-ins are joined along the transpose of the
real arcs at cost 0, so every partial matching extends to a perfect one of the
same cost. When the arcs form a complete square graph no padding is needed.
"""

from __future__ import annotations

import numpy as np

from ._arcs import integer_costs

BACKEND = "linear_sum_assignment"


def side_size(n_rows: int, n_cols: int, n_arcs: int) -> int:
    """Nodes on each side of the (padded) assignment graph."""
    return n_rows if is_complete_square(n_rows, n_cols, n_arcs) else n_rows + n_cols


def is_complete_square(n_rows: int, n_cols: int, n_arcs: int) -> bool:
    """Whether the arcs already form a complete square graph (no padding)."""
    return n_rows == n_cols and n_arcs == n_rows * n_cols


def cost_limit(side: int) -> int:
    """Largest |cost| OR-Tools' assignment solver takes with ``side`` nodes a side.

    Its price updates can reach about ``3 * side**2`` times the largest cost
    (it reports POSSIBLE_OVERFLOW past that, measured on 9.15); we keep a
    margin under the int64 range.
    """
    return (1 << 61) // (side + 1) ** 2


def solve_assignment(rows, cols, weights, integral, n_rows, n_cols):
    """Choose arcs of a maximum-weight matching on compact indices.

    Parameters
    ----------
    rows, cols : numpy.ndarray
        int64 arc ends, compacted to ``0..n_rows-1`` and ``0..n_cols-1``.
    weights : numpy.ndarray
        Strictly positive weights (int64 or float64).
    integral : bool
        Whether ``weights`` are integers.
    n_rows, n_cols : int
        Number of compact rows and columns.

    Returns
    -------
    numpy.ndarray
        Boolean mask of the chosen arcs.
    """
    from ortools.graph.python import linear_sum_assignment

    complete = is_complete_square(n_rows, n_cols, len(rows))
    costs, _ = integer_costs(
        weights, integral, cost_limit(side_size(n_rows, n_cols, len(rows)))
    )
    n_arcs = len(rows)
    if complete:
        left, right, arc_costs = rows, cols, -costs
    else:
        row_ids = np.arange(n_rows, dtype=np.int64)
        col_ids = np.arange(n_cols, dtype=np.int64)
        left = np.concatenate([rows, row_ids, n_rows + col_ids, n_rows + cols])
        right = np.concatenate([cols, n_cols + row_ids, col_ids, n_cols + rows])
        arc_costs = np.concatenate([-costs, np.zeros(n_arcs + n_rows + n_cols, np.int64)])

    solver = linear_sum_assignment.SimpleLinearSumAssignment()
    solver.add_arcs_with_cost(
        left.astype(np.int32), right.astype(np.int32), arc_costs.astype(np.int64)
    )
    status = solver.solve()
    if status != solver.OPTIMAL:
        raise RuntimeError(_explain(status, solver))
    mate = np.fromiter(
        (solver.right_mate(i) for i in range(n_rows)), dtype=np.int64, count=n_rows
    )
    # A row matched to a real column used an arc; find which one.
    matched = mate[rows] == cols
    return matched


def _explain(status, solver) -> str:
    reasons = {
        solver.INFEASIBLE: "no perfect assignment (internal error: padding guarantees one)",
        solver.POSSIBLE_OVERFLOW: "costs too large for the solver; rescale the weights",
    }
    return f"assignment failed: {reasons.get(status, 'unknown status')} ({status})"
