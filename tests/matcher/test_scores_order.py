"""The scores table comes out in its canonical order (unit, score high
first, household id) built block by block, exactly as the full sort of the
whole table ordered it before."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.scoring.results import scores_frame, table_order, unit_blocks


def full_sort_order(units, score, household_rank) -> np.ndarray:
    """The order the scores table had before: one sort of every pair."""
    keys = pl.DataFrame({"u": units, "s": score, "h": household_rank})
    return keys.with_row_index().sort(["u", "s", "h"], descending=[False, True, False])["index"].to_numpy()


@st.composite
def unit_by_unit_pairs(draw):
    """Pairs listed unit by unit, households once per unit, scores on the
    1e-4 grid with many ties."""
    n_units = draw(st.integers(1, 8))
    n_households = draw(st.integers(1, 12))
    units, households = [], []
    for u in sorted(draw(st.lists(st.integers(0, 3 * n_units), min_size=1, max_size=n_units, unique=True))):
        homes = draw(st.lists(st.integers(0, n_households - 1), max_size=n_households, unique=True))
        units += [u] * len(homes)
        households += homes
    points = draw(st.lists(st.sampled_from([0, 1, 7, 499_999, 500_000, 1_000_000]),
                           min_size=len(units), max_size=len(units)))
    rank = np.array(draw(st.permutations(range(n_households))), dtype=np.int64)
    return (np.array(units, dtype=np.int64), np.array(points, dtype=np.int64) / 1e4,
            rank[np.array(households, dtype=np.int64)])


@settings(max_examples=200, deadline=None)
@given(pairs=unit_by_unit_pairs(), block=st.integers(1, 9), workers=st.sampled_from([1, 2]))
def test_block_order_is_the_full_sort(pairs, block, workers):
    units, score, rank = pairs
    assert table_order(units, score, rank, workers, block).tolist() == full_sort_order(units, score, rank).tolist()


@settings(max_examples=100, deadline=None)
@given(units=st.lists(st.integers(0, 6), max_size=30).map(sorted), block=st.integers(1, 8))
def test_blocks_hold_whole_units_and_cover_every_pair(units, block):
    units = np.array(units, dtype=np.int64)
    blocks = unit_blocks(units, block)
    assert [b for a, _ in blocks[:1] for b in [a]] == ([0] if len(units) else [])
    assert all(stop == start for (_, stop), (start, _) in zip(blocks, blocks[1:]))
    assert (blocks[-1][1] if blocks else 0) == len(units)
    for start, stop in blocks[1:]:
        assert units[start] != units[start - 1], "a unit was split between two blocks"


def test_pairs_not_unit_by_unit_are_still_ordered():
    units = np.array([3, 1, 3, 1, 2])
    score = np.array([5.0, 5.0, 9.0, 5.0, 0.0])
    rank = np.array([0, 2, 1, 1, 0])
    assert table_order(units, score, rank, 2, 2).tolist() == full_sort_order(units, score, rank).tolist()


def test_scores_file_is_the_full_sorts_on_a_generated_region(monkeypatch):
    from matcher import api
    from matcher.scoring import results
    from matcher.scoring.queries import all_scores
    from matcher.scoring.weights import FACTORS

    children, households = api.generate(7, 300, 400, dt.date(2026, 6, 30))
    region = api.region_from_frames(children, households, dt.date(2026, 6, 30))
    pairs = all_scores(region, api.QueryOptions().weights)
    assert len(pairs.units) > 2000
    monkeypatch.setattr(results, "ORDER_BLOCK", 97)  # many blocks, cut inside units
    ids = region.household_arrays.household_ids
    rank = np.argsort(np.argsort(ids, kind="stable"), kind="stable")[pairs.households]
    order = full_sort_order(pairs.units, pairs.score, rank)
    expected = pl.DataFrame({
        "unit_id": region.unit_arrays.unit_ids[pairs.units[order]].astype(str),
        "household_id": ids[pairs.households[order]].astype(str),
        "score": pairs.score[order],
        "weight": pairs.weight[order],
        **{name: pairs.points[order, k] / 1e4 for k, name in enumerate(FACTORS)},
        "fee": pairs.fee[order],
        "distance_km": pairs.distance_km[order].round(2),
    }, schema=results.SCORES_SCHEMA)
    assert scores_frame(region, pairs).equals(expected)
    assert api.scores(region).frame.equals(expected)
