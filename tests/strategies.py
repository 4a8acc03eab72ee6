"""Hypothesis strategies for regions, shared by the feature and query tests.

:func:`regions` starts from a small synthetic region (``generate_region``)
and edits it so that the cases a family finder's rules are most likely to
get wrong turn up often: ages exactly on an approval bound (births on the
29th-31st, as-of dates at month ends), a household exactly on a child's
safety radius, sibling groups of both sexes with households approved for
one, groups with a member who is not waiting, need levels exactly at the
accept and consider levels, early permanence, direct contact, households
that are not approved. The edited frames are written as contract CSV files
and read back with :func:`matcher.files.read.read_region`, so every drawn region is
one the project accepts as valid input, typed exactly as the project sees
it.
"""

from __future__ import annotations

import calendar
import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from hypothesis import strategies as st

from matcher.generate import generate_region
from matcher.files.read import read_region
from matcher.files.write import write_table
from matcher.validation import RegionTables
from features.contract import ADULT_MONTHS, CHILDREN, HOUSEHOLDS, NEEDS
from tests.features.reference_rules import age_in_months, haversine_km

# Month ends and leap days, where "whole months completed" is easiest to get wrong.
EDGE_AS_OF = (
    dt.date(2026, 6, 30),
    dt.date(2026, 2, 28),
    dt.date(2024, 2, 29),
    dt.date(2026, 3, 1),
    dt.date(2026, 4, 30),
    dt.date(2026, 1, 31),
    dt.date(2025, 12, 31),
    dt.date(2026, 3, 31),
)
NOT_WAITING = ("linked", "matched", "placed")
NOT_APPROVED = ("linked", "matched", "on_hold")


@dataclass(frozen=True)
class DrawnRegion:
    """A valid region as the project reads it, and the date it is read at."""

    as_of: dt.date
    files: RegionTables

    @property
    def children(self) -> pl.DataFrame:
        return self.files.children

    @property
    def households(self) -> pl.DataFrame:
        return self.files.households


def _shift_months(day: dt.date, months: int) -> tuple[int, int]:
    index = day.year * 12 + (day.month - 1) - months
    return index // 12, index % 12 + 1


def births_at_age(months: int, as_of: dt.date) -> list[dt.date]:
    """Every date of birth giving exactly ``months`` whole months at ``as_of``."""
    found = []
    for back in (months, months + 1):
        year, month = _shift_months(as_of, back)
        for day in range(1, calendar.monthrange(year, month)[1] + 1):
            born = dt.date(year, month, day)
            if born <= as_of and age_in_months(born, as_of) == months:
                found.append(born)
    return sorted(found)


def _edge_births(months: int, as_of: dt.date) -> list[dt.date]:
    """The first and last birth dates giving that age, and those on the 28th-31st."""
    found = births_at_age(months, as_of)
    return sorted({found[0], found[-1], *(b for b in found if b.day >= 28)})


def _set_birth(child: dict, born: dt.date) -> None:
    child["date_of_birth"] = born
    # Keep the dates in order (entered care after birth, order after care)
    # so that the region stays valid input.
    if child["entered_care_date"] < born:
        child["entered_care_date"] = born
    if child["placement_order_date"] is not None and child["placement_order_date"] < child["entered_care_date"]:
        child["placement_order_date"] = child["entered_care_date"]


