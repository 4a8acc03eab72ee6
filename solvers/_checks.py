"""A back-end-agnostic check that a (b-)matching obeys its rules."""

from __future__ import annotations

import numpy as np


def matching_problems(
    pairs, objective, rows, cols, weights, *, row_capacity=None, col_capacity=None,
    tolerance: float = 1e-6, positive_only: bool = True,
) -> list[str]:
    """List every rule a proposed (b-)matching breaks.

    Parameters
    ----------
    pairs : array_like, shape (k, 2)
        Chosen (row, column) pairs.
    objective : int or float
        Claimed sum of the chosen weights.
    rows, cols, weights : array_like
        The allowed arcs.
    row_capacity, col_capacity : array_like of int, optional
        Uses allowed per row / column; 1 each when omitted (a matching).
    tolerance : float
        Allowed relative difference between ``objective`` and the
        recomputed sum.
    positive_only : bool
        Whether choosing an arc of weight <= 0 counts as a problem (it does
        for the exact solvers; fixed links may have any weight).

    Returns
    -------
    list of str
        Empty when the matching is valid.
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
    weights = np.asarray(weights)
    arc_of = {(int(r), int(c)): k for k, (r, c) in enumerate(zip(rows, cols))}
    problems = []
    chosen = []
    for row, col in pairs.tolist():
        arc = arc_of.get((row, col))
        if arc is None:
            problems.append(f"pair ({row}, {col}) is not an allowed arc")
        else:
            chosen.append(arc)
    if len(set(map(tuple, pairs.tolist()))) != len(pairs):
        problems.append("an arc is chosen more than once")
    for name, used, capacity in (
        ("row", pairs[:, 0], row_capacity),
        ("column", pairs[:, 1], col_capacity),
    ):
        ids, counts = np.unique(used, return_counts=True)
        limits = np.ones(len(ids), np.int64) if capacity is None else np.asarray(capacity)[ids]
        for index, count, limit in zip(ids, counts, limits):
            if count > limit:
                problems.append(f"{name} {index} used {count} times, capacity {limit}")
    total = weights[chosen].sum() if chosen else 0
    if abs(float(total) - float(objective)) > tolerance * max(1.0, abs(float(total))):
        problems.append(f"objective {objective} differs from the chosen weights' sum {total}")
    if positive_only and chosen and np.any(weights[chosen] <= 0):
        problems.append("an arc of weight <= 0 is chosen")
    return problems


def check_matching(pairs, objective, rows, cols, weights, **limits) -> None:
    """Raise ``ValueError`` listing every rule a (b-)matching breaks.

    Takes the same arguments as :func:`matching_problems`.
    """
    problems = matching_problems(pairs, objective, rows, cols, weights, **limits)
    if problems:
        raise ValueError("invalid matching:\n- " + "\n- ".join(problems))
