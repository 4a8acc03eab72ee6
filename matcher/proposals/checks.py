"""``check_validity``: every way a proposal can be wrong, listed.

Used by tests, by ``matcher propose`` before it writes anything, and by
users on any proposal file. The hard rules come from
:mod:`features.eligibility` (the same functions every command uses).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import polars as pl

from features.eligibility import HouseholdTables, eligible

from matcher.scoring.queries import violations
from matcher.scoring.scorer import score_pairs
from matcher.errors import name_options
from matcher.region import Region

CHECK_CHUNK = 1024


class InvalidProposal(Exception):
    """A proposal that breaks a rule; carries every problem found."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        self.template = "invalid proposal:\n" + "\n".join(problems)  # {option:NAME} for a front end
        super().__init__(name_options(self.template))


def check_validity(proposal, region: Region) -> list[str]:
    """Every broken hard rule, size, capacity, budget, fixed or excluded
    link in ``proposal`` (a :class:`~matcher.propose.Proposal`, or anything
    with ``links`` and ``request``), as sentences; empty when valid.

    ``links`` needs ``unit_id, child_ids, household_id`` and, when present,
    ``fee`` is checked against the scorer's fee for the pair.
    """
    links: pl.DataFrame = proposal.links
    request = proposal.request
    problems: list[str] = []
    capacity = request.shortlist or 1
    for column, who in (("unit_id", "unit"), ("household_id", "household")):
        for value, count in sorted(Counter(links[column].to_list()).items()):
            if count > capacity:
                rule = " (rule 8)" if column == "household_id" and capacity == 1 else ""
                problems.append(f"{who} {value} is proposed {count} times; at most {capacity} allowed{rule}")
    if request.shortlist is not None:
        pairs = list(zip(links["unit_id"].to_list(), links["household_id"].to_list()))
        for pair, count in sorted(Counter(pairs).items()):
            if count > 1:
                problems.append(f"link {pair[0]}={pair[1]} is listed {count} times")

    rows_u, rows_h, known = [], [], []
    for i, (unit, children, household) in enumerate(links.select("unit_id", "child_ids", "household_id").iter_rows()):
        u = region.unit_row_of_id.get(unit)
        h = region.household_row_of_id.get(household)
        if u is None:
            problems.append(f"link {i + 1}: unknown unit {unit}")
            continue
        if h is None:
            problems.append(f"link {i + 1}: unknown household {household}")
            continue
        listed = children.split(";") if isinstance(children, str) else list(children)
        actual = region.children_of(u)["child_id"].to_list()
        if sorted(listed) != sorted(actual):
            problems.append(f"unit {unit}: child_ids {';'.join(listed)} are not the whole unit "
                            f"{';'.join(actual)} (rule 7)")
        rows_u.append(u)
        rows_h.append(h)
        known.append(i)
    u_arr, h_arr = np.array(rows_u, dtype=np.int64), np.array(rows_h, dtype=np.int64)

    # Hard rules 1-7, vectorised over the links in chunks, then explained.
    ok = np.ones(len(u_arr), dtype=bool)
    for start in range(0, len(u_arr), CHECK_CHUNK):
        stop = min(len(u_arr), start + CHECK_CHUNK)
        tables = HouseholdTables.build(region.household_arrays.take(h_arr[start:stop]))
        mask = eligible(region.unit_arrays, u_arr[start:stop], tables)
        ok[start:stop] = np.diagonal(mask)
    for i in np.flatnonzero(~ok):
        unit, household = region.unit_arrays.unit_ids[u_arr[i]], region.household_arrays.household_ids[h_arr[i]]
        for v in violations(region, int(u_arr[i]), int(h_arr[i])):
            problems.append(f"link {unit}={household}: rule {v.rule}: {v.message}")

    if len(u_arr):
        scores = score_pairs(region.unit_arrays, region.household_arrays, u_arr, h_arr, request.weights,
                             cache=region.cache)
        fees = scores.fee
        if "fee" in links.columns:
            listed_fees = links["fee"].to_numpy()[known]
            for i in np.flatnonzero(listed_fees != fees):
                problems.append(f"link {region.unit_arrays.unit_ids[u_arr[i]]}="
                                f"{region.household_arrays.household_ids[h_arr[i]]}: fee {listed_fees[i]} "
                                f"should be {fees[i]}")
        if request.min_score is not None:
            for i in np.flatnonzero(scores.score < request.min_score):
                problems.append(f"link {region.unit_arrays.unit_ids[u_arr[i]]}="
                                f"{region.household_arrays.household_ids[h_arr[i]]}: score {scores.score[i]:.2f} "
                                f"is below {{option:min_score}} {request.min_score:g}")
        agencies = region.units["agency_id"].to_numpy()[u_arr]
        for agency, budget in sorted(request.budgets.items()):
            spent = int(fees[agencies == agency].sum())
            if spent > budget:
                problems.append(f"agency {agency}: inter-agency fees {spent:,} exceed its budget {budget:,}")
        if request.sibling_contact_km is not None:
            problems += _sibling_contact_problems(region, u_arr, h_arr, request.sibling_contact_km)

    proposed = set(zip(links["unit_id"].to_list(), links["household_id"].to_list()))
    for unit, household in request.excluded:
        if (unit, household) in proposed:
            problems.append(f"link {unit}={household} was excluded but is proposed")
    for unit, household in request.fixed:
        if (unit, household) not in proposed:
            problems.append(f"link {unit}={household} was fixed but is not proposed")
    return problems


def _sibling_contact_problems(region: Region, u_arr, h_arr, km: float) -> list[str]:
    """Siblings placed apart whose households are more than ``km`` apart
    (the same test propose uses to forbid them)."""
    from features.geo import further_than, haversine_km

    group = region.units["sibling_group_id"].to_numpy()[u_arr]
    xyz = region.household_arrays.xyz
    lat, lon = region.households["lat"].to_numpy(), region.households["lon"].to_numpy()
    members: dict[str, list[int]] = {}
    for i, g in enumerate(group):
        if g is not None:
            members.setdefault(g, []).append(i)
    problems = []
    for g, links in sorted(members.items()):
        for a, i in enumerate(links):
            for j in links[a + 1:]:
                if further_than(xyz[h_arr[i]], xyz[h_arr[j]], km)[0, 0]:
                    d = float(haversine_km(lat[h_arr[i]], lon[h_arr[i]], lat[h_arr[j]], lon[h_arr[j]]))
                    problems.append(f"siblings {region.unit_arrays.unit_ids[u_arr[i]]} and "
                                    f"{region.unit_arrays.unit_ids[u_arr[j]]} (group {g}) are proposed to "
                                    f"households {d:.1f} km apart; {{option:sibling_contact_km}} is {km:g}")
    return problems
