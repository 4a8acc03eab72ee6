"""Assertions shared by every solver test."""

from __future__ import annotations

import numpy as np

from solvers import check_matching


def assert_valid_matching(result, arcs, row_capacity=None, col_capacity=None,
                          positive_only=True) -> None:
    """Rows/columns within capacity, pairs are arcs, objective is their sum.

    Matching results must list pairs by row; assignment results list them in
    the order of their sorted ``arcs``, which must name the same arcs.
    """
    pairs = result.pairs
    assert pairs.dtype == np.int64 and pairs.ndim == 2 and pairs.shape[1] == 2
    check_matching(
        pairs, result.objective, arcs.rows, arcs.cols, arcs.weights,
        row_capacity=row_capacity, col_capacity=col_capacity, positive_only=positive_only,
    )
    if row_capacity is None:
        assert len(np.unique(pairs[:, 0])) == len(pairs)
        assert len(np.unique(pairs[:, 1])) == len(pairs)
    if hasattr(result, "arcs"):
        assert np.all(np.diff(result.arcs) > 0), "arcs must be sorted and unique"
        assert np.array_equal(pairs[:, 0], arcs.rows[result.arcs])
        assert np.array_equal(pairs[:, 1], arcs.cols[result.arcs])
    else:
        assert np.all(np.diff(pairs[:, 0]) >= 0), "pairs must be sorted by row"
    integral = np.issubdtype(np.asarray(arcs.weights).dtype, np.integer)
    assert isinstance(result.objective, int if integral else float)
