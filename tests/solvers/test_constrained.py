"""constrained_assignment: budgets, fixed links, conflicts, statuses."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvers import SolverConfig, constrained_assignment, max_weight_matching

from .brute_force import best_subset_value
from .helpers import assert_valid_matching
from .strategies import arc_sets

# relative_gap=0: these tests hold the solver to the proven optimum.
CONFIG = SolverConfig(time_limit_s=10.0, workers=2, seed=0, relative_gap=0.0)
FAST = settings(max_examples=50, deadline=None)


def is_matching(arcs, subset) -> bool:
    subset = list(subset)
    return (len(set(arcs.rows[subset].tolist())) == len(subset)
            and len(set(arcs.cols[subset].tolist())) == len(subset))


@st.composite
def budgeted(draw):
    arcs = draw(arc_sets(max_rows=4, max_cols=4, max_arcs=9))
    n = len(arcs.rows)
    n_groups = draw(st.integers(1, 2))
    fees = np.array(draw(st.lists(st.integers(0, 10), min_size=n, max_size=n)), np.int64)
    groups = np.array(draw(st.lists(st.integers(-1, n_groups - 1), min_size=n, max_size=n)),
                      np.int64)
    budgets = np.array(draw(st.lists(st.integers(0, 15), min_size=n_groups,
                                     max_size=n_groups)), np.int64)
    return arcs, fees, groups, budgets


def spent(result, fees, groups, n_groups):
    chosen = result.arcs[groups[result.arcs] >= 0]
    return np.bincount(groups[chosen], weights=fees[chosen], minlength=n_groups)


@FAST
@given(arcs=arc_sets())
def test_without_side_constraints_equals_exact_matching(arcs):
    result = constrained_assignment(arcs.rows, arcs.cols, arcs.weights,
                                    n_rows=arcs.n_rows, n_cols=arcs.n_cols, config=CONFIG)
    exact = max_weight_matching(arcs.rows, arcs.cols, arcs.weights,
                                n_rows=arcs.n_rows, n_cols=arcs.n_cols)
    assert result.status == "optimal" and result.gap == 0
    assert result.objective == pytest.approx(exact.objective, abs=1e-9)
    assert_valid_matching(result, arcs)


@FAST
@given(case=budgeted())
def test_budgets_are_kept_and_optimum_equals_brute_force(case):
    arcs, fees, groups, budgets = case
    result = constrained_assignment(arcs.rows, arcs.cols, arcs.weights, n_rows=arcs.n_rows,
                                    n_cols=arcs.n_cols, fees=fees, fee_group=groups,
                                    budgets=budgets, config=CONFIG)
    assert result.status == "optimal"
    assert np.all(spent(result, fees, groups, len(budgets)) <= budgets)
    assert_valid_matching(result, arcs)

    def feasible(subset):
        subset = np.array(subset, np.int64)
        chosen = subset[groups[subset] >= 0] if subset.size else subset
        used = np.bincount(groups[chosen], weights=fees[chosen], minlength=len(budgets))
        return is_matching(arcs, subset) and bool(np.all(used <= budgets))

    expected = best_subset_value(np.maximum(arcs.weights, 0), feasible)
    assert result.objective == pytest.approx(expected, abs=1e-6 * max(1, len(result.arcs)))
    assert result.bound == pytest.approx(result.objective) and result.gap == 0


@FAST
@given(arcs=arc_sets(max_arcs=10), data=st.data())
def test_fixed_arcs_are_always_chosen_and_conflicts_kept(arcs, data):
    n = len(arcs.rows)
    if n == 0:
        return
    fixed = data.draw(st.lists(st.integers(0, n - 1), unique=True, max_size=2))
    if not is_matching(arcs, fixed):
        fixed = fixed[:1]
    pairs = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)),
                               max_size=4))
    conflicts = np.array(pairs, np.int64).reshape(-1, 2)
    result = constrained_assignment(arcs.rows, arcs.cols, arcs.weights, n_rows=arcs.n_rows,
                                    n_cols=arcs.n_cols, fixed=fixed, conflicts=conflicts,
                                    config=CONFIG)
    fixed_set = set(fixed)
    fixed_conflict = any(a in fixed_set and b in fixed_set for a, b in pairs)
    if fixed_conflict:
        assert result.status == "infeasible" and result.arcs.size == 0
        return
    assert result.status == "optimal"
    assert fixed_set <= set(result.arcs.tolist())
    chosen = set(result.arcs.tolist())
    assert not any(a in chosen and b in chosen for a, b in pairs)
    assert_valid_matching(result, arcs, positive_only=False)

    def feasible(subset):
        members = set(subset)
        return (is_matching(arcs, subset) and fixed_set <= members
                and not any(a in members and b in members for a, b in pairs))

    # Fixed arcs count whatever their sign; other arcs only help when positive.
    forced = arcs.weights[list(fixed)].sum() if fixed else 0
    free = np.where(np.isin(np.arange(n), list(fixed)), 0, np.maximum(arcs.weights, 0))
    expected = forced + best_subset_value(free, feasible)
    assert result.objective == pytest.approx(expected, abs=1e-6 * max(1, len(result.arcs)))


def test_fixed_arcs_over_budget_are_infeasible():
    result = constrained_assignment(
        np.array([0, 1]), np.array([0, 1]), np.array([3, 4]),
        fees=np.array([6, 6]), fee_group=np.array([0, 0]), budgets=np.array([10]),
        fixed=np.array([0, 1]), config=CONFIG,
    )
    assert result.status == "infeasible"
    assert result.arcs.size == 0 and result.pairs.shape == (0, 2)
    assert np.isnan(result.bound)


def test_budget_forces_choice_between_expensive_links():
    # Unit 0 and 1 both prefer fee-charging households; the budget allows one fee.
    rows = np.array([0, 0, 1, 1])
    cols = np.array([0, 1, 2, 3])
    weights = np.array([10.0, 1.0, 9.0, 2.0])
    fees = np.array([27_000, 0, 27_000, 0])
    result = constrained_assignment(rows, cols, weights, fees=fees,
                                    fee_group=np.array([0, -1, 0, -1]),
                                    budgets=np.array([30_000]), config=CONFIG)
    assert result.status == "optimal"
    assert result.arcs.tolist() == [0, 3]
    assert result.objective == pytest.approx(12.0)


def test_explicit_hint_is_accepted_and_repeated_runs_are_identical():
    rng = np.random.default_rng(5)
    n = 40
    rows, cols = np.nonzero(rng.random((n, n)) < 0.2)
    weights = rng.integers(1, 100, size=len(rows))
    fees = rng.integers(0, 3, size=len(rows))
    groups = rng.integers(-1, 3, size=len(rows))
    budgets = np.array([5, 5, 5])
    hint = constrained_assignment(rows, cols, weights).arcs
    runs = [constrained_assignment(rows, cols, weights, fees=fees, fee_group=groups,
                                   budgets=budgets, hint=hint, config=CONFIG)
            for _ in range(2)]
    assert runs[0].status == "optimal"
    assert np.array_equal(runs[0].arcs, runs[1].arcs)
    assert runs[0].objective == runs[1].objective


def test_short_time_limit_reports_a_consistent_status():
    rng = np.random.default_rng(8)
    n = 150
    rows, cols = np.nonzero(rng.random((n, n)) < 0.3)
    weights = rng.integers(1, 1000, size=len(rows))
    fees = rng.integers(0, 50, size=len(rows))
    groups = rng.integers(0, 10, size=len(rows))
    result = constrained_assignment(rows, cols, weights, fees=fees, fee_group=groups,
                                    budgets=np.full(10, 100),
                                    config=SolverConfig(time_limit_s=0.05, workers=1))
    assert result.status in {"optimal", "feasible", "unknown"}
    if result.status == "feasible":
        assert result.bound >= result.objective and result.gap >= 0
    if result.status == "unknown":
        assert result.arcs.size == 0


def test_a_search_stopped_at_once_still_returns_a_valid_proposal_and_a_true_bound():
    # Binding budgets and almost no time: CP-SAT reports nothing, and the
    # rounded LP solution is returned (deterministic), its gap certified by
    # the LP bound (never above the unconstrained optimum).
    rng = np.random.default_rng(8)
    n = 300
    rows, cols = np.nonzero(rng.random((n, n)) < 0.3)
    weights = rng.integers(1, 1000, size=len(rows))
    fees = rng.integers(0, 50, size=len(rows))
    groups = rng.integers(0, 10, size=len(rows))
    budgets = np.full(10, 100)
    config = SolverConfig(time_limit_s=1e-6, workers=1)
    first = constrained_assignment(rows, cols, weights, fees=fees, fee_group=groups, budgets=budgets, config=config)
    again = constrained_assignment(rows, cols, weights, fees=fees, fee_group=groups, budgets=budgets, config=config)
    assert first.status == "feasible" and first.stopped and first.arcs.size > 0
    assert np.array_equal(first.arcs, again.arcs)
    spent = np.bincount(groups[first.arcs], weights=fees[first.arcs], minlength=10)
    assert np.all(spent <= budgets)
    unconstrained = max_weight_matching(rows, cols, weights).objective
    assert unconstrained >= first.bound >= first.objective and first.gap >= 0


def test_budgets_that_do_not_bind_give_the_exact_matching_as_proven_optimal():
    rng = np.random.default_rng(9)
    rows, cols = np.nonzero(rng.random((200, 200)) < 0.3)
    weights = rng.integers(1, 1000, size=len(rows))
    fees = rng.integers(0, 50, size=len(rows))
    result = constrained_assignment(rows, cols, weights, fees=fees, fee_group=np.zeros(len(rows), np.int64),
                                    budgets=np.array([10**9]), config=SolverConfig(time_limit_s=1e-6))
    assert result.status == "optimal" and not result.stopped
    assert result.objective == max_weight_matching(rows, cols, weights).objective


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fees": [1, 1]}, "given together"),
        ({"fees": [1], "fee_group": [0, 0], "budgets": [1]}, "fees must have length 2"),
        ({"fees": [-1, 1], "fee_group": [0, 0], "budgets": [1]}, "fees must be >= 0"),
        ({"fees": [1, 1], "fee_group": [0, 2], "budgets": [1]}, "fee_group must be -1"),
        ({"fees": [1, 1], "fee_group": [0, 0], "budgets": [-1]}, "budgets must be >= 0"),
        ({"fixed": [2]}, "fixed must hold arc indices"),
        ({"fixed": [0, 1]}, "two fixed arcs share row 0"),
        ({"conflicts": [[0, 1, 1]]}, "shape"),
        ({"conflicts": [[0, 5]]}, "conflicts must hold arc indices"),
        ({"hint": [7]}, "hint must hold arc indices"),
    ],
)
def test_bad_side_constraints_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        constrained_assignment(np.array([0, 0]), np.array([0, 1]), np.array([1, 2]), **kwargs)


# --- The budgeted path (budgets only): LP bound, hull rows, certificate ---

def brute_force_budgeted(arcs, fees, groups, budgets) -> float:
    def feasible(subset):
        subset = np.array(subset, np.int64)
        chosen = subset[groups[subset] >= 0] if subset.size else subset
        used = np.bincount(groups[chosen], weights=fees[chosen], minlength=len(budgets))
        return is_matching(arcs, subset) and bool(np.all(used <= budgets))

    return best_subset_value(np.maximum(arcs.weights, 0), feasible)


@FAST
@given(case=budgeted(), gap=st.sampled_from([0.001, 0.05, 0.5]))
def test_a_gap_stop_reports_a_bound_no_lower_than_the_true_optimum(case, gap):
    arcs, fees, groups, budgets = case
    config = SolverConfig(time_limit_s=10.0, relative_gap=gap)
    result = constrained_assignment(arcs.rows, arcs.cols, arcs.weights, n_rows=arcs.n_rows, n_cols=arcs.n_cols,
                                    fees=fees, fee_group=groups, budgets=budgets, config=config)
    assert np.all(spent(result, fees, groups, len(budgets)) <= budgets)
    assert_valid_matching(result, arcs)
    expected = brute_force_budgeted(arcs, fees, groups, budgets)
    slack = 1e-6 * max(1, len(result.arcs))
    assert result.bound >= expected - slack >= result.objective - 2 * slack
    assert not result.stopped
    if result.status == "optimal":
        assert result.objective == pytest.approx(expected, abs=slack)
    else:
        assert result.status == "feasible" and 0 < result.gap <= gap + 1e-9


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_any_nonnegative_duals_certify_an_upper_bound(data):
    # The certificate must hold for any duals, not only optimal ones: it is
    # computed in integers from rounded floats.
    from solvers import _budgets

    arcs, fees, groups, budgets = data.draw(budgeted())
    positive = np.flatnonzero(arcs.weights > 0)
    if not positive.size or arcs.weights.dtype.kind != "i":
        return
    rows, cols = arcs.rows[positive], arcs.cols[positive]
    costs = arcs.weights[positive].astype(np.int64)
    f = fees[positive]
    g = _budgets.group_rows(groups[positive], f, len(budgets))
    sides = _budgets.side_rows(rows, f, g, budgets)
    u = np.array([data.draw(st.floats(0, 60, allow_nan=False)) for _ in range(arcs.n_rows)])
    v = np.array([data.draw(st.floats(0, 60, allow_nan=False)) for _ in range(arcs.n_cols)])
    lam = np.array([data.draw(st.floats(0, 5, allow_nan=False)) for _ in sides])
    certificate = _budgets.certify(rows, cols, costs, f, g, budgets, sides, u, v, lam)
    assert certificate is not None
    assert certificate.upper() >= brute_force_budgeted(arcs, fees, groups, budgets)

    def fits(subset):
        subset = np.array(subset, np.int64)
        chosen = subset[g[subset] >= 0] if subset.size else subset
        used = np.bincount(g[chosen], weights=f[chosen], minlength=len(budgets))
        return (len(set(rows[subset].tolist())) == len(subset) == len(set(cols[subset].tolist()))
                and bool(np.all(used <= budgets)))

    # Every solution worth more than `value` uses only arcs that may_beat keeps.
    for value in range(0, int(certificate.upper()) + 1, 5):
        kept = set(np.flatnonzero(certificate.may_beat(value)).tolist())

        def escapes(subset, kept=kept, value=value):
            return fits(subset) and int(costs[list(subset)].sum()) > value and not set(subset) <= kept

        assert best_subset_value(np.ones(len(costs)), escapes) == 0


@settings(max_examples=30, deadline=None)
@given(fees=st.lists(st.integers(1, 60), min_size=1, max_size=3, unique=True), budget=st.integers(0, 200),
       units=st.integers(1, 6))
def test_hull_rows_hold_for_every_choice_within_the_budget(fees, budget, units):
    from solvers import _budgets

    # One group, `units` rows, each with one arc of every fee.
    fee_values = np.array(sorted(fees), np.int64)
    rows = np.repeat(np.arange(units), len(fee_values))
    arc_fees = np.tile(fee_values, units)
    sides = _budgets.side_rows(rows, arc_fees, np.zeros(len(rows), np.int64), np.array([budget]))
    caps = [min(units, budget // f) for f in fee_values.tolist()]
    for counts in np.ndindex(*[c + 1 for c in caps]):
        counts = np.array(counts)
        if counts.sum() > units or counts @ fee_values > budget:
            continue
        for row in sides:
            assert row.of(fee_values) @ counts <= row.rhs


@pytest.mark.parametrize("seed", [12, 13, 14, 15])
def test_the_budgeted_path_proves_the_same_optimum_as_the_cp_sat_model(seed):
    # Large enough for brute force to be out of reach and for reduced costs
    # to drop most arcs (about 5 in 6 here): the optimum must still be the
    # one the full CP-SAT model proves.
    from solvers.constrained import _solve_cp_sat
    from solvers._arcs import validate_arcs
    from solvers._side_constraints import validate_side_constraints

    rng = np.random.default_rng(seed)
    n_rows, n_cols = 30, 40
    rows, cols = np.nonzero(rng.random((n_rows, n_cols)) < 0.3)
    weights = rng.integers(400, 4000, size=len(rows))
    fees = rng.choice([0, 27_000, 27_000, 27_000, 43_000], size=len(rows))
    groups = rows % 3
    budgets = np.array([100_000, 140_000, 60_000])
    result = constrained_assignment(rows, cols, weights, n_rows=n_rows, n_cols=n_cols, fees=fees,
                                    fee_group=groups, budgets=budgets, config=CONFIG)
    arcs = validate_arcs(rows, cols, weights, n_rows, n_cols)
    side = validate_side_constraints(arcs, fees, groups, budgets, None, None)
    reference = _solve_cp_sat(arcs, side, None, SolverConfig(time_limit_s=60.0, relative_gap=0.0), 0.0)
    assert reference.status == result.status == "optimal"
    assert result.objective == reference.objective
    assert np.all(np.bincount(groups[result.arcs], weights=fees[result.arcs], minlength=3) <= budgets)
