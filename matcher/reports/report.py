"""The report's data: every section computed from one region, one set of
weights and (optionally) one proposal, as frozen values (rendering is
:mod:`matcher.reports.render`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matcher.region import Region
from matcher.reports.fairness import Fairness, fairness
from matcher.reports.fees import Fees, ProposalLinks, proposal_fees
from matcher.reports.pool import PoolSufficiency, pool_sufficiency
from matcher.reports.rankings import rankings
from matcher.reports.waiting import Waiting, waiting_against_scorecard
from matcher.scoring.weights import Weights


@dataclass(frozen=True)
class Provenance:
    """What the report states it was made from."""

    as_of: str
    data: str  # the files, or the store
    weights_name: str  # the weights file, or "the defaults"
    weights_sha256: str
    weights_text: str  # the weights as TOML with a sentence each
    version: str
    proposal: str | None


@dataclass(frozen=True)
class ReportData:
    provenance: Provenance
    waiting_units: int
    approved_households: int
    pool: PoolSufficiency
    waiting: Waiting
    fees: Fees
    fairness: Fairness


def report_data(region: Region, weights: Weights, provenance: Provenance, links: ProposalLinks | None = None,
                budgets: dict[str, int] | None = None, *, seed: int = 0, workers: int = 2) -> ReportData:
    """Every figure of the report."""
    ranked = rankings(region, weights, workers)
    proposed = None if links is None else np.asarray(links.unit_rows, dtype=np.int64)
    return ReportData(
        provenance=provenance,
        waiting_units=len(ranked.units.rows),
        approved_households=int(region.tables.approved.sum()),
        pool=pool_sufficiency(region, ranked, weights),
        waiting=waiting_against_scorecard(region, weights.care_threshold_days, weights.order_threshold_days),
        fees=proposal_fees(region, links, dict(budgets or {}), weights),
        fairness=fairness(region, ranked, weights, proposed, seed),
    )
