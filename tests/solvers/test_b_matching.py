"""b_matching: exact shortlists within every capacity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvers import b_matching, max_weight_matching

from .brute_force import best_subset_value
from .helpers import assert_valid_matching
from .strategies import arc_sets


def within_capacities(arcs, row_capacity, col_capacity):
    def feasible(subset):
        subset = list(subset)
        rows = np.bincount(arcs.rows[subset], minlength=arcs.n_rows)
        cols = np.bincount(arcs.cols[subset], minlength=arcs.n_cols)
        return bool(np.all(rows <= row_capacity) and np.all(cols <= col_capacity))
    return feasible


@settings(max_examples=60, deadline=None)
@given(arcs=arc_sets(max_rows=4, max_cols=4, max_arcs=10), data=st.data())
def test_equals_brute_force_and_respects_capacities(arcs, data):
    row_capacity = np.array(data.draw(st.lists(st.integers(0, 3), min_size=arcs.n_rows,
                                               max_size=arcs.n_rows)), dtype=np.int64)
    col_capacity = np.array(data.draw(st.lists(st.integers(0, 3), min_size=arcs.n_cols,
                                               max_size=arcs.n_cols)), dtype=np.int64)
    result = b_matching(arcs.rows, arcs.cols, arcs.weights, row_capacity=row_capacity,
                        col_capacity=col_capacity, n_rows=arcs.n_rows, n_cols=arcs.n_cols)
    assert_valid_matching(result, arcs, row_capacity, col_capacity)
    positive = np.maximum(arcs.weights, 0)
    expected = best_subset_value(positive, within_capacities(arcs, row_capacity, col_capacity))
    assert result.objective == pytest.approx(expected, abs=1e-6 * max(1, len(result.pairs)))


@settings(max_examples=40, deadline=None)
@given(arcs=arc_sets())
def test_capacity_one_is_a_matching(arcs):
    ours = b_matching(arcs.rows, arcs.cols, arcs.weights, row_capacity=1, col_capacity=1,
                      n_rows=arcs.n_rows, n_cols=arcs.n_cols)
    plain = max_weight_matching(arcs.rows, arcs.cols, arcs.weights,
                                n_rows=arcs.n_rows, n_cols=arcs.n_cols)
    assert ours.objective == pytest.approx(plain.objective, abs=1e-6 * max(1, len(ours.pairs)))


def test_shortlist_of_two_on_a_complete_graph_takes_every_best_pair():
    rng = np.random.default_rng(2)
    rows, cols = np.indices((5, 5)).reshape(2, -1)
    weights = rng.integers(1, 100, size=25)
    result = b_matching(rows, cols, weights, row_capacity=2, col_capacity=2)
    assert len(result.pairs) == 10
    assert np.all(np.bincount(result.pairs[:, 0]) == 2)
    assert np.all(np.bincount(result.pairs[:, 1]) == 2)


def test_huge_capacities_do_not_overflow():
    big = np.array([2**62, 2**62])
    result = b_matching(np.array([0, 1]), np.array([0, 0]), np.array([3, 4]),
                        row_capacity=big, col_capacity=np.array([2**62]))
    assert result.objective == 7


@pytest.mark.parametrize(
    ("row_capacity", "col_capacity", "message"),
    [
        (np.array([1, 1, 1]), np.array([1, 1]), "row_capacity must have length 2"),
        (np.array([1, -1]), 1, "row_capacity must be >= 0"),
        (1, np.array([1.5, 1.0]), "col_capacity must have an integer dtype"),
    ],
)
def test_bad_capacities_raise(row_capacity, col_capacity, message):
    with pytest.raises(ValueError, match=message):
        b_matching(np.array([0, 1]), np.array([0, 1]), np.array([1, 1]),
                   n_rows=2, n_cols=2, row_capacity=row_capacity, col_capacity=col_capacity)


def test_empty_input():
    empty = np.zeros(0, np.int64)
    result = b_matching(empty, empty, np.zeros(0), row_capacity=1, col_capacity=1)
    assert result.pairs.shape == (0, 2) and result.objective == 0
