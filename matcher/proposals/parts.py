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
from scipy.sparse import coo_matrix
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


def components(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> tuple[int, np.ndarray]:
    """Connected components of the bipartite graph: (how many hold an arc,
    the component of each arc, numbered from 0 in order of first arc)."""
    if len(rows) == 0:
        return 0, np.empty(0, dtype=np.int64)
    n = n_rows + n_cols
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols + n_rows)), shape=(n, n)).tocsr()
    n_labels, label = connected_components(graph, directed=False)
    of_arc = label[rows]
    # Renumber by first appearance so the numbering does not depend on scipy's.
    first = np.full(n_labels, len(rows), dtype=np.int64)
    np.minimum.at(first, of_arc, np.arange(len(rows), dtype=np.int64))
    used = np.flatnonzero(first < len(rows))
    rank = np.full(n_labels, -1, dtype=np.int64)
    rank[used[np.argsort(first[used], kind="stable")]] = np.arange(len(used))
    return len(used), rank[of_arc]


def max_weight_matching_in_parts(rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, n_rows: int,
                                 n_cols: int, config: SolverConfig | None = None, progress=None) -> PartsResult:
    """The exact max-weight matching of the arcs, solved part by part.
    Arcs of weight 0 or less are never chosen (as in max_weight_matching)."""
    begin = time.perf_counter()
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    weights = np.asarray(weights, dtype=np.int64)
    positive = weights > 0
    rows, cols, weights = rows[positive], cols[positive], weights[positive]
    n_parts, part = components(rows, cols, n_rows, n_cols)
    chosen_rows, chosen_cols, backends, objective = [], [], set(), 0
    if n_parts:
        order = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[order], np.arange(n_parts + 1))
        # Parts with one row or one column: the best arc (ties: first arc).
        row_count = _distinct_per_part(rows, part, n_parts)
        col_count = _distinct_per_part(cols, part, n_parts)
        star = (row_count == 1) | (col_count == 1)
        if star.any():
            at = order[np.isin(part[order], np.flatnonzero(star))]
            p = part[at]
            best = at[np.lexsort((at, -weights[at], p))]
            lead = best[np.r_[True, part[best][1:] != part[best][:-1]]]
            chosen_rows.append(rows[lead])
            chosen_cols.append(cols[lead])
            objective += int(weights[lead].sum())
            backends.add("best arc")
        big = np.flatnonzero(~star)
        stage = getattr(progress, "stage", None)
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


def _distinct_per_part(side: np.ndarray, part: np.ndarray, n_parts: int) -> np.ndarray:
    """How many distinct rows (or columns) each part has."""
    width = int(side.max()) + 1 if len(side) else 1
    keys = _sorted_distinct(part * width + side)
    return np.bincount(keys // width, minlength=n_parts)
