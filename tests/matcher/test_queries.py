"""Ranked queries, why-not and scores: consistent with each other, with the
contract's output shapes, and with what a family finder expects."""

from __future__ import annotations

import functools
import json

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.eligibility import eligible
from matcher.generate import generate_region
from matcher.files.write import write_table
from matcher.validation import RegionTables
from matcher.scoring.queries import all_scores, eligible_pairs, rank_for_child, rank_for_household, why_not
from features.contract import CHILDREN, ETHNICITY_CODES, HOUSEHOLDS
from matcher.scoring.weights import FACTORS, Weights
from matcher.api import region_from_files
from matcher.region import Region
from tests.conftest import AS_OF, write_region
from tests.features.reference_rules import reference_broken_rules, reference_units
from tests.strategies import load_region, regions

WHY_NOT_KEYS = {"unit_id", "child_ids", "household_id", "eligible", "violations", "score"}
VIOLATION_KEYS = {"rule", "rule_name", "child_id", "message"}  # rule_name: CONTRACT.md, issue 9


@functools.lru_cache(maxsize=None)
def _region(seed: int, n_children: int, n_households: int) -> RegionTables:
    kids, homes = generate_region(seed, n_children, n_households, AS_OF)
    return load_region(kids, homes, AS_OF)


def _world(seed: int = 3, n_children: int = 30, n_households: int = 40) -> Region:
    return Region.build(_region(seed, n_children, n_households), AS_OF)


def _all_units_mask(world: Region) -> np.ndarray:
    return eligible(world.unit_arrays, np.arange(len(world.unit_arrays)), world.tables)


def _assert_ranked(results: list[dict], id_key: str) -> None:
    """Score high to low; equal scores by id ascending."""
    for a, b in zip(results, results[1:]):
        assert (-a["score"], a[id_key]) < (-b["score"], b[id_key]), (a[id_key], a["score"], b[id_key], b["score"])


# --- scores and why-not agree ------------------------------------------------------------------------------


def test_scores_lists_exactly_the_pairs_why_not_calls_eligible(tmp_path, run_cli):
    children, households = write_region(tmp_path, seed=3, n_children=30, n_households=40)
    out = tmp_path / "scores.csv"
    status, _, err = run_cli("scores", "--children", children, "--households", households, "--as-of",
                             AS_OF.isoformat(), "--out", out)
    assert status == 0, err
    scores = pl.read_csv(out)
    listed = {(r["unit_id"], r["household_id"]): r["score"] for r in scores.iter_rows(named=True)}
    assert len(listed) == scores.height  # no pair twice

    world = region_from_files(str(children), str(households), AS_OF)
    waiting = world.children.filter(pl.col("unit_id").is_in(world.units.filter("waiting")["unit_id"].implode()))
    answered = {}
    for child_id in waiting["child_id"].to_list():
        for household_id in world.households["household_id"].to_list():
            answer = why_not(world, child_id, household_id, Weights())
            if answer["eligible"]:
                answered[answer["unit_id"], household_id] = answer["score"]
    assert answered, "the region should have some eligible pairs"
    assert set(listed) == set(answered)
    for pair, score in answered.items():
        assert listed[pair] == pytest.approx(score, abs=1e-6), pair

    # The command line gives the same answers as the in-process call.
    eligible_pair = sorted(answered)[0]
    child_of = {u: c for c, u in zip(waiting["child_id"].to_list(), waiting["unit_id"].to_list())}
    ineligible = [(c, h) for c in waiting["child_id"].to_list()[:3] for h in world.households["household_id"]
                  if (waiting.filter(pl.col("child_id") == c)["unit_id"][0], h) not in answered][:2]
    for child_id, household_id in [(child_of[eligible_pair[0]], eligible_pair[1]), *ineligible]:
        status, out_text, err = run_cli("why-not", "--children", children, "--households", households,
                                        "--as-of", AS_OF.isoformat(), "--child", child_id,
                                        "--household", household_id, "--format", "json")
        assert status == 0, err
        shown, expected = json.loads(out_text), why_not(world, child_id, household_id, Weights())
        for key in WHY_NOT_KEYS:
            assert shown[key] == expected[key], key


