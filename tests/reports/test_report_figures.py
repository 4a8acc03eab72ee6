"""Every figure of the report against a reference computed apart from the
report code: plain per-pair loops over the children's and households' rows
with the reference hard rules (tests/features/reference_rules.py), the
scorer asked one pair at a time, why-not for fees; and a few figures found
in the HTML."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.contract import ETHNICITY_CODES, NEEDS
from matcher import api
from matcher.reports.fairness import counterfactual
from matcher.reports.rankings import rankings
from matcher.scoring.scorer import score_pairs
from matcher.scoring.weights import Weights
from tests.features.reference_rules import age_in_months, reference_broken_rules, reference_units

AS_OF = dt.date(2026, 6, 30)
WEIGHTS = Weights()


def _band(months: int) -> str:
    for label, top in (("under 1", 11), ("1-3 years", 47), ("4-6 years", 83), ("7-10 years", 131)):
        if months <= top:
            return label
    return "11+ years"


def _need(level: int) -> str:
    return ("0 none", "1 mild", "2 moderate", "3 severe/complex")[level]


class Reference:
    """The region's figures by plain loops."""

    def __init__(self, children: pl.DataFrame, households: pl.DataFrame, region):
        self.kids = children.to_dicts()
        self.homes = households.to_dicts()
        units = reference_units(self.kids)
        self.units = {u: sorted(members, key=lambda c: c["child_id"]) for u, members in units.items()
                      if all(c["status"] == "waiting" for c in members)}
        self.eligible: dict[str, dict[str, float]] = {}
        for unit_id, members in self.units.items():
            self.eligible[unit_id] = {}
            for home in self.homes:
                if reference_broken_rules(members, home, AS_OF):
                    continue
                # The project's scorer, asked about this one pair.
                u = region.unit_row_of_id[unit_id]
                h = region.household_row_of_id[home["household_id"]]
                score = score_pairs(region.unit_arrays, region.household_arrays, np.array([u]), np.array([h]),
                                    WEIGHTS).score[0]
                self.eligible[unit_id][home["household_id"]] = float(score)

    def profile(self, unit_id: str) -> tuple[str, str, str]:
        members = self.units[unit_id]
        eldest = max(age_in_months(c["date_of_birth"], AS_OF) for c in members)
        size = ("1 child", "2 children", "3 children", "4+ children")[min(len(members), 4) - 1]
        need = max(c[f"need_{n}"] for c in members for n in NEEDS)
        return _band(eldest), size, _need(need)

    def groups(self, unit_id: str) -> dict[str, list[str]]:
        members = self.units[unit_id]
        band, size, need = self.profile(unit_id)
        return {"ethnicity": sorted({c["ethnicity"] for c in members}), "highest need": [need],
                "age band": [band], "group size": [size]}

    def best(self, unit_id: str) -> float | None:
        scores = self.eligible[unit_id].values()
        return max(scores) if scores else None


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("figures")
    children, households = api.generate(11, 50, 70, AS_OF)
    region = api.region_from_frames(children, households, AS_OF)
    proposal = api.propose(region)
    links_path = folder / "links.csv"
    api.write_proposal(region, proposal, links_path)
    links = api.proposal_from_file(region, links_path)
    budgets = {"LA01": 10_000, "LA02": 500_000}
    data = api.report_data(region, data="test region", proposal=links, budgets=budgets, seed=4)
    return {"children": children, "households": households, "region": region, "data": data, "budgets": budgets,
            "links": proposal.links, "ref": Reference(children, households, region), "folder": folder}


