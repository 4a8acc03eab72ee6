"""propose --candidates K: streamed pruning to each unit's and each
household's best K, its summary and bound, independent parts, and the
exact path's memory check."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.files.read import read_region
from matcher.options import make_request
from matcher.proposals import candidates as cand
from matcher.proposals.parts import components, max_weight_matching_in_parts
from matcher.proposals.propose import candidate_links, propose
from matcher.proposals.report import proposal_summary
from matcher.proposals.checks import check_validity
from matcher.region import Region
from matcher.scoring.queries import all_scores
from solvers import max_weight_matching
from tests.conftest import AS_OF, write_region


def _region(folder: Path, seed: int, n_children: int, n_households: int) -> Region:
    children, households = write_region(folder, seed=seed, n_children=n_children, n_households=n_households)
    return Region.build(read_region(children, households, as_of=AS_OF), AS_OF)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Region:
    return _region(tmp_path_factory.mktemp("candidates"), 5, 120, 90)


def _max_degree(region: Region) -> int:
    scores = all_scores(region, make_request().weights)
    if len(scores.units) == 0:
        return 1
    return int(max(np.bincount(scores.units).max(), np.bincount(scores.households).max()))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), n_children=st.integers(5, 40), n_households=st.integers(5, 40))
def test_k_at_least_every_degree_gives_the_exact_proposal(tmp_path_factory, seed, n_children, n_households):
    region = _region(tmp_path_factory.mktemp("k"), seed, n_children, n_households)
    k = min(1000, _max_degree(region))
    exact = propose(region, make_request())
    pruned = propose(region, make_request(candidates=k))
    assert pruned.candidates.pruning.complete
    assert pruned.candidates.pruning.arcs_kept == len(exact.candidates.units)
    assert pruned.objective == exact.objective
    assert pruned.links.equals(exact.links)


def _top_k(group, other_rank, value, k):
    """(group, other) pairs of each group's best k by value, ties by rank."""
    order = np.lexsort((other_rank, -value, group))
    return order[cand.first_k_of_runs(group[order], k)]


@pytest.mark.parametrize("k", [1, 2, 5])
def test_kept_arcs_are_exactly_the_union_of_both_top_k(world, k, monkeypatch):
    monkeypatch.setattr(cand, "PRICE_PAIRS_LIMIT", 0)  # no pricing round: the union alone
    request = make_request(candidates=k, min_score=55)
    full, keep = candidate_links(world, make_request(min_score=55))
    n_h = len(world.household_arrays)
    value = cand.arc_value(full.weight, keep)
    unit_rank = cand.id_rank(world.unit_arrays.unit_ids)
    household_rank = cand.id_rank(world.household_arrays.household_ids)
    by_unit = _top_k(full.units, household_rank[full.households], value, k)
    by_household = _top_k(full.households, unit_rank[full.units], value, k)
    expected = set((full.units[np.union1d(by_unit, by_household)] * n_h
                    + full.households[np.union1d(by_unit, by_household)]).tolist())
    pruned, pruned_keep = cand.pruned_links(world, request)
    got = set((pruned.units * n_h + pruned.households).tolist())
    assert got == expected
    assert pruned.pruning.arcs_kept == len(got) == pruned.pruning.union_arcs < len(full.units)
    assert pruned.pruning.priced is None
    assert pruned.pruning.eligible_pairs == len(full.units)
    # The kept arcs carry the same scores and the same proposable mask.
    at = np.searchsorted(full.units * n_h + full.households, pruned.units * n_h + pruned.households)
    assert np.array_equal(full.weight[at], pruned.weight)
    assert np.array_equal(keep[at], pruned_keep)