# --- ethnicity is never a hard rule ------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(pick=st.integers(0, 10**6), code=st.sampled_from(ETHNICITY_CODES))
def test_ethnicity_changes_only_the_heritage_factor(pick, code):
    region = _region(3, 30, 40)
    child = pick % region.children.height
    changed = region.children.with_columns(
        pl.when(pl.int_range(pl.len()) == child).then(pl.lit(code)).otherwise(pl.col("ethnicity"))
        .alias("ethnicity"))
    before = Region.build(region, AS_OF)
    after = Region.build(RegionTables(changed, region.households), AS_OF)

    assert np.array_equal(_all_units_mask(before), _all_units_mask(after))
    rows = np.arange(len(before.unit_arrays))
    a, b = all_scores(before, Weights(), rows, workers=1), all_scores(after, Weights(), rows, workers=1)
    assert np.array_equal(a.units, b.units) and np.array_equal(a.households, b.households)
    heritage = FACTORS.index("heritage")
    others = [k for k in range(len(FACTORS)) if k != heritage]
    assert np.array_equal(a.contributions[:, others], b.contributions[:, others])
    np.testing.assert_allclose(b.score - a.score, b.contributions[:, heritage] - a.contributions[:, heritage],
                               atol=1e-6)


# --- scores add up -----------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(regions(max_children=20, max_households=15))
def test_factor_contributions_add_up_to_the_score(region):
    world = Region.build(region.files, region.as_of)
    scores = all_scores(world, Weights(), np.arange(len(world.unit_arrays)), workers=1)
    assert scores.contributions.shape == (len(scores.score), len(FACTORS))
    np.testing.assert_allclose(scores.contributions.sum(axis=1), scores.score, atol=1e-6)
    assert np.all((scores.score >= 0) & (scores.score <= 100))
    assert np.all(scores.contributions >= 0)


def test_scores_file_factor_columns_add_up(tmp_path, run_cli):
    children, households = write_region(tmp_path, seed=5, n_children=80, n_households=60)
    out = tmp_path / "scores.csv"
    status, _, err = run_cli("scores", "--children", children, "--households", households, "--as-of",
                             AS_OF.isoformat(), "--out", out)
    assert status == 0, err
    frame = pl.read_csv(out)
    assert frame.height > 0
    assert list(frame.columns[:4]) == ["unit_id", "household_id", "score", "weight"]
    weights = Weights()
    for name in FACTORS:
        top = frame[name].max()
        assert 0 <= frame[name].min() and top <= weights.factors[name] + 1e-6, \
            f"factor column {name!r} holds values up to {top}, above the factor's weight {weights.factors[name]}"
    total = frame.select(pl.sum_horizontal(FACTORS)).to_series().to_numpy()
    np.testing.assert_allclose(total, frame["score"].to_numpy(), atol=1e-6)
    assert frame["score"].min() >= 0 and frame["score"].max() <= 100


# --- ranking ------------------------------------------------------------------------------------------------


def test_rank_for_child_agrees_with_all_scores():
    world = _world()
    scores = all_scores(world, Weights(), workers=1)
    ids = world.household_arrays.household_ids
    ranked_some = 0
    for row in world.waiting_unit_rows.tolist():
        child_id = world.children_of(row)["child_id"][0]
        result = rank_for_child(world, child_id, None, Weights())
        mine = scores.units == row
        expected = {str(ids[h]): s for h, s in zip(scores.households[mine], scores.score[mine])}
        got = {r["household_id"]: r["score"] for r in result["results"]}
        assert got.keys() == expected.keys(), child_id
        for household_id, score in got.items():
            assert score == pytest.approx(expected[household_id], abs=1e-9)
        _assert_ranked(result["results"], "household_id")
        if expected:
            best = max(expected.values())
            assert result["results"][0]["score"] == pytest.approx(best, abs=1e-9)
            assert result["results"][0]["household_id"] == min(h for h, s in expected.items() if s == best)
            top = rank_for_child(world, child_id, 1, Weights())["results"]
            assert [r["household_id"] for r in top] == [result["results"][0]["household_id"]]
            ranked_some += 1
    assert ranked_some >= 3


def test_rank_for_child_breaks_ties_by_household_id():
    region = _region(3, 30, 40)
    world = Region.build(region, AS_OF)
    u, h = eligible_pairs(world, workers=1)
    unit_row, household_row = int(u[0]), int(h[0])
    original = region.households.row(household_row, named=True)["household_id"]
    copies = region.households.slice(household_row, 1)
    households = pl.concat([
        copies.with_columns(household_id=pl.lit("Z" + original)),
        region.households,
        copies.with_columns(household_id=pl.lit("A" + original)),
    ])
    world = Region.build(RegionTables(region.children, households), AS_OF)
    child_id = world.children_of(world.unit_row_of_id[str(world.unit_arrays.unit_ids[unit_row])])["child_id"][0]
    results = rank_for_child(world, child_id, None, Weights())["results"]
    _assert_ranked(results, "household_id")
    position = {r["household_id"]: i for i, r in enumerate(results)}
    trio = ["A" + original, original, "Z" + original]
    assert all(name in position for name in trio)
    assert len({results[position[name]]["score"] for name in trio}) == 1
    assert [position[name] for name in trio] == sorted(position[name] for name in trio)


