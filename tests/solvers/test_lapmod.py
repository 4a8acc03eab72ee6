"""The certified lapmod back end: exact, or it hands over to min-cost flow."""

from __future__ import annotations

import numpy as np
import pytest

from solvers import BACKENDS, max_weight_matching

pytestmark = pytest.mark.skipif("lapmod" not in BACKENDS, reason="lap is not installed")


def random_square(n: int, degree: int, seed: int, floats: bool = False):
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(n), degree)
    keys = np.unique(rows * n + rng.integers(0, n, size=rows.size))
    weights = rng.uniform(0.5, 100.0, keys.size) if floats else rng.integers(1, 60, keys.size)
    return keys // n, keys % n, weights


@pytest.mark.parametrize("floats", [False, True])
@pytest.mark.parametrize("seed", range(8))
def test_same_optimum_as_min_cost_flow(seed, floats):
    rows, cols, weights = random_square(300, 1 + seed % 5 * 6, seed, floats)
    ours = max_weight_matching(rows, cols, weights, n_rows=300, n_cols=300, backend="lapmod")
    flow = max_weight_matching(rows, cols, weights, n_rows=300, n_cols=300,
                               backend="min_cost_flow")
    if floats:
        assert ours.objective == pytest.approx(flow.objective, abs=1e-6 * len(flow.pairs))
    else:
        assert ours.objective == flow.objective
    chosen = {tuple(p) for p in ours.pairs.tolist()}
    assert len({r for r, _ in chosen}) == len({c for _, c in chosen}) == len(chosen)


@pytest.mark.parametrize("floats", [False, True])
def test_many_arcs_per_row_are_certified(floats):
    rows, cols, weights = random_square(2000, 40, 3, floats)
    result = max_weight_matching(rows, cols, weights, n_rows=2000, n_cols=2000)
    assert result.backend == "lapmod"
    flow = max_weight_matching(rows, cols, weights, n_rows=2000, n_cols=2000,
                               backend="min_cost_flow")
    assert result.objective == pytest.approx(flow.objective, abs=1e-6 * len(flow.pairs))


def test_best_perfect_matching_that_is_not_optimal_falls_back():
    # The only perfect matching (0-1, 1-0) weighs 2; leaving row 1 unmatched gives 10.
    result = max_weight_matching(np.array([0, 0, 1]), np.array([0, 1, 0]),
                                 np.array([10, 1, 1]), backend="lapmod")
    assert result.objective == 10
    assert result.backend == "min_cost_flow"


def test_no_perfect_matching_falls_back():
    # Rows 0 and 1 both have only column 0.
    rows, cols = np.array([0, 1, 2, 2]), np.array([0, 0, 1, 2])
    result = max_weight_matching(rows, cols, np.array([5, 7, 1, 2]), backend="lapmod")
    assert result.objective == 9
    assert result.backend == "min_cost_flow"


def test_certificate_rejects_a_suboptimal_perfect_matching():
    from solvers import _lapmod

    # 2 x 2 complete: the diagonal weighs 2 + 2, the anti-diagonal 5 + 5.
    rows, cols = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    costs = np.array([2, 5, 5, 2], np.int64)
    by_row, indptr = np.arange(4), np.array([0, 2, 4])
    diagonal, anti = np.array([0, 1]), np.array([1, 0])
    assert not _lapmod._certify(cols, costs, by_row, indptr, diagonal, np.array([2, 2]))
    assert _lapmod._certify(cols, costs, by_row, indptr, anti, np.array([5, 5]))


def test_huge_integer_weights_stay_exact():
    rows, cols, weights = random_square(200, 5, 9)
    weights = weights.astype(np.int64) + 2**52
    ours = max_weight_matching(rows, cols, weights, n_rows=200, n_cols=200, backend="lapmod")
    flow = max_weight_matching(rows, cols, weights, n_rows=200, n_cols=200,
                               backend="min_cost_flow")
    assert ours.objective == flow.objective
