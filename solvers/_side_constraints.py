"""Validation of the side constraints taken by constrained_assignment.

Two ways to say which arcs may not be chosen together:

- ``conflicts``: a ``(k, 2)`` array listing every pair of arcs that may not
  both be chosen (the pairwise form);
- ``contact``: a :class:`Contact`, the aggregated form of a common case,
  pairs of rows whose chosen arcs must end at columns close to each other
  (siblings placed apart who must stay in reach of each other). It names
  rows and a point per column, not arc pairs, so its size does not grow
  with the product of the two rows' arcs; :func:`contact_conflicts` lists
  the pairwise conflicts it stands for (the reference it is tested
  against), and the CP-SAT model states it with one constraint per arc of
  one row of each pair (see ``solvers.constrained``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._arcs import Arcs, as_index_array

# Cells of the (arcs of one row) x (arcs of the other row) dot products
# computed at a time: a few MiB whatever the rows' sizes.
_BLOCK_CELLS = 1 << 22


@dataclass(frozen=True)
class Contact:
    """Rows that must be placed close to each other.

    For each pair ``(a, b)`` of ``row_pairs``, an arc of row ``a`` ending at
    column ``c`` and an arc of row ``b`` ending at column ``d`` may not both
    be chosen when ``col_points[c] @ col_points[d] < min_dot``. With unit
    vectors on the sphere (x, y, z) the dot product falls as the distance
    grows, so ``min_dot`` is the cosine of the largest angle allowed.

    Exactly the pairwise ``conflicts`` that :func:`contact_conflicts`
    lists, in a form whose size is ``len(row_pairs) + n_cols``.
    """

    row_pairs: np.ndarray  # (k, 2) int: rows a, b
    col_points: np.ndarray  # (n_cols, d) float: a point per column
    min_dot: float

    def far(self, cols_a: np.ndarray, cols_b: np.ndarray) -> np.ndarray:
        """(len(cols_a), len(cols_b)) mask: the columns' points are too far apart."""
        return (np.atleast_2d(self.col_points[cols_a]) @ np.atleast_2d(self.col_points[cols_b]).T) < self.min_dot


def validate_contact(arcs: Arcs, contact) -> Contact | None:
    """Check a :class:`Contact` against the arcs; ``None`` stays ``None``."""
    if contact is None:
        return None
    if not isinstance(contact, Contact):
        raise ValueError(f"contact must be a solvers.Contact, got {type(contact).__name__}")
    pairs = np.asarray(contact.row_pairs)
    if pairs.size == 0:
        pairs = np.zeros((0, 2), np.int64)
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ValueError(f"contact.row_pairs must have shape (k, 2), got {pairs.shape}")
    pairs = as_index_array("contact.row_pairs", pairs.reshape(-1)).reshape(-1, 2)
    if pairs.size and (pairs.min() < 0 or pairs.max() >= arcs.n_rows):
        raise ValueError(f"contact.row_pairs must hold rows in [0, {arcs.n_rows}), got {pairs.min()}..{pairs.max()}")
    if np.any(pairs[:, 0] == pairs[:, 1]):
        raise ValueError(f"contact.row_pairs pairs row {int(pairs[pairs[:, 0] == pairs[:, 1]][0, 0])} with itself")
    points = np.asarray(contact.col_points)
    if points.ndim != 2 or points.shape[0] != arcs.n_cols or not np.issubdtype(points.dtype, np.number) \
            or points.dtype == bool:
        raise ValueError(f"contact.col_points must be numbers of shape ({arcs.n_cols}, d), got "
                         f"{points.dtype} {points.shape}")
    points = points.astype(np.float64, copy=False)
    if not np.isfinite(points).all():
        raise ValueError("contact.col_points must be finite")
    min_dot = float(contact.min_dot)
    if not np.isfinite(min_dot):
        raise ValueError(f"contact.min_dot must be finite, got {contact.min_dot!r}")
    return Contact(pairs, points, min_dot)


def row_arcs(rows: np.ndarray, wanted: np.ndarray) -> dict[int, np.ndarray]:
    """Arc indices of each row in ``wanted`` (ascending)."""
    wanted = np.unique(np.asarray(wanted, dtype=np.int64))
    if not wanted.size:
        return {}
    mine = np.flatnonzero(np.isin(rows, wanted))
    order = mine[np.argsort(rows[mine], kind="stable")]
    bounds = np.searchsorted(rows[order], np.r_[wanted, wanted[-1] + 1])
    return {int(r): order[bounds[k]:bounds[k + 1]] for k, r in enumerate(wanted.tolist())}


