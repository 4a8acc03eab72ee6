"""The proposal a report describes, and the inter-agency fees it would
commit per child's agency, against budgets.

A proposal comes from a links file written by ``propose`` (CSV or Parquet;
``unit_id`` and ``household_id`` are read, ``child_ids`` and ``fee`` are
checked against the region when present) or from the store's latest
recorded proposal. The fee of each link is the scorer's fee for the pair
(none when the household's agency is the child's), paid by the unit's first
child's agency, as ``propose`` charges it.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass

import numpy as np
import polars as pl

from matcher.errors import InputError, Problem
from matcher.files.paths import input_file_problem
from matcher.files.read import _raw_csv, file_format  # the project's CSV reading: encodings, separators, quotes
from matcher.region import Region
from matcher.scoring.scorer import score_pairs
from matcher.scoring.weights import Weights


@dataclass(frozen=True)
class ProposalLinks:
    """The links of one proposal as (unit row, household row) pairs, and
    where they come from (a file's path, or the store's record)."""

    source: str
    unit_rows: np.ndarray
    household_rows: np.ndarray


def _frame(where: str) -> tuple[pl.DataFrame, int]:
    """The links file as text columns, and the row number of its first row
    (CSV: its line, the header being line 1; Parquet: 1)."""
    unusable = input_file_problem(where, "links file")
    if unusable is not None:
        raise InputError(Problem(where, None, None, None, unusable))
    if file_format(where) == "parquet":
        try:
            frame = pl.read_parquet(where)
        except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
            raise InputError(Problem(where, None, None, None, f"a Parquet links file written by propose "
                                                              f"({str(exc).splitlines()[0] if str(exc) else exc})")) \
                from None
        return frame.cast({c: pl.String for c in frame.columns}), 1
    frame, problems = _raw_csv(where)
    if problems:
        raise InputError(problems)
    return frame, 2


def read_proposal_links(path: str | os.PathLike, region: Region, weights: Weights) -> ProposalLinks:
    """The links of a links file written by ``propose``, checked against
    the region: every unit a waiting unit, every household approved, each
    proposed at most once, ``child_ids`` the whole unit and ``fee`` the
    pair's fee (when those columns are there). Every problem is named by
    file, row and column."""
    where = os.fspath(path)
    frame, first = _frame(where)
    missing = [c for c in ("unit_id", "household_id") if c not in frame.columns]
    if missing:
        raise InputError([Problem(where, None, c, None, "a column unit_id and a column household_id (a links file "
                                                        "written by propose)") for c in missing])
    problems: list[Problem] = []
    units, households, rows = [], [], []
    unit_count = Counter(frame["unit_id"].to_list())
    household_count = Counter(frame["household_id"].to_list())
    waiting = set(region.waiting_unit_rows.tolist())
    for i, link in enumerate(frame.iter_rows(named=True)):
        row = first + i
        unit, household = (link["unit_id"] or "").strip(), (link["household_id"] or "").strip()
        u = region.unit_row_of_id.get(unit)
        h = region.household_row_of_id.get(household)
        if u is None:
            problems.append(Problem(where, row, "unit_id", unit, "a unit id of the region (a child_id, or a together "
                                                                 "group's sibling_group_id)"))
        elif u not in waiting:
            problems.append(Problem(where, row, "unit_id", unit, "a waiting unit (every child in it waiting)"))
        elif unit_count[link["unit_id"]] > 1:
            problems.append(Problem(where, row, "unit_id", unit, "each unit in at most one link"))
        if h is None:
            problems.append(Problem(where, row, "household_id", household, "a household id of the region"))
        elif not region.tables.approved[h]:
            problems.append(Problem(where, row, "household_id", household, "an approved household"))
        elif household_count[link["household_id"]] > 1:
            problems.append(Problem(where, row, "household_id", household, "each household in at most one link "
                                                                           "(rule 8)"))
        if u is not None and "child_ids" in link and link["child_ids"] is not None:
            listed = sorted(c.strip() for c in link["child_ids"].split(";"))
            actual = sorted(region.children_of(u)["child_id"].to_list())
            if listed != actual:
                problems.append(Problem(where, row, "child_ids", link["child_ids"], f"the unit's children "
                                                                                   f"{';'.join(actual)}"))
        if u is not None and h is not None:
            units.append(u)
            households.append(h)
            rows.append((row, link.get("fee")))
    if not problems and units:
        fees = score_pairs(region.unit_arrays, region.household_arrays, np.array(units), np.array(households),
                           weights, cache=region.cache).fee
        for (row, listed), fee in zip(rows, fees.tolist()):
            if listed is not None and listed.strip() != str(fee):
                problems.append(Problem(where, row, "fee", listed, f"the pair's inter-agency fee in this region, "
                                                                   f"{fee} (was the file made from other data?)"))
    if problems:
        raise InputError(problems)
    return ProposalLinks(where, np.array(units, dtype=np.int64), np.array(households, dtype=np.int64))


@dataclass(frozen=True)
class AgencyFees:
    """One child's agency: its links in the proposal, how many cross to
    another agency's household, the fees they commit, and its budget."""

    agency_id: str
    links: int
    inter_agency_links: int
    fees: int
    budget: int | None

    @property
    def left(self) -> int | None:
        return None if self.budget is None else self.budget - self.fees

    @property
    def over_budget(self) -> bool:
        return self.budget is not None and self.fees > self.budget


@dataclass(frozen=True)
class Fees:
    source: str | None  # None: no proposal given
    agencies: tuple[AgencyFees, ...]
    total: int


def proposal_fees(region: Region, links: ProposalLinks | None, budgets: dict[str, int], weights: Weights) -> Fees:
    """Fees per child's agency (every agency with a link or a budget, by
    id), against its budget."""
    spent: dict[str, list[int]] = {}
    if links is not None and len(links.unit_rows):
        fees = score_pairs(region.unit_arrays, region.household_arrays, links.unit_rows, links.household_rows,
                           weights, cache=region.cache).fee
        agency = region.units["agency_id"].to_numpy()[links.unit_rows]
        theirs = region.households["agency_id"].to_numpy()[links.household_rows]
        for a, b, fee in zip(agency.tolist(), theirs.tolist(), fees.tolist()):
            mine = spent.setdefault(a, [0, 0, 0])
            mine[0] += 1
            mine[1] += a != b
            mine[2] += fee
    rows = tuple(AgencyFees(a, *spent.get(a, (0, 0, 0)), budgets.get(a)) for a in sorted(set(spent) | set(budgets)))
    return Fees(None if links is None else links.source, rows, sum(r.fees for r in rows))


def links_from_pairs(region: Region, source: str, pairs) -> ProposalLinks:
    """A proposal from (child id, household id) pairs, as the store records
    them; pairs naming a child or household no longer in the region are
    left out."""
    units, households = [], []
    for child_id, household_id in pairs:
        u = region.unit_row_of_child.get(child_id)
        h = region.household_row_of_id.get(household_id)
        if u is not None and h is not None:
            units.append(u)
            households.append(h)
    return ProposalLinks(source, np.array(units, dtype=np.int64), np.array(households, dtype=np.int64))