def test_the_household_pool_compacts_to_the_same_arcs(world, monkeypatch):
    """Small blocks and a tiny pool limit (compaction after every block)
    keep exactly what one big block keeps."""
    request = make_request(candidates=3)
    monkeypatch.setattr(cand, "PRICE_PAIRS_LIMIT", 0)
    one, _ = cand.pruned_links(world, request)
    monkeypatch.setattr(cand, "BLOCK_PAIRS", len(world.household_arrays) * 2)
    original = cand._HouseholdPool.__init__

    def tiny(self, *args):
        original(self, *args)
        self.limit = 10

    monkeypatch.setattr(cand._HouseholdPool, "__init__", tiny)
    many, _ = cand.pruned_links(world, request, workers=1)
    assert np.array_equal(one.units, many.units) and np.array_equal(one.households, many.households)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 40), st.booleans()), max_size=80),
       st.integers(1, 6), st.booleans())
def test_best_k_of_groups_is_the_full_sort_s_first_k(arcs, k, lexsort):
    group = np.array([g for g, _, _ in arcs], dtype=np.int64)
    weight = np.array([w for _, w, _ in arcs], dtype=np.int64)
    value = cand.arc_value(weight, np.array([p for _, _, p in arcs], dtype=bool))
    tie = np.random.default_rng(len(arcs)).permutation(len(arcs)).astype(np.int64) * (2**55 if lexsort else 1)
    order = np.lexsort((tie, -value, group))
    expected = order[cand.first_k_of_runs(group[order], k)]
    assert np.array_equal(cand.best_k_of_groups(group, value, tie, k), expected)


def test_bound_is_an_upper_bound_and_the_summary_states_the_pruning(world):
    exact = propose(world, make_request())
    pruned = propose(world, make_request(candidates=2))
    pruning = pruned.candidates.pruning
    assert not pruning.complete
    assert pruned.objective <= exact.objective <= pruning.bound
    assert pruning.bound <= min(pruning.unit_bound, pruning.household_bound)
    assert check_validity(pruned, world) == []
    text = proposal_summary(world, pruned)
    assert "Candidates (candidates 2)" in text
    assert f"{pruning.arcs_kept:,} arcs kept of {pruning.eligible_pairs:,} eligible pairs" in text
    assert f"Upper bound on the optimum over every eligible pair: {pruning.bound:,}" in text
    assert "Candidates" not in proposal_summary(world, exact)


def test_fixed_links_are_kept_and_budgets_apply_to_the_pruned_arcs(world):
    exact = propose(world, make_request())
    scores = exact.candidates
    i = int(np.argmin(scores.weight))  # surely not in a top 1
    fix = f"{world.unit_arrays.unit_ids[scores.units[i]]}={world.household_arrays.household_ids[scores.households[i]]}"
    pruned = propose(world, make_request(candidates=1, fixed=[fix]))
    assert fix in {f"{u}={h}" for u, h in pruned.links.select("unit_id", "household_id").iter_rows()}
    assert check_validity(pruned, world) == []
    budgets = [f"{a}=30000" for a in world.agencies if a.startswith("LA")]
    capped = propose(world, make_request(candidates=3, budgets=budgets, time_limit_s=30))
    assert check_validity(capped, world) == []


def _distinct_arcs(arcs):
    """Drawn (row, column, weight) arcs, the first weight of each (row,
    column) kept: the dict of them, and rows, columns and weights as arrays."""
    seen = {}
    for r, c, w in arcs:
        seen.setdefault((r, c), w)
    rows = np.array([r for r, _ in seen], dtype=np.int64)
    cols = np.array([c for _, c in seen], dtype=np.int64)
    return seen, rows, cols, np.array(list(seen.values()), dtype=np.int64)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 11), st.integers(0, 9), st.integers(-3, 40)), max_size=40))
