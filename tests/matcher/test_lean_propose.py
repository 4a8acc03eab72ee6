"""Issue 12, memory: ``propose`` keeps a lean pair table and scores only the
chosen pairs in full; sibling contact goes to the solver aggregated. The
outputs are those of the full-scores path: same links, same summary, same
optimum as the pairwise sibling conflicts."""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest

import matcher.scoring.lean as lean_module
from matcher.files.read import read_region
from matcher.options import make_request
from matcher.proposals import propose as propose_module
from matcher.proposals.checks import check_validity
from matcher.proposals.propose import LINK_SCHEMA, _sibling_conflicts, link_reasons, propose
from matcher.proposals.report import proposal_summary
from matcher.region import Region
from matcher.scoring.lean import BYTES_PER_PAIR, lean_of, lean_scores
from matcher.scoring.queries import all_scores
from matcher.scoring.weights import Weights
from solvers import SolverConfig, constrained_assignment
from tests.conftest import AS_OF, write_region


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Region:
    folder = tmp_path_factory.mktemp("lean")
    children, households = write_region(folder, seed=6, n_children=200, n_households=300)
    return Region.build(read_region(children, households, as_of=AS_OF), AS_OF)


@pytest.mark.parametrize("workers, block", [(1, 10_000_000), (2, 900), (1, 1)])
def test_lean_scores_are_the_full_scores(world, monkeypatch, workers, block):
    # Small blocks: many of them, in threads, one unit a block at the least.
    monkeypatch.setattr(lean_module, "BLOCK_PAIRS", block)
    full = all_scores(world, Weights(), workers=1)
    lean = lean_scores(world, Weights(), workers=workers)
    assert len(lean) == len(full.units) > 1000
    assert np.array_equal(lean.units, full.units) and np.array_equal(lean.households, full.households)
    assert np.array_equal(lean.weight, full.weight) and np.array_equal(lean.fee, full.fee)
    assert np.array_equal(lean.score, full.score)  # bit for bit
    assert lean.nbytes == BYTES_PER_PAIR * len(lean) == 32 * len(lean)
    again = lean.full(world, Weights(), np.arange(0, len(lean), 7))
    assert np.array_equal(again.points, full.points[::7]) and np.array_equal(again.distance_km, full.distance_km[::7])


def reference_links(world: Region, request, chosen: np.ndarray) -> pl.DataFrame:
    """The links as the full-scores path built them: every pair scored in
    full, the chosen ones taken from that table."""
    scores = all_scores(world, request.weights, workers=1)
    u, h = scores.units[chosen], scores.households[chosen]
    children = world.units.select("unit_id", pl.col("child_ids").list.join(";"))
    links = pl.DataFrame({
        "unit_id": world.unit_arrays.unit_ids[u].astype(str).tolist(),
        "household_id": world.household_arrays.household_ids[h].astype(str).tolist(),
        "score": scores.score[chosen].astype(np.float64),
        "weight": scores.weight[chosen].astype(np.int64),
        "fee": scores.fee[chosen].astype(np.int64),
        "child_agency_id": world.units["agency_id"].to_numpy()[u].astype(str).tolist(),
        "household_agency_id": world.households["agency_id"].to_numpy()[h].astype(str).tolist(),
        "distance_km": scores.distance_km[chosen].astype(np.float64).round(2),
        "reasons": link_reasons(world, request, scores, chosen),
    }, schema={k: v for k, v in LINK_SCHEMA.items() if k != "child_ids"}).join(children, on="unit_id", how="left")
    return links.select(list(LINK_SCHEMA)).cast(LINK_SCHEMA).sort("unit_id")


def chosen_positions(world: Region, proposal) -> np.ndarray:
    units = [world.unit_row_of_id[u] for u in proposal.links["unit_id"].to_list()]
    households = [world.household_row_of_id[h] for h in proposal.links["household_id"].to_list()]
    return np.sort(propose_module.pair_positions(world, proposal.candidates, units, households))