def test_rank_for_household_agrees_with_all_scores_and_breaks_ties_by_unit_id():
    region = _region(3, 30, 40)
    world = Region.build(region, AS_OF)
    scores = all_scores(world, Weights(), workers=1)
    singles = world.units.filter(pl.col("waiting") & (pl.col("size") == 1))["unit_id"].to_list()
    pair = next(i for i in range(len(scores.score))
                if str(world.unit_arrays.unit_ids[scores.units[i]]) in singles)
    household_id = str(world.household_arrays.household_ids[scores.households[pair]])
    child_id = str(world.unit_arrays.unit_ids[scores.units[pair]])

    mine = scores.households == scores.households[pair]
    expected = {str(world.unit_arrays.unit_ids[u]): s for u, s in zip(scores.units[mine], scores.score[mine])}
    result = rank_for_household(world, household_id, None, Weights())
    assert {r["unit_id"]: r["score"] for r in result["results"]} == pytest.approx(expected, abs=1e-9)
    _assert_ranked(result["results"], "unit_id")
    best = max(expected.values())
    assert result["results"][0]["unit_id"] == min(u for u, s in expected.items() if s == best)

    # Two copies of a child under new ids score the same: ordered by unit id.
    copy = region.children.filter(pl.col("child_id") == child_id)
    children = pl.concat([copy.with_columns(child_id=pl.lit("Z" + child_id)), region.children,
                          copy.with_columns(child_id=pl.lit("A" + child_id))])
    world = Region.build(RegionTables(children, region.households), AS_OF)
    results = rank_for_household(world, household_id, None, Weights())["results"]
    _assert_ranked(results, "unit_id")
    position = {r["unit_id"]: i for i, r in enumerate(results)}
    trio = ["A" + child_id, child_id, "Z" + child_id]
    assert len({results[position[name]]["score"] for name in trio}) == 1
    assert [position[name] for name in trio] == sorted(position[name] for name in trio)


def test_rank_for_a_together_group_is_the_same_for_every_child():
    world = _world(1, 200, 300)
    homes = world.households
    groups = world.units.filter(pl.col("waiting") & (pl.col("size") > 1))
    assert groups.height > 0
    with_results = 0
    for group in groups.iter_rows(named=True):
        answers = [rank_for_child(world, child_id, None, Weights()) for child_id in group["child_ids"]]
        for answer in answers:
            assert answer["unit_id"] == group["unit_id"]
            assert sorted(answer["child_ids"]) == sorted(group["child_ids"])
            assert answer["results"] == answers[0]["results"]
            for r in answer["results"]:
                home = homes.row(world.household_row_of_id[r["household_id"]], named=True)
                assert home["status"] == "approved"
                assert home["min_children"] <= group["size"] <= home["max_children"], r["household_id"]
        with_results += bool(answers[0]["results"])
    assert with_results > 0


def test_some_waiting_children_have_no_feasible_household():
    region = _region(1, 200, 300)
    world = Region.build(region, AS_OF)
    mask = eligible(world.unit_arrays, world.waiting_unit_rows, world.tables)
    stranded = world.waiting_unit_rows[~mask.any(axis=1)]
    assert len(stranded) > 0
    # And the plain reference agrees that nobody could take the first of them.
    unit_id = str(world.unit_arrays.unit_ids[stranded[0]])
    kids = reference_units(region.children.to_dicts())[unit_id]
    assert all(reference_broken_rules(kids, home, AS_OF) for home in region.households.to_dicts())
    assert rank_for_child(world, kids[0]["child_id"], None, Weights())["results"] == []


# --- errors and output shapes -------------------------------------------------------------------------------


def _first(frame: pl.DataFrame, column: str, predicate) -> str:
    return frame.filter(predicate)[column][0]


@pytest.mark.parametrize("case", ["rank-child", "rank-household", "why-not-child", "why-not-household",
                                  "rank-not-waiting", "rank-absent-sibling", "rank-not-approved"])