def far_blocks(contact: Contact, cols: np.ndarray, left: np.ndarray, right: np.ndarray):
    """Yield ``(block, far)`` over ``left`` in blocks: ``far[i, j]`` says arc
    ``left[block][i]`` and arc ``right[j]`` end too far apart."""
    step = max(1, _BLOCK_CELLS // max(1, len(right)))
    for start in range(0, len(left), step):
        block = left[start:start + step]
        yield block, contact.far(cols[block], cols[right])


def contact_conflicts(rows: np.ndarray, cols: np.ndarray, contact: Contact) -> np.ndarray:
    """The pairwise form of ``contact``: every ``(arc, arc)`` pair it
    forbids, as a ``(k, 2)`` array of arc indices. Its size is the product
    of the rows' arcs: meant for tests and small inputs (it is the reference
    the aggregated model is checked against)."""
    by_row = row_arcs(rows, contact.row_pairs.reshape(-1))
    out = []
    for a, b in contact.row_pairs.tolist():
        left, right = by_row.get(a, np.zeros(0, np.int64)), by_row.get(b, np.zeros(0, np.int64))
        if not len(left) or not len(right):
            continue
        for block, far in far_blocks(contact, cols, left, right):
            li, ri = np.nonzero(far)
            out.append(np.stack([block[li], right[ri]], axis=1))
    return np.concatenate(out).astype(np.int64) if out else np.zeros((0, 2), np.int64)


@dataclass(frozen=True)
class SideConstraints:
    """Checked side constraints, all as int64 arrays indexed by arc."""

    fees: np.ndarray  # per arc, >= 0
    fee_group: np.ndarray  # per arc, -1 = not budgeted
    budgets: np.ndarray  # per group
    fixed: np.ndarray  # arc indices that must be chosen
    conflicts: np.ndarray  # (k, 2) arc index pairs, not both chosen
    contact: Contact | None = None  # rows to place close together (aggregated conflicts)
    rows: np.ndarray | None = None  # row of each arc (for ``contact``)
    cols: np.ndarray | None = None  # column of each arc (for ``contact``)

    @property
    def any(self) -> bool:
        """Whether any constraint beyond the matching rules is present."""
        return bool(self.budgets.size or self.fixed.size or self.conflicts.size or self.has_contact)

    @property
    def has_contact(self) -> bool:
        return self.contact is not None and bool(self.contact.row_pairs.size)

    def contact_broken(self, chosen: np.ndarray) -> bool:
        """Whether the arcs ``chosen`` break a ``contact`` pair."""
        if not self.has_contact or not len(chosen):
            return False
        chosen = np.asarray(chosen, dtype=np.int64)
        for a, b in self.contact.row_pairs.tolist():
            left, right = chosen[self.rows[chosen] == a], chosen[self.rows[chosen] == b]
            if len(left) and len(right) and bool(self.contact.far(self.cols[left], self.cols[right]).any()):
                return True
        return False


def _arc_indices(name: str, values, n_arcs: int) -> np.ndarray:
    indices = as_index_array(name, np.asarray(values).reshape(-1))
    if indices.size and (indices.min() < 0 or indices.max() >= n_arcs):
        raise ValueError(f"{name} must hold arc indices in [0, {n_arcs}), got {indices.min()}..{indices.max()}")
    return indices


def validate_side_constraints(arcs: Arcs, fees, fee_group, budgets, fixed, conflicts,
                              contact: Contact | None = None) -> SideConstraints:
    """Check shapes, ranges and consistency of the side constraints.

    Raises
    ------
    ValueError
        Naming the problem: budgets without fees and groups (or the
        reverse), wrong lengths, negative fees or budgets, a group index
        without a budget, an arc index out of range, two fixed arcs that
        share a row or column, or a malformed ``contact`` (row pairs not
        of shape (k, 2), out of range or pairing a row with itself; column
        points not one finite row per column; ``min_dot`` not finite).
    """
    n_arcs = len(arcs.rows)
    given = [fees is not None, fee_group is not None, budgets is not None]
    if any(given) and not all(given):
        raise ValueError("fees, fee_group and budgets must be given together")
    if all(given):
        fees = as_index_array("fees", fees, n_arcs)
        fee_group = as_index_array("fee_group", fee_group, n_arcs)
        budgets = as_index_array("budgets", budgets)
        if fees.size and fees.min() < 0:
            raise ValueError(f"fees must be >= 0, got {int(fees.min())}")
        if budgets.size and budgets.min() < 0:
            raise ValueError(f"budgets must be >= 0, got {int(budgets.min())}")
        if fee_group.size and (fee_group.min() < -1 or fee_group.max() >= len(budgets)):
            raise ValueError(
                f"fee_group must be -1 or a budget index in [0, {len(budgets)}), "
                f"got {fee_group.min()}..{fee_group.max()}"
            )
    else:
        fees = np.zeros(n_arcs, np.int64)
        fee_group = np.full(n_arcs, -1, np.int64)
        budgets = np.zeros(0, np.int64)

    fixed = np.unique(_arc_indices("fixed", [] if fixed is None else fixed, n_arcs))
    for name, ends in (("row", arcs.rows[fixed]), ("col", arcs.cols[fixed])):
        values, counts = np.unique(ends, return_counts=True)
        if np.any(counts > 1):
            raise ValueError(f"two fixed arcs share {name} {int(values[counts > 1][0])}")

    if conflicts is None:
        conflicts = np.zeros((0, 2), np.int64)
    conflicts = np.asarray(conflicts)
    if conflicts.size == 0:
        conflicts = np.zeros((0, 2), np.int64)
    if conflicts.ndim != 2 or conflicts.shape[1] != 2:
        raise ValueError(f"conflicts must have shape (k, 2), got {conflicts.shape}")
    conflicts = _arc_indices("conflicts", conflicts, n_arcs).reshape(-1, 2)
    contact = validate_contact(arcs, contact)
    return SideConstraints(fees, fee_group, budgets, fixed, conflicts, contact, arcs.rows, arcs.cols)


def violates(constraints: SideConstraints, chosen: np.ndarray) -> bool:
    """Whether the arcs ``chosen`` (indices) break a budget, a conflict or
    a contact pair."""
    mask = np.zeros(len(constraints.fees), dtype=bool)
    mask[chosen] = True
    if constraints.conflicts.size and np.any(mask[constraints.conflicts].all(axis=1)):
        return True
    if constraints.contact_broken(np.flatnonzero(mask)):
        return True
    budgeted = mask & (constraints.fee_group >= 0)
    spent = np.zeros(len(constraints.budgets), np.int64)
    np.add.at(spent, constraints.fee_group[budgeted], constraints.fees[budgeted])
    return bool(np.any(spent > constraints.budgets))
