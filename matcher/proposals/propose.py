"""Batch proposals: which links to explore before an exchange day or a
matching meeting.

Units x households over the eligible pairs, maximising the total link
``weight`` (see :mod:`matcher.scorer`), each household at most one unit
(rule 8) and each unit at most one household. A together sibling group is
one unit, so it is proposed whole or not at all (rule 7). Without side
constraints the exact max-weight matching is used; fixed links are placed
first and the rest solved exactly; budgets and sibling contact need CP-SAT
(warm-started from the exact solution). ``--shortlist K`` gives up to K
households per unit and K units per household (an exact b-matching).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from solvers import SolverConfig, b_matching, constrained_assignment, max_weight_matching

from matcher.errors import InputError, Problem
from matcher.scoring.queries import all_scores
from matcher.scoring.scorer import PairScores
from matcher.region import World


@dataclass(frozen=True)
class ProposalRequest:
    """What the family finder asked for. Ids are unit and household ids."""

    budgets: dict[str, int] = field(default_factory=dict)
    min_score: float | None = None
    fixed: tuple[tuple[str, str], ...] = ()
    excluded: tuple[tuple[str, str], ...] = ()
    sibling_contact_km: float | None = None
    shortlist: int | None = None
    config: SolverConfig = field(default_factory=SolverConfig)


@dataclass(frozen=True)
class Proposal:
    """A proposal and how it was reached.

    ``links`` has one row per proposed link: ``unit_id, child_ids,
    household_id, score, weight, fee`` (and ``rank`` within the unit for a
    shortlist), sorted by unit then rank.
    """

    request: ProposalRequest
    links: pl.DataFrame
    status: str
    objective: float
    bound: float
    gap: float
    method: str
    wall_time_s: float
    candidates: PairScores = field(repr=False)


def _pair_list(pairs, option: str) -> tuple[tuple[str, str], ...]:
    out = []
    for text in pairs:
        unit, sep, household = text.partition("=")
        if not sep or not unit or not household:
            raise InputError(Problem("command line", None, option, text, "UNIT=HOUSEHOLD"))
        out.append((unit.strip(), household.strip()))
    return tuple(out)


def parse_budgets(values) -> dict[str, int]:
    """``AGENCY=AMOUNT`` strings to a dict; input errors for bad ones."""
    budgets: dict[str, int] = {}
    for text in values:
        agency, sep, amount = text.partition("=")
        amount = amount.strip().lstrip("£")
        # Whole pounds, optionally with thousands separators: 100000 or 100,000.
        value = int(amount.replace(",", "")) if re.fullmatch(r"\d+|\d{1,3}(,\d{3})+", amount) else -1
        agency = agency.strip()
        if not sep or not agency or value < 0:
            raise InputError(Problem("command line", None, "--budget", text, "AGENCY=AMOUNT, a whole amount >= 0"))
        if agency in budgets:
            raise InputError(Problem("command line", None, "--budget", text, "one budget per agency"))
        budgets[agency] = value
    return budgets


def make_request(budgets=(), min_score=None, fixed=(), excluded=(), sibling_contact_km=None, shortlist=None,
                 time_limit_s=60.0, workers=1, seed=0) -> ProposalRequest:
    """Build a request from command-line values, checking their form."""
    if shortlist is not None and shortlist < 1:
        raise InputError(Problem("command line", None, "--shortlist", str(shortlist), "a whole number >= 1"))
    if min_score is not None and not 0 <= min_score <= 100:
        raise InputError(Problem("command line", None, "--min-score", str(min_score), "a score from 0 to 100"))
    if sibling_contact_km is not None and sibling_contact_km < 0:
        raise InputError(Problem("command line", None, "--sibling-contact-km", str(sibling_contact_km),
                                 "a distance >= 0"))
    if shortlist is not None and (budgets or fixed or sibling_contact_km is not None):
        raise InputError(Problem("command line", None, "--shortlist", str(shortlist),
                                 "no --budget, --fix or --sibling-contact-km with a shortlist (a shortlist lists "
                                 "alternatives; budgets and fixed links apply to one proposal)"))
    if time_limit_s <= 0:
        raise InputError(Problem("command line", None, "--time-limit", str(time_limit_s), "seconds > 0"))
    return ProposalRequest(parse_budgets(budgets), min_score, _pair_list(fixed, "--fix"),
                           _pair_list(excluded, "--exclude"), sibling_contact_km, shortlist,
                           SolverConfig(time_limit_s=time_limit_s, workers=max(1, workers), seed=seed))


def _resolve_pairs(world: World, pairs, option: str) -> list[tuple[int, int]]:
    problems, out = [], []
    for unit, household in pairs:
        u = world.unit_row_of_id.get(unit)
        h = world.household_row_of_id.get(household)
        if u is None:
            holder = world.unit_row_of_child.get(unit)
            hint = f"; {unit} is a child in unit {world.unit_arrays.unit_ids[holder]}" \
                if holder is not None else ""
            problems.append(Problem("command line", None, option, f"{unit}={household}",
                                    f"a known unit id; there is no unit {unit!r}{hint}"))
        if h is None:
            problems.append(Problem("command line", None, option, f"{unit}={household}",
                                    f"a known household id; there is no household {household!r}"))
        if u is not None and h is not None:
            out.append((u, h))
    if problems:
        raise InputError(problems)
    return out


def pair_positions(world: World, scores: PairScores, units, households) -> np.ndarray:
    """Index in ``scores`` of each (unit row, household row) pair, or -1
    where the pair is not among the scored (eligible) pairs."""
    n_h = len(world.household_arrays)
    wanted = np.asarray(units, dtype=np.int64) * n_h + np.asarray(households, dtype=np.int64)
    if len(scores.units) == 0:
        return np.full(len(wanted), -1, dtype=np.int64)
    key = scores.units * n_h + scores.households
    order = np.argsort(key, kind="stable")  # already sorted in practice: cheap
    found = order[np.minimum(np.searchsorted(key, wanted, sorter=order), len(key) - 1)]
    return np.where(key[found] == wanted, found, -1)


def candidate_links(world: World, request: ProposalRequest, progress=None) -> tuple[PairScores, np.ndarray]:
    """Scores of every eligible pair, and the mask of those the request
    keeps (not excluded, at or above the minimum score)."""
    scores = all_scores(world, progress=progress)
    keep = np.ones(len(scores.score), dtype=bool)
    if request.min_score is not None:
        keep &= scores.score >= request.min_score
    excluded = _resolve_pairs(world, request.excluded, "--exclude")
    if excluded:
        at = pair_positions(world, scores, [u for u, _ in excluded], [h for _, h in excluded])
        keep[at[at >= 0]] = False
    return scores, keep


def _fixed_arcs(world: World, request: ProposalRequest, scores: PairScores, keep: np.ndarray) -> np.ndarray:
    from matcher.scoring.queries import violations

    fixed = _resolve_pairs(world, request.fixed, "--fix")
    positions = pair_positions(world, scores, [u for u, _ in fixed], [h for _, h in fixed])
    arcs, problems = [], []
    seen_u, seen_h = set(), set()
    for (u, h), at in zip(fixed, positions.tolist()):
        text = f"{world.unit_arrays.unit_ids[u]}={world.household_arrays.household_ids[h]}"
        if u in seen_u or h in seen_h:
            problems.append(Problem("command line", None, "--fix", text, "each unit and household fixed once"))
            continue
        seen_u.add(u)
        seen_h.add(h)
        if at < 0:
            broken = violations(world, u, h)
            why = "; ".join(f"rule {v.rule}: {v.message}" for v in broken) or "the unit is not waiting"
            problems.append(Problem("command line", None, "--fix", text, f"an eligible pair ({why})"))
        elif not keep[at]:
            problems.append(Problem("command line", None, "--fix", text,
                                    "a pair that is not also excluded or below --min-score"))
        else:
            arcs.append(at)
    if problems:
        raise InputError(problems)
    return np.array(sorted(arcs), dtype=np.int64)


def _sibling_conflicts(world: World, scores: PairScores, arcs: np.ndarray, km: float) -> np.ndarray:
    """Pairs of arcs (indices into ``arcs``) that would put siblings whose
    plan is ``apart`` with households more than ``km`` apart."""
    from features.geo import further_than

    units = world.units
    apart = units.filter(pl.col("sibling_group_id").is_not_null() & (pl.col("size") == 1))
    groups = apart.group_by("sibling_group_id").agg(pl.col("unit_id")).filter(pl.col("unit_id").list.len() > 1)
    if groups.height == 0:
        return np.empty((0, 2), dtype=np.int64)
    unit_of_arc = scores.units[arcs]
    by_unit: dict[int, np.ndarray] = {}
    order = np.argsort(unit_of_arc, kind="stable")
    starts = np.searchsorted(unit_of_arc[order], np.arange(len(world.unit_arrays) + 1))
    xyz = world.household_arrays.xyz
    out = []
    for members in groups.sort("sibling_group_id")["unit_id"].to_list():
        rows = sorted(world.unit_row_of_id[m] for m in members)
        for row in rows:
            by_unit[row] = order[starts[row]:starts[row + 1]]
        for i, a in enumerate(rows):
            for b in rows[i + 1:]:
                left, right = by_unit[a], by_unit[b]
                if len(left) == 0 or len(right) == 0:
                    continue
                li, ri = np.nonzero(further_than(xyz[scores.households[arcs[left]]],
                                                 xyz[scores.households[arcs[right]]], km))
                out.append(np.stack([left[li], right[ri]], axis=1))
    return np.concatenate(out).astype(np.int64) if out else np.empty((0, 2), dtype=np.int64)


def propose(world: World, request: ProposalRequest, progress=None) -> Proposal:
    """Solve the request on the world; the result is checked by the caller
    with :func:`matcher.validity.check_validity` before anything is written."""
    scores, keep = candidate_links(world, request, progress)
    fixed = _fixed_arcs(world, request, scores, keep)
    unknown = sorted(set(request.budgets) - set(world.agencies))
    if unknown:
        raise InputError([Problem("command line", None, "--budget", a, "an agency_id that appears in the files")
                          for a in unknown])
    arcs = np.flatnonzero(keep)
    rows, cols = scores.units[arcs], scores.households[arcs]
    weights = scores.weight[arcs]
    n_rows, n_cols = len(world.unit_arrays), len(world.household_arrays)

    if request.shortlist is not None:
        k = request.shortlist
        result = b_matching(rows, cols, weights, row_capacity=np.full(n_rows, k), col_capacity=np.full(n_cols, k),
                            n_rows=n_rows, n_cols=n_cols, config=request.config)
        chosen = pair_positions(world, scores, result.pairs[:, 0], result.pairs[:, 1])
        return _proposal(world, request, scores, chosen, result.status, result.objective, result.objective, 0.0,
                         f"exact b-matching ({result.backend})", result.wall_time_s)

    fixed_local = np.searchsorted(arcs, fixed)
    side = bool(request.budgets) or request.sibling_contact_km is not None
    if not side:
        # Fixed links first, then the rest exactly: still the optimum given them.
        free = np.ones(len(arcs), dtype=bool)
        if len(fixed_local):
            free &= ~np.isin(rows, rows[fixed_local]) & ~np.isin(cols, cols[fixed_local])
        result = max_weight_matching(rows[free], cols[free], weights[free], n_rows=n_rows, n_cols=n_cols,
                                     config=request.config)
        chosen = np.concatenate([pair_positions(world, scores, result.pairs[:, 0], result.pairs[:, 1]),
                                 arcs[fixed_local]])
        objective = int(scores.weight[chosen].sum())
        return _proposal(world, request, scores, np.sort(chosen), "optimal", objective, objective, 0.0,
                         f"exact max-weight matching ({result.backend})", result.wall_time_s)

    fees = scores.fee[arcs]
    agency_of_unit = world.units["agency_id"].to_numpy()
    budget_names = sorted(request.budgets)
    group_of_agency = {a: i for i, a in enumerate(budget_names)}
    fee_group = np.array([group_of_agency.get(a, -1) for a in agency_of_unit[rows]], dtype=np.int64) \
        if len(rows) else np.empty(0, dtype=np.int64)
    conflicts = None
    if request.sibling_contact_km is not None:
        conflicts = _sibling_conflicts(world, scores, arcs, request.sibling_contact_km)
    result = constrained_assignment(
        rows, cols, weights, n_rows=n_rows, n_cols=n_cols,
        fees=fees if budget_names else None, fee_group=fee_group if budget_names else None,
        budgets=np.array([request.budgets[a] for a in budget_names], dtype=np.int64) if budget_names else None,
        fixed=fixed_local if len(fixed_local) else None, conflicts=conflicts, config=request.config)
    chosen = arcs[result.arcs]
    return _proposal(world, request, scores, chosen, result.status, result.objective, result.bound, result.gap,
                     "CP-SAT with side constraints", result.wall_time_s)


def _proposal(world, request, scores, chosen, status, objective, bound, gap, method, wall) -> Proposal:
    chosen = np.asarray(chosen, dtype=np.int64)
    u, h = scores.units[chosen], scores.households[chosen]
    unit_ids = world.unit_arrays.unit_ids[u]
    children = world.units.select("unit_id", pl.col("child_ids").list.join(";"))
    links = pl.DataFrame({
        "unit_id": unit_ids.astype(str),
        "household_id": world.household_arrays.household_ids[h].astype(str),
        "score": scores.score[chosen],
        "weight": scores.weight[chosen],
        "fee": scores.fee[chosen],
    }, schema_overrides={"unit_id": pl.String, "household_id": pl.String}).join(children, on="unit_id", how="left")
    links = links.select("unit_id", "child_ids", "household_id", "score", "weight", "fee")
    if request.shortlist is not None:
        links = links.sort(["unit_id", "weight", "score", "household_id"], descending=[False, True, True, False])
        links = links.with_columns(pl.int_range(1, pl.len() + 1).over("unit_id").alias("rank"))
    else:
        links = links.sort("unit_id")
    return Proposal(request, links, status, float(objective), float(bound), float(gap), method, wall, scores)