def _groups(kids: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for child in kids:
        if child["sibling_group_id"] is not None:
            out.setdefault(child["sibling_group_id"], []).append(child)
    return out


def _generous(home: dict) -> None:
    """Widen a household's approval so that single rules can be seen alone."""
    home.update(min_children=1, max_children=4, min_age_months=0, max_age_months=216, sexes=["F", "M"])
    for need in NEEDS:
        home[f"consider_{need}"] = 3


@st.composite
def regions(draw, max_children: int = 14, max_households: int = 9) -> DrawnRegion:
    """A small valid region with the edge cases listed in the module docstring."""
    as_of = draw(st.one_of(st.sampled_from(EDGE_AS_OF), st.dates(dt.date(2015, 1, 1), dt.date(2035, 12, 31))))
    seed = draw(st.integers(0, 2**32 - 1))
    n_children = draw(st.integers(3, max_children))
    n_households = draw(st.integers(2, max_households))
    kid_frame, home_frame = generate_region(seed, n_children, n_households, as_of)
    kids, homes = kid_frame.to_dicts(), home_frame.to_dicts()
    child = st.integers(0, n_children - 1)
    home = st.integers(0, n_households - 1)

    for j in draw(st.lists(home, max_size=n_households // 2 + 1, unique=True)):
        _generous(homes[j])

    # Ages exactly on a household's bound, or a bound moved onto a child's age.
    for _ in range(draw(st.integers(0, 4))):
        i, j = draw(child), draw(home)
        bound = draw(st.sampled_from(["min_age_months", "max_age_months"]))
        if draw(st.booleans()):
            # A waiting child is under 18 (216 months): the oldest bound a
            # child can sit on is 215 months.
            months = min(homes[j][bound], ADULT_MONTHS - 1)
            _set_birth(kids[i], draw(st.sampled_from(_edge_births(months, as_of))))
        else:
            age = age_in_months(kids[i]["date_of_birth"], as_of)
            if bound == "min_age_months":
                homes[j].update(min_age_months=age, max_age_months=max(age, homes[j]["max_age_months"]))
            else:
                homes[j].update(max_age_months=age, min_age_months=min(age, homes[j]["min_age_months"]))

    # Safety distance exactly the distance to a household (or a centimetre
    # either side), and households on the birth family's doorstep.
    for _ in range(draw(st.integers(0, 3))):
        i, j = draw(child), draw(home)
        kid = kids[i]
        if kid["birth_family_lat"] is None:
            kid["birth_family_lat"], kid["birth_family_lon"] = kid["lat"], kid["lon"]
        if draw(st.integers(0, 4)) == 0:
            homes[j]["lat"], homes[j]["lon"] = kid["birth_family_lat"], kid["birth_family_lon"]
        km = haversine_km(kid["birth_family_lat"], kid["birth_family_lon"], homes[j]["lat"], homes[j]["lon"])
        # A centimetre is far beyond the 1 mm tolerance, and far beyond
        # rounding at the distances of 2-decimal coordinates (>= ~0.5 km).
        offset = draw(st.sampled_from([0.0, 0.0, -1e-5, 1e-5])) if km >= 0.5 else 0.0
        if km == 0.0 and draw(st.booleans()):
            offset = float(draw(st.sampled_from([1, 10, 25])))
        kid["min_distance_km"] = km + offset

    groups = _groups(kids)
    group_ids = sorted(groups)
    if group_ids:
        # Brothers and sisters together, households approved for one sex.
        for g in draw(st.lists(st.sampled_from(group_ids), max_size=2, unique=True)):
            for k, member in enumerate(groups[g]):
                member["sex"] = "FM"[k % 2]
            homes[draw(home)]["sexes"] = [draw(st.sampled_from(["F", "M"]))]
        # A group with exactly one member who is not waiting.
        for g in draw(st.lists(st.sampled_from(group_ids), max_size=2, unique=True)):
            absent = draw(st.integers(0, len(groups[g]) - 1))
            for k, member in enumerate(groups[g]):
                member["status"] = draw(st.sampled_from(NOT_WAITING)) if k == absent else "waiting"
        # A group whose plan is apart (each child is then a unit of one).
        for g in draw(st.lists(st.sampled_from(group_ids), max_size=1)):
            for member in groups[g]:
                member["sibling_plan"] = "apart"

    # Need levels exactly at accept or consider, or one above consider.
    for _ in range(draw(st.integers(0, 4))):
        i, j, need = draw(child), draw(home), draw(st.sampled_from(NEEDS))
        accept, consider = homes[j][f"accept_{need}"], homes[j][f"consider_{need}"]
        level = draw(st.sampled_from([accept, consider, consider + 1]))
        kids[i][f"need_{need}"] = min(level, 3)
    # An empty consider level, which the contract defaults to accept.
    for j in draw(st.lists(home, max_size=2, unique=True)):
        homes[j][f"consider_{draw(st.sampled_from(NEEDS))}"] = None

    # Early permanence and direct contact, with households either way.
    for i in draw(st.lists(child, max_size=2, unique=True)):
        kids[i]["early_permanence"] = True
    for i in draw(st.lists(child, max_size=2, unique=True)):
        kids[i]["contact_plan"] = "direct"
    for j in draw(st.lists(home, max_size=3, unique=True)):
        homes[j]["dual_approved"] = draw(st.booleans())
        homes[j]["accepts_direct_contact"] = draw(st.booleans())

    # Households that are not approved.
    for j in draw(st.lists(home, max_size=2, unique=True)):
        homes[j]["status"] = draw(st.sampled_from(NOT_APPROVED))

    children = pl.DataFrame(kids, schema=kid_frame.schema)
    households = pl.DataFrame(homes, schema=home_frame.schema)
    return DrawnRegion(as_of, load_region(children, households, as_of))


def load_region(children: pl.DataFrame, households: pl.DataFrame, as_of: dt.date) -> RegionTables:
    """Write both frames as contract CSV files and read them back, validated."""
    with tempfile.TemporaryDirectory() as folder:
        kids_path, homes_path = Path(folder) / "children.csv", Path(folder) / "households.csv"
        write_table(children, kids_path, CHILDREN)
        write_table(households, homes_path, HOUSEHOLDS)
        region = read_region(kids_path, homes_path, as_of=as_of)
    # The safety-distance edge cases rely on floats surviving the CSV round trip.
    wrote = children["min_distance_km"].to_list()
    read = region.children["min_distance_km"].to_list()
    assert wrote == read, "min_distance_km changed in the CSV round trip"
    return region