def test_pool_sufficiency_per_profile_equals_the_reference(world):
    ref, pool = world["ref"], world["data"].pool
    expected = defaultdict(lambda: [0, 0, 0, 0, set()])
    for unit_id in ref.units:
        row = expected[ref.profile(unit_id)]
        n = len(ref.eligible[unit_id])
        row[0] += 1
        if n <= 2:
            row[1 + n] += 1
        row[4] |= set(ref.eligible[unit_id])
    got = {(p.age_band, p.size_band, p.need_level): [p.units, p.units_with_none, p.units_with_one,
                                                      p.units_with_two, p.eligible_households] for p in pool.profiles}
    assert got == {k: [*v[:4], len(v[4])] for k, v in expected.items()}
    assert sum(p.units for p in pool.profiles) == len(ref.units) == world["data"].waiting_units
    # Units short of families first: the profiles with such units lead.
    shorts = [p.short for p in pool.profiles]
    assert shorts == sorted(shorts, reverse=True) and shorts[0] > 0


def test_short_units_and_their_near_misses_equal_the_reference(world):
    ref, pool = world["ref"], world["data"].pool
    expected = sorted(((len(e), u) for u, e in ref.eligible.items() if len(e) <= 2))
    assert [(s.eligible, s.unit_id) for s in pool.short_units] == expected
    assert any(s.near_misses for s in pool.short_units)
    homes = {h["household_id"]: h for h in ref.homes}
    for short in pool.short_units:
        for miss in short.near_misses:
            broken = reference_broken_rules(ref.units[short.unit_id], homes[miss.household_id], AS_OF)
            assert broken == {miss.rule}
            assert homes[miss.household_id]["status"] == "approved"


def test_children_over_each_threshold_equal_the_reference(world):
    ref, waiting = world["ref"], world["data"].waiting
    waiting_kids = [c for c in ref.kids if c["status"] == "waiting"]
    care = {c["child_id"]: (AS_OF - c["entered_care_date"]).days for c in waiting_kids}
    order = {c["child_id"]: (AS_OF - c["placement_order_date"]).days for c in waiting_kids
             if c["placement_order_date"] is not None}
    assert {(c.child_id, c.days, c.over_by) for c in waiting.over_care} == \
        {(k, d, d - 426) for k, d in care.items() if d > 426}
    assert {(c.child_id, c.days, c.over_by) for c in waiting.over_order} == \
        {(k, d, d - 121) for k, d in order.items() if d > 121}
    assert waiting.over_care and waiting.over_order
    agency = {c["child_id"]: c["agency_id"] for c in waiting_kids}
    for row in waiting.agencies:
        mine = [k for k in care if agency[k] == row.agency_id]
        assert row.waiting_children == len(mine)
        assert row.with_order == sum(k in order for k in mine)
        assert row.over_care == sum(care[k] > 426 for k in mine)
        assert row.over_order == sum(order.get(k, 0) > 121 for k in mine)
        assert row.longest_care_days == max(care[k] for k in mine)
        assert row.mean_care_days == pytest.approx(sum(care[k] for k in mine) / len(mine), abs=0.05)
    assert sum(r.waiting_children for r in waiting.agencies) == len(waiting_kids)


def test_fees_per_agency_equal_the_reference(world):
    ref, fees, region = world["ref"], world["data"].fees, world["region"]
    spent = defaultdict(lambda: [0, 0, 0])
    for unit_id, household_id in world["links"].select("unit_id", "household_id").iter_rows():
        first = ref.units[unit_id][0]
        answer = api.why_not(region, first["child_id"], household_id)
        home = next(h for h in ref.homes if h["household_id"] == household_id)
        row = spent[first["agency_id"]]
        row[0] += 1
        row[1] += home["agency_id"] != first["agency_id"]
        row[2] += answer["fee"]
    budgets = world["budgets"]
    expected = {a: (*spent.get(a, (0, 0, 0)), budgets.get(a)) for a in set(spent) | set(budgets)}
    assert {a.agency_id: (a.links, a.inter_agency_links, a.fees, a.budget) for a in fees.agencies} == expected
    assert fees.total == sum(v[2] for v in spent.values()) > 0
    la01 = next(a for a in fees.agencies if a.agency_id == "LA01")
    assert la01.over_budget == (la01.fees > 10_000)