@pytest.mark.parametrize("options", [
    {}, {"min_score": 55.0}, {"budgets": ["LA01=20000"], "time_limit_s": 20}, {"sibling_contact_km": 20.0},
])
def test_links_and_summary_are_those_of_the_full_scores(world, options):
    request = make_request(**options)
    proposal = propose(world, request)
    assert proposal.links.height > 20
    chosen = chosen_positions(world, proposal)
    assert np.all(chosen >= 0)
    expected = reference_links(world, request, chosen)
    assert proposal.links.equals(expected)
    # The summary from the lean table is the one from the full table.
    full = all_scores(world, request.weights, workers=1)
    with_full = dataclasses.replace(proposal, candidates=full)
    assert proposal_summary(world, proposal) == proposal_summary(world, with_full)
    assert check_validity(proposal, world) == []


def test_sibling_contact_has_the_optimum_of_the_pairwise_conflicts(world):
    """The aggregated model against the pairwise conflicts of
    ``_sibling_conflicts`` (the old formulation, kept as the reference),
    given to the solver directly."""
    km = 20.0
    request = make_request(sibling_contact_km=km, time_limit_s=30)
    proposal = propose(world, request)
    scores, keep = propose_module.candidate_links(world, request)
    arcs = np.flatnonzero(keep)
    conflicts = _sibling_conflicts(world, scores, arcs, km)
    assert len(conflicts) > 100  # the constraint has something to say here
    plain = propose(world, make_request())
    reference = constrained_assignment(scores.units[arcs], scores.households[arcs], scores.weight[arcs],
                                       n_rows=len(world.unit_arrays), n_cols=len(world.household_arrays),
                                       conflicts=conflicts, config=SolverConfig(relative_gap=0.0, time_limit_s=30))
    assert proposal.status == reference.status == "optimal"
    assert proposal.objective == reference.objective
    assert proposal.objective < plain.objective  # it binds on this region
    assert check_validity(proposal, world) == []


def test_sibling_contact_with_reduced_cost_fixing_keeps_the_optimum(world, monkeypatch):
    import solvers.constrained as constrained

    request = make_request(sibling_contact_km=20.0, time_limit_s=30)
    whole = propose(world, request)
    monkeypatch.setattr(constrained, "REDUCE_FROM_ARCS", 0)
    reduced = propose(world, request)
    assert reduced.status == whole.status == "optimal"
    assert reduced.objective == whole.objective
    assert check_validity(reduced, world) == []


def test_checks_still_find_siblings_placed_too_far_apart(world):
    """check_validity does not trust the solver: siblings moved apart in a
    proposal's links are caught by its own distance test."""
    request = make_request(sibling_contact_km=20.0, time_limit_s=30)
    proposal = propose(world, request)
    assert check_validity(proposal, world) == []
    plain = propose(world, make_request())
    # The unconstrained proposal puts some siblings too far apart: checked
    # against the sibling-contact request, it is refused, naming them.
    broken = dataclasses.replace(plain, request=request)
    problems = [p for p in check_validity(broken, world) if "sibling_contact_km" in p]
    assert problems and all("km apart" in p for p in problems)


def test_a_proposal_built_from_full_scores_is_the_same(world):
    """_proposal still takes a full PairScores (callers that score every
    pair themselves): the same links as from the lean table."""
    request = make_request()
    proposal = propose(world, request)
    chosen = chosen_positions(world, proposal)
    full = all_scores(world, request.weights, workers=1)
    again = propose_module._proposal(world, request, full, chosen, proposal.status, proposal.objective,
                                     proposal.bound, proposal.gap, proposal.method, proposal.wall_time_s)
    assert again.links.equals(proposal.links)
    lean = lean_of(full)
    assert np.array_equal(lean.score, full.score) and np.array_equal(lean.fee, full.fee)
