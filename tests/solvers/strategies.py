"""Hypothesis strategies for arc sets, in one place for every solver test."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st


@dataclass(frozen=True)
class ArcSet:
    """Allowed arcs of a small bipartite instance."""

    rows: np.ndarray
    cols: np.ndarray
    weights: np.ndarray
    n_rows: int
    n_cols: int


@st.composite
def arc_sets(draw, max_rows: int = 6, max_cols: int = 6, max_arcs: int = 14,
             integral: bool | None = None, positive: bool = False) -> ArcSet:
    """Random sparse arcs: some rows and columns without arcs, weights of any
    sign (or strictly positive), integer or float."""
    n_rows = draw(st.integers(0, max_rows))
    n_cols = draw(st.integers(0, max_cols))
    cells = [(r, c) for r in range(n_rows) for c in range(n_cols)]
    chosen = draw(st.lists(st.sampled_from(cells), unique=True, max_size=max_arcs)) if cells else []
    if integral is None:
        integral = draw(st.booleans())
    low = 1 if positive else -20
    if integral:
        values = st.integers(low, 50)
    else:
        values = st.floats(low, 50, allow_nan=False, allow_infinity=False)
    weights = [draw(values) for _ in chosen]
    rows = np.array([r for r, _ in chosen], dtype=np.int64)
    cols = np.array([c for _, c in chosen], dtype=np.int64)
    dtype = np.int64 if integral else np.float64
    return ArcSet(rows, cols, np.array(weights, dtype=dtype), n_rows, n_cols)


@st.composite
def dense_matrices(draw, max_side: int = 8):
    """A dense weight matrix of any sign; every cell is an arc."""
    n_rows = draw(st.integers(1, max_side))
    n_cols = draw(st.integers(1, max_side))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if draw(st.booleans()):
        return rng.integers(-30, 100, size=(n_rows, n_cols))
    return rng.normal(10.0, 20.0, size=(n_rows, n_cols))