def test_fairness_rates_equal_the_reference(world):
    ref, data = world["ref"], world["data"]
    proposed = set(world["links"]["unit_id"].to_list())
    members = defaultdict(list)
    for unit_id in ref.units:
        for dimension, groups in ref.groups(unit_id).items():
            for group in groups:
                members[dimension, group].append(unit_id)
    got = {(g.dimension, g.group): g for g in data.fairness.groups}
    assert set(got) == set(members)
    for key, units in members.items():
        g = got[key]
        bests = [ref.best(u) for u in units if ref.best(u) is not None]
        assert g.units == len(units)
        assert g.proposed == pytest.approx(sum(u in proposed for u in units) / len(units))
        assert g.with_eligible == pytest.approx(sum(bool(ref.eligible[u]) for u in units) / len(units))
        assert g.mean_eligible == pytest.approx(sum(len(ref.eligible[u]) for u in units) / len(units))
        if bests:
            assert g.mean_best_score == pytest.approx(sum(bests) / len(bests))
        else:
            assert g.mean_best_score is None
    # The four-fifths flags, recomputed.
    for dimension in ("ethnicity", "highest need", "age band", "group size"):
        rows = [g for g in data.fairness.groups if g.dimension == dimension]
        for metric in ("proposed", "with_eligible", "mean_best_score", "mean_eligible"):
            values = [getattr(g, metric) for g in rows if getattr(g, metric) is not None]
            top = max(values) if values else 0
            for g in rows:
                value = getattr(g, metric)
                assert (metric in g.flags) == (value is not None and top > 0 and value < 0.8 * top)
    assert any(g.flags for g in data.fairness.groups)


def test_concentration_of_top_ten_places_equals_the_reference(world):
    ref, conc = world["ref"], world["data"].fairness.concentration
    places = Counter()
    for unit_id, scores in ref.eligible.items():
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:10]
        places.update(h for h, _ in ranked)
    approved = sum(h["status"] == "approved" for h in ref.homes)
    k = max(1, math.ceil(0.01 * approved))
    top = sorted(places.items(), key=lambda item: (-item[1], item[0]))[:k]
    assert conc.places == sum(places.values())
    assert conc.approved_households == approved
    assert conc.top_households == tuple(top)
    assert conc.share == pytest.approx(sum(n for _, n in top) / sum(places.values()))


def test_ethnicity_substituted_never_moves_eligibility_and_best_scores_move_as_the_reference_says(world):
    children, households, data = world["children"], world["households"], world["data"]
    cf = data.fairness.counterfactual
    assert cf.eligibility_changes == 0
    assert len(cf.sampled_units) == min(50, sum(1 for e in world["ref"].eligible.values() if e))
    ref = world["ref"]
    sampled = set(cf.sampled_units)
    for sub in cf.substitutions[:4]:
        # Every sampled unit (but those of only this ethnicity) given the code at once: a unit's best
        # score depends on that unit alone, so one changed region answers for all of them.
        changing = [u for u in sampled if {c["ethnicity"] for c in ref.units[u]} != {sub.ethnicity}]
        ids = [c["child_id"] for u in changing for c in ref.units[u]]
        changed = api.region_from_frames(children.with_columns(
            pl.when(pl.col("child_id").is_in(ids)).then(pl.lit(sub.ethnicity)).otherwise(pl.col("ethnicity"))
            .alias("ethnicity")), households, AS_OF)
        moves = []
        for unit_id in changing:
            child = ref.units[unit_id][0]["child_id"]
            before = api.rank(world["region"], child_id=child, options=api.QueryOptions(top=None))
            after = api.rank(changed, child_id=child, options=api.QueryOptions(top=None))
            assert {r["household_id"] for r in after["results"]} == {r["household_id"] for r in before["results"]}
            moves.append(after["results"][0]["score"] - before["results"][0]["score"])
        assert sub.units == len(changing)
        assert sub.mean_best_change == pytest.approx(np.mean(moves), abs=1e-3)
        assert sub.largest_best_change == pytest.approx(np.max(np.abs(moves)), abs=1e-3)


