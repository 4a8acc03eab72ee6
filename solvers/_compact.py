"""Drop arcs that can never help and renumber the rows and columns left."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class CompactArcs:
    """Positive arcs on renumbered rows/columns, with the maps back.

    The renumbered ``rows`` and ``cols`` are computed when first read: a
    back end that works on the original indices (``kept_rows``,
    ``kept_cols``) skips a gather over every arc.
    """

    keep: np.ndarray | None  # index into the caller's arcs; None: all of them
    kept_rows: np.ndarray  # original row of each kept arc
    kept_cols: np.ndarray
    weights: np.ndarray
    row_ids: np.ndarray  # original row of each compact row
    col_ids: np.ndarray
    row_map: np.ndarray | None  # compact row of each original row; None: the same
    col_map: np.ndarray | None

    @cached_property
    def rows(self) -> np.ndarray:
        """Compact row of each kept arc."""
        return self.kept_rows if self.row_map is None else self.row_map[self.kept_rows]

    @cached_property
    def cols(self) -> np.ndarray:
        """Compact column of each kept arc."""
        return self.kept_cols if self.col_map is None else self.col_map[self.kept_cols]

    @property
    def arc_ids(self) -> np.ndarray:
        """Index into the caller's arcs of each kept arc."""
        if self.keep is None:
            return np.arange(self.kept_rows.size, dtype=np.int64)
        return self.keep

    @property
    def kept_all(self) -> bool:
        """Whether no arc was dropped."""
        return self.keep is None


def _present(indices: np.ndarray, size: int) -> tuple[np.ndarray | None, np.ndarray]:
    # A presence mask and a cumulative sum renumber in O(n + size), no sort;
    # the gather through the map is left to CompactArcs.
    present = np.zeros(size, dtype=bool)
    present[indices] = True
    if present.all():  # nothing to drop: no map at all
        return None, np.arange(size, dtype=np.int64)
    return np.cumsum(present, dtype=np.int64) - 1, np.flatnonzero(present)


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
                               np.arange(n_cols, dtype=np.int64), None, None)
        keep, kept_rows, kept_cols, kept_weights = None, rows, cols, weights
    else:
        keep = np.flatnonzero(weights > 0)
        kept_rows, kept_cols, kept_weights = rows[keep], cols[keep], weights[keep]
    row_map, row_ids = _present(kept_rows, n_rows)
    col_map, col_ids = _present(kept_cols, n_cols)
    return CompactArcs(keep, kept_rows, kept_cols, kept_weights, row_ids, col_ids, row_map, col_map)
