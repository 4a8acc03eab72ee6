"""Rank keeps the K best pairs in the full sort's order (score high to low,
ties by id) while sorting only the pairs at or above the K-th best score."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.scoring.queries import _ranked


class _Scores:
    def __init__(self, score):
        self.score = score


@settings(max_examples=300, deadline=None)
@given(scores=st.lists(st.integers(0, 5), max_size=40), top=st.integers(1, 45), data=st.data())
def test_the_top_k_are_the_full_sorts_first_k(scores, top, data):
    ids = np.array(data.draw(st.permutations([f"H{i:03d}" for i in range(len(scores))])), dtype=object)
    pairs = _Scores(np.array(scores, dtype=float))
    full = np.lexsort((ids, -pairs.score))
    assert _ranked(pairs, ids, top).tolist() == full[:top].tolist()
    assert _ranked(pairs, ids, None).tolist() == full.tolist()
