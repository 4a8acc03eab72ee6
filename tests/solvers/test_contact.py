"""constrained_assignment with ``contact`` (the aggregated form of distance
conflicts between pairs of rows): the same optimum as the pairwise
``conflicts`` it stands for, with and without reduced-cost fixing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import solvers.constrained as constrained
from solvers import Contact, SolverConfig, constrained_assignment, contact_conflicts

from .brute_force import best_subset_value
from .helpers import assert_valid_matching
from .strategies import arc_sets

CONFIG = SolverConfig(time_limit_s=10.0, workers=1, seed=0, relative_gap=0.0)
FAST = settings(max_examples=60, deadline=None)


@st.composite
def contact_cases(draw, max_rows: int = 5, max_cols: int = 6, max_arcs: int = 14):
    """Arcs, points on a line or a plane for the columns, row pairs, a limit."""
    arcs = draw(arc_sets(max_rows=max_rows, max_cols=max_cols, max_arcs=max_arcs, integral=True))
    dim = draw(st.integers(1, 3))
    points = np.array(draw(st.lists(st.lists(st.integers(-5, 5), min_size=dim, max_size=dim),
                                    min_size=arcs.n_cols, max_size=arcs.n_cols)), dtype=np.float64)
    points = points.reshape(arcs.n_cols, dim)
    pairs = []
    if arcs.n_rows >= 2:
        pairs = draw(st.lists(st.tuples(st.integers(0, arcs.n_rows - 1), st.integers(0, arcs.n_rows - 1))
                              .filter(lambda p: p[0] != p[1]), max_size=4))
    min_dot = float(draw(st.integers(-20, 20)))
    return arcs, Contact(np.array(pairs, np.int64).reshape(-1, 2), points, min_dot)


def pairwise_reference(arcs, contact):
    """The pairwise conflicts, computed cell by cell (no matrix product)."""
    out = []
    for a, b in contact.row_pairs.tolist():
        for i in np.flatnonzero(arcs.rows == a).tolist():
            for j in np.flatnonzero(arcs.rows == b).tolist():
                if float(contact.col_points[arcs.cols[i]] @ contact.col_points[arcs.cols[j]]) < contact.min_dot:
                    out.append((i, j))
    return sorted(out)


def solve(arcs, **side):
    return constrained_assignment(arcs.rows, arcs.cols, arcs.weights, n_rows=arcs.n_rows, n_cols=arcs.n_cols,
                                  config=CONFIG, **side)


@FAST
@given(case=contact_cases())
def test_contact_conflicts_lists_every_far_pair(case):
    arcs, contact = case
    listed = contact_conflicts(arcs.rows, arcs.cols, contact)
    assert sorted(map(tuple, listed.tolist())) == pairwise_reference(arcs, contact)


@FAST
@given(case=contact_cases(), fix=st.booleans())
def test_aggregated_contact_has_the_optimum_of_the_pairwise_model(case, fix):
    arcs, contact = case
    conflicts = contact_conflicts(arcs.rows, arcs.cols, contact)
    fixed = None
    if fix and len(arcs.rows):
        fixed = np.array([int(np.argmin(arcs.weights))])
    aggregated = solve(arcs, contact=contact, fixed=fixed)
    pairwise = solve(arcs, conflicts=conflicts, fixed=fixed)
    assert aggregated.status == pairwise.status
    if pairwise.status == "infeasible":
        return
    assert aggregated.status == "optimal"
    assert aggregated.objective == pairwise.objective
    if fixed is None:  # (a fixed arc may weigh <= 0, which the check refuses)
        assert_valid_matching(aggregated, arcs)
    assert len(set(arcs.rows[aggregated.arcs].tolist())) == len(set(arcs.cols[aggregated.arcs].tolist())) \
        == len(aggregated.arcs)
    chosen = set(aggregated.arcs.tolist())
    assert not any(a in chosen and b in chosen for a, b in conflicts.tolist())
    if fixed is not None:
        assert set(fixed.tolist()) <= chosen


@settings(max_examples=40, deadline=None)
@given(case=contact_cases(max_rows=4, max_cols=4, max_arcs=9))
def test_aggregated_contact_equals_brute_force(case):
    arcs, contact = case
    conflicts = {tuple(p) for p in contact_conflicts(arcs.rows, arcs.cols, contact).tolist()}

    def feasible(subset):
        rows, cols = arcs.rows[list(subset)], arcs.cols[list(subset)]
        if len(set(rows.tolist())) < len(subset) or len(set(cols.tolist())) < len(subset):
            return False
        return not any((a, b) in conflicts or (b, a) in conflicts for a in subset for b in subset)

    result = solve(arcs, contact=contact)
    assert result.status == "optimal"
    assert result.objective == best_subset_value(arcs.weights, feasible)


@FAST
@given(case=contact_cases(max_rows=6, max_cols=7, max_arcs=20), fix=st.booleans())
def test_reduced_cost_fixing_keeps_the_optimum(case, fix):
    arcs, contact = case
    conflicts = contact_conflicts(arcs.rows, arcs.cols, contact)
    fixed = np.array([int(np.argmax(arcs.weights))]) if fix and len(arcs.rows) else None
    reference = solve(arcs, conflicts=conflicts, fixed=fixed)
    saved = constrained.REDUCE_FROM_ARCS
    constrained.REDUCE_FROM_ARCS = 0  # every model is reduced by the duals first
    try:
        reduced = solve(arcs, contact=contact, fixed=fixed)
        reduced_pairwise = solve(arcs, conflicts=conflicts, fixed=fixed)
    finally:
        constrained.REDUCE_FROM_ARCS = saved
    assert reduced.status == reduced_pairwise.status == reference.status
    if reference.status == "infeasible":
        return
    assert reference.status == "optimal"
    assert reduced.objective == reference.objective == reduced_pairwise.objective
    chosen = set(reduced.arcs.tolist())
    assert not any(a in chosen and b in chosen for a, b in conflicts.tolist())


def test_reduced_cost_fixing_drops_arcs_and_says_optimal():
    """A larger instance where the duals rule most arcs out: the reduced
    model is smaller, and the answer equals the unreduced one."""
    rng = np.random.default_rng(3)
    n_rows, n_cols = 30, 60
    cells = rng.random((n_rows, n_cols)) < 0.5
    rows, cols = np.nonzero(cells)
    weights = rng.integers(1, 1000, size=len(rows))
    points = rng.normal(size=(n_cols, 3))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    contact = Contact(np.array([[0, 1], [2, 3], [2, 4], [5, 6]]), points, 0.3)
    kwargs = dict(n_rows=n_rows, n_cols=n_cols, config=CONFIG, contact=contact)
    saved = constrained.REDUCE_FROM_ARCS
    try:
        constrained.REDUCE_FROM_ARCS = 10**9
        plain = constrained_assignment(rows, cols, weights, **kwargs)
        constrained.REDUCE_FROM_ARCS = 0
        kept = []
        original = constrained.contact_reduction

        def spy(*args):
            keep, upper, choice, near = original(*args)
            kept.append(int(keep.sum()))
            return keep, upper, choice, near

        constrained.contact_reduction = spy
        try:
            reduced = constrained_assignment(rows, cols, weights, **kwargs)
        finally:
            constrained.contact_reduction = original
    finally:
        constrained.REDUCE_FROM_ARCS = saved
    assert plain.status == reduced.status == "optimal"
    assert reduced.objective == plain.objective
    assert kept and kept[0] < len(rows)
    conflicts = contact_conflicts(rows, cols, contact)
    chosen = set(reduced.arcs.tolist())
    assert not any(a in chosen and b in chosen for a, b in conflicts.tolist())


def test_contact_that_binds_changes_the_answer():
    # Points on a line as 1-D vectors, far when their product is below 0:
    # column 0 (at -1) is far from columns 2 and 3, so row 0's favourite
    # rules out any arc of row 1.
    rows = np.array([0, 0, 1, 1])
    cols = np.array([0, 1, 2, 3])
    weights = np.array([10, 1, 10, 1])
    points = np.array([[-1.0], [1.0], [2.0], [1.0]])
    free = constrained_assignment(rows, cols, weights, config=CONFIG)
    assert free.objective == 20
    result = constrained_assignment(rows, cols, weights, contact=Contact(np.array([[0, 1]]), points, 0.0),
                                    config=CONFIG)
    assert result.status == "optimal"
    assert result.objective == 11
    assert sorted(result.arcs.tolist()) == [1, 2]


@pytest.mark.parametrize("contact, message", [
    (Contact(np.array([[0, 0]]), np.zeros((2, 3)), 0.5), "with itself"),
    (Contact(np.array([[0, 5]]), np.zeros((2, 3)), 0.5), "row_pairs must hold rows"),
    (Contact(np.array([0, 1, 1]), np.zeros((2, 3)), 0.5), "shape"),
    (Contact(np.array([[0, 1]]), np.zeros((3, 3)), 0.5), "col_points must be numbers of shape (2, d)"),
    (Contact(np.array([[0, 1]]), np.full((2, 3), np.nan), 0.5), "finite"),
    (Contact(np.array([[0, 1]]), np.zeros((2, 3)), float("inf")), "min_dot must be finite"),
    ([[0, 1]], "contact must be a solvers.Contact"),
])
def test_malformed_contact_is_refused(contact, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        constrained_assignment(np.array([0, 1]), np.array([0, 1]), np.array([1, 2]), n_rows=2, n_cols=2,
                               contact=contact, config=CONFIG)


@FAST
@given(case=contact_cases(max_rows=6, max_cols=7, max_arcs=20), gap=st.sampled_from([0.0, 0.01, 0.2]))
def test_a_certified_gap_holds_against_the_pairwise_optimum(case, gap):
    """With ``relative_gap`` the answer (by parts, or CP-SAT) is feasible,
    within the gap of the pairwise model's optimum, and its bound is no
    lower than that optimum."""
    arcs, contact = case
    conflicts = contact_conflicts(arcs.rows, arcs.cols, contact)
    exact = solve(arcs, conflicts=conflicts)
    config = SolverConfig(time_limit_s=10.0, workers=1, seed=0, relative_gap=gap)
    result = constrained_assignment(arcs.rows, arcs.cols, arcs.weights, n_rows=arcs.n_rows, n_cols=arcs.n_cols,
                                    contact=contact, config=config)
    chosen = set(result.arcs.tolist())
    assert not any(a in chosen and b in chosen for a, b in conflicts.tolist())
    assert result.objective == pytest.approx(float(arcs.weights[result.arcs].sum()))
    assert result.bound >= exact.objective - 1e-9
    assert result.objective >= (1 - gap) * exact.objective - 1e-9
    if result.status == "optimal":
        assert result.objective == pytest.approx(exact.objective)


def test_contact_by_parts_answers_without_cp_sat():
    """Plenty of columns: the components' best choices (a pair, and a
    chain of three whose hub is its middle row) and the free rows'
    matching meet the bound, so no CP-SAT model is built."""
    rng = np.random.default_rng(0)
    n_rows, n_cols = 12, 1000
    rows, cols = np.nonzero(rng.random((n_rows, n_cols)) < 0.1)
    weights = rng.integers(1, 1000, size=len(rows))
    points = rng.normal(size=(n_cols, 3))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    contact = Contact(np.array([[0, 1], [2, 3], [3, 4]]), points, 0.8)
    calls = []
    original = constrained._solve_cp_sat
    constrained._solve_cp_sat = lambda *a: calls.append(1) or original(*a)
    try:
        result = constrained_assignment(rows, cols, weights, contact=contact, config=CONFIG)
    finally:
        constrained._solve_cp_sat = original
    pairwise = constrained_assignment(rows, cols, weights, conflicts=contact_conflicts(rows, cols, contact),
                                      config=CONFIG)
    assert result.status == pairwise.status == "optimal"
    assert result.objective == pairwise.objective
    assert not calls


@FAST
@given(case=contact_cases(max_rows=6, max_cols=7, max_arcs=20), fix=st.booleans())
def test_the_certified_bound_is_never_below_the_optimum(case, fix):
    """Past CP_SAT_MAX_ARCS the best start is returned with the bound of
    the duals (reduced-cost fixing with the pairs' cost, and column
    prices): the bound must hold against the pairwise model's optimum."""
    arcs, contact = case
    conflicts = contact_conflicts(arcs.rows, arcs.cols, contact)
    fixed = np.array([int(np.argmax(arcs.weights))]) if fix and len(arcs.rows) else None
    exact = solve(arcs, conflicts=conflicts, fixed=fixed)
    saved = constrained.REDUCE_FROM_ARCS, constrained.CP_SAT_MAX_ARCS
    constrained.REDUCE_FROM_ARCS, constrained.CP_SAT_MAX_ARCS = 0, -1
    original = constrained._contact_by_parts
    constrained._contact_by_parts = lambda *a: (None, None)  # straight to the bound
    try:
        result = solve(arcs, contact=contact, fixed=fixed)
    finally:
        constrained.REDUCE_FROM_ARCS, constrained.CP_SAT_MAX_ARCS = saved
        constrained._contact_by_parts = original
    assert result.status == "infeasible" if exact.status == "infeasible" else result.status in ("optimal", "feasible")
    if exact.status == "infeasible":
        return
    chosen = set(result.arcs.tolist())
    if fixed is not None:
        assert set(fixed.tolist()) <= chosen
    assert not any(a in chosen and b in chosen for a, b in conflicts.tolist())
    assert len(set(arcs.rows[result.arcs].tolist())) == len(set(arcs.cols[result.arcs].tolist())) \
        == len(result.arcs)
    assert result.objective <= exact.objective <= result.bound + 1e-9