def test_parts_give_the_same_objective_as_one_solve(arcs):
    seen, rows, cols, weights = _distinct_arcs(arcs)
    whole = max_weight_matching(rows, cols, weights, n_rows=12, n_cols=10)
    parts = max_weight_matching_in_parts(rows, cols, weights, n_rows=12, n_cols=10)
    assert parts.objective == whole.objective
    # A matching: each row and column at most once, on given arcs.
    assert len(set(parts.pairs[:, 0].tolist())) == len(parts.pairs) == len(set(parts.pairs[:, 1].tolist()))
    assert set(map(tuple, parts.pairs.tolist())) <= set(seen)
    assert sum(seen[tuple(p)] for p in parts.pairs.tolist()) == parts.objective


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 7), st.integers(0, 6), st.integers(0, 30)), max_size=30))
def test_dual_bound_bounds_the_optimum_and_each_sum(arcs):
    seen, rows, cols, weights = _distinct_arcs(arcs)
    best_u, best_h = np.zeros(8, np.int64), np.zeros(7, np.int64)
    np.maximum.at(best_u, rows, weights)
    np.maximum.at(best_h, cols, weights)
    optimum = max_weight_matching(rows, cols, weights, n_rows=8, n_cols=7).objective
    bound = cand.dual_bound(best_u, best_h)
    assert optimum <= bound <= min(best_u.sum(), best_h.sum())
    # It is the minimum over c of the family (checked on every whole c).
    assert bound == min(np.maximum(best_u - c, 0).sum() + np.minimum(c, best_h).sum() for c in range(0, 32))


def test_components_split_disconnected_arcs():
    n, part = components(np.array([0, 1, 2, 3]), np.array([0, 0, 5, 6]), 4, 7)
    assert n == 3 and part.tolist() == [0, 0, 1, 2]


def test_proposal_says_it_was_solved_in_parts(world):
    proposal = propose(world, make_request(candidates=1))
    n_parts, _ = components(proposal.candidates.units, proposal.candidates.households,
                            len(world.unit_arrays), len(world.household_arrays))
    if n_parts > 1:
        assert "independent parts" in proposal.method


def test_cli_candidates_writes_the_pruning_in_the_summary(tmp_path, run_cli):
    children, households = write_region(tmp_path, seed=5, n_children=120, n_households=90)
    out = tmp_path / "links.csv"
    status, _, err = run_cli("propose", "--children", children, "--households", households, "--as-of", "2026-06-30",
                             "--out", out, "--candidates", "2")
    assert status == 0, err
    summary = (tmp_path / "links.csv.summary.txt").read_text() if (tmp_path / "links.csv.summary.txt").exists() \
        else next(tmp_path.glob("links*.summary.txt")).read_text()
    assert "Candidates (--candidates 2)" in summary
    assert "arcs kept of" in summary and "--candidates 2" in summary.split("options:")[-1]


@pytest.mark.parametrize("value", ["0", "-1", "2.5", "1001", "ten"])
def test_bad_candidates_exit_2_naming_the_option(tmp_path, run_cli, value):
    children, households = write_region(tmp_path)
    out = tmp_path / "links.csv"
    status, _, err = run_cli("propose", "--children", children, "--households", households, "--out", out,
                             "--candidates", value)
    assert status == 2
    assert "--candidates" in err
    assert not out.exists()


def test_exact_path_refuses_up_front_when_memory_is_short(tmp_path, run_cli, monkeypatch):
    children, households = write_region(tmp_path)
    out = tmp_path / "links.csv"
    monkeypatch.setenv("MATCHER_MEMORY_LIMIT_BYTES", str(50 * 2**20))
    status, _, err = run_cli("propose", "--children", children, "--households", households, "--out", out)
    assert status == 2
    assert "--candidates 50" in err and "GiB" in err and "eligible pairs" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["children.csv", "households.csv"]
    # The pruned path does not need the full table: the same limit lets it run.
    status, _, err = run_cli("propose", "--children", children, "--households", households, "--out", out,
                             "--candidates", "5")
    assert status == 0, err
    monkeypatch.setenv("MATCHER_MEMORY_LIMIT_BYTES", str(64 * 2**30))
    status, _, err = run_cli("propose", "--children", children, "--households", households, "--out", tmp_path / "b.csv")
    assert status == 0, err


