"""The frozen region every query runs on: validated tables, units, encoded
arrays and the rule tables, built once at one date and never changed.

A region comes from validated tables of any source (files, in-memory
frames, later the store); it carries no scorer weights: those are an option
of each query. The region owns the bounded, thread-safe cache of what the
scorer derives from it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from features.eligibility import HouseholdTables
from features.household_encoder import HouseholdArrays, HouseholdEncoder
from features.unit_encoder import UnitArrays, UnitEncoder
from matcher.errors import LookupInputError
from matcher.frozen import FrozenDict
from features.units import build_units
from matcher.validation import RegionTables


class BoundedCache:
    """A small least-recently-used map, safe under threads. ``get_or_make``
    computes a missing value outside the lock (two threads may both compute
    it; both get an equal value)."""

    def __init__(self, size: int = 8):
        self._size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get_or_make(self, key, make):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value

    def peek(self, key):
        """The value held for ``key`` (marked as used), or None."""
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def __len__(self) -> int:
        return len(self._items)

    def __reduce__(self):
        # A copy sent to another process (a Dask worker) starts empty: the
        # cache holds what that process derives, and a lock cannot be sent.
        return type(self), (self._size,)


def _read_only(holder) -> None:
    """Every numpy array held by a frozen dataclass made read-only: a region
    is shared by every query (and, later, by threads of a web service)."""
    for f in dataclasses.fields(holder):
        value = getattr(holder, f.name)
        if isinstance(value, np.ndarray):
            value.flags.writeable = False


@dataclass(frozen=True)
class Exclusion:
    """A child-household pair ruled out by hand (store mode): who, when
    (UTC) and why. Excluding any child of a together group excludes the
    group's unit from that household."""

    child_id: str
    household_id: str
    reason: str
    who: str
    at: dt.datetime


@dataclass(frozen=True, eq=False)
class Region:
    """Everything a query needs about one region at one date.

    ``children`` is sorted by unit then child id, so the children of unit
    ``i`` are rows ``child_offsets[i]:child_offsets[i + 1]``.
    """

    as_of: dt.date
    children: pl.DataFrame
    units: pl.DataFrame
    households: pl.DataFrame
    unit_arrays: UnitArrays
    household_arrays: HouseholdArrays
    agencies: tuple[str, ...]
    unit_encoder: UnitEncoder = field(repr=False)
    tables: HouseholdTables = field(repr=False)
    child_offsets: np.ndarray = field(repr=False)
    unit_row_of_child: dict[str, int] = field(repr=False)
    unit_row_of_id: dict[str, int] = field(repr=False)
    household_row_of_id: dict[str, int] = field(repr=False)
    waiting_unit_rows: np.ndarray = field(repr=False)
    warnings: tuple[str, ...] = ()
    exclusions: dict = field(default_factory=dict, repr=False)
    """(unit row, household row) -> the :class:`Exclusion` records behind it."""
    excluded_keys: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64), repr=False)
    """``unit row * households + household row`` of every excluded pair, sorted."""
    exploring: tuple = field(default=(), repr=False)
    """The store's links being explored (dicts: ``unit_id``, ``child_ids``,
    ``household_id``, ``state``, ``since``, ``by``): still ranked, and rank
    says so. Empty for files."""
    data_version: int | None = None
    """The store's data version the region was read at (None for files)."""
    cache: BoundedCache = field(default_factory=BoundedCache, repr=False)
    """Derived arrays (per weights), owned here so they die with the region."""

    @classmethod
    def build(cls, tables: RegionTables, as_of: dt.date, exclusions=()) -> Region:
        """A region from validated tables (see :mod:`matcher.validation`)
        and the pairs excluded by hand (:class:`Exclusion`; those naming a
        child or household not in the tables are ignored)."""
        kids, units = build_units(tables.children, as_of)
        agencies = tuple(sorted(set(kids["agency_id"].to_list()) | set(tables.households["agency_id"].to_list())))
        unit_encoder = UnitEncoder(as_of=as_of, agencies=agencies).fit(kids)
        unit_arrays = unit_encoder.encode(kids)
        household_arrays = HouseholdEncoder(as_of=as_of, agencies=agencies).fit(tables.households).encode(
            tables.households)
        sizes = units["size"].to_numpy()
        rows = np.repeat(np.arange(units.height), sizes)
        unit_row_of_child = dict(zip(kids["child_id"].to_list(), rows.tolist()))
        household_row_of_id = {h: i for i, h in enumerate(tables.households["household_id"].to_list())}
        excluded: dict[tuple[int, int], tuple[Exclusion, ...]] = {}
        for ex in exclusions:
            if ex.child_id in unit_row_of_child and ex.household_id in household_row_of_id:
                pair = (unit_row_of_child[ex.child_id], household_row_of_id[ex.household_id])
                excluded[pair] = excluded.get(pair, ()) + (ex,)
        n_households = tables.households.height
        region = cls(
            as_of=as_of, children=kids, units=units, households=tables.households, unit_arrays=unit_arrays,
            household_arrays=household_arrays, agencies=agencies, unit_encoder=unit_encoder,
            tables=HouseholdTables.build(household_arrays),
            child_offsets=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
            unit_row_of_child=unit_row_of_child,
            unit_row_of_id={u: i for i, u in enumerate(units["unit_id"].to_list())},
            household_row_of_id=household_row_of_id,
            waiting_unit_rows=np.flatnonzero(unit_arrays.bool_column("waiting")),
            warnings=tables.warnings,
            exclusions=FrozenDict(excluded),
            excluded_keys=np.sort(np.array([u * n_households + h for u, h in excluded], dtype=np.int64)),
        )
        for holder in (region, unit_arrays, household_arrays, region.tables):
            _read_only(holder)
        return region

    def excluded_mask(self, unit_rows: np.ndarray, household_rows: np.ndarray) -> np.ndarray:
        """Which of the (unit row, household row) pairs were excluded by hand."""
        unit_rows, household_rows = np.asarray(unit_rows, np.int64), np.asarray(household_rows, np.int64)
        if not len(self.excluded_keys):
            return np.zeros(np.broadcast(unit_rows, household_rows).shape, dtype=bool)
        keys = unit_rows * self.households.height + household_rows
        return np.isin(keys, self.excluded_keys)

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
