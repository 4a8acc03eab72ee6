"""Drop arcs that can never help and renumber the rows and columns left."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CompactArcs:
    """Positive arcs on renumbered rows/columns, with the maps back."""

    keep: np.ndarray | None  # index into the caller's arcs; None: all of them
    rows: np.ndarray  # compact row of each kept arc
    cols: np.ndarray
    weights: np.ndarray
    row_ids: np.ndarray  # original row of each compact row
    col_ids: np.ndarray

    @property
    def arc_ids(self) -> np.ndarray:
        """Index into the caller's arcs of each kept arc."""
        if self.keep is None:
            return np.arange(self.rows.size, dtype=np.int64)
        return self.keep

    @property
    def kept_all(self) -> bool:
        """Whether no arc was dropped."""
        return self.keep is None


def _renumber(indices: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    # A presence mask and a cumulative sum renumber in O(n + size), no sort.
    present = np.zeros(size, dtype=bool)
    present[indices] = True
    if present.all():  # nothing to drop: skip a gather over every arc
        return indices, np.arange(size, dtype=np.int64)
    new_index = np.cumsum(present, dtype=np.int64) - 1
    return new_index[indices], np.flatnonzero(present)


def compact_positive(rows, cols, weights, n_rows: int, n_cols: int,
                     grid: bool = False) -> CompactArcs:
    """Keep arcs with weight > 0 and renumber the rows/columns they touch.

    ``grid`` (every cell of the grid is an arc) lets an all-positive input
    skip the renumbering: every row and column is then present.
    """
    # One reduction, no boolean array, in the common all-positive case.
    all_positive = rows.size == 0 or weights.min() > 0
    if all_positive:
        if grid:
            return CompactArcs(None, rows, cols, weights,
                               np.arange(n_rows, dtype=np.int64),
                               np.arange(n_cols, dtype=np.int64))
        keep, kept_rows, kept_cols, kept_weights = None, rows, cols, weights
    else:
        keep = np.flatnonzero(weights > 0)
        kept_rows, kept_cols, kept_weights = rows[keep], cols[keep], weights[keep]
    new_rows, row_ids = _renumber(kept_rows, n_rows)
    new_cols, col_ids = _renumber(kept_cols, n_cols)
    return CompactArcs(keep, new_rows, new_cols, kept_weights, row_ids, col_ids)
