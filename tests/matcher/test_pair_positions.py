"""propose finds its chosen, fixed and excluded pairs among the scored
pairs by binary search, sorting the pair keys only when the pairs are not
already in unit-then-household order."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.proposals.propose import pair_positions


class _Region:
    def __init__(self, n_households: int):
        self.household_arrays = [None] * n_households


class _Scores:
    def __init__(self, units, households):
        self.units, self.households = units, households


@settings(max_examples=150, deadline=None)
@given(cells=st.sets(st.tuples(st.integers(0, 5), st.integers(0, 7)), max_size=30),
       asked=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 7)), max_size=10),
       shuffle=st.booleans(), data=st.data())
def test_positions_of_pairs_in_or_out_of_order(cells, asked, shuffle, data):
    pairs = sorted(cells)
    if shuffle:
        pairs = data.draw(st.permutations(pairs))
    units = np.array([u for u, _ in pairs], dtype=np.int64)
    households = np.array([h for _, h in pairs], dtype=np.int64)
    found = pair_positions(_Region(8), _Scores(units, households), [u for u, _ in asked], [h for _, h in asked])
    assert found.tolist() == [pairs.index(pair) if pair in cells else -1 for pair in asked]
