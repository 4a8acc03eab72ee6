"""Batch proposals: which links to explore before an exchange day or a
matching meeting.

Units x households over the eligible pairs, maximising the total link
``weight`` (see :mod:`matcher.scoring.scorer`), each household at most one unit
(rule 8) and each unit at most one household. A together sibling group is
one unit, so it is proposed whole or not at all (rule 7). Without side
constraints the exact max-weight matching is used; fixed links are placed
first and the rest solved exactly; budgets and sibling contact need CP-SAT
(warm-started from the exact solution). A shortlist of K gives up to K
households per unit and K units per household (an exact b-matching).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from solvers import Contact, b_matching, constrained_assignment, max_weight_matching

from matcher.errors import InputError, option_problem
from matcher.options import ProposalOptions
from matcher.scoring.lean import LeanPairs, lean_scores
from matcher.scoring.scorer import PairScores
from matcher.region import Region


@dataclass(frozen=True)
class Proposal:
    """A proposal and how it was reached.

    ``links`` has one row per proposed link: ``unit_id, child_ids,
    household_id, score, weight, fee`` (the contract's columns, in its
    order; then ``rank`` within the unit for a shortlist), then what a
    family finder needs to act on it: ``child_agency_id`` (the child's
    agency, whose budget pays the fee), ``household_agency_id``,
    ``distance_km`` and ``reasons`` (the first three of the pair's
    reasons, ``;``-joined); sorted by unit then rank. ``stopped`` says
    the solver's time limit ended the search before it proved optimality.
    """

    request: ProposalOptions
    links: pl.DataFrame
    status: str
    objective: float
    bound: float
    gap: float
    method: str
    wall_time_s: float
    candidates: LeanPairs = field(repr=False)
    """Every eligible pair, lean (unit, household, weight, fee, score):
    see :class:`~matcher.scoring.lean.LeanPairs`."""
    warnings: tuple[str, ...] = ()
    """What the proposal ignored and why (a budget for an agency with no
    waiting child), for the front end to show."""
    stopped: bool = False


def _resolve_pairs(region: Region, pairs, option: str) -> list[tuple[int, int]]:
    problems, out = [], []
    for unit, household in pairs:
        u = region.unit_row_of_id.get(unit)
        h = region.household_row_of_id.get(household)
        if u is None:
            holder = region.unit_row_of_child.get(unit)
            hint = f"; {unit} is a child in unit {region.unit_arrays.unit_ids[holder]}" \
                if holder is not None else ""
            problems.append(option_problem(option, f"{unit}={household}",
                                           f"a known unit id; there is no unit {unit!r}{hint}", code="unknown_id"))
        if h is None:
            problems.append(option_problem(option, f"{unit}={household}",
                                           f"a known household id; there is no household {household!r}",
                                           code="unknown_id"))
        if u is not None and h is not None:
            out.append((u, h))
    if problems:
        raise InputError(problems)
    return out


def pair_positions(region: Region, scores: PairScores, units, households) -> np.ndarray:
    """Index in ``scores`` of each (unit row, household row) pair, or -1
    where the pair is not among the scored (eligible) pairs."""
    n_h = len(region.household_arrays)
    wanted = np.asarray(units, dtype=np.int64) * n_h + np.asarray(households, dtype=np.int64)
    if len(scores.units) == 0 or len(wanted) == 0:
        return np.full(len(wanted), -1, dtype=np.int64)
    key = scores.units * n_h + scores.households
    # all_scores lists pairs unit by unit, households ascending: the keys
    # are then sorted already and a binary search needs no sort at all.
    if bool(np.all(key[1:] > key[:-1])):
        found = np.minimum(np.searchsorted(key, wanted), len(key) - 1)
    else:
        order = np.argsort(key, kind="stable")
        found = order[np.minimum(np.searchsorted(key, wanted, sorter=order), len(key) - 1)]
    return np.where(key[found] == wanted, found, -1)


def candidate_links(region: Region, request: ProposalOptions, progress=None,
                    excluded: list[tuple[int, int]] | None = None) -> tuple[LeanPairs, np.ndarray]:
    """Every eligible pair, lean (unit, household, weight, fee and score:
    :class:`~matcher.scoring.lean.LeanPairs`, 32 bytes a pair), and the
    mask of those the request keeps (not excluded, at or above the minimum
    score). ``excluded``: the request's excluded pairs already resolved to
    rows."""
    if excluded is None:
        excluded = _resolve_pairs(region, request.excluded, "excluded")
    scores = lean_scores(region, request.weights, progress=progress)
    if request.min_score is not None:
        keep = scores.score >= request.min_score
    else:
        keep = np.ones(len(scores), dtype=bool)
    if excluded:
        at = pair_positions(region, scores, [u for u, _ in excluded], [h for _, h in excluded])
        keep[at[at >= 0]] = False
    return scores, keep


def _score_at(scores: LeanPairs | PairScores, at: int) -> float:
    """The score of the pair at position ``at`` of either kind of table."""
    return float(scores.score_of(at) if isinstance(scores, LeanPairs) else scores.score[at])


def _fixed_arcs(region: Region, request: ProposalOptions, scores: LeanPairs, keep: np.ndarray,
                fixed: list[tuple[int, int]]) -> np.ndarray:
    from matcher.scoring.queries import violations

    positions = pair_positions(region, scores, [u for u, _ in fixed], [h for _, h in fixed])
    arcs, problems = [], []
    seen_u, seen_h = set(), set()
    for (u, h), at in zip(fixed, positions.tolist()):
        text = f"{region.unit_arrays.unit_ids[u]}={region.household_arrays.household_ids[h]}"
        if u in seen_u or h in seen_h:
            problems.append(option_problem("fixed", text, "each unit and household fixed once"))
            continue
        seen_u.add(u)
        seen_h.add(h)
        if at < 0:
            broken = violations(region, u, h)
            why = "; ".join(f"rule {v.rule}: {v.message}" for v in broken) or "the unit is not waiting"
            problems.append(option_problem("fixed", text, f"an eligible pair ({why})"))
        elif not keep[at]:
            below = request.min_score is not None and _score_at(scores, at) < request.min_score
            why = (f"scores {_score_at(scores, at):.1f}, below {{option:min_score}} {request.min_score:g}" if below
                   else "it is also given to {option:excluded}")
            problems.append(option_problem("fixed", text, f"a pair that can be proposed; {why}"))
        else:
            arcs.append(at)
    if problems:
        raise InputError(problems)
    return np.array(sorted(arcs), dtype=np.int64)


def _apart_sibling_rows(region: Region) -> list[list[int]]:
    """Unit rows of each sibling group placed apart (two or more units of
    one child), by group id."""
    units = region.units
    apart = units.filter(pl.col("sibling_group_id").is_not_null() & (pl.col("size") == 1))
    groups = apart.group_by("sibling_group_id").agg(pl.col("unit_id")).filter(pl.col("unit_id").list.len() > 1)
    return [sorted(region.unit_row_of_id[m] for m in members)
            for members in groups.sort("sibling_group_id")["unit_id"].to_list()]


def _sibling_contact(region: Region, km: float) -> Contact:
    """Siblings whose plan is ``apart`` go to households at most ``km``
    apart, as the solver's aggregated :class:`~solvers.Contact`: each pair
    of such siblings' unit rows, the households' unit vectors, and the dot
    product below which two households are more than ``km`` apart (the
    test of :func:`features.geo.further_than`, tolerance included). The
    same constraints as :func:`_sibling_conflicts` lists pair by pair."""
    from features.geo import DISTANCE_TOLERANCE_KM, chord_squared_of_km

    pairs = [(a, b) for rows in _apart_sibling_rows(region) for i, a in enumerate(rows) for b in rows[i + 1:]]
    limit = 1.0 - chord_squared_of_km(km + DISTANCE_TOLERANCE_KM) / 2.0
    return Contact(np.array(pairs, dtype=np.int64).reshape(-1, 2), region.household_arrays.xyz, float(limit))


def _sibling_conflicts(region: Region, scores: PairScores, arcs: np.ndarray, km: float) -> np.ndarray:
    """Pairs of arcs (indices into ``arcs``) that would put siblings whose
    plan is ``apart`` with households more than ``km`` apart.

    The pairwise form, kept as the reference for :func:`_sibling_contact`
    (what ``propose`` hands the solver): its size is the product of the
    siblings' eligible households, gigabytes on a large region."""
    from features.geo import further_than

    units = region.units
    apart = units.filter(pl.col("sibling_group_id").is_not_null() & (pl.col("size") == 1))
    groups = apart.group_by("sibling_group_id").agg(pl.col("unit_id")).filter(pl.col("unit_id").list.len() > 1)
    if groups.height == 0:
        return np.empty((0, 2), dtype=np.int64)
    unit_of_arc = scores.units[arcs]
    by_unit: dict[int, np.ndarray] = {}
    order = np.argsort(unit_of_arc, kind="stable")
    starts = np.searchsorted(unit_of_arc[order], np.arange(len(region.unit_arrays) + 1))
    xyz = region.household_arrays.xyz
    out = []
    for members in groups.sort("sibling_group_id")["unit_id"].to_list():
        rows = sorted(region.unit_row_of_id[m] for m in members)
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


