"""A plain, per-pair reference for hard rules 1-7 of CONTRACT.md.

Written from the contract's text, not from the project's code, so that the
vectorised masks in :mod:`features.eligibility` have something independent
to agree with. Everything here is ordinary Python over the dict rows of the
typed children and households frames (``frame.to_dicts()``): its own unit
building, its own age in months and its own haversine. It is meant to be
slow and obvious.

Readings of the contract made here (the project documents the same ones):

- a month of age completes on the birth day-of-month; a month that has no
  such day (a child born on the 31st, in a 30-day month) completes on the
  first day of the next month;
- rule 6 allows a household whose distance from the birth family is at
  least ``min_distance_km`` less one millimetre (``1e-6`` km), and a child
  without a safety distance or without a birth-family location has no
  rule-6 constraint;
- rule 7: a ``together`` sibling group can only be proposed when every
  member is waiting (otherwise it would be placed without them).
"""

from __future__ import annotations

import datetime as dt
import math

EARTH_RADIUS_KM = 6371.0
DISTANCE_TOLERANCE_KM = 1e-6

NEEDS = (
    "physical",
    "learning",
    "health",
    "developmental_uncertainty",
    "emotional",
    "prenatal_exposure",
)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km on a sphere of radius 6371 km."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlam = math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlam / 2) ** 2
    h = min(1.0, max(0.0, h))
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def age_in_months(date_of_birth: dt.date, as_of: dt.date) -> int:
    """Whole calendar months completed at ``as_of``."""
    months = (as_of.year - date_of_birth.year) * 12 + (as_of.month - date_of_birth.month)
    if as_of.day < date_of_birth.day:
        months -= 1
    return months


def is_together_group(child: dict) -> bool:
    """A member of a sibling group whose plan is together (the default)."""
    return child["sibling_group_id"] is not None and child["sibling_plan"] in (None, "together")


def unit_id_of(child: dict) -> str:
    return child["sibling_group_id"] if is_together_group(child) else child["child_id"]


def reference_units(children: list[dict]) -> dict[str, list[dict]]:
    """unit_id -> the unit's children (in input order)."""
    units: dict[str, list[dict]] = {}
    for child in children:
        units.setdefault(unit_id_of(child), []).append(child)
    return units


def _consider(household: dict, need: str) -> int:
    level = household.get(f"consider_{need}")
    return household[f"accept_{need}"] if level is None else level


def reference_broken_rules(unit_children: list[dict], household: dict, as_of: dt.date) -> set[int]:
    """The numbers of the hard rules (1-7) one unit-household pair breaks."""
    broken: set[int] = set()

    # Rule 1: only waiting children and approved households.
    if household["status"] != "approved":
        broken.add(1)
    for child in unit_children:
        if child["status"] != "waiting":
            broken.add(1)

    # Rule 2: unit size within [min_children, max_children].
    size = len(unit_children)
    if size < household["min_children"] or size > household["max_children"]:
        broken.add(2)

    # Rule 3: every child's age within the range, and sex approved for.
    for child in unit_children:
        age = age_in_months(child["date_of_birth"], as_of)
        if age < household["min_age_months"] or age > household["max_age_months"]:
            broken.add(3)
        if child["sex"] not in household["sexes"]:
            broken.add(3)

    # Rule 4: every need at or below the consider level.
    for child in unit_children:
        for need in NEEDS:
            if child[f"need_{need}"] > _consider(household, need):
                broken.add(4)

    # Rule 5: early permanence needs dual approval; direct contact needs acceptance.
    for child in unit_children:
        if child.get("early_permanence") and not household.get("dual_approved"):
            broken.add(5)
        if child.get("contact_plan") == "direct" and not household.get("accepts_direct_contact"):
            broken.add(5)

    # Rule 6: at least min_distance_km from the birth family.
    for child in unit_children:
        keep = child.get("min_distance_km")
        bf_lat, bf_lon = child.get("birth_family_lat"), child.get("birth_family_lon")
        if keep is None or bf_lat is None or bf_lon is None:
            continue
        distance = haversine_km(bf_lat, bf_lon, household["lat"], household["lon"])
        if distance < keep - DISTANCE_TOLERANCE_KM:
            broken.add(6)

    # Rule 7: a together group is placed whole; with a member not waiting it
    # cannot be placed at all.
    if size > 1 and all(is_together_group(c) for c in unit_children):
        if any(c["status"] != "waiting" for c in unit_children):
            broken.add(7)

    return broken
