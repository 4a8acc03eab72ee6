"""How a waiting unit is grouped in the report: its age band, size band,
highest need level and ethnic groups.

For a sibling group placed together:

- **age band**: the eldest child's (a family approved for the eldest's age
  is what the group needs most, and it is what rule 3 fails on first);
- **size**: the number of children (4 or more share one band);
- **highest need**: the highest level of any need of any child;
- **ethnicity**: each distinct ethnicity among its children: a group of a
  White British and a Black Caribbean child counts once in each group
  (so ethnic groups' units add up to more than the units when groups are
  mixed). A unit of one child has one ethnicity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from features.contract import NEEDS
from matcher.region import Region

# (label, first month, last month) of each age band, by the eldest child's age.
AGE_BANDS: tuple[tuple[str, int, int], ...] = (
    ("under 1", 0, 11), ("1-3 years", 12, 47), ("4-6 years", 48, 83), ("7-10 years", 84, 131),
    ("11+ years", 132, 10**6),
)
SIZE_BANDS: tuple[str, ...] = ("1 child", "2 children", "3 children", "4+ children")
NEED_LEVELS: tuple[str, ...] = ("0 none", "1 mild", "2 moderate", "3 severe/complex")


def age_band(months: int) -> str:
    """The band of an age in whole months (see :data:`AGE_BANDS`)."""
    for label, low, high in AGE_BANDS:
        if low <= months <= high:
            return label
    raise ValueError(f"age {months} months is in no band")


def size_band(size: int) -> str:
    return SIZE_BANDS[min(size, 4) - 1]


@dataclass(frozen=True)
class WaitingUnits:
    """Every waiting unit's row and groups, in unit id order."""

    rows: np.ndarray  # unit rows in the region
    unit_ids: tuple[str, ...]
    child_ids: tuple[tuple[str, ...], ...]
    agency_ids: tuple[str, ...]  # the first child's agency: it pays any inter-agency fee
    age_bands: tuple[str, ...]
    size_bands: tuple[str, ...]
    need_levels: tuple[str, ...]
    ethnicities: tuple[tuple[str, ...], ...]  # distinct, sorted

    @property
    def profiles(self) -> tuple[tuple[str, str, str], ...]:
        """(age band, size, highest need) of each unit."""
        return tuple(zip(self.age_bands, self.size_bands, self.need_levels))


def waiting_units(region: Region) -> WaitingUnits:
    """The waiting units of ``region`` with the groups the report uses."""
    rows = np.asarray(region.waiting_unit_rows, dtype=np.int64)
    kids = region.children
    need = pl.max_horizontal([pl.col(f"need_{n}") for n in NEEDS])
    per_unit = (kids.group_by("unit_id", maintain_order=True)
                .agg(pl.col("age_months").max().alias("eldest"), need.max().alias("need"),
                     pl.col("ethnicity").unique().sort().alias("ethnicities")))
    by_id = {r["unit_id"]: r for r in per_unit.iter_rows(named=True)}
    ids = [str(region.unit_arrays.unit_ids[r]) for r in rows.tolist()]
    sizes = region.units["size"].to_numpy()
    agencies = region.units["agency_id"].to_list()
    child_ids = region.units["child_ids"].to_list()
    return WaitingUnits(
        rows=rows,
        unit_ids=tuple(ids),
        child_ids=tuple(tuple(child_ids[r]) for r in rows.tolist()),
        agency_ids=tuple(agencies[r] for r in rows.tolist()),
        age_bands=tuple(age_band(int(by_id[u]["eldest"])) for u in ids),
        size_bands=tuple(size_band(int(sizes[r])) for r in rows.tolist()),
        need_levels=tuple(NEED_LEVELS[int(by_id[u]["need"])] for u in ids),
        ethnicities=tuple(tuple(by_id[u]["ethnicities"]) for u in ids),
    )