def test_bad_ids_exit_2_with_a_clear_message(tmp_path, run_cli, case):
    kids, homes = generate_region(3, 60, 90, AS_OF)
    # One together group with a waiting child and a sibling already linked.
    group = kids.filter(pl.col("sibling_plan") == "together")["sibling_group_id"][0]
    first = kids.filter(pl.col("sibling_group_id") == group)["child_id"][0]
    kids = kids.with_columns(
        status=pl.when(pl.col("child_id") == first).then(pl.lit("linked"))
        .when(pl.col("sibling_group_id") == group).then(pl.lit("waiting")).otherwise(pl.col("status")))
    children, households = tmp_path / "children.csv", tmp_path / "households.csv"
    write_table(kids, children, CHILDREN)
    write_table(homes, households, HOUSEHOLDS)
    world = region_from_files(str(children), str(households), AS_OF)
    kids, homes = world.children, world.households
    some_child = _first(kids, "child_id", pl.col("status") == "waiting")
    some_home = _first(homes, "household_id", pl.col("status") == "approved")
    files = ("--children", children, "--households", households, "--as-of", AS_OF.isoformat())
    if case == "rank-child":
        args, named = ("rank", "--child", "NO-SUCH-CHILD"), "NO-SUCH-CHILD"
    elif case == "rank-household":
        args, named = ("rank", "--household", "NO-SUCH-HOME"), "NO-SUCH-HOME"
    elif case == "why-not-child":
        args, named = ("why-not", "--child", "NO-SUCH-CHILD", "--household", some_home), "NO-SUCH-CHILD"
    elif case == "why-not-household":
        args, named = ("why-not", "--child", some_child, "--household", "NO-SUCH-HOME"), "NO-SUCH-HOME"
    elif case == "rank-not-waiting":
        named = _first(kids, "child_id", pl.col("status") != "waiting")
        args = ("rank", "--child", named)
    elif case == "rank-absent-sibling":
        members = kids.filter(pl.col("unit_id") == group)
        args = ("rank", "--child", _first(members, "child_id", pl.col("status") == "waiting"))
        named = first
    else:
        named = _first(homes, "household_id", pl.col("status") != "approved")
        args = ("rank", "--household", named)
    for fmt in ("table", "json"):
        status, out, err = run_cli(*args, *files, "--format", fmt)
        assert status == 2, (case, out, err)
        assert named in err
        assert "Traceback" not in err + out
        assert out == ""
        assert len(err.strip().splitlines()) == 1, err


def test_why_not_json_has_the_contract_fields(tmp_path, run_cli):
    children, households = write_region(tmp_path, seed=3, n_children=30, n_households=40)
    world = region_from_files(str(children), str(households), AS_OF)
    u, h = eligible_pairs(world, workers=1)
    good = (world.children_of(int(u[0]))["child_id"][0], str(world.household_arrays.household_ids[h[0]]))
    bad_home = _first(world.households, "household_id", pl.col("status") != "approved")
    bad = (_first(world.children, "child_id", pl.col("status") != "waiting"), bad_home)
    for (child_id, household_id), expect_eligible in ((good, True), (bad, False)):
        status, out, err = run_cli("why-not", "--children", children, "--households", households, "--as-of",
                                   AS_OF.isoformat(), "--child", child_id, "--household", household_id,
                                   "--format", "json")
        assert status == 0, err
        answer = json.loads(out)
        assert WHY_NOT_KEYS <= set(answer)
        assert isinstance(answer["unit_id"], str) and answer["household_id"] == household_id
        assert child_id in answer["child_ids"] and all(isinstance(c, str) for c in answer["child_ids"])
        assert answer["eligible"] is expect_eligible
        assert (answer["score"] is None) == (not answer["eligible"])
        assert (answer["violations"] == []) == answer["eligible"]
        if expect_eligible:
            assert isinstance(answer["score"], float) and 0 <= answer["score"] <= 100
        for v in answer["violations"]:
            assert set(v) == VIOLATION_KEYS
            assert isinstance(v["rule"], int) and 1 <= v["rule"] <= 8
            assert v["child_id"] is None or v["child_id"] in answer["child_ids"]
            assert isinstance(v["message"], str) and v["message"]
        if not expect_eligible:
            assert {v["rule"] for v in answer["violations"]} >= {1}


WHY_NOT_EXTENSION = {"factors", "reasons", "reason_details", "fee", "weight"}  # reason_details: issue 9


def test_why_not_json_has_the_contract_keys_and_only_the_documented_extension(tmp_path, run_cli):
    """CONTRACT.md spells out why-not's JSON; an eligible pair adds its
    factors, reasons, reason_details, fee and weight (the README documents the extension),
    an ineligible one adds nothing."""
    children, households = write_region(tmp_path, seed=3, n_children=30, n_households=40)
    world = region_from_files(str(children), str(households), AS_OF)
    u, h = eligible_pairs(world, workers=1)
    pairs = [
        (world.children_of(int(u[0]))["child_id"][0], str(world.household_arrays.household_ids[h[0]])),
        (_first(world.children, "child_id", pl.col("status") != "waiting"),
         _first(world.households, "household_id", pl.col("status") != "approved")),
    ]
    for child_id, household_id in pairs:
        status, out, err = run_cli("why-not", "--children", children, "--households", households, "--as-of",
                                   AS_OF.isoformat(), "--child", child_id, "--household", household_id,
                                   "--format", "json")
        assert status == 0, err
        answer = json.loads(out)
        expected = WHY_NOT_KEYS | (WHY_NOT_EXTENSION if answer["eligible"] else set())
        assert set(answer) == expected
