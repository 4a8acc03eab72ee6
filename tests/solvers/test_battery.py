"""One battery run by every solver: each exact back end of
max_weight_matching (from its registry), b_matching with capacity one, and
constrained_assignment with no side constraint all solve the plain matching
problem, so each must reach the brute-force and scipy optimum, return a
valid matching and handle empty and non-positive input alike."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from scipy.optimize import linear_sum_assignment

from solvers import b_matching, constrained_assignment, max_weight_matching
from solvers.matching import REGISTRY

from .brute_force import best_matching_value
from .helpers import assert_valid_matching
from .strategies import ArcSet, arc_sets, dense_matrices


def _backend(name):
    return lambda a: max_weight_matching(a.rows, a.cols, a.weights, n_rows=a.n_rows, n_cols=a.n_cols, backend=name)


def _b_matching(a):
    return b_matching(a.rows, a.cols, a.weights, row_capacity=np.ones(a.n_rows, np.int64),
                      col_capacity=np.ones(a.n_cols, np.int64), n_rows=a.n_rows, n_cols=a.n_cols)


def _constrained(a):
    return constrained_assignment(a.rows, a.cols, a.weights, n_rows=a.n_rows, n_cols=a.n_cols)


SOLVERS = {**{f"max_weight_matching[{name}]": _backend(name) for name in ["auto", *REGISTRY]},
           "b_matching[capacity 1]": _b_matching, "constrained_assignment[no side constraint]": _constrained}
BATTERY = settings(max_examples=40, deadline=None)


def test_the_registry_names_every_back_end():
    from solvers import BACKENDS

    assert BACKENDS == ("auto", *REGISTRY)
    assert {"min_cost_flow", "linear_sum_assignment", "scipy_dense"} <= set(REGISTRY)


@pytest.mark.parametrize("name", sorted(SOLVERS))
class TestEverySolver:
    @BATTERY
    @given(arcs=arc_sets())
    def test_equals_brute_force(self, name, arcs):
        result = SOLVERS[name](arcs)
        assert_valid_matching(result, arcs)
        assert result.status == "optimal"
        expected = best_matching_value(arcs.rows, arcs.cols, arcs.weights)
        assert result.objective == pytest.approx(expected, abs=1e-6 * max(1, len(result.pairs)))

    @BATTERY
    @given(matrix=dense_matrices())
    def test_equals_scipy_on_dense(self, name, matrix):
        rows, cols = np.indices(matrix.shape).reshape(2, -1)
        arcs = ArcSet(rows, cols, matrix.ravel(), *matrix.shape)
        result = SOLVERS[name](arcs)
        assert_valid_matching(result, arcs)
        r, c = linear_sum_assignment(np.maximum(matrix, 0), maximize=True)
        assert result.objective == pytest.approx(np.maximum(matrix, 0)[r, c].sum(), abs=1e-6 * max(1, len(r)))

    def test_empty_and_non_positive_input(self, name):
        empty = np.zeros(0, np.int64)
        assert len(SOLVERS[name](ArcSet(empty, empty, empty, 2, 2)).pairs) == 0
        negative = ArcSet(np.array([0, 1]), np.array([1, 0]), np.array([0, -3]), 2, 2)
        result = SOLVERS[name](negative)
        assert len(result.pairs) == 0 and result.objective == 0
