"""Synthetic regions in the contract's format, deterministic per seed.

The proportions are calibrated to published figures for England and to the
seed reports; :class:`Calibration` holds every figure with its source, and
the README's "Synthetic regions" section lists them. Nothing here is real
case data: ids are sequence codes and locations are random points around a
made-up regional centre.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from features.contract import BRITISH_ISLES, ETHNICITY_CODES, NEEDS

DAY = np.timedelta64(1, "D")


@dataclass(frozen=True)
class Calibration:
    """Every proportion the generator draws from. Sources: README,
    "Synthetic regions"."""

    # Unit sizes among units of waiting children (1, 2, 3, 4 children).
    # Gives about half the children in sibling groups and ~12% of children
    # in groups of three or more.
    unit_size_p: tuple[float, ...] = (0.68, 0.24, 0.065, 0.015)
    apart_share: float = 0.15
    # Age band of the youngest (or only) child: under 1, 1-4, 5-9, 10-15.
    age_band_p: tuple[float, ...] = (0.17, 0.64, 0.15, 0.04)
    boys: float = 0.55
    # Heritage of children: White British share, then the rest by code.
    child_heritage: tuple[tuple[str, float], ...] = (
        ("WBRI", 0.74), ("WOTH", 0.03), ("WIRT", 0.005), ("WROM", 0.005), ("MWBC", 0.05), ("MWBA", 0.02),
        ("MWAS", 0.02), ("MOTH", 0.04), ("APKN", 0.015), ("ABAN", 0.005), ("AIND", 0.005), ("AOTH", 0.01),
        ("BCRB", 0.01), ("BAFR", 0.02), ("BOTH", 0.01), ("CHNE", 0.002), ("OOTH", 0.008), ("NOBT", 0.005),
    )
    household_heritage: tuple[tuple[str, float], ...] = (
        ("WBRI", 0.86), ("WOTH", 0.03), ("WIRI", 0.01), ("MWBC", 0.02), ("MOTH", 0.01), ("AIND", 0.015),
        ("APKN", 0.01), ("BCRB", 0.01), ("BAFR", 0.015), ("CHNE", 0.005), ("OOTH", 0.005),
    )
    # Need level distributions (0-3) for young children; older children's
    # emotional needs are shifted up.
    need_p: tuple[tuple[float, ...], ...] = (
        (0.84, 0.09, 0.05, 0.02),  # physical
        (0.70, 0.17, 0.09, 0.04),  # learning
        (0.74, 0.16, 0.07, 0.03),  # health
        (0.50, 0.27, 0.17, 0.06),  # developmental uncertainty
        (0.62, 0.22, 0.12, 0.04),  # emotional
        (0.55, 0.25, 0.14, 0.06),  # prenatal exposure
    )
    older_emotional_p: tuple[float, ...] = (0.25, 0.35, 0.28, 0.12)
    early_permanence_infants: float = 0.25
    contact_p: tuple[float, ...] = (0.12, 0.73, 0.15)
    birth_family_known: float = 0.85
    safety_distance: float = 0.35
    child_status_p: tuple[float, ...] = (0.82, 0.09, 0.05, 0.04)
    # Households.
    vaa_share: float = 0.25
    single_adopter: float = 0.12
    # Approved unit size (min, max) and its probability.
    household_size_p: tuple[tuple[int, int, float], ...] = (
        (1, 1, 0.58), (1, 2, 0.28), (2, 2, 0.08), (2, 3, 0.04), (1, 3, 0.015), (2, 4, 0.005),
    )
    # Oldest age approved for, in months, and its probability.
    household_max_age_p: tuple[tuple[int, float], ...] = (
        (24, 0.30), (36, 0.22), (48, 0.18), (60, 0.14), (84, 0.09), (120, 0.05), (156, 0.02),
    )
    accept_p: tuple[float, ...] = (0.30, 0.50, 0.17, 0.03)
    consider_step_p: tuple[float, ...] = (0.45, 0.45, 0.10)
    dual_approved: float = 0.20
    accepts_direct_contact: float = 0.25
    existing_child: float = 0.20
    travel_limit: float = 0.6
    household_status_p: tuple[float, ...] = (0.82, 0.08, 0.04, 0.06)


LA_COUNT = 5
VAA_COUNT = 3
CENTRE = (52.48, -1.90)  # a made-up centre; only relative distances matter
SPREAD_DEG = 0.45


def _choice(rng: np.random.Generator, options, p, size):
    p = np.asarray(p, dtype=float)
    return np.asarray(options)[rng.choice(len(options), size=size, p=p / p.sum())]


def _points(rng: np.random.Generator, n: int, spread: float = SPREAD_DEG) -> tuple[np.ndarray, np.ndarray]:
    lat = CENTRE[0] + rng.normal(0.0, spread, n)
    lon = CENTRE[1] + rng.normal(0.0, spread * 1.6, n)
    return _in_the_british_isles(lat, lon)


def _in_the_british_isles(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points (2 decimals) kept inside the box validation warns outside of:
    a rare draw in a large region would otherwise fall in the North Sea."""
    south, north, west, east = BRITISH_ISLES
    return np.round(np.clip(lat, south, north), 2), np.round(np.clip(lon, west, east), 2)


