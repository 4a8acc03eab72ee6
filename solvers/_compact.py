"""Drop arcs that can never help and renumber the rows and columns left."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CompactArcs:
    """Positive arcs on renumbered rows/columns, with the maps back."""

    arc_ids: np.ndarray  # index into the caller's arcs
    rows: np.ndarray  # compact row of each kept arc
    cols: np.ndarray
    weights: np.ndarray
    row_ids: np.ndarray  # original row of each compact row
    col_ids: np.ndarray


def _renumber(indices: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    # A presence mask and a cumulative sum renumber in O(n + size), no sort.
    present = np.zeros(size, dtype=bool)
    present[indices] = True
    if present.all():  # nothing to drop: skip a gather over every arc
        return indices, np.arange(size, dtype=np.int64)
    new_index = np.cumsum(present, dtype=np.int64) - 1
    return new_index[indices], np.flatnonzero(present)


def compact_positive(rows, cols, weights, n_rows: int, n_cols: int) -> CompactArcs:
    """Keep arcs with weight > 0 and renumber the rows/columns they touch."""
    positive = weights > 0
    if positive.all():
        keep = np.arange(rows.size, dtype=np.int64)
    else:
        keep = np.flatnonzero(positive)
    if keep.size == rows.size:
        kept_rows, kept_cols, kept_weights = rows, cols, weights
    else:
        kept_rows, kept_cols, kept_weights = rows[keep], cols[keep], weights[keep]
    new_rows, row_ids = _renumber(kept_rows, n_rows)
    new_cols, col_ids = _renumber(kept_cols, n_cols)
    return CompactArcs(keep, new_rows, new_cols, kept_weights, row_ids, col_ids)
