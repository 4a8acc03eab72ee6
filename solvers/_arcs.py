"""Validation of arc arrays and conversion of weights to integer costs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Above this many row x column cells a bitmap for the duplicate check would
# cost more memory than sorting the arc keys.
_BITMAP_CELLS = 1 << 28


@dataclass(frozen=True)
class Arcs:
    """Validated arcs: int64 indices, original weights, problem size."""

    rows: np.ndarray
    cols: np.ndarray
    weights: np.ndarray
    n_rows: int
    n_cols: int
    integral: bool
    # The arcs list every cell of the n_rows x n_cols grid once, in row-major
    # order (so they are distinct and every row and column is present).
    grid: bool = False
    # The arcs are listed row by row, each row's columns ascending (so they
    # are distinct and grouped by row).
    ordered: bool = False


def _as_index(name: str, values) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must have an integer dtype, got {array.dtype}")
    return array.astype(np.int64, copy=False)


def _size(name: str, given, indices: np.ndarray) -> int:
    """Check ``indices`` are >= 0 (and < ``given``); return the size."""
    if given is not None and int(given) < 0:
        raise ValueError(f"n_{name} must be >= 0, got {given!r}")
    if not indices.size:
        return 0 if given is None else int(given)
    # Seen as unsigned, a negative index is huge: one pass finds both the
    # largest index and any negative one.
    largest = int(indices.view(np.uint64).max())
    if largest > np.iinfo(np.int64).max:
        bad = int(np.argmin(indices))
        raise ValueError(f"{name} index must be >= 0, got {indices[bad]} at arc {bad}")
    if given is None:
        return largest + 1
    size = int(given)
    if largest >= size:
        raise ValueError(f"{name} index {largest} out of range for n_{name}={size}")
    return size


def validate_arcs(rows, cols, weights, n_rows=None, n_cols=None, *,
                  check_repeats: bool = True) -> Arcs:
    """Check arc arrays and return them as int64 indices plus weights.

    With ``check_repeats=False`` the caller must rule out repeated arcs
    itself (see :func:`reject_repeated_arcs`) unless ``grid`` is set.

    Raises
    ------
    ValueError
        Naming the problem: shape, dtype, length, range, NaN/inf or a
        repeated (row, column) arc.
    """
    rows = _as_index("rows", rows)
    cols = _as_index("cols", cols)
    weights = np.asarray(weights)
    if weights.ndim != 1:
        raise ValueError(f"weights must be 1-D, got shape {weights.shape}")
    if not (len(rows) == len(cols) == len(weights)):
        raise ValueError(
            "rows, cols and weights must have the same length, got "
            f"{len(rows)}, {len(cols)} and {len(weights)}"
        )
    if weights.dtype == bool or not (
        np.issubdtype(weights.dtype, np.integer)
        or np.issubdtype(weights.dtype, np.floating)
    ):
        if weights.size:
            raise ValueError(f"weights must be int or float, got {weights.dtype}")
        weights = weights.astype(np.int64)
    integral = bool(np.issubdtype(weights.dtype, np.integer))
    if integral:
        if weights.dtype == np.uint64 and weights.size and weights.max() > np.iinfo(np.int64).max:
            raise ValueError(f"integer weights must fit in int64, got {weights.max()}")
        weights = weights.astype(np.int64, copy=False)
    else:
        weights = weights.astype(np.float64, copy=False)
        # A finite sum proves every weight finite (NaN and inf propagate)
        # without a boolean array as large as the input.
        if weights.size and not np.isfinite(weights.sum()):
            finite = np.isfinite(weights)
        else:
            finite = np.ones(1, dtype=bool)
        if not finite.all():
            bad = int(np.flatnonzero(~finite)[0])
            raise ValueError(f"weights must be finite, got {weights[bad]} at arc {bad}")
    grid = _is_grid(rows, cols, n_rows, n_cols)
    if grid:
        n_rows, n_cols = int(rows[-1]) + 1, int(cols[-1]) + 1
    else:
        n_rows = _size("rows", n_rows, rows)
        n_cols = _size("cols", n_cols, cols)
        if check_repeats:
            reject_repeated_arcs(rows, cols, n_rows, n_cols)
    return Arcs(rows, cols, weights, n_rows, n_cols, integral, grid)


def _is_grid(rows, cols, n_rows, n_cols) -> bool:
    """Whether the arcs are every cell of a grid in row-major order.

    The sizes are guessed from the last arc, so a complete dense input is
    validated by two vectorised comparisons instead of range and repeat
    checks.
    """
    if rows.size == 0:
        return False
    last_row, last_col = int(rows[-1]), int(cols[-1])
    if last_row < 0 or last_col < 0:
        return False
    r, c = last_row + 1, last_col + 1
    if r * c != rows.size or (n_rows is not None and int(n_rows) != r) or (
            n_cols is not None and int(n_cols) != c):
        return False
    # Cheap early exits on the first row before the full comparisons.
    if rows[0] != 0 or cols[0] != 0 or (c > 1 and (rows[1] != 0 or cols[1] != 1)):
        return False
    return bool(
        np.array_equal(rows.reshape(r, c), np.broadcast_to(np.arange(r)[:, None], (r, c)))
        and np.array_equal(cols.reshape(r, c), np.broadcast_to(np.arange(c), (r, c)))
    )


def reject_repeated_arcs(rows, cols, n_rows: int, n_cols: int) -> bool:
    """Raise ValueError naming the first repeated (row, column) arc, if any.

    Returns whether the arcs are listed row by row with each row's columns
    ascending (then one comparison pass proved them distinct).
    """
    if rows.size < 2:
        return True
    keys = rows * n_cols + cols
    # As a region's eligible pairs come: unit by unit, households ascending.
    if bool(np.all(keys[1:] > keys[:-1])):
        return True
    if n_rows * n_cols <= _BITMAP_CELLS:
        seen = np.zeros(n_rows * n_cols, dtype=bool)
        seen[keys] = True
        if np.count_nonzero(seen) == keys.size:
            return False
    elif _distinct_by_hash(keys):
        return False
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    repeats = np.flatnonzero(sorted_keys[1:] == sorted_keys[:-1])
    if repeats.size:
        arc = int(order[repeats[0] + 1])
        raise ValueError(
            f"repeated arc (row {int(rows[arc])}, col {int(cols[arc])}) at arc {arc}"
        )
    return False


def _distinct_by_hash(keys: np.ndarray) -> bool:
    """Whether int64 ``keys`` are distinct, about twice as fast as sorting.

    Each key is hashed into a table twice the size of the input and every
    key writes its index there; one index per slot survives. A repeated
    key shares its twin's slot, so either the twin owns the slot (compared
    directly) or both lost it (found by sorting the losers only, a few per
    cent of the keys).
    """
    bits = max(10, int(keys.size * 2 - 1).bit_length())
    slots = (keys.view(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - bits)
    owner = np.empty(1 << bits, dtype=np.int64)  # only written slots are read
    ids = np.arange(keys.size, dtype=np.int64)
    owner[slots] = ids
    winner = owner[slots]
    lost = np.flatnonzero(winner != ids)
    if np.any(keys[lost] == keys[winner[lost]]):
        return False
    lost_keys = np.sort(keys[lost])
    return not np.any(lost_keys[1:] == lost_keys[:-1])


def as_index_array(name: str, values, length: int | None = None) -> np.ndarray:
    """Return ``values`` as a 1-D int64 array, checking dtype and length."""
    array = _as_index(name, values)
    if length is not None and len(array) != length:
        raise ValueError(f"{name} must have length {length}, got {len(array)}")
    return array


def integer_costs(weights: np.ndarray, integral: bool, limit: int) -> tuple[np.ndarray, float]:
    """Return int64 costs for ``weights`` and the scale used.

    Integer weights are kept as they are (scale 1) and must satisfy
    ``max|w| <= limit``. Float weights are multiplied by the largest power of
    two that keeps ``max|w| * scale <= limit`` (and within double precision),
    then rounded; a power of two keeps the scaling itself exact.

    Raises
    ------
    ValueError
        If integer weights are too large for the solver to stay exact.
    """
    if weights.size == 0:
        return np.zeros(0, dtype=np.int64), 1.0
    largest = float(np.abs(weights).max())
    if integral:
        if largest > limit:
            raise ValueError(
                f"integer weights up to {largest:.0f} in magnitude would overflow "
                f"the solver (limit {limit} for this size)"
            )
        return weights.astype(np.int64, copy=False), 1.0
    if largest == 0.0:
        return np.zeros(weights.size, dtype=np.int64), 1.0
    # Past 2**53 a double cannot hold more digits, so a bigger scale gains nothing.
    target = min(float(limit), 2.0**53)
    # Work with exponents: target / largest overflows for tiny weights. The
    # cap keeps the scale itself a finite double.
    exponent = min(int(np.floor(np.log2(target) - np.log2(largest))), 1000)
    costs = np.rint(np.ldexp(weights, exponent))
    # log2 rounding can overshoot by one ulp of the exponent; halve if so.
    if np.abs(costs).max() > target:
        exponent -= 1
        costs = np.rint(np.ldexp(weights, exponent))
    return costs.astype(np.int64), float(np.ldexp(1.0, exponent))


def total(weights: np.ndarray, integral: bool) -> int | float:
    """Sum of ``weights`` as a Python int (integer weights) or float."""
    if integral:
        return int(weights.sum(dtype=np.int64)) if weights.size else 0
    return float(weights.sum()) if weights.size else 0.0


def pairs_of(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Stack rows and cols into a (k, 2) int64 array sorted by row, column."""
    order = np.lexsort((cols, rows))
    return np.column_stack((rows[order], cols[order])).astype(np.int64, copy=False)
