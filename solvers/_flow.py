"""Min-cost-flow back end for (b-)matching.

Network: source -> row (capacity = row capacity), row -> column (capacity 1,
cost -weight), column -> sink (capacity = column capacity), plus a
source -> sink bypass so that leaving rows unmatched costs nothing. The
minimum-cost flow then picks the maximum-weight (b-)matching.
"""

from __future__ import annotations

import numpy as np

from ._arcs import integer_costs

BACKEND = "min_cost_flow"


def cost_limit(n_nodes: int) -> int:
    """Largest |cost| OR-Tools' cost scaling can take for ``n_nodes`` nodes.

    The push-relabel algorithm multiplies every cost by ``n_nodes + 1``; we
    keep a further factor of 4 below the int64 range for its potentials.
    """
    return (1 << 61) // (n_nodes + 1)


def solve_flow(rows, cols, weights, integral, row_capacity, col_capacity):
    """Choose arcs of a maximum-weight b-matching on compact indices.

    Parameters
    ----------
    rows, cols : numpy.ndarray
        int64 arc ends, already compacted to ``0..R-1`` and ``0..C-1``.
    weights : numpy.ndarray
        Strictly positive weights (int64 or float64).
    integral : bool
        Whether ``weights`` are integers.
    row_capacity, col_capacity : numpy.ndarray
        int64 capacities (>= 1) of the R rows and C columns.

    Returns
    -------
    numpy.ndarray
        Boolean mask of the chosen arcs.
    """
    from ortools.graph.python import min_cost_flow

    n_rows, n_cols = len(row_capacity), len(col_capacity)
    source, sink = n_rows + n_cols, n_rows + n_cols + 1
    n_nodes = n_rows + n_cols + 2
    costs, _ = integer_costs(weights, integral, cost_limit(n_nodes))
    supply = int(min(row_capacity.sum(), col_capacity.sum()))

    row_nodes = np.arange(n_rows, dtype=np.int32)
    col_nodes = np.arange(n_rows, n_rows + n_cols, dtype=np.int32)
    tails = np.concatenate([
        rows.astype(np.int32),
        np.full(n_rows, source, np.int32),
        col_nodes,
        np.array([source], np.int32),
    ])
    heads = np.concatenate([
        (cols + n_rows).astype(np.int32),
        row_nodes,
        np.full(n_cols, sink, np.int32),
        np.array([sink], np.int32),
    ])
    capacities = np.concatenate([
        np.ones(len(rows), np.int64),
        np.minimum(row_capacity, supply).astype(np.int64),
        np.minimum(col_capacity, supply).astype(np.int64),
        np.array([supply], np.int64),
    ])
    unit_costs = np.concatenate([-costs, np.zeros(n_rows + n_cols + 1, np.int64)])

    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(tails, heads, capacities, unit_costs)
    flow.set_nodes_supplies(
        np.array([source, sink], np.int32), np.array([supply, -supply], np.int64)
    )
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(_explain(status, flow))
    chosen = flow.flows(np.arange(len(rows), dtype=np.int32))
    return np.asarray(chosen) > 0


def _explain(status, flow) -> str:
    reasons = {
        flow.NOT_SOLVED: "the solver did not run",
        flow.FEASIBLE: "the solver stopped before optimality",
        flow.INFEASIBLE: "the network is infeasible (cannot happen with the bypass arc)",
        flow.UNBALANCED: "supplies do not balance (internal error)",
        flow.BAD_RESULT: "the solver produced an invalid result",
        flow.BAD_COST_RANGE: "costs too large for the solver; rescale the weights",
        flow.BAD_CAPACITY_RANGE: "capacities too large for the solver",
    }
    return f"min-cost flow failed: {reasons.get(status, 'unknown status')} ({status})"