def test_the_pair_estimate_is_exact_on_small_regions_and_close_on_samples(world):
    from matcher.proposals import memory

    pairs = len(all_scores(world, make_request().weights).units)
    assert memory.estimate_pairs(world) == pairs
    assert abs(memory.estimate_pairs(world, sample=40) - pairs) <= 0.5 * pairs


class _Recorder:
    """A progress callback with stages, recording what it is told."""

    def __init__(self):
        self.stages, self.done = [], {}

    def stage(self, label, total):
        self.stages.append((label, total))
        self.done[label] = 0

    def __call__(self, n):
        self.done[self.stages[-1][0]] += n


def test_progress_has_a_stage_for_scoring_and_for_the_kept_arcs(world):
    progress = _Recorder()
    propose(world, make_request(candidates=2), progress=progress)
    labels = [label for label, _ in progress.stages]
    assert labels[0] == "scoring units, keeping the best 2"
    assert progress.done[labels[0]] == len(world.waiting_unit_rows) == progress.stages[0][1]
    assert labels[1].startswith("scoring the ") and labels[1].endswith(" kept arcs")
    assert any(re.fullmatch(r"solving [\d,]+ parts?", label) for label in labels[2:])


def test_the_cli_progress_bars_stage_on_stderr_only_on_a_terminal(monkeypatch, capsys):
    import sys

    from matcher.cli import render

    assert render.staged_progress_printer(10, "scoring units") == (None, None)  # not a terminal under pytest
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    progress, stop = render.staged_progress_printer(10, "scoring units")
    progress.stage("first", 3)
    progress(3)
    progress.stage("second", 2)
    progress(2)
    stop()
    tasks = progress.bar.tasks
    assert [t.description for t in tasks] == ["first", "second"]  # the unused first guess is removed
    assert [t.completed for t in tasks] == [3, 2]
    assert capsys.readouterr().out == ""


def test_store_mode_takes_candidates_and_records_them_in_the_manifest(tmp_path, run_cli):
    import json

    children, households = write_region(tmp_path)
    db = tmp_path / "register.sqlite3"
    assert run_cli("db", "init", "--db", db)[0] == 0
    assert run_cli("import", "--db", db, "--children", children, "--households", households)[0] == 0
    out = tmp_path / "links.csv"
    status, summary, err = run_cli("propose", "--db", db, "--as-of", "2026-06-30", "--out", out, "--candidates", "3")
    assert status == 0, err
    assert "Candidates (--candidates 3)" in summary
    manifest = json.loads(next(tmp_path.glob("links*.manifest.json")).read_text())
    assert '"candidates": 3' in json.dumps(manifest)


def test_the_pricing_round_adds_arcs_beyond_the_union_and_never_loses_weight(world, monkeypatch):
    exact = propose(world, make_request())
    priced = propose(world, make_request(candidates=1))
    monkeypatch.setattr(cand, "PRICE_PAIRS_LIMIT", 0)
    union = propose(world, make_request(candidates=1))
    p, q = priced.candidates.pruning, union.candidates.pruning
    assert q.priced is None and p.priced > 0
    assert p.arcs_kept == p.union_arcs + p.priced and p.union_arcs == q.arcs_kept
    assert union.objective <= priced.objective <= exact.objective <= p.bound <= q.bound
    assert check_validity(priced, world) == []
    assert "added by one pricing round" in proposal_summary(world, priced)
    assert "No pricing round" in proposal_summary(world, union)


def test_stdout_holds_the_summary_only_when_the_pricing_round_runs_highs(tmp_path):
    """HiGHS greets on standard output when a process makes its first
    solver; the pricing round points that at standard error."""
    import subprocess
    import sys

    children, households = write_region(tmp_path, seed=5, n_children=120, n_households=90)
    done = subprocess.run([sys.executable, "-c", "import sys; from matcher.cli import main; sys.exit(main())",
                           "propose", "--children", str(children),
                           "--households", str(households), "--as-of", "2026-06-30",
                           "--out", str(tmp_path / "links.csv"), "--candidates", "1"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Batch proposal"), done.stdout[:200]
    assert "added by one pricing round" in done.stdout
