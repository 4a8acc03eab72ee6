"""Validation of the side constraints taken by constrained_assignment."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._arcs import Arcs, as_index_array


@dataclass(frozen=True)
class SideConstraints:
    """Checked side constraints, all as int64 arrays indexed by arc."""

    fees: np.ndarray  # per arc, >= 0
    fee_group: np.ndarray  # per arc, -1 = not budgeted
    budgets: np.ndarray  # per group
    fixed: np.ndarray  # arc indices that must be chosen
    conflicts: np.ndarray  # (k, 2) arc index pairs, not both chosen

    @property
    def any(self) -> bool:
        """Whether any constraint beyond the matching rules is present."""
        return bool(self.budgets.size or self.fixed.size or self.conflicts.size)


def _arc_indices(name: str, values, n_arcs: int) -> np.ndarray:
    indices = as_index_array(name, np.asarray(values).reshape(-1))
    if indices.size and (indices.min() < 0 or indices.max() >= n_arcs):
        raise ValueError(f"{name} must hold arc indices in [0, {n_arcs}), got {indices.min()}..{indices.max()}")
    return indices


def validate_side_constraints(arcs: Arcs, fees, fee_group, budgets, fixed, conflicts) -> SideConstraints:
    """Check shapes, ranges and consistency of the side constraints.

    Raises
    ------
    ValueError
        Naming the problem: budgets without fees and groups (or the
        reverse), wrong lengths, negative fees or budgets, a group index
        without a budget, an arc index out of range, or two fixed arcs that
        share a row or column.
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
    return SideConstraints(fees, fee_group, budgets, fixed, conflicts)


def violates(constraints: SideConstraints, chosen: np.ndarray) -> bool:
    """Whether the arcs ``chosen`` (indices) break a budget or a conflict."""
    mask = np.zeros(len(constraints.fees), dtype=bool)
    mask[chosen] = True
    if constraints.conflicts.size and np.any(mask[constraints.conflicts].all(axis=1)):
        return True
    budgeted = mask & (constraints.fee_group >= 0)
    spent = np.zeros(len(constraints.budgets), np.int64)
    np.add.at(spent, constraints.fee_group[budgeted], constraints.fees[budgeted])
    return bool(np.any(spent > constraints.budgets))
