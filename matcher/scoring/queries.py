"""Ranked-match queries and why-not, on a :class:`~matcher.region.Region`.

The weights are an explicit argument of every query that scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.eligibility import RULE_FUNCTIONS, HouseholdTables, eligible

from matcher.errors import LookupInputError
from matcher.scoring.explain import (RULE_NAMES, age_words, approved_children_words, pair_explanation,
                                     reason_text, status_words)
from features.contract import LEVEL_LABELS, NEED_LABELS, NEEDS
from matcher.scoring.scorer import PairScores, score_pairs
from matcher.scoring.weights import FACTORS, Weights
from matcher.pool import run_all
from matcher.region import Region

BLOCK_PAIRS = 4_000_000  # pairs per eligibility block: bounds memory, keeps threads busy


@dataclass(frozen=True)
class Violation:
    """One hard rule a pair breaks: its number, the child it is about (None
    for the household or the unit as a whole) and what breaks it, in words."""

    rule: int
    child_id: str | None
    message: str

    @property
    def rule_name(self) -> str:
        return RULE_NAMES[self.rule]

    def as_dict(self) -> dict:
        return {"rule": self.rule, "rule_name": self.rule_name, "child_id": self.child_id, "message": self.message}


def _ranked(scores: PairScores, ids: np.ndarray, top: int | None) -> np.ndarray:
    """Order of pairs: score high to low, ties by id ascending; the first
    ``top`` only. Only the pairs scoring at least the ``top``-th best score
    are sorted (sorting tens of thousands of string ids to keep ten is most
    of a query's time); the order is the full sort's."""
    score = scores.score
    if top is not None and top < len(score):
        threshold = np.partition(score, len(score) - top)[len(score) - top]
        candidates = np.flatnonzero(score >= threshold)
        return candidates[np.lexsort((ids[candidates], -score[candidates]))][:top]
    order = np.lexsort((ids, -score))
    return order if top is None else order[:top]


def _results(region: Region, weights: Weights, scores: PairScores, order: np.ndarray) -> list[dict]:
    out = []
    for i in order:
        u, h = int(scores.units[i]), int(scores.households[i])
        placement, details = pair_explanation(region, weights, u, h, scores.contributions[i], int(scores.fee[i]),
                                              float(scores.distance_km[i]))
        out.append({
            "unit_id": str(region.unit_arrays.unit_ids[u]),
            "child_ids": region.children_of(u)["child_id"].to_list(),
            "household_id": str(region.household_arrays.household_ids[h]),
            "score": float(scores.score[i]),
            "weight": int(scores.weight[i]),
            "fee": int(scores.fee[i]),
            "factors": {name: float(scores.contributions[i, k]) for k, name in enumerate(FACTORS)},
            "reasons": [placement] + [reason_text(d) for d in details],
            "reason_details": details,
        })
    return out


def waiting_unit_row(region: Region, child_id: str) -> int:
    """The row of the unit holding ``child_id``; an input error when the
    child is unknown or any child of the unit is not waiting."""
    row = region.unit_row(child_id)
    kids = region.children_of(row)
    not_waiting = kids.filter(kids["status"] != "waiting")
    if not_waiting.height:
        first = not_waiting.row(0, named=True)
        raise LookupInputError(f"child {first['child_id']} is {status_words(first['status'])}, not waiting: only "
                               "waiting children are ranked (why-not explains a pair)", code="not_waiting")
    return row


def rank_for_child(region: Region, child_id: str, top: int | None, weights: Weights) -> dict:
    """The best households for the unit holding ``child_id``."""
    row = waiting_unit_row(region, child_id)
    kids = region.children_of(row)
    rows = np.array([row])
    if _use_kernel(region, rows):  # one fused pass over every household
        scores = all_scores(region, weights, rows, workers=1)
        households = scores.households
    else:
        households = np.flatnonzero(eligible(region.unit_arrays, rows, region.tables)[0])
        households = households[~region.excluded_mask(row, households)]
        scores = score_pairs(region.unit_arrays, region.household_arrays, np.full(len(households), row),
                             households, weights, cache=region.cache)
    order = _ranked(scores, region.household_arrays.household_ids[households], top)
    return {
        "unit_id": str(region.unit_arrays.unit_ids[row]),
        "child_ids": kids["child_id"].to_list(),
        "eligible_households": int(len(households)),
        "results": [{k: v for k, v in r.items() if k not in ("unit_id", "child_ids")}
                    for r in _results(region, weights, scores, order)],
    }


def rank_for_household(region: Region, household_id: str, top: int | None, weights: Weights) -> dict:
    """The best units for one household."""
    row = region.household_row(household_id)
    status = region.households["status"][row]
    if status != "approved":
        raise LookupInputError(f"household {household_id} is {status_words(status)}, not approved: only approved "
                               "households are ranked", code="not_waiting")
    tables = HouseholdTables.build(region.household_arrays.take(np.array([row])))
    all_units = np.arange(len(region.unit_arrays))
    units = np.flatnonzero(eligible(region.unit_arrays, all_units, tables)[:, 0])
    units = units[~region.excluded_mask(units, row)]
    scores = score_pairs(region.unit_arrays, region.household_arrays, units, np.full(len(units), row), weights,
                         cache=region.cache)
    order = _ranked(scores, region.unit_arrays.unit_ids[units], top)
    return {
        "household_id": household_id,
        "eligible_units": int(len(units)),
        "results": [{k: v for k, v in r.items() if k != "household_id"} for r in _results(region, weights, scores, order)],
    }


KERNEL_MIN_CANDIDATES = 50_000
"""From this many candidate pairs (units x households) eligibility and
scoring run in the compiled kernel (:mod:`matcher.scoring.kernel`, one
fused pass per block of units) once the process has loaded it; below it in
numpy (the reference)."""
KERNEL_COLD_MIN_CANDIDATES = 20_000_000
"""From this many candidate pairs a process that has not loaded the kernel
yet loads it: loading numba and the cached compiled code costs about a CPU
second (benchmarks/README.md, issue 14), which the kernel repays (about 28
ns of CPU a candidate pair less than numpy) from about this size on. So a
quick query, or ``scores`` on a small region, never imports numba."""


def _use_kernel(region: Region, rows: np.ndarray) -> bool:
    from matcher.scoring.scorer import kernel_loaded

    least = KERNEL_MIN_CANDIDATES if kernel_loaded() else KERNEL_COLD_MIN_CANDIDATES
    return len(rows) * region.tables.n_households >= least


def load_kernel(region: Region) -> None:
    """Load the compiled scorer into this process now, by running its
    passes once on one waiting unit of ``region``: numba and the machine
    code from its on-disk cache, about half a second. From then on queries
    of :data:`KERNEL_MIN_CANDIDATES` candidate pairs or more use it (see
    :func:`_use_kernel`)."""
    from matcher.scoring import kernel

    rows = region.waiting_unit_rows[:1]
    kernel.all_scores(region.unit_arrays, region.household_arrays, region.tables, rows, region.excluded_keys,
                      Weights(), 1, region.cache)
    kernel.eligible_pairs(region.unit_arrays, region.household_arrays, region.tables, rows,
                          region.excluded_keys, 1, region.cache)
    # Any pair will do for the scorer alone (it does not check eligibility).
    if len(rows) and region.tables.n_households:
        one = np.zeros(1, np.int64)
        kernel.score_pairs(region.unit_arrays, region.household_arrays, rows[:1], one, Weights(), 1, region.cache)


def eligible_pairs(region: Region, unit_rows: np.ndarray | None = None, workers: int = 2,
                   progress=None) -> tuple[np.ndarray, np.ndarray]:
    """Every eligible (unit row, household row) pair, units in ``unit_rows``
    (default: every waiting unit), in unit then household order."""
    rows = region.waiting_unit_rows if unit_rows is None else np.asarray(unit_rows, dtype=np.int64)
    if _use_kernel(region, rows):
        from matcher.scoring import kernel

        return kernel.eligible_pairs(region.unit_arrays, region.household_arrays, region.tables, rows,
                                     region.excluded_keys, workers, region.cache, progress)
    return eligible_pairs_reference(region, rows, workers, progress)


def eligible_pairs_reference(region: Region, unit_rows: np.ndarray | None = None, workers: int = 2,
                             progress=None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`eligible_pairs` in numpy, from the rule masks of
    :mod:`features.eligibility`: the reference the kernel is tested against."""
    rows = region.waiting_unit_rows if unit_rows is None else np.asarray(unit_rows, dtype=np.int64)
    tables = region.tables
    per_block = max(1, BLOCK_PAIRS // max(1, tables.n_households))
    blocks = [rows[i:i + per_block] for i in range(0, len(rows), per_block)]

    n_households = tables.n_households

    def run(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # flatnonzero then split is several times faster than 2-D nonzero
        flat = np.flatnonzero(eligible(region.unit_arrays, block, tables))
        u = flat // n_households
        h = flat - u * n_households
        if progress is not None:
            progress(len(block))
        u, h = block[u], h.astype(np.int64)
        kept = ~region.excluded_mask(u, h)
        return u[kept], h[kept]

    parts = run_all(run, blocks, workers)
    if not parts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def all_scores(region: Region, weights: Weights, unit_rows: np.ndarray | None = None, workers: int = 2,
               progress=None) -> PairScores:
    """Scores of every eligible pair (see :func:`eligible_pairs`); on Dask
    by unit blocks inside a :func:`matcher.scoring.distributed.session`,
    the same pairs in the same order."""
    from matcher.scoring import distributed

    runner = distributed.active()
    if runner is not None:
        return runner.all_scores(region, weights, unit_rows, progress)
    return local_scores(region, weights, unit_rows, workers, progress)


def local_scores(region: Region, weights: Weights, unit_rows: np.ndarray | None = None, workers: int = 2,
                 progress=None) -> PairScores:
    """:func:`all_scores` in this process: one compiled pass per block of
    units when there are many candidates."""
    rows = region.waiting_unit_rows if unit_rows is None else np.asarray(unit_rows, dtype=np.int64)
    if _use_kernel(region, rows):
        from matcher.scoring import kernel

        return kernel.all_scores(region.unit_arrays, region.household_arrays, region.tables, rows,
                                 region.excluded_keys, weights, workers, region.cache, progress)
    u, h = eligible_pairs_reference(region, rows, workers, progress)
    return score_pairs(region.unit_arrays, region.household_arrays, u, h, weights, workers, cache=region.cache)


def _child_units(region: Region, unit_row: int):
    """Each child of a unit encoded as a unit of one, for attributing a
    broken rule to the child who breaks it (same rule functions)."""
    kids = region.children_of(unit_row).with_columns(region.children_of(unit_row)["child_id"].alias("unit_id"))
    return region.unit_encoder.encode(kids), kids


def _older_or_younger(months: int) -> str:
    return f"{age_words(abs(months))} {'older' if months > 0 else 'younger'}"


def violations(region: Region, unit_row: int, household_row: int) -> list[Violation]:
    """Every hard rule the pair breaks, each attributed to a child where the
    rule is about one child, in rule order, each saying by how much (see
    :func:`violations_for`)."""
    return violations_for(region, unit_row, np.array([household_row]))[0]


def violations_for(region: Region, unit_row: int, household_rows: np.ndarray) -> list[list[Violation]]:
    """For each household in ``household_rows``, every hard rule it breaks
    with the unit, each attributed to a child where the rule is about one
    child, in rule order, each saying by how much. Which rule, and which
    child, are decided by the functions of :mod:`features.eligibility`
    (run on each child as a unit of one, against every household at once);
    this function only words the answer."""
    from features import eligibility as rules
    from features.geo import haversine_km

    household_rows = np.asarray(household_rows, dtype=np.int64)
    tables = HouseholdTables.build(region.household_arrays.take(household_rows))
    broken = {n: np.flatnonzero(~rule(region.unit_arrays, np.array([unit_row]), tables)[0])
              for n, rule in RULE_FUNCTIONS.items()}
    out: list[list[Violation]] = [[] for _ in household_rows]
    for j, household_row in enumerate(household_rows.tolist()):
        for ex in region.exclusions.get((unit_row, household_row), ()):
            out[j].append(Violation(0, ex.child_id, f"excluded by {ex.who} on {ex.at:%Y-%m-%d %H:%M} UTC: "
                                                    f"{ex.reason}"))
    if not any(len(at) for at in broken.values()):
        return out
    singles, kids = _child_units(region, unit_row)
    ids = kids["child_id"].to_list()
    # A message names the child it is about, or says "this child" for a unit of one.
    who = ["this child"] if kids.height == 1 else ids
    whose = ["this child's"] if kids.height == 1 else [f"{c}'s" for c in ids]
    homes = region.households[household_rows]

    fails: dict[tuple, np.ndarray] = {}

    def failing(check, j: int, *extra) -> list[int]:
        """Children (positions in ``kids``) for whom ``check`` fails with
        household ``j`` (each check runs once, against every household)."""
        if (check, *extra) not in fails:
            fails[check, *extra] = ~check(singles, np.arange(kids.height), tables, *extra)
        return np.flatnonzero(fails[check, *extra][:, j]).tolist()

    for n, at in broken.items():
        for j in at.tolist():
            home = homes.row(j, named=True)
            found = out[j]
            if n == 1:
                for i in failing(rules.rule_1_status, j):
                    if kids["status"][i] != "waiting":
                        found.append(Violation(1, ids[i], f"{who[i]} is {status_words(kids['status'][i])}, not "
                                                          "waiting: only waiting children are proposed"))
                if not tables.approved[j]:
                    found.append(Violation(1, None, f"the household is {status_words(home['status'])}, "
                                                    "not approved: only approved households are proposed"))
            elif n == 2:
                approved = approved_children_words(home["min_children"], home["max_children"])
                what = "a single child" if kids.height == 1 else f"a sibling group of {kids.height} placed together"
                found.append(Violation(2, None, f"approved for {approved}; this is {what}"))
            elif n == 3:
                lo, hi = home["min_age_months"], home["max_age_months"]
                for i in failing(rules.ages_within_range, j):
                    age = kids["age_months"][i]
                    bound = f"approved up to {age_words(hi)}" if age > hi else f"approved from {age_words(lo)}"
                    by = age - hi if age > hi else age - lo
                    found.append(Violation(3, ids[i], f"{bound}; {who[i]} is {age_words(age)} "
                                                      f"({_older_or_younger(by)})"))
                sexes = " and ".join({"F": "girls", "M": "boys"}[s] for s in home["sexes"])
                for i in failing(rules.sexes_approved, j):
                    found.append(Violation(3, ids[i], f"approved for {sexes} only; {who[i]} is a "
                                                      f"{'girl' if kids['sex'][i] == 'F' else 'boy'}"))
            elif n == 4:
                for k, need in enumerate(NEEDS):
                    limit = int(region.household_arrays.consider[household_rows[j], k])
                    for i in failing(rules.need_within_consider, j, k):
                        level = int(singles.needs[i, k])
                        considered = (f"would consider up to {LEVEL_LABELS[limit]} ({limit}) {NEED_LABELS[need]}"
                                      if limit else f"would not consider {NEED_LABELS[need]} (0)")
                        found.append(Violation(4, ids[i], f"{considered}; {whose[i]} are "
                                                          f"{LEVEL_LABELS[level]} ({level})"))
            elif n == 5:
                for i in failing(rules.early_permanence_met, j):
                    found.append(Violation(5, ids[i], f"{whose[i]} plan is early permanence (fostering for "
                                                      "adoption); the household is not dual-approved"))
                for i in failing(rules.direct_contact_met, j):
                    found.append(Violation(5, ids[i], f"{whose[i]} plan includes direct contact; the household "
                                                      "has not said it accepts direct contact"))
            elif n == 6:
                for i in failing(rules.rule_6_safety_distance, j):
                    km = float(haversine_km(kids["birth_family_lat"][i], kids["birth_family_lon"][i],
                                            home["lat"], home["lon"]))
                    safety = float(kids["min_distance_km"][i])
                    found.append(Violation(6, ids[i], f"the household lives {km:.1f} km from {whose[i]} birth "
                                                      f"family; the safety distance is {safety:g} km "
                                                      f"({safety - km:.1f} km short)"))
            elif n == 7:
                absent = kids.filter(kids["status"] != "waiting").select("child_id", "status").iter_rows()
                named = ", ".join(f"{c} is {status_words(s)}" for c, s in absent)
                found.append(Violation(7, None, f"this sibling group is to be placed together, but {named}, not "
                                                "waiting, so the group cannot be placed now"))
    for found in out:
        found.sort(key=lambda v: v.rule)
    return out


def why_not(region: Region, child_id: str, household_id: str, weights: Weights) -> dict:
    """The contract's why-not answer for one child and one household."""
    unit_row = region.unit_row(child_id)
    household_row = region.household_row(household_id)
    found = violations(region, unit_row, household_row)
    score = None
    result = {}
    if not found:
        scores = score_pairs(region.unit_arrays, region.household_arrays, np.array([unit_row]),
                             np.array([household_row]), weights, cache=region.cache)
        score = float(scores.score[0])
        result = _results(region, weights, scores, np.array([0]))[0]
    return {
        "unit_id": str(region.unit_arrays.unit_ids[unit_row]),
        "child_ids": region.children_of(unit_row)["child_id"].to_list(),
        "household_id": household_id,
        "eligible": not found,
        "violations": [v.as_dict() for v in found],
        "score": score,
        **({key: result[key] for key in ("factors", "reasons", "reason_details", "fee", "weight")} if result else {}),
    }
