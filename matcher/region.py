"""A region loaded for queries: validated frames, units, encoded arrays and
the rule tables, built once and shared by every query."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import polars as pl

from features.eligibility import HouseholdTables
from features.household_encoder import HouseholdArrays, HouseholdEncoder
from features.unit_encoder import UnitArrays, UnitEncoder

from matcher.errors import LookupInputError
from matcher.files.read import RegionFiles, read_region
from matcher.units import build_units
from matcher.scoring.weights import Weights


@dataclass
class World:
    """Everything a query needs about one region at one date.

    ``children`` is sorted by unit then child id, so the children of unit
    ``i`` are rows ``child_offsets[i]:child_offsets[i + 1]``.
    """

    as_of: dt.date
    weights: Weights
    children: pl.DataFrame
    units: pl.DataFrame
    households: pl.DataFrame
    unit_arrays: UnitArrays
    household_arrays: HouseholdArrays
    agencies: tuple[str, ...]

    @classmethod
    def from_region(cls, region: RegionFiles, as_of: dt.date, weights: Weights | None = None) -> World:
        kids, units = build_units(region.children, as_of)
        agencies = tuple(sorted(set(kids["agency_id"].to_list()) | set(region.households["agency_id"].to_list())))
        unit_arrays = UnitEncoder(as_of=as_of, agencies=agencies).fit(kids).encode(kids)
        household_arrays = HouseholdEncoder(as_of=as_of, agencies=agencies).fit(region.households).encode(
            region.households)
        return cls(as_of, weights or Weights(), kids, units, region.households, unit_arrays, household_arrays,
                   agencies)

    @classmethod
    def from_files(cls, children: str, households: str, as_of: dt.date, weights: Weights | None = None) -> World:
        return cls.from_region(read_region(children, households, as_of=as_of), as_of, weights)

    @cached_property
    def tables(self) -> HouseholdTables:
        return HouseholdTables.build(self.household_arrays)

    @cached_property
    def child_offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.units["size"].to_numpy())]).astype(np.int64)

    @cached_property
    def unit_row_of_child(self) -> dict[str, int]:
        rows = np.repeat(np.arange(self.units.height), self.units["size"].to_numpy())
        return dict(zip(self.children["child_id"].to_list(), rows.tolist()))

    @cached_property
    def unit_row_of_id(self) -> dict[str, int]:
        return {u: i for i, u in enumerate(self.units["unit_id"].to_list())}

    @cached_property
    def household_row_of_id(self) -> dict[str, int]:
        return {h: i for i, h in enumerate(self.households["household_id"].to_list())}

    @cached_property
    def waiting_unit_rows(self) -> np.ndarray:
        return np.flatnonzero(self.unit_arrays.bool_column("waiting"))

    def children_of(self, unit_row: int) -> pl.DataFrame:
        return self.children.slice(int(self.child_offsets[unit_row]), int(self.units["size"][unit_row]))

    def unit_row(self, child_id: str) -> int:
        """The unit row holding ``child_id``; an input error if unknown."""
        try:
            return self.unit_row_of_child[child_id]
        except KeyError:
            raise LookupInputError(f"no child with child_id {child_id!r} in the children file") from None

    def household_row(self, household_id: str) -> int:
        try:
            return self.household_row_of_id[household_id]
        except KeyError:
            raise LookupInputError(f"no household with household_id {household_id!r} in the households file") \
                from None
