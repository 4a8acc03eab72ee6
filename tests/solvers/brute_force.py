"""Exhaustive optima for tiny instances, the reference every solver must meet."""

from __future__ import annotations

import itertools

import numpy as np


def best_matching_value(rows, cols, weights) -> float:
    """Maximum total weight of a matching, by recursion over the arcs."""
    arcs = [(int(r), int(c), w) for r, c, w in zip(rows, cols, weights) if w > 0]

    def best(start: int, used_rows: frozenset, used_cols: frozenset) -> float:
        value = 0
        for k in range(start, len(arcs)):
            r, c, w = arcs[k]
            if r not in used_rows and c not in used_cols:
                value = max(value, w + best(k + 1, used_rows | {r}, used_cols | {c}))
        return value

    return best(0, frozenset(), frozenset())


def best_subset_value(weights, feasible) -> float:
    """Maximum total weight over every subset of arcs that ``feasible`` accepts."""
    weights = np.asarray(weights)
    best = 0
    for size in range(len(weights) + 1):
        for subset in itertools.combinations(range(len(weights)), size):
            if feasible(subset):
                best = max(best, weights[list(subset)].sum() if subset else 0)
    return best
