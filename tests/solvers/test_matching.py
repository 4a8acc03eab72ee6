"""max_weight_matching: exact optimum, valid output, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from scipy.optimize import linear_sum_assignment

from solvers import BACKENDS, MatchingResult, SolverConfig, max_weight_matching

from .brute_force import best_matching_value
from .helpers import assert_valid_matching
from .strategies import ArcSet, arc_sets, dense_matrices

EXACT_BACKENDS = [name for name in BACKENDS]
FAST = settings(max_examples=60, deadline=None)


def solve(arcs: ArcSet, backend: str) -> MatchingResult:
    return max_weight_matching(
        arcs.rows, arcs.cols, arcs.weights,
        n_rows=arcs.n_rows, n_cols=arcs.n_cols, backend=backend,
    )


@pytest.mark.parametrize("backend", EXACT_BACKENDS)
class TestEveryBackend:
    """One battery, run by every back end."""

    @FAST
    @given(arcs=arc_sets())
    def test_equals_brute_force(self, backend, arcs):
        result = solve(arcs, backend)
        assert_valid_matching(result, arcs)
        assert result.status == "optimal"
        expected = best_matching_value(arcs.rows, arcs.cols, arcs.weights)
        assert result.objective == pytest.approx(expected, abs=1e-6 * max(1, len(result.pairs)))

    @FAST
    @given(matrix=dense_matrices())
    def test_equals_scipy_on_dense(self, backend, matrix):
        n_rows, n_cols = matrix.shape
        rows, cols = np.indices(matrix.shape).reshape(2, -1)
        arcs = ArcSet(rows, cols, matrix.ravel(), n_rows, n_cols)
        result = solve(arcs, backend)
        assert_valid_matching(result, arcs)
        # Clipping at zero lets scipy "use" an arc that is really left unmatched.
        r, c = linear_sum_assignment(np.maximum(matrix, 0), maximize=True)
        expected = np.maximum(matrix, 0)[r, c].sum()
        assert result.objective == pytest.approx(expected, abs=1e-6 * max(1, len(r)))

    def test_empty_input(self, backend):
        empty = np.zeros(0, np.int64)
        result = max_weight_matching(empty, empty, np.zeros(0), backend=backend)
        assert result.pairs.shape == (0, 2)
        assert result.objective == 0.0

    def test_only_non_positive_weights_give_empty_matching(self, backend):
        result = max_weight_matching(
            np.array([0, 1]), np.array([1, 0]), np.array([0, -3]), backend=backend
        )
        assert result.pairs.shape == (0, 2)
        assert result.objective == 0 and isinstance(result.objective, int)

    def test_large_float_weights_stay_accurate(self, backend):
        rng = np.random.default_rng(4)
        matrix = rng.uniform(0, 1e9, size=(30, 40))
        rows, cols = np.indices(matrix.shape).reshape(2, -1)
        result = max_weight_matching(rows, cols, matrix.ravel(), backend=backend)
        r, c = linear_sum_assignment(matrix, maximize=True)
        assert result.objective == pytest.approx(matrix[r, c].sum(), rel=1e-12)

    def test_large_integer_weights_are_exact(self, backend):
        weights = np.array([2**40 + 1, 2**40, 2**40 - 5], dtype=np.int64)
        result = max_weight_matching(
            np.array([0, 0, 1]), np.array([0, 1, 0]), weights, backend=backend
        )
        assert result.objective == 2**41 - 5


def test_known_answer_prefers_two_pairs_over_heaviest_arc():
    result = max_weight_matching(np.array([0, 0, 1]), np.array([0, 1, 0]), np.array([5, 4, 3]))
    assert result.pairs.tolist() == [[0, 1], [1, 0]]
    assert result.objective == 7


def test_result_is_frozen():
    result = max_weight_matching(np.array([0]), np.array([0]), np.array([1.5]))
    with pytest.raises(AttributeError):
        result.objective = 0  # type: ignore[misc]


def test_sparse_instance_with_many_arcs_matches_scipy():
    rng = np.random.default_rng(11)
    n = 300
    mask = rng.random((n, n)) < 0.05
    matrix = np.where(mask, rng.integers(1, 1000, size=(n, n)), 0)
    rows, cols = np.nonzero(mask)
    for backend in EXACT_BACKENDS:
        result = max_weight_matching(rows, cols, matrix[rows, cols], backend=backend)
        r, c = linear_sum_assignment(matrix, maximize=True)
        assert result.objective == matrix[r, c].sum()


def test_config_is_accepted_and_frozen():
    config = SolverConfig(time_limit_s=1.0)
    result = max_weight_matching(np.array([0]), np.array([0]), np.array([2]), config=config)
    assert result.objective == 2
    with pytest.raises(AttributeError):
        config.seed = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("rows", "cols", "weights", "sizes", "message"),
    [
        ([0, 1], [0], [1, 2], {}, "same length"),
        ([[0]], [0], [1], {}, "1-D"),
        ([0], [0], [[1]], {}, "1-D"),
        ([-1], [0], [1], {}, "rows index must be >= 0"),
        ([0], [-2], [1], {}, "cols index must be >= 0"),
        ([3], [0], [1], {"n_rows": 3}, "out of range"),
        ([0], [5], [1], {"n_cols": 2}, "out of range"),
        ([0, 0], [1, 1], [1, 2], {}, "repeated arc"),
        ([0], [0], [np.nan], {}, "finite"),
        ([0], [0], [np.inf], {}, "finite"),
        ([0.0], [0], [1], {}, "integer dtype"),
        ([0], [True], [1], {}, "integer dtype"),
        ([0], [0], ["a"], {}, "int or float"),
    ],
)
def test_bad_arrays_raise_value_error(rows, cols, weights, sizes, message):
    with pytest.raises(ValueError, match=message):
        max_weight_matching(np.array(rows), np.array(cols), np.array(weights), **sizes)


def test_repeated_arc_found_on_large_sparse_grid():
    rows = np.array([5, 99_999, 5])
    cols = np.array([70_000, 1, 70_000])
    with pytest.raises(ValueError, match="repeated arc"):
        max_weight_matching(rows, cols, np.array([1, 2, 3]), n_rows=100_000, n_cols=100_000)


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match="backend"):
        max_weight_matching(np.array([0]), np.array([0]), np.array([1]), backend="simplex")


def test_backend_is_chosen_by_shape():
    rows, cols = np.indices((20, 20)).reshape(2, -1)
    dense = max_weight_matching(rows, cols, np.ones(400, np.int64))
    assert dense.backend == ("lapjv" if "lapjv" in BACKENDS else "scipy_dense")
    rows, cols = np.indices((5, 40)).reshape(2, -1)
    wide = max_weight_matching(rows, cols, np.ones(200, np.int64))
    assert wide.backend == "scipy_dense"
    sparse = max_weight_matching(np.arange(500), np.arange(500), np.ones(500, np.int64))
    assert sparse.backend == ("lapmod" if "lapmod" in BACKENDS else "min_cost_flow")
    assert sparse.objective == 500
    wide = max_weight_matching(np.arange(500), np.arange(500), np.ones(500, np.int64),
                               n_cols=600)
    assert wide.backend in ("lapmod", "min_cost_flow")
    not_square = max_weight_matching(np.arange(500), np.arange(500) % 400,
                                     np.ones(500, np.int64), n_cols=600)
    assert not_square.backend == "padded_sparse"
    assert not_square.objective == 400


def test_region_shaped_input_goes_to_the_padded_sparse_back_end():
    # Few units, many households, a fifth of the pairs eligible (as in a
    # region): the padded sparse assignment, unless the weights are too
    # large for float64, then the min-cost flow.
    rng = np.random.default_rng(3)
    mask = rng.random((40, 400)) < 0.2
    rows, cols = np.nonzero(mask)
    weights = rng.integers(1, 1000, size=rows.size)
    result = max_weight_matching(rows, cols, weights)
    assert result.backend == "padded_sparse"
    flow = max_weight_matching(rows, cols, weights, backend="min_cost_flow")
    assert result.objective == flow.objective
    huge = max_weight_matching(rows, cols, weights + 2**50)
    assert huge.backend == "min_cost_flow"
    denser = rng.random((40, 400)) < 0.7
    rows, cols = np.nonzero(denser)
    assert max_weight_matching(rows, cols, np.ones(rows.size, np.int64)).backend == "scipy_dense"


def test_huge_integer_weights_on_dense_input_avoid_float_rounding():
    import itertools

    rows, cols = np.indices((3, 3)).reshape(2, -1)
    offsets = np.array([5, 1, 9, 2, 8, 3, 7, 4, 6], dtype=np.int64)
    weights = 2**52 + offsets
    result = max_weight_matching(rows, cols, weights)
    assert result.backend not in ("scipy_dense", "lapjv", "padded_sparse")
    best = max(sum(int(weights[3 * r + c]) for r, c in enumerate(perm))
               for perm in itertools.permutations(range(3)))
    assert result.objective == best
    for backend in {"scipy_dense", "lapjv", "padded_sparse"} & set(BACKENDS):
        with pytest.raises(ValueError, match="too large"):
            max_weight_matching(rows, cols, weights, backend=backend)


def test_without_lap_dense_input_falls_back_to_scipy(monkeypatch):
    from solvers import matching

    monkeypatch.setattr(matching, "BACKENDS", tuple(b for b in BACKENDS if b != "lapjv"))
    assert matching.choose_backend(400, 20, 20, 5.0, True) == "scipy_dense"


@pytest.mark.parametrize("backend", EXACT_BACKENDS)
def test_repeated_arc_on_dense_input_is_rejected(backend):
    rows, cols = np.indices((6, 6)).reshape(2, -1)
    rows, cols = np.append(rows, 2), np.append(cols, 3)
    weights = np.arange(1, rows.size + 1)
    with pytest.raises(ValueError, match=r"repeated arc \(row 2, col 3\)"):
        max_weight_matching(rows, cols, weights, backend=backend)
    weights[0] = -1  # with a dropped arc the check runs on the arcs instead
    with pytest.raises(ValueError, match=r"repeated arc \(row 2, col 3\)"):
        max_weight_matching(rows, cols, weights, backend=backend)


@pytest.mark.parametrize("backend", EXACT_BACKENDS)
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("shape", [(7, 7), (4, 9), (9, 4), (1, 5)])
def test_complete_grids_in_and_out_of_order(backend, shuffle, shape):
    rng = np.random.default_rng(sum(shape) + shuffle)
    matrix = rng.integers(-3, 50, size=shape)
    rows, cols = np.indices(shape).reshape(2, -1)
    if shuffle:
        order = rng.permutation(rows.size)
        rows, cols = rows[order], cols[order]
    arcs = ArcSet(rows, cols, matrix[rows, cols], *shape)
    result = solve(arcs, backend)
    assert_valid_matching(result, arcs)
    r, c = linear_sum_assignment(np.maximum(matrix, 0), maximize=True)
    assert result.objective == np.maximum(matrix, 0)[r, c].sum()
    # Same arcs with sizes inferred, and with a larger grid declared.
    inferred = max_weight_matching(arcs.rows, arcs.cols, arcs.weights, backend=backend)
    assert inferred.objective == result.objective
    wider = max_weight_matching(arcs.rows, arcs.cols, arcs.weights, n_rows=shape[0] + 1,
                                n_cols=shape[1] + 2, backend=backend)
    assert wider.objective == result.objective


@pytest.mark.parametrize("backend", EXACT_BACKENDS)
@pytest.mark.parametrize("size", [4.8e-293, 1e-12, 1e300])
def test_extreme_float_magnitudes(backend, size):
    # Regression: a tiny weight once overflowed the float-to-int scale.
    weights = np.array([3.0, 2.0, 2.0]) * size
    result = max_weight_matching(np.array([0, 0, 1]), np.array([0, 1, 0]), weights,
                                 backend=backend)
    assert result.pairs.tolist() == [[0, 1], [1, 0]]
    assert result.objective == pytest.approx(4.0 * size)


def test_weights_beyond_int64_are_rejected():
    with pytest.raises(ValueError, match="int64"):
        max_weight_matching(np.array([0]), np.array([0]), np.array([2**63], dtype=np.uint64))


@pytest.mark.parametrize(("field", "value"), [("time_limit_s", 0.0), ("workers", 0)])
def test_bad_config_is_rejected(field, value):
    with pytest.raises(ValueError, match=field):
        SolverConfig(**{field: value})


@pytest.mark.parametrize("seed", range(5))
def test_repeated_arc_found_by_hash_on_huge_grid(seed):
    from solvers._arcs import _distinct_by_hash

    rng = np.random.default_rng(seed)
    keys = rng.choice(10**12, size=5000, replace=False)
    assert _distinct_by_hash(keys)
    for twin in (0, 4999, int(rng.integers(5000))):
        repeated = np.insert(keys, int(rng.integers(5001)), keys[twin])
        assert not _distinct_by_hash(repeated)
    # Many repeats of few keys: every key collides with itself.
    assert not _distinct_by_hash(np.repeat(keys[:50], 7))


@pytest.mark.parametrize("backend", EXACT_BACKENDS)
def test_light_arcs_are_taken_and_rows_left_out_cost_nothing(backend):
    # Leaving a row unmatched must be worth exactly nothing: a stand-in that
    # cost or paid anything would drop a light arc or take a worse pair.
    rows, cols = np.array([0, 1, 1, 3, 4]), np.array([0, 0, 2, 2, 3])
    weights = np.array([0.25, 0.5, 1e-9, 2.0, 1e-9])
    result = max_weight_matching(rows, cols, weights, n_rows=6, n_cols=5, backend=backend)
    assert result.pairs.tolist() == [[1, 0], [3, 2], [4, 3]]
    assert result.objective == pytest.approx(2.5 + 1e-9, rel=1e-15)
    tall = max_weight_matching(cols, rows, weights, n_rows=5, n_cols=6, backend=backend)
    assert tall.pairs.tolist() == [[0, 1], [2, 3], [3, 4]]
    assert tall.objective == result.objective