def _dates(days_before: np.ndarray, as_of: dt.date) -> np.ndarray:
    return np.datetime64(as_of, "D") - days_before.astype(np.int64) * DAY


def generate_children(n: int, rng: np.random.Generator, as_of: dt.date, cal: Calibration) -> pl.DataFrame:
    """``n`` children in units drawn from the calibration."""
    sizes = _choice(rng, [1, 2, 3, 4], cal.unit_size_p, n)
    sizes = sizes[np.cumsum(sizes) <= n]
    while sizes.sum() < n:  # top up with single children to hit n exactly
        sizes = np.append(sizes, 1)
    n_units = len(sizes)
    unit_of = np.repeat(np.arange(n_units), sizes)
    pos_in_unit = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)

    # Youngest child's age, then older siblings spaced 10-40 months apart.
    band = _choice(rng, [0, 1, 2, 3], cal.age_band_p, n_units)
    lo = np.array([0, 12, 60, 120])[band]
    hi = np.array([12, 60, 120, 180])[band]
    youngest = rng.integers(lo, hi)
    gaps = rng.integers(10, 41, n)
    gaps[pos_in_unit == 0] = 0
    ages_months = youngest[unit_of] + _cumsum_within(gaps, unit_of)
    ages_days = np.minimum(ages_months * 30.44 + rng.integers(0, 30, n), 17 * 365).astype(np.int64)
    ages_months = (ages_days / 30.44).astype(np.int64)

    sex = np.where(rng.random(n) < cal.boys, "M", "F")
    heritage_codes = [c for c, _ in cal.child_heritage]
    heritage_p = [p for _, p in cal.child_heritage]
    unit_heritage = _choice(rng, heritage_codes, heritage_p, n_units)
    heritage = unit_heritage[unit_of]
    # A few siblings carry a different recorded heritage (different fathers).
    differ = rng.random(n) < 0.05
    heritage[differ] = _choice(rng, heritage_codes, heritage_p, int(differ.sum()))

    needs = {}
    for need, p in zip(NEEDS, cal.need_p):
        levels = _choice(rng, [0, 1, 2, 3], p, n)
        if need == "emotional":
            older = ages_months >= 48
            levels[older] = _choice(rng, [0, 1, 2, 3], cal.older_emotional_p, int(older.sum()))
        needs[f"need_{need}"] = levels.astype(np.int64)
    # Complex-needs cases: a few children carry severe needs on several axes.
    complex_case = rng.random(n) < 0.03
    for need in ("physical", "learning", "health"):
        needs[f"need_{need}"][complex_case] = 3

    # Entered care: infants often at birth; older children after some years.
    entered_days_ago = np.minimum(ages_days, rng.gamma(2.2, 200.0, n).astype(np.int64) + 60)
    placement_lag = rng.integers(120, 420, n)
    po_days_ago = entered_days_ago - placement_lag
    has_po = (po_days_ago > 0) & (rng.random(n) < 0.95)
    po_days_ago = np.where(has_po, np.maximum(po_days_ago, 1), -1)

    infant = (ages_months[_first_of_unit(unit_of, n_units)] < 6)
    ep_unit = infant & (sizes == 1) & (rng.random(n_units) < cal.early_permanence_infants)
    contact_unit = _choice(rng, ["none", "letterbox", "direct"], cal.contact_p, n_units)
    plan_apart = (sizes > 1) & (rng.random(n_units) < cal.apart_share)

    lat_u, lon_u = _points(rng, n_units)
    known = rng.random(n_units) < cal.birth_family_known
    bf_lat_u, bf_lon_u = _in_the_british_isles(lat_u + rng.normal(0, 0.15, n_units),
                                               lon_u + rng.normal(0, 0.25, n_units))
    safety = known & (rng.random(n_units) < cal.safety_distance)
    safety_km = np.round(rng.choice([10.0, 20.0, 30.0, 50.0], n_units), 1)
    status_u = _choice(rng, ["waiting", "linked", "matched", "placed"], cal.child_status_p, n_units)
    agency_u = np.char.add("LA", np.char.zfill((rng.integers(1, LA_COUNT + 1, n_units)).astype(str), 2))

    group_id = np.where(sizes > 1, np.char.add("SG", np.char.zfill(np.arange(1, n_units + 1).astype(str), 5)), "")
    child_id = np.char.add("C", np.char.zfill(np.arange(1, n + 1).astype(str), 6))
    frame = pl.DataFrame(
        {
            "child_id": child_id,
            "agency_id": agency_u[unit_of],
            "region": np.full(n, "R1"),
            "date_of_birth": _dates(ages_days, as_of),
            "sex": sex,
            "ethnicity": heritage,
            "sibling_group_id": group_id[unit_of],
            "sibling_plan": np.where(sizes[unit_of] > 1, np.where(plan_apart[unit_of], "apart", "together"), ""),
            **needs,
            "entered_care_date": _dates(entered_days_ago, as_of),
            "placement_order_date": _dates(np.maximum(po_days_ago, 0), as_of),
            "has_po": has_po,
            "early_permanence": ep_unit[unit_of],
            "contact_plan": contact_unit[unit_of],
            "lat": lat_u[unit_of],
            "lon": lon_u[unit_of],
            "birth_family_lat": np.where(known, bf_lat_u, np.nan)[unit_of],
            "birth_family_lon": np.where(known, bf_lon_u, np.nan)[unit_of],
            "min_distance_km": np.where(safety, safety_km, np.nan)[unit_of],
            "status": status_u[unit_of],
        }
    )
    return frame.with_columns(
        pl.when(pl.col("has_po")).then(pl.col("placement_order_date")).otherwise(None).alias("placement_order_date"),
        pl.col("sibling_group_id").replace("", None),
        pl.col("sibling_plan").replace("", None),
        pl.col("birth_family_lat").fill_nan(None),
        pl.col("birth_family_lon").fill_nan(None),
        pl.col("min_distance_km").fill_nan(None),
    ).drop("has_po")


