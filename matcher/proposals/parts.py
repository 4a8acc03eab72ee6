"""Independent parts: the connected components of the bipartite graph of
arcs, each solved on its own.

Without side constraints a matching is the union of matchings of the
components of its graph (no arc joins two components), so solving each
component exactly and putting the answers together is exact: the total is
the whole problem's optimum. A part with a single unit or a single household
is solved by taking its best arc; every other part goes to
:func:`solvers.max_weight_matching` with its own rows and columns renumbered
from 0. Budgets or sibling contact couple parts (an agency's budget spans
them), so :mod:`matcher.proposals.propose` splits only without them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from solvers import SolverConfig, max_weight_matching


@dataclass(frozen=True)
class PartsResult:
    """The chosen arcs (rows, columns) of every part together, and how the
    parts were solved. ``backend`` says the solvers used and the number of
    parts, for the proposal's method."""

    pairs: np.ndarray
    objective: int
    status: str
    wall_time_s: float
    backend: str
    parts: int


def _node_components(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> tuple[int, np.ndarray]:
    """Connected components of the bipartite graph as a label per node
    (rows first, then columns), numbered from 0 by their smallest row that
    has an arc, so the numbering does not depend on scipy's; nodes without
    an arc get -1. The graph is held as int32 CSR (about 5 bytes an arc,
    and as much again for scipy's transpose), never as per-arc int64 work
    arrays: the exact path's memory is the pair table's."""
    n = n_rows + n_cols
    node = np.full(n, -1, dtype=np.int64)
    if len(rows) == 0:
        return 0, node
    order = None if len(rows) < 2 or bool((rows[1:] >= rows[:-1]).all()) else np.argsort(rows, kind="stable")
    sorted_rows = rows if order is None else rows[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    indptr[1:n_rows + 1] = np.cumsum(np.bincount(sorted_rows, minlength=n_rows))
    indptr[n_rows + 1:] = indptr[n_rows]
    indices = (cols if order is None else cols[order]).astype(np.int32)
    indices += n_rows
    del sorted_rows, order
    graph = csr_matrix((np.ones(len(indices), dtype=np.int8), indices, indptr), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    del graph, indices
    has = np.zeros(n, dtype=bool)
    has[rows] = True
    has[n_rows + cols] = True
    # Every component with an arc holds a row with an arc: number by the smallest.
    row_labels = label[:n_rows][has[:n_rows]]
    used, first = np.unique(row_labels, return_index=True)
    rank = np.full(int(label.max()) + 1, -1, dtype=np.int64)
    rank[used[np.argsort(first, kind="stable")]] = np.arange(len(used))
    node[has] = rank[label[has]]
    return len(used), node


def components(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> tuple[int, np.ndarray]:
    """Connected components of the bipartite graph: (how many hold an arc,
    the component of each arc, numbered from 0 by their smallest row)."""
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    n_parts, node = _node_components(rows, cols, n_rows, n_cols)
    return n_parts, node[rows]


def max_weight_matching_in_parts(rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, n_rows: int,
                                 n_cols: int, config: SolverConfig | None = None, progress=None) -> PartsResult:
    """The exact max-weight matching of the arcs, solved part by part.
    Arcs of weight 0 or less are never chosen (as in max_weight_matching).

    Parts with a single row or a single column take their best arc. When at
    most one part has more than one row and more than one column, every arc
    goes to the solver in one call (the same optimum, and no per-part
    copies of a large table); otherwise each such part is solved on its
    own, renumbered from 0."""
    begin = time.perf_counter()
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    weights = np.asarray(weights, dtype=np.int64)
    positive = weights > 0
    if not bool(positive.all()):
        rows, cols, weights = rows[positive], cols[positive], weights[positive]
    del positive
    n_parts, node = _node_components(rows, cols, n_rows, n_cols)
    row_count = np.bincount(node[:n_rows][node[:n_rows] >= 0], minlength=n_parts)
    col_count = np.bincount(node[n_rows:][node[n_rows:] >= 0], minlength=n_parts)
    star = (row_count == 1) | (col_count == 1)
    big = np.flatnonzero(~star)
    stage = getattr(progress, "stage", None)
    if n_parts and len(big) <= 1:
        if stage is not None:
            stage("solving 1 part", 1)
        result = max_weight_matching(rows, cols, weights, n_rows=n_rows, n_cols=n_cols, config=config)
        if stage is not None:
            progress(1)
        backend = result.backend if n_parts <= 1 else (
            f"{result.backend}; {n_parts:,} independent parts, solved in one call (all but one have a single "
            f"unit or a single household)")
        return PartsResult(result.pairs, int(result.objective), "optimal", time.perf_counter() - begin, backend,
                           n_parts)
    part = node[rows] if n_parts else np.empty(0, dtype=np.int64)
    del node
    chosen_rows, chosen_cols, backends, objective = [], [], set(), 0
    if n_parts:
        order = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[order], np.arange(n_parts + 1))
        # Parts with one row or one column: the best arc (ties: first arc).
        if star.any():
            at = order[np.isin(part[order], np.flatnonzero(star))]
            p = part[at]
            best = at[np.lexsort((at, -weights[at], p))]
            lead = best[np.r_[True, part[best][1:] != part[best][:-1]]]
            chosen_rows.append(rows[lead])
            chosen_cols.append(cols[lead])
            objective += int(weights[lead].sum())
            backends.add("best arc")
        if stage is not None and len(big):
            stage(f"solving {len(big):,} part{'s' if len(big) != 1 else ''}", len(big))
        for p in big.tolist():
            at = order[bounds[p]:bounds[p + 1]]
            r_ids, r = _renumbered(rows[at])
            c_ids, c = _renumbered(cols[at])
            result = max_weight_matching(r, c, weights[at], n_rows=len(r_ids), n_cols=len(c_ids), config=config)
            chosen_rows.append(r_ids[result.pairs[:, 0]])
            chosen_cols.append(c_ids[result.pairs[:, 1]])
            objective += int(result.objective)
            backends.add(result.backend)
            if stage is not None and progress is not None:
                progress(1)
    pairs = np.stack([np.concatenate(chosen_rows) if chosen_rows else np.empty(0, np.int64),
                      np.concatenate(chosen_cols) if chosen_cols else np.empty(0, np.int64)], axis=1)
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    names = ", ".join(sorted(backends)) or "no arcs"
    backend = names if n_parts <= 1 else f"{names}; solved as {n_parts:,} independent parts"
    return PartsResult(pairs, objective, "optimal", time.perf_counter() - begin, backend, n_parts)


def _sorted_distinct(values: np.ndarray) -> np.ndarray:
    out = np.sort(values)
    return out[np.r_[True, out[1:] != out[:-1]]] if len(out) else out


def _renumbered(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values (sorted) and each value's position among them."""
    ids = _sorted_distinct(values)
    return ids, np.searchsorted(ids, values)