def test_rank_moves_in_households_lists_equal_the_reference(world):
    """One sampled unit: its rank in each eligible household's list (1 +
    other eligible waiting units scoring strictly higher), before and after
    each substitution, from full household rankings."""
    children, households, region = world["children"], world["households"], world["region"]
    ref = world["ref"]
    ranked = rankings(region, WEIGHTS)
    # The first seed whose one sampled unit has several eligible households (several lists to move in).
    cf = next(c for c in (counterfactual(region, ranked, WEIGHTS, seed=s, sample=1) for s in range(100))
              if len(ref.eligible[c.sampled_units[0]]) >= 6)
    (unit_id,) = cf.sampled_units
    child_ids = [c["child_id"] for c in ref.units[unit_id]]
    assert any(s.largest_rank_change for s in cf.substitutions)
    for sub in cf.substitutions[::3]:
        changed = api.region_from_frames(children.with_columns(
            pl.when(pl.col("child_id").is_in(child_ids)).then(pl.lit(sub.ethnicity)).otherwise(pl.col("ethnicity"))
            .alias("ethnicity")), households, AS_OF)
        moves = []
        for household_id in ref.eligible[unit_id]:
            def place(reg):
                listed = api.rank(reg, household_id=household_id, options=api.QueryOptions(top=None))["results"]
                mine = next(r["score"] for r in listed if r["unit_id"] == unit_id)
                return 1 + sum(r["score"] > mine for r in listed if r["unit_id"] != unit_id)
            moves.append(place(changed) - place(region))
        assert sub.mean_rank_change == pytest.approx(np.mean(moves), abs=1e-4)
        assert sub.largest_rank_change == max(abs(m) for m in moves)
    assert {s.ethnicity for s in cf.substitutions} == \
        set(ETHNICITY_CODES) - ({c["ethnicity"] for c in ref.units[unit_id]}
                                if len({c["ethnicity"] for c in ref.units[unit_id]}) == 1 else set())


def test_the_html_shows_the_figures(world):
    data = world["data"]
    html = api.render_report(data)
    none = sum(1 for s in data.pool.short_units if s.eligible == 0)
    assert f"<strong>{none}</strong> waiting units have no eligible approved household" in html
    assert f"<strong>{len(data.waiting.over_care)}</strong> waiting children are over 426 days" in html
    assert f"£{data.fees.total:,}" in html
    for child in data.waiting.over_care[:3]:
        assert f"<td>{child.child_id}</td>" in html and f"<td>{child.days}</td>" in html
    group = data.fairness.groups[0]
    assert f"<td>{group.group}</td>" in html and f"<td>{100 * group.with_eligible:.1f}%</td>" in html
    assert data.provenance.weights_sha256 == api.weights_sha256(WEIGHTS) and data.provenance.weights_sha256 in html
    assert "Data as of</dt><dd>2026-06-30" in html
    assert f"<dd>{data.provenance.version}</dd>" in html
    assert html == api.render_report(api.report_data(world["region"], data="test region",
                                                     proposal=api.proposal_from_file(world["region"],
                                                                                     world["folder"] / "links.csv"),
                                                     budgets=world["budgets"], seed=4))


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), sample_seed=st.integers(0, 2**32 - 1))
def test_substituting_ethnicity_never_moves_eligibility(seed, sample_seed):
    """Ethnicity is no hard rule (CONTRACT.md): on any region, no sampled
    unit gains or loses an eligible household when its ethnicity changes."""
    children, households = api.generate(seed, 25, 30, AS_OF)
    region = api.region_from_frames(children, households, AS_OF)
    cf = counterfactual(region, rankings(region, WEIGHTS), WEIGHTS, seed=sample_seed, sample=8)
    assert cf.eligibility_changes == 0
    assert all(s.eligibility_changes == 0 for s in cf.substitutions)
