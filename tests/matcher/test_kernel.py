"""The compiled scorer (matcher.scoring.kernel) against the numpy reference
(features.eligibility's rule masks, scorer.score_pairs_reference): the same
pairs in the same order and the same points, score, weight, fee and
distance bit for bit, on hypothesis regions (ages on a bound, households on
a safety radius, sibling groups, absent siblings, needs at accept/consider,
exclusions, weights of every kind) and on edge cases."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.region import Exclusion, Region
from matcher.scoring import kernel, queries
from matcher.scoring.scorer import PairScores, score_pairs_reference
from matcher.scoring.weights import FACTORS, Weights
from tests.strategies import DrawnRegion, regions

SETTINGS = settings(max_examples=40, deadline=None)
FIELDS = ("units", "households", "points", "score", "weight", "fee", "distance_km")


@st.composite
def weights(draw) -> Weights:
    factors = {name: draw(st.sampled_from([0.0, 1.0, 3.5, 10.0, 16.0, 40.0])) for name in FACTORS}
    if sum(factors.values()) == 0:
        factors["needs"] = 1.0
    share = st.floats(0, 1, allow_nan=False)
    return Weights(factors=factors, needs_step=draw(share), promote_credit=draw(share),
                   unrecorded_heritage_fit=draw(share), dual_reserve=draw(share),
                   age_gap_months=draw(st.sampled_from([1.0, 24.0, 37.5])),
                   default_travel_km=draw(st.sampled_from([0.5, 100.0, 2_000.0])),
                   fees_by_size=draw(st.sampled_from([(27_000, 43_000, 54_000), (0,), (5, 1_000_000)])),
                   wait_boost=draw(st.sampled_from([0.0, 1.0, 7.25])))


@st.composite
def worlds(draw) -> Region:
    """A drawn region, with some of its child-household pairs excluded by hand."""
    region: DrawnRegion = draw(regions())
    kids = region.children["child_id"].to_list()
    homes = region.households["household_id"].to_list()
    pairs = draw(st.lists(st.tuples(st.sampled_from(kids), st.sampled_from(homes)), max_size=6))
    at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    return Region.build(region.files, region.as_of, [Exclusion(c, h, "test", "tester", at) for c, h in pairs])


def _reference(world: Region, rows: np.ndarray, w: Weights) -> PairScores:
    u, h = queries.eligible_pairs_reference(world, rows, workers=1)
    return score_pairs_reference(world.unit_arrays, world.household_arrays, u, h, w, workers=1)


def _assert_same(got: PairScores, expected: PairScores) -> None:
    for name in FIELDS:
        a, b = getattr(got, name), getattr(expected, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        # bit for bit: the same bytes, NaN or not
        assert a.tobytes() == b.tobytes(), f"{name} differs at {np.flatnonzero((a != b).reshape(len(a), -1).any(1))[:5]}"
    assert got.points.flags.f_contiguous


def _fused(world: Region, rows: np.ndarray, w: Weights, workers: int = 1) -> PairScores:
    return kernel.all_scores(world.unit_arrays, world.household_arrays, world.tables, rows, world.excluded_keys, w,
                             workers, world.cache)


@SETTINGS
@given(worlds(), weights())
def test_fused_pass_equals_the_reference(world, w):
    every = np.arange(len(world.unit_arrays))
    for rows in (world.waiting_unit_rows, every, every[::-1].copy()):
        _assert_same(_fused(world, rows, w), _reference(world, rows, w))


@SETTINGS
@given(worlds())
def test_eligible_pairs_equal_the_reference(world):
    every = np.arange(len(world.unit_arrays))
    for rows in (world.waiting_unit_rows, every):
        u, h = kernel.eligible_pairs(world.unit_arrays, world.household_arrays, world.tables, rows,
                                     world.excluded_keys, 1, world.cache)
        ref_u, ref_h = queries.eligible_pairs_reference(world, rows, workers=1)
        assert u.tolist() == ref_u.tolist() and h.tolist() == ref_h.tolist()


@SETTINGS
@given(worlds(), weights(), st.randoms(use_true_random=False))
def test_score_pairs_on_any_pairs_equals_the_reference(world, w, rnd):
    # every unit against every household, eligible or not, in a shuffled order
    n_u, n_h = len(world.unit_arrays), len(world.household_arrays)
    pairs = [(u, h) for u in range(n_u) for h in range(n_h)]
    rnd.shuffle(pairs)
    u = np.array([p[0] for p in pairs], dtype=np.int64)
    h = np.array([p[1] for p in pairs], dtype=np.int64)
    got = kernel.score_pairs(world.unit_arrays, world.household_arrays, u, h, w, 1, world.cache)
    _assert_same(got, score_pairs_reference(world.unit_arrays, world.household_arrays, u, h, w, workers=1))


@pytest.fixture
def small_tables(region_files):
    from matcher.files.read import read_region
    from tests.conftest import AS_OF

    children, households = region_files
    return read_region(children, households, as_of=AS_OF), AS_OF


@pytest.fixture
def region_tables_small(small_tables):
    tables, as_of = small_tables
    return Region.build(tables, as_of)


def test_edge_cases_no_units_no_eligible_pair_one_household(small_tables):
    from matcher.validation import RegionTables

    tables, as_of = small_tables
    world = Region.build(tables, as_of)
    w = Weights()
    empty = _fused(world, np.empty(0, np.int64), w)
    assert all(len(getattr(empty, name)) == 0 for name in FIELDS) and empty.points.shape == (0, len(FACTORS))
    # units that are not waiting have no eligible pair at all
    not_waiting = np.flatnonzero(~world.unit_arrays.bool_column("waiting"))
    assert len(not_waiting)
    nothing = _fused(world, not_waiting, w)
    assert len(nothing.units) == 0
    _assert_same(nothing, _reference(world, not_waiting, w))
    # no household approved: no pair
    homes = tables.households
    on_hold = homes.with_columns(homes["status"].set(homes["status"] == "approved", "on_hold"))
    closed = Region.build(RegionTables(tables.children, on_hold), as_of)
    assert len(_fused(closed, closed.waiting_unit_rows, w).units) == 0
    # one household
    one = Region.build(RegionTables(tables.children, homes.filter(homes["status"] == "approved").head(1)), as_of)
    got = _fused(one, one.waiting_unit_rows, w)
    assert len(got.units) > 0
    _assert_same(got, _reference(one, one.waiting_unit_rows, w))


def test_blocks_in_parallel_give_the_same_table(region_tables_small, monkeypatch):
    world = region_tables_small
    monkeypatch.setattr(kernel, "BLOCK_CANDIDATES", 64)  # many small blocks, two threads
    rows = world.waiting_unit_rows
    assert len(kernel._blocks(rows, world.tables.n_households)) > 2
    _assert_same(_fused(world, rows, Weights(), workers=2), _reference(world, rows, Weights()))


def test_large_inputs_take_the_kernel_and_small_ones_do_not(region_tables_small, monkeypatch):
    world = region_tables_small
    calls = []
    fused = kernel.all_scores
    monkeypatch.setattr(kernel, "all_scores", lambda *a, **k: calls.append(1) or fused(*a, **k))
    monkeypatch.setattr(queries, "KERNEL_MIN_CANDIDATES", 10 ** 12)
    small = queries.all_scores(world, Weights(), workers=1)
    assert calls == []
    monkeypatch.setattr(queries, "KERNEL_MIN_CANDIDATES", 1)
    large = queries.all_scores(world, Weights(), workers=1)
    assert calls == [1]
    _assert_same(large, small)
    child = world.children.filter(world.children["status"] == "waiting")["child_id"][0]
    ranked = queries.rank_for_child(world, child, 5, Weights())
    assert calls == [1, 1]
    monkeypatch.setattr(queries, "KERNEL_MIN_CANDIDATES", 10 ** 12)
    assert queries.rank_for_child(world, child, 5, Weights()) == ranked


def test_a_process_without_the_kernel_loads_it_only_for_a_large_input(region_tables_small, monkeypatch):
    import sys

    from matcher.scoring import scorer

    world = region_tables_small
    calls = []
    fused = kernel.all_scores
    monkeypatch.setattr(kernel, "all_scores", lambda *a, **k: calls.append(1) or fused(*a, **k))
    monkeypatch.setattr(queries, "KERNEL_MIN_CANDIDATES", 1)
    monkeypatch.delitem(sys.modules, "matcher.scoring.kernel")  # as in a fresh process
    assert not scorer.kernel_loaded()
    monkeypatch.setattr(queries, "KERNEL_COLD_MIN_CANDIDATES", 10 ** 12)
    queries.all_scores(world, Weights(), workers=1)
    assert calls == []
    monkeypatch.setattr(queries, "KERNEL_COLD_MIN_CANDIDATES", 1)
    queries.all_scores(world, Weights(), workers=1)
    assert calls == [1]