def test_components_that_want_the_same_column_get_a_valid_matching():
    """Two contact pairs whose best choices share a column: the start built
    from the priced choices must still use each column once."""
    # Rows 0-1 and 2-3 all prefer column 0 (weight 100), near everything.
    rows = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4])
    cols = np.array([0, 1, 0, 2, 0, 3, 0, 4, 5])
    weights = np.array([100, 10, 100, 10, 100, 10, 100, 10, 50])
    points = np.ones((6, 1))
    contact = Contact(np.array([[0, 1], [2, 3]]), points, 0.5)
    saved = constrained.REDUCE_FROM_ARCS, constrained.CP_SAT_MAX_ARCS
    constrained.REDUCE_FROM_ARCS, constrained.CP_SAT_MAX_ARCS = 0, -1
    original = constrained._contact_by_parts
    constrained._contact_by_parts = lambda *a: (None, None)
    try:
        result = constrained_assignment(rows, cols, weights, contact=contact, config=CONFIG)
    finally:
        constrained.REDUCE_FROM_ARCS, constrained.CP_SAT_MAX_ARCS = saved
        constrained._contact_by_parts = original
    assert len(set(cols[result.arcs].tolist())) == len(result.arcs) == len(set(rows[result.arcs].tolist()))
    assert result.objective == int(weights[result.arcs].sum())
