"""Fairness of the rankings and of a proposal across groups of children.

Per group (ethnic group, highest need level, age band, group size; see
:mod:`matcher.reports.profiles` for a sibling group's values), over the
waiting units: the share proposed (when a proposal is given), the share
with at least one eligible household, the mean score of each unit's best
eligible household (units with one) and the mean number of eligible
households. A group whose value is under 80% of the best group's is
flagged (the four-fifths rule).

Concentration: the share of all top-10 places (every waiting unit's first
ten ranked households) held by the top 1% of approved households (at least
one), those with the most places, ties by household id.

Counterfactual: for a deterministic sample of waiting units with at least
one eligible household (up to :data:`SAMPLE`, drawn with numpy's PCG64
from ``seed``), every child's ethnicity is replaced by each other code in
turn (codes of the contract; for a unit of one ethnicity, all but it), the
unit re-encoded and re-scored: how far its best household's score moves,
and its rank in each eligible household's list of units (1 + the number of
other waiting units eligible for that household scoring strictly higher).
Eligibility is compared too: ethnicity is no hard rule, so it never moves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from features.contract import ETHNICITY_CODES
from features.eligibility import eligible
from matcher.region import Region
from matcher.reports.rankings import Rankings
from matcher.scoring.scorer import score_pairs
from matcher.scoring.weights import Weights

FOUR_FIFTHS = 0.8
SAMPLE = 50
TOP_SHARE = 0.01
METRICS = ("proposed", "with_eligible", "mean_best_score", "mean_eligible")
DIMENSIONS = ("ethnicity", "highest need", "age band", "group size")
METRIC_WORDS = {"proposed": "share proposed", "with_eligible": "share with an eligible household",
                "mean_best_score": "mean best score", "mean_eligible": "mean eligible households"}


@dataclass(frozen=True)
class GroupRates:
    """One group's units and rates; ``flags`` names each metric under
    four fifths of the best group's. ``proposed`` is None with no proposal,
    ``mean_best_score`` None when no unit of the group has an eligible
    household."""

    dimension: str
    group: str
    units: int
    proposed: float | None
    with_eligible: float
    mean_best_score: float | None
    mean_eligible: float
    flags: tuple[str, ...]


@dataclass(frozen=True)
class Concentration:
    places: int
    approved_households: int
    top_households: tuple[tuple[str, int], ...]  # (household id, places), most first
    share: float  # of all places, held by the top households


@dataclass(frozen=True)
class Substitution:
    """One ethnicity substituted into every sampled unit (but those of
    only that ethnicity): how the best score and the ranks moved."""

    ethnicity: str
    units: int
    mean_best_change: float
    largest_best_change: float  # largest absolute change
    mean_rank_change: float  # mean over units of the mean change over its households (positive: lower down)
    largest_rank_change: int  # largest absolute change over every pair
    eligibility_changes: int  # pairs whose eligibility moved: always 0


@dataclass(frozen=True)
class Counterfactual:
    seed: int
    sampled_units: tuple[str, ...]
    substitutions: tuple[Substitution, ...]

    @property
    def eligibility_changes(self) -> int:
        return sum(s.eligibility_changes for s in self.substitutions)


@dataclass(frozen=True)
class Fairness:
    groups: tuple[GroupRates, ...]
    concentration: Concentration
    counterfactual: Counterfactual


def _group_members(ranked: Rankings) -> dict[str, dict[str, list[int]]]:
    """dimension -> group -> positions of its units (a mixed sibling group
    is in each of its ethnic groups)."""
    units = ranked.units
    out: dict[str, dict[str, list[int]]] = {d: {} for d in DIMENSIONS}
    for i in range(len(units.unit_ids)):
        for code in units.ethnicities[i]:
            out["ethnicity"].setdefault(code, []).append(i)
        out["highest need"].setdefault(units.need_levels[i], []).append(i)
        out["age band"].setdefault(units.age_bands[i], []).append(i)
        out["group size"].setdefault(units.size_bands[i], []).append(i)
    return out


def group_rates(ranked: Rankings, proposed_rows: np.ndarray | None) -> tuple[GroupRates, ...]:
    """Every group's rates, flagged by the four-fifths rule within its
    dimension; groups in dimension order, then by name."""
    proposed = None
    if proposed_rows is not None:
        proposed = np.isin(ranked.units.rows, proposed_rows)
    out = []
    for dimension, groups in _group_members(ranked).items():
        rows = []
        for group in sorted(groups):
            members = np.array(groups[group], dtype=np.int64)
            counts = ranked.eligible[members]
            best = ranked.best_score[members]
            best = best[~np.isnan(best)]
            rows.append({"group": group, "units": len(members),
                         "proposed": None if proposed is None else float(proposed[members].mean()),
                         "with_eligible": float((counts > 0).mean()),
                         "mean_best_score": float(best.mean()) if len(best) else None,
                         "mean_eligible": float(counts.mean())})
        tops = {m: max((r[m] for r in rows if r[m] is not None), default=None) for m in METRICS}
        for r in rows:
            flags = tuple(m for m in METRICS if r[m] is not None and tops[m] and r[m] < FOUR_FIFTHS * tops[m])
            out.append(GroupRates(dimension, r["group"], r["units"], r["proposed"], r["with_eligible"],
                                  r["mean_best_score"], r["mean_eligible"], flags))
    return tuple(out)


def concentration(region: Region, ranked: Rankings) -> Concentration:
    places = ranked.top_places()
    counts = np.bincount(places, minlength=region.tables.n_households)
    approved = int(region.tables.approved.sum())
    k = max(1, math.ceil(TOP_SHARE * approved))
    ids = region.household_arrays.household_ids
    order = np.lexsort((ids, -counts))[:k]
    held = int(counts[order].sum())
    return Concentration(int(len(places)), approved, tuple((str(ids[h]), int(counts[h])) for h in order),
                         held / len(places) if len(places) else 0.0)


def _score_keys(score: np.ndarray) -> np.ndarray:
    """Scores as whole 1e-4 points (the scorer's own resolution)."""
    return np.rint(np.asarray(score) * 1e4).astype(np.int64)


SPAN = 10**7  # above any score key (100 points = 1,000,000)


def counterfactual(region: Region, ranked: Rankings, weights: Weights, seed: int = 0,
                   sample: int = SAMPLE) -> Counterfactual:
    """Substitute each other ethnicity into a sample of units (see the
    module's text)."""
    pairs = ranked.pairs
    candidates = np.flatnonzero(ranked.eligible > 0)
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(candidates, size=min(sample, len(candidates)), replace=False)) \
        if len(candidates) else np.empty(0, np.int64)
    rows = ranked.units.rows[picked]
    # Every household's eligible units' scores, sorted, keyed household * SPAN + score.
    keys = np.sort(pairs.households * SPAN + _score_keys(pairs.score))

    def higher(h: np.ndarray, s: np.ndarray) -> np.ndarray:
        return np.searchsorted(keys, (h + 1) * SPAN, "left") - np.searchsorted(keys, h * SPAN + s, "right")

    frames, plan = [], []
    for i, row in zip(picked.tolist(), rows.tolist()):
        own = set(ranked.units.ethnicities[i])
        kids = region.children_of(row)
        for code in ETHNICITY_CODES:
            if own == {code}:
                continue
            frames.append(kids.with_columns(pl.lit(code).alias("ethnicity"),
                                            pl.lit(f"{len(plan):08d}").alias("unit_id")))
            plan.append((row, code))
    stats: dict[str, list] = {code: [] for code in ETHNICITY_CODES}
    if plan:
        changed = region.unit_encoder.encode(pl.concat(frames))  # unit ids are plan positions, in order
        # Rows once each: the rule masks take distinct unit rows (rule 6 places each row once).
        distinct, back = np.unique(np.array([r for r, _ in plan]), return_inverse=True)
        before = eligible(region.unit_arrays, distinct, region.tables)[back]
        after = eligible(changed, np.arange(len(plan)), region.tables)
        moved = (before != after).sum(axis=1)
        order = np.argsort(pairs.units, kind="stable")
        starts = np.searchsorted(pairs.units[order], np.arange(len(region.unit_arrays) + 1))
        mine = [order[starts[row]:starts[row + 1]] for row, _ in plan]
        sizes = np.array([len(m) for m in mine])
        every = np.concatenate(mine)
        households = pairs.households[every]
        # One scoring call for every substitution of every sampled unit.
        new_all = _score_keys(score_pairs(changed, region.household_arrays, np.repeat(np.arange(len(plan)), sizes),
                                          households, weights).score)
        old_all = _score_keys(pairs.score[every])
        rank_change = (higher(households, new_all) - (old_all > new_all)) - higher(households, old_all)
        bounds = np.r_[0, np.cumsum(sizes)]
        for j, (_, code) in enumerate(plan):
            a, b = bounds[j], bounds[j + 1]
            stats[code].append(((new_all[a:b].max() - old_all[a:b].max()) / 1e4, rank_change[a:b], int(moved[j])))
    subs = []
    for code in ETHNICITY_CODES:
        found = stats[code]
        if not found:
            continue
        best = np.array([f[0] for f in found])
        ranks = [f[1] for f in found]
        subs.append(Substitution(code, len(found), round(float(best.mean()), 4), round(float(np.abs(best).max()), 4),
                                 round(float(np.mean([r.mean() for r in ranks])), 4),
                                 int(max(np.abs(r).max() for r in ranks)), sum(f[2] for f in found)))
    return Counterfactual(seed, tuple(ranked.units.unit_ids[i] for i in picked.tolist()), tuple(subs))


def fairness(region: Region, ranked: Rankings, weights: Weights, proposed_rows: np.ndarray | None,
             seed: int = 0) -> Fairness:
    return Fairness(group_rates(ranked, proposed_rows), concentration(region, ranked),
                    counterfactual(region, ranked, weights, seed))
