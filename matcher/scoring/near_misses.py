"""Near misses: approved households that break exactly one hard rule for a
unit, and by how much. These are the conversations a family finder can
start ("would you be assessed for a fifth year?").

One mask per rule from :data:`features.eligibility.RULE_FUNCTIONS` over
every household at once, then a count of broken rules per household: a
household is a near miss when the count is one. A rule counts once however
many children or needs break it. Rule 1 aside: a household that is not
approved is no near miss (and a unit that is not waiting is not asked
about).
"""

from __future__ import annotations

import numpy as np

from features.eligibility import RULE_FUNCTIONS

from matcher.region import Region
from matcher.scoring.explain import RULE_NAMES
from matcher.scoring.queries import violations_for, waiting_unit_row
from matcher.scoring.scorer import score_pairs
from matcher.scoring.weights import Weights


def one_rule_short(region: Region, unit_row: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the approved households that break exactly one hard rule for
    the unit, and the number of that rule, in household row order."""
    rows = np.array([unit_row])
    numbers = np.array(list(RULE_FUNCTIONS))
    broken = np.stack([~RULE_FUNCTIONS[n](region.unit_arrays, rows, region.tables)[0] for n in numbers])
    # A pair excluded by hand is no conversation to start: never a near miss.
    excluded = region.excluded_mask(unit_row, np.arange(region.tables.n_households))
    near = np.flatnonzero((broken.sum(axis=0) == 1) & region.tables.approved & ~excluded)
    return near, numbers[broken[:, near].argmax(axis=0)]


def near_misses_for_child(region: Region, child_id: str, top: int | None, weights: Weights) -> dict:
    """The near misses of the unit holding ``child_id`` (CONTRACT.md's
    near-misses answer), the link that would score highest were the rule
    met first, ties by household id; at most ``top`` of them."""
    row = waiting_unit_row(region, child_id)
    households, rules = one_rule_short(region, row)
    # Scores are defined for any pair (every fit is clipped to [0, 1]), so a
    # near miss is ranked by what the link would be worth.
    scores = score_pairs(region.unit_arrays, region.household_arrays, np.full(len(households), row), households,
                         weights, cache=region.cache)
    ids = region.household_arrays.household_ids[households]
    order = np.lexsort((ids, -scores.score))
    if top is not None:
        order = order[:top]
    results = []
    for i, found in zip(order.tolist(), violations_for(region, row, households[order])):
        rule = int(rules[i])
        results.append({"household_id": str(ids[i]), "rule": rule, "rule_name": RULE_NAMES[rule],
                        "message": "; ".join(v.message for v in found if v.rule == rule)})
    return {
        "unit_id": str(region.unit_arrays.unit_ids[row]),
        "child_ids": region.children_of(row)["child_id"].to_list(),
        "results": results,
    }