def _cumsum_within(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    total = np.cumsum(values)
    starts = np.r_[0, np.flatnonzero(np.diff(groups)) + 1]
    offset = np.repeat(total[starts] - values[starts], np.diff(np.r_[starts, len(values)]))
    return total - offset


def _first_of_unit(unit_of: np.ndarray, n_units: int) -> np.ndarray:
    return np.searchsorted(unit_of, np.arange(n_units))


def generate_households(n: int, rng: np.random.Generator, as_of: dt.date, cal: Calibration) -> pl.DataFrame:
    """``n`` adopter households drawn from the calibration."""
    vaa = rng.random(n) < cal.vaa_share
    agency = np.where(
        vaa,
        np.char.add("VAA", np.char.zfill(rng.integers(1, VAA_COUNT + 1, n).astype(str), 2)),
        np.char.add("LA", np.char.zfill(rng.integers(1, LA_COUNT + 1, n).astype(str), 2)),
    )
    sizes = cal.household_size_p
    pick = _choice(rng, np.arange(len(sizes)), [p for _, _, p in sizes], n)
    min_children = np.array([s[0] for s in sizes])[pick]
    max_children = np.array([s[1] for s in sizes])[pick]
    max_age = _choice(rng, [a for a, _ in cal.household_max_age_p], [p for _, p in cal.household_max_age_p], n)
    # Households approved for siblings accept somewhat older children.
    max_age = np.where(max_children > 1, np.maximum(max_age, rng.choice([48, 60, 84, 120], n)), max_age)
    min_age = np.where(rng.random(n) < 0.8, 0, np.minimum(max_age, rng.choice([6, 12, 24], n)))
    sexes = _choice(rng, ["F;M", "F", "M"], [0.86, 0.10, 0.04], n)

    codes = [c for c, _ in cal.household_heritage]
    own = _choice(rng, codes, [p for _, p in cal.household_heritage], n)
    partner = np.where(rng.random(n) < 0.1, _choice(rng, codes, [p for _, p in cal.household_heritage], n), own)
    single = rng.random(n) < cal.single_adopter
    ethnicities = np.where(single | (partner == own), own, np.char.add(np.char.add(own, ";"), partner))
    promote_mixed = rng.random(n) < 0.15
    extra = _choice(rng, ["MWBC", "MWBA", "MWAS", "MOTH", "BCRB", "BAFR"], [1] * 6, n)
    can_promote = np.where(promote_mixed, np.char.add(np.char.add(ethnicities, ";"), extra), ethnicities)

    columns: dict[str, object] = {}
    for need in NEEDS:
        accept = _choice(rng, [0, 1, 2, 3], cal.accept_p, n)
        step = _choice(rng, [0, 1, 2], cal.consider_step_p, n)
        columns[f"accept_{need}"] = accept.astype(np.int64)
        columns[f"consider_{need}"] = np.minimum(accept + step, 3).astype(np.int64)
    has_child = rng.random(n) < cal.existing_child
    youngest = np.where(has_child, rng.integers(24, 180, n), -1)
    travel = np.where(rng.random(n) < cal.travel_limit, rng.choice([50.0, 80.0, 120.0, 200.0], n), np.nan)
    lat, lon = _points(rng, n, SPREAD_DEG * 1.2)
    approval_days_ago = rng.gamma(1.6, 140.0, n).astype(np.int64) + 7
    status = _choice(rng, ["approved", "linked", "matched", "on_hold"], cal.household_status_p, n)
    frame = pl.DataFrame(
        {
            "household_id": np.char.add("H", np.char.zfill(np.arange(1, n + 1).astype(str), 6)),
            "agency_id": agency,
            "agency_type": np.where(vaa, "vaa", "la"),
            "region": np.full(n, "R1"),
            "approval_date": _dates(approval_days_ago, as_of),
            "adults": np.where(single, 1, 2).astype(np.int64),
            "ethnicities": ethnicities,
            "can_promote": can_promote,
            "min_children": min_children.astype(np.int64),
            "max_children": max_children.astype(np.int64),
            "min_age_months": min_age.astype(np.int64),
            "max_age_months": max_age.astype(np.int64),
            "sexes": sexes,
            **columns,
            "dual_approved": rng.random(n) < cal.dual_approved,
            "accepts_direct_contact": rng.random(n) < cal.accepts_direct_contact,
            "youngest_child_months": youngest.astype(np.int64),
            "lat": lat,
            "lon": lon,
            "max_travel_km": travel,
            "status": status,
        }
    )
    return frame.with_columns(
        pl.col("ethnicities").str.split(";"),
        pl.col("can_promote").str.split(";").list.unique(maintain_order=True),
        pl.col("sexes").str.split(";"),
        pl.when(pl.col("youngest_child_months") >= 0).then(pl.col("youngest_child_months")).otherwise(None),
        pl.col("max_travel_km").fill_nan(None),
    )


def generate_region(seed: int, n_children: int, n_households: int, as_of: dt.date,
                    cal: Calibration | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A synthetic region: ``(children, households)`` as typed frames in the
    contract's columns. The same arguments always give the same region."""
    cal = cal or Calibration()
    if n_children < 1 or n_households < 1:
        raise ValueError("a region needs at least one child and one household")
    children_rng, households_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    return (
        generate_children(n_children, children_rng, as_of, cal),
        generate_households(n_households, households_rng, as_of, cal),
    )


__all__ = ["Calibration", "generate_region", "ETHNICITY_CODES"]
