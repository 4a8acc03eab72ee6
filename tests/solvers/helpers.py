"""Assertions shared by every solver test."""

from __future__ import annotations

import numpy as np

from solvers import check_matching


def assert_valid_matching(result, arcs, row_capacity=None, col_capacity=None) -> None:
    """Rows/columns within capacity, pairs are arcs, objective is their sum."""
    pairs = result.pairs
    assert pairs.dtype == np.int64 and pairs.ndim == 2 and pairs.shape[1] == 2
    check_matching(
        pairs, result.objective, arcs.rows, arcs.cols, arcs.weights,
        row_capacity=row_capacity, col_capacity=col_capacity,
    )
    if row_capacity is None:
        assert len(np.unique(pairs[:, 0])) == len(pairs)
        assert len(np.unique(pairs[:, 1])) == len(pairs)
    assert np.all(np.diff(pairs[:, 0]) >= 0), "pairs must be sorted by row"
    integral = np.issubdtype(np.asarray(arcs.weights).dtype, np.integer)
    assert isinstance(result.objective, int if integral else float)