def usable_budgets(region: Region, request: ProposalOptions) -> tuple[ProposalOptions, tuple[str, ...]]:
    """The request without budgets that cannot bind, and a warning naming
    each: a standing budget table may list every agency, including those
    with no waiting child (a group's fees are its first child's agency's)
    and those not in the files at all."""
    paying = set(region.units.filter(pl.col("waiting"))["agency_id"].to_list())
    ignored = sorted(set(request.budgets) - paying)
    if not ignored:
        return request, ()
    warnings = tuple(f"budget for agency {a} ignored: " + (
        "it has no waiting child whose fees it would pay" if a in region.agencies else "no child or household in the files belongs to it")
        for a in ignored)
    kept = {a: amount for a, amount in request.budgets.items() if a not in ignored}
    return dataclasses.replace(request, budgets=kept), warnings


def propose(region: Region, request: ProposalOptions, progress=None) -> Proposal:
    """Solve the request on the region; the result is checked by the caller
    with :func:`matcher.proposals.checks.check_validity` before anything is written.
    Budgets that cannot bind are left out (see :func:`usable_budgets`)."""
    request, warnings = usable_budgets(region, request)
    proposal = _solve(region, request, progress)
    return dataclasses.replace(proposal, warnings=warnings) if warnings else proposal


def _kept(scores: LeanPairs, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, columns and weights of the pairs in ``mask``: the lean table's
    own arrays (no copy) when the mask keeps every pair."""
    if bool(mask.all()):
        return scores.units, scores.households, scores.weight
    return scores.units[mask], scores.households[mask], scores.weight[mask]


def _solve(region: Region, request: ProposalOptions, progress=None) -> Proposal:
    # Unknown ids fail before the (long) scoring of every pair.
    excluded = _resolve_pairs(region, request.excluded, "excluded")
    fixed = _resolve_pairs(region, request.fixed, "fixed")
    links_of = candidate_links
    if request.candidates is not None:  # streamed, pruned to the best K (matcher.proposals.candidates)
        from matcher.proposals.candidates import pruned_links as links_of
    else:
        from matcher.proposals.memory import check_exact_fits
        check_exact_fits(region)
    scores, keep = links_of(region, request, progress, excluded)
    fixed = _fixed_arcs(region, request, scores, keep, fixed)
    n_rows, n_cols = len(region.unit_arrays), len(region.household_arrays)

    if request.shortlist is not None:
        k = request.shortlist
        rows, cols, weights = _kept(scores, keep)
        result = b_matching(rows, cols, weights, row_capacity=np.full(n_rows, k), col_capacity=np.full(n_cols, k),
                            n_rows=n_rows, n_cols=n_cols, config=request.config)
        del rows, cols, weights
        chosen = pair_positions(region, scores, result.pairs[:, 0], result.pairs[:, 1])
        return _proposal(region, request, scores, chosen, result.status, result.objective, result.objective, 0.0,
                         f"exact b-matching ({result.backend})", result.wall_time_s)

    side = bool(request.budgets) or request.sibling_contact_km is not None
    if not side:
        # Fixed links first, then the rest exactly: still the optimum given
        # them. The solver reads the lean table's own arrays when every pair
        # is kept (no copy: the exact path holds 32 bytes a pair plus the
        # solver's own), part by part (matcher.proposals.parts).
        free = keep
        if len(fixed):
            free = keep & ~np.isin(scores.units, scores.units[fixed]) \
                & ~np.isin(scores.households, scores.households[fixed])
        rows, cols, weights = _kept(scores, free)
        del free
        from matcher.proposals.parts import max_weight_matching_in_parts

        result = max_weight_matching_in_parts(rows, cols, weights, n_rows=n_rows, n_cols=n_cols,
                                              config=request.config, progress=progress)
        del rows, cols, weights
        chosen = np.concatenate([pair_positions(region, scores, result.pairs[:, 0], result.pairs[:, 1]), fixed])
        objective = int(scores.weight[chosen].sum())
        return _proposal(region, request, scores, np.sort(chosen), "optimal", objective, objective, 0.0,
                         f"exact max-weight matching ({result.backend})", result.wall_time_s)

    arcs = np.flatnonzero(keep)
    fixed_local = np.searchsorted(arcs, fixed)
    rows, cols = scores.units[arcs], scores.households[arcs]
    weights = scores.weight[arcs]
    fees = scores.fee[arcs]
    agency_of_unit = region.units["agency_id"].to_numpy()
    budget_names = sorted(request.budgets)
    group_of_agency = {a: i for i, a in enumerate(budget_names)}
    group_of_unit = np.array([group_of_agency.get(a, -1) for a in agency_of_unit.tolist()], dtype=np.int64)
    fee_group = group_of_unit[rows] if len(rows) else np.empty(0, dtype=np.int64)
    contact = None
    if request.sibling_contact_km is not None:
        contact = _sibling_contact(region, request.sibling_contact_km)
    result = constrained_assignment(
        rows, cols, weights, n_rows=n_rows, n_cols=n_cols,
        fees=fees if budget_names else None, fee_group=fee_group if budget_names else None,
        budgets=np.array([request.budgets[a] for a in budget_names], dtype=np.int64) if budget_names else None,
        fixed=fixed_local if len(fixed_local) else None, contact=contact, config=request.config)
    chosen = arcs[result.arcs]
    if budget_names and contact is None and not len(fixed_local):
        method = "HiGHS LP bound and CP-SAT, budgets only"
    elif contact is not None and not budget_names and not len(fixed_local) and result.deterministic_time == 0:
        # Answered without a CP-SAT model (solvers/_contact.py): exact
        # matchings around the siblings' choices, bounded by LP duals.
        method = "sibling contact: exact matchings and LP-dual bounds"
    else:
        method = "CP-SAT with side constraints"
    return _proposal(region, request, scores, chosen, result.status, result.objective, result.bound, result.gap,
                     method, result.wall_time_s, stopped=result.stopped)


REASONS_PER_LINK = 3


def _reasons_cell(reasons: list[str]) -> str:
    """The first reasons in one cell, `;`-joined as the contract keeps
    lists; a `;` inside a reason becomes `,` so the cell splits back into
    exactly these reasons."""
    return ";".join(reason.replace(";", ",") for reason in reasons[:REASONS_PER_LINK])


def link_reasons(region: Region, request: ProposalOptions, scores: PairScores, chosen: np.ndarray) -> list[str]:
    """The reasons cell of each chosen pair, from the scorer's explanations
    (``scores``: full scores, with each pair's contributions)."""
    from matcher.scoring.explain import pair_reasons

    out = []
    for i in np.asarray(chosen, dtype=np.int64).tolist():
        # points / 1e4 are the pair's contributions (what ``contributions``
        # holds), taken for this pair only rather than for every pair.
        out.append(_reasons_cell(pair_reasons(region, request.weights, int(scores.units[i]), int(scores.households[i]),
                                              scores.points[i] / 1e4, int(scores.fee[i]),
                                              float(scores.distance_km[i]))))
    return out


LINK_SCHEMA = {
    "unit_id": pl.String, "child_ids": pl.String, "household_id": pl.String, "score": pl.Float64,
    "weight": pl.Int64, "fee": pl.Int64, "child_agency_id": pl.String, "household_agency_id": pl.String,
    "distance_km": pl.Float64, "reasons": pl.String,
}


def _proposal(region, request, scores: LeanPairs | PairScores, chosen, status, objective, bound, gap, method, wall,
              stopped: bool = False) -> Proposal:
    chosen = np.asarray(chosen, dtype=np.int64)
    # The chosen pairs only are scored in full (contributions, distance):
    # score_pairs scores each pair on its own, so these are the figures
    # the scoring of every pair gives.
    if isinstance(scores, LeanPairs):
        full = scores.full(region, request.weights, chosen)
    else:  # a full table (a caller that scored every pair itself): the chosen rows of it
        full = PairScores(scores.units[chosen], scores.households[chosen], scores.points[chosen],
                          scores.score[chosen], scores.weight[chosen], scores.fee[chosen], scores.distance_km[chosen])
    u, h = full.units, full.households
    children = region.units.select("unit_id", pl.col("child_ids").list.join(";"))
    links = pl.DataFrame({
        "unit_id": region.unit_arrays.unit_ids[u].astype(str).tolist(),
        "household_id": region.household_arrays.household_ids[h].astype(str).tolist(),
        "score": full.score.astype(np.float64),
        "weight": full.weight.astype(np.int64),
        "fee": full.fee.astype(np.int64),
        "child_agency_id": region.units["agency_id"].to_numpy()[u].astype(str).tolist(),
        "household_agency_id": region.households["agency_id"].to_numpy()[h].astype(str).tolist(),
        "distance_km": full.distance_km.astype(np.float64).round(2),
        "reasons": link_reasons(region, request, full, np.arange(len(chosen))),
    }, schema={k: v for k, v in LINK_SCHEMA.items() if k != "child_ids"}).join(children, on="unit_id", how="left")
    links = links.select(list(LINK_SCHEMA)).cast(LINK_SCHEMA)
    if request.shortlist is not None:
        links = links.sort(["unit_id", "weight", "score", "household_id"], descending=[False, True, True, False])
        links = links.with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("unit_id").alias("rank"))
        links = links.select(*list(LINK_SCHEMA)[:6], "rank", *list(LINK_SCHEMA)[6:])
    else:
        links = links.sort("unit_id")
    return Proposal(request, links, status, float(objective), float(bound), float(gap), method, wall, scores,
                    stopped=stopped)
