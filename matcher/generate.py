"""Synthetic regions in the contract's format, deterministic per seed.

The proportions are calibrated to published figures for England and to the
seed reports: :class:`Calibration` holds every proportion the generator
draws from, and :data:`CALIBRATION_TARGETS` the figure each is tuned to, with
its range and source (docs/calibration.md and the README's "Synthetic
regions" show the same rows; a test checks a 6,000-child region against
each). Nothing here is real case data: ids are sequence codes and locations
are random points around a made-up regional centre.
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
    """Every proportion the generator draws from. The figures they are
    tuned to, with ranges and sources, are :data:`CALIBRATION_TARGETS`
    (shown in docs/calibration.md and the README, "Synthetic regions")."""

    # Unit sizes among units of waiting children (1, 2, 3, 4 children):
    # about 47% of the children in sibling groups (with the ages below, 63%
    # are in a priority group, as in ASGLB), and groups of 2 / 3 / 4+ in the
    # proportions 78 / 18 / 4.
    unit_size_p: tuple[float, ...] = (0.718, 0.2198, 0.0507, 0.0115)
    apart_share: float = 0.13
    # Age band of a single child, and of the youngest child of a sibling
    # group: under 1, 1-4, 5-9, 10-15. Children aged 5+ are mostly in
    # sibling groups, so priority groups overlap.
    age_band_p: tuple[float, ...] = (0.17, 0.75, 0.06, 0.02)
    group_age_band_p: tuple[float, ...] = (0.07, 0.58, 0.33, 0.02)
    boys: float = 0.565
    # Heritage of children: White British share, then the rest by code
    # (BME 20%: Mixed 13, Black 4, Asian 2, Chinese and other 1).
    child_heritage: tuple[tuple[str, float], ...] = (
        ("WBRI", 0.755), ("WOTH", 0.03), ("WIRT", 0.005), ("WROM", 0.005), ("MWBC", 0.05), ("MWBA", 0.02),
        ("MWAS", 0.02), ("MOTH", 0.04), ("APKN", 0.008), ("ABAN", 0.004), ("AIND", 0.004), ("AOTH", 0.004),
        ("BCRB", 0.01), ("BAFR", 0.02), ("BOTH", 0.01), ("CHNE", 0.002), ("OOTH", 0.008), ("NOBT", 0.005),
    )
    # Adopters' own heritage (BME about 4%).
    household_heritage: tuple[tuple[str, float], ...] = (
        ("WBRI", 0.89), ("WOTH", 0.05), ("WIRI", 0.02), ("MWBC", 0.008), ("MOTH", 0.004), ("AIND", 0.007),
        ("APKN", 0.006), ("BCRB", 0.005), ("BAFR", 0.006), ("CHNE", 0.002), ("OOTH", 0.002),
    )
    # Needs. A child is "harder to place because of needs" with these
    # probabilities (under 4, 4 and over); only those children carry a need
    # at moderate (2) or above, usually on several axes, as needs cluster
    # (trauma, developmental uncertainty, prenatal exposure). Every other
    # child has at most mild (1) notes. Axes in NEEDS order: physical,
    # learning, health, developmental uncertainty, emotional, prenatal
    # exposure.
    needs_share: tuple[float, float] = (0.32, 0.44)
    # P(level >= 2 on the axis | harder to place), and for emotional needs
    # of children aged 4 and over.
    moderate_given_needs: tuple[float, ...] = (0.10, 0.30, 0.30, 0.62, 0.70, 0.62)
    older_emotional_given_needs: float = 0.88
    # P(level 3 | level >= 2) on each axis.
    severe_given_moderate: tuple[float, ...] = (0.40, 0.20, 0.20, 0.10, 0.10, 0.32)
    # P(level 1) on an axis below moderate: other children, harder-to-place
    # children; prenatal exposure 1 means exposure recorded, no FASD signs.
    mild_p: tuple[float, ...] = (0.06, 0.12, 0.15, 0.20, 0.20, 0.45)
    mild_given_needs: tuple[float, ...] = (0.15, 0.35, 0.35, 0.40, 0.50, 0.45)
    older_emotional_mild: float = 0.40
    # Share of harder-to-place children with severe physical, learning and
    # health needs together (complex needs).
    complex_given_needs: float = 0.04
    # Early-permanence plans: share of single children under 2.
    early_permanence_under_2: float = 0.235
    # Contact plan: none, letterbox, direct.
    contact_p: tuple[float, ...] = (0.10, 0.65, 0.25)
    birth_family_known: float = 0.85
    # Safety distance: share of children whose birth family is known.
    safety_distance: float = 0.30
    child_status_p: tuple[float, ...] = (0.82, 0.09, 0.05, 0.04)
    # Days in care before the age cap: gamma(shape, scale) + 60.
    in_care_gamma: tuple[float, float] = (2.4, 260.0)
    # Days from entering care to the placement order (uniform).
    placement_lag_days: tuple[int, int] = (120, 420)
    # Households.
    vaa_share: float = 0.24
    single_adopter: float = 0.12
    # Approved unit size (min, max) and its probability: about 60% one
    # child, 39% up to two, 1.35% three or more.
    household_size_p: tuple[tuple[int, int, float], ...] = (
        (1, 1, 0.60), (1, 2, 0.2965), (2, 2, 0.09), (2, 3, 0.0095), (1, 3, 0.0035), (2, 4, 0.0005),
    )
    # Oldest age approved for, in months, and its probability.
    household_max_age_p: tuple[tuple[int, float], ...] = (
        (24, 0.34), (36, 0.31), (48, 0.285), (60, 0.035), (84, 0.022), (120, 0.006), (156, 0.002),
    )
    # Households approved for siblings accept at least this oldest age.
    sibling_max_age_p: tuple[tuple[int, float], ...] = ((48, 0.91), (60, 0.055), (84, 0.035))
    accept_p: tuple[float, ...] = (0.30, 0.50, 0.17, 0.03)
    consider_step_p: tuple[float, ...] = (0.45, 0.45, 0.10)
    dual_approved: float = 0.20
    accepts_direct_contact: float = 0.25
    existing_child: float = 0.20
    travel_limit: float = 0.6
    household_status_p: tuple[float, ...] = (0.82, 0.08, 0.04, 0.06)
    # Days since approval: gamma(shape, scale) + 7.
    approval_gamma: tuple[float, float] = (1.6, 120.0)


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
    band = np.where(sizes == 1, _choice(rng, [0, 1, 2, 3], cal.age_band_p, n_units),
                    _choice(rng, [0, 1, 2, 3], cal.group_age_band_p, n_units))
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

    needs = _draw_needs(rng, ages_months, cal)

    # Entered care: infants often at birth; older children after some years.
    entered_days_ago = np.minimum(ages_days, rng.gamma(*cal.in_care_gamma, n).astype(np.int64) + 60)
    placement_lag = rng.integers(*cal.placement_lag_days, n)
    po_days_ago = entered_days_ago - placement_lag
    has_po = (po_days_ago > 0) & (rng.random(n) < 0.95)
    po_days_ago = np.where(has_po, np.maximum(po_days_ago, 1), -1)

    under_2 = ages_months[_first_of_unit(unit_of, n_units)] < 24
    ep_unit = under_2 & (sizes == 1) & (rng.random(n_units) < cal.early_permanence_under_2)
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


def _draw_needs(rng: np.random.Generator, ages_months: np.ndarray, cal: Calibration) -> dict[str, np.ndarray]:
    """Need levels (0-3) per axis; see :class:`Calibration`."""
    n = len(ages_months)
    older = ages_months >= 48
    harder = rng.random(n) < np.where(older, cal.needs_share[1], cal.needs_share[0])
    levels = np.zeros((n, len(NEEDS)), dtype=np.int64)
    for axis, need in enumerate(NEEDS):
        moderate_p = np.full(n, cal.moderate_given_needs[axis])
        mild_p = np.where(harder, cal.mild_given_needs[axis], cal.mild_p[axis])
        if need == "emotional":
            moderate_p[older] = cal.older_emotional_given_needs
            mild_p = np.where(older, np.maximum(mild_p, cal.older_emotional_mild), mild_p)
        moderate = harder & (rng.random(n) < moderate_p)
        severe = moderate & (rng.random(n) < cal.severe_given_moderate[axis])
        mild = ~moderate & (rng.random(n) < mild_p)
        levels[:, axis] = np.select([severe, moderate, mild], [3, 2, 1], 0)
    # Every harder-to-place child has at least one moderate need.
    short = np.flatnonzero(harder & (levels.max(axis=1) < 2))
    levels[short, _choice(rng, np.arange(len(NEEDS)), cal.moderate_given_needs, len(short))] = 2
    complex_case = harder & (rng.random(n) < cal.complex_given_needs)
    for need in ("physical", "learning", "health"):
        levels[complex_case, NEEDS.index(need)] = 3
    return {f"need_{need}": levels[:, axis] for axis, need in enumerate(NEEDS)}


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
    # Households approved for siblings accept somewhat older children, and
    # the few approved for three or more older still.
    sibling_floor = _choice(rng, [a for a, _ in cal.sibling_max_age_p], [p for _, p in cal.sibling_max_age_p], n)
    max_age = np.where(max_children > 1, np.maximum(max_age, sibling_floor), max_age)
    max_age = np.where(max_children > 2, np.maximum(max_age, rng.choice([84, 120], n)), max_age)
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
    approval_days_ago = rng.gamma(*cal.approval_gamma, n).astype(np.int64) + 7
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


@dataclass(frozen=True)
class Target:
    """A calibrated figure: the range a generated region must fall in, and
    where the range comes from. ``kind`` is ``share`` (a proportion shown as
    a percentage), ``ratio`` or ``days``; ``main`` rows also appear in the
    README."""

    label: str
    low: float
    high: float
    source: str
    confidence: str
    kind: str = "share"
    main: bool = False

    def range_text(self) -> str:
        if self.kind == "share":
            return f"{self.low * 100:g}–{self.high * 100:g}%"
        if self.kind == "days":
            return f"{self.low:g}–{self.high:g} days"
        return f"{self.low:.2f}–{self.high:.2f}"


_GROUP_SIZES = "derived: seed 003 (80 groups of 3+ among about 2,000 Register children); seeds 001, 002 (all pairs)"
_BME_SPLIT = ("Ethnicity Facts & Figures 2020 (adopted: White 83%, Black 2%, Asian 1%); Adoption UK 2020 (Black 3.7% "
              "of adoptions); raised a little as these children wait longer")
_FASD = "Adoption UK Barometer 2020 (8% diagnosed + 17% suspected)"
_AGE_BANDS = "derived: ONS 2011 adoptions (1–4: 62%, 5–9: 23%); Adoption Register 2015/16 (72% aged 2+)"

#: Every calibrated figure, its range and its source; docs/calibration.md
#: and the README show these rows (:func:`calibration_table`), and the tests
#: check a 6,000-child region against each (:func:`measure_calibration`).
#: Children's figures are over waiting children; households' over all
#: households unless the label says "approved".
CALIBRATION_TARGETS: dict[str, Target] = {
    "in_sibling_group": Target(
        "waiting children in sibling groups", 0.44, 0.57,
        "ASGLB Dec 2018 (57%); Adoption Register 2015/16 (55%); #YouCanAdopt 2021 (44%); seed 002 (12 of 27)",
        "M", main=True),
    "groups_of_2": Target("sibling groups of 2 (share of groups)", 0.74, 0.82, _GROUP_SIZES, "L", main=True),
    "groups_of_3": Target("sibling groups of 3", 0.15, 0.21, _GROUP_SIZES, "L", main=True),
    "groups_of_4_plus": Target("sibling groups of 4 or more", 0.02, 0.06, _GROUP_SIZES, "L", main=True),
    "placed_apart": Target(
        "sibling groups assessed to be placed apart", 0.10, 0.15,
        "Ofsted 2012/13 (82% placed together; 5 of the 18 points apart went against the assessment)", "M",
        main=True),
    "aged_under_1": Target("children under 1", 0.07, 0.13, _AGE_BANDS, "L"),
    "aged_1_to_4": Target("children aged 1–4", 0.57, 0.67, _AGE_BANDS, "L"),
    "aged_5_to_9": Target("children aged 5–9", 0.19, 0.25, _AGE_BANDS, "L"),
    "aged_10_plus": Target("children aged 10+", 0.04, 0.08, _AGE_BANDS, "L"),
    "aged_5_plus": Target("children aged 5+", 0.28, 0.35,
                          "ASGLB Dec 2018 (28%); seed 001 (11 of 31 adopted children)", "M", main=True),
    "boys": Target("boys", 0.55, 0.58,
                   "Adoption Register 2015/16 (55%); seed 002 (15 of 27); seed 001 (18 of 31 adopted)", "M–H",
                   main=True),
    "bme_children": Target(
        "children of BME heritage (not White, not NOBT)", 0.18, 0.30,
        "ASGLB Dec 2018 (20%), 2021 (18%); Adoption Register 2015/16 referrals (30%)", "M", main=True),
    "priority_groups": Target(
        "children in a priority group (aged 5+, severe physical or learning needs, sibling group, BME)", 0.59, 0.65,
        "ASGLB 2021/22 (65%); CVAA Sep 2020 (65%); Walsall 2023 (59%)", "M"),
    "mixed_heritage": Target("children of Mixed heritage", 0.11, 0.15, _BME_SPLIT, "L–M"),
    "black_heritage": Target("children of Black heritage", 0.03, 0.05, _BME_SPLIT, "L–M"),
    "asian_heritage": Target("children of Asian heritage", 0.01, 0.03, _BME_SPLIT, "L–M"),
    "other_heritage": Target("children of Chinese or other heritage", 0.005, 0.02, _BME_SPLIT, "L–M"),
    "need_moderate": Target(
        "children with some additional need: moderate (2) or above on any of the six need axes", 0.35, 0.40,
        "Barnardo's 2013 (about 40% have 'some form of special need'); Coram Activity Days (a third with "
        "additional complex needs); seed 002 (9 of 16 in active family finding, a harder subset)", "M", main=True),
    "need_severe": Target(
        "children with a severe or complex need (3) on any axis", 0.12, 0.20,
        "assumed: about 40% of those with some additional need; disability (4%) and FASD diagnosed (8%) "
        "are part of it", "L", main=True),
    "need_severe_several": Target("children severe (3) on two or more axes", 0.03, 0.06,
                                  "assumed (complex needs)", "L"),
    "disability": Target("children with severe (3) physical or learning needs (recorded disability)", 0.04, 0.06,
                         "ASGLB Dec 2018 (4%); seed 001 (4 of 31 adopted)", "M", main=True),
    "need_emotional": Target("emotional or behavioural needs at 2+", 0.25, 0.35,
                             "assumed 30%; seed 002 ('arising from trauma')", "L"),
    "need_developmental": Target("developmental uncertainty at 2+", 0.20, 0.30, "assumed 25%", "L"),
    "need_health": Target("health needs at 2+ (complex health)", 0.09, 0.15,
                          "assumed 12%; seed 002 ('health')", "L"),
    "prenatal_exposure": Target(
        "prenatal alcohol or drug exposure recorded (1+)", 0.50, 0.75,
        "National FASD 2025 (over 27% of looked-after children, 70% in one area); Peterborough study via "
        "HuffPost 2017 (up to 75%)", "L"),
    "fasd": Target("FASD diagnosed or suspected (prenatal exposure 2+)", 0.20, 0.30, _FASD, "M", main=True),
    "fasd_diagnosed": Target("FASD diagnosed (prenatal exposure 3)", 0.06, 0.10, _FASD, "M"),
    "early_permanence": Target(
        "single children under 2 with an early-permanence plan", 0.20, 0.25,
        "DfE PQ answer (23% of placements in 2023/24 through early permanence)", "M", main=True),
    "direct_contact": Target("children with a direct-contact plan", 0.20, 0.30,
                             "Adoption UK Barometer 2019 (a quarter had direct contact, mostly siblings)", "M"),
    "some_contact": Target("children with a letterbox or direct contact plan", 0.84, 0.95,
                           "Adoption UK Barometer 2019 (84% indirect contact)", "M"),
    "safety_distance": Target("children with a birth-family safety distance", 0.20, 0.30,
                              "no published figure; assumed", "L", main=True),
    "in_care_18_months": Target(
        "children in care for 18 months or more", 0.41, 0.55,
        "41% (Mar 2019), over 50% (Mar 2021), about half (2023): CVAA 2019, Adoption Matters 2021, Walsall 2023",
        "M"),
    "days_in_care": Target("children's mean time in care", 550, 650,
                           "CVAA 2019 (566 days at Mar 2019); Adoption Matters 2021 (647 at Sep 2020)", "M",
                           kind="days"),
    "vaa": Target("households approved by a VAA", 0.20, 0.26,
                  "CVAA 2019 (26%); Adoption UK Barometer 2019 (24%); seed 003 (about 20% of placements)", "M",
                  main=True),
    "single_adopters": Target("single adopters", 0.10, 0.14, "DfE 2018/19 (88% of children adopted by couples)",
                              "M", main=True),
    "bme_adopters": Target("adopters of BME heritage (share of adults)", 0.03, 0.05,
                           "Adoption UK Barometer 2020 (under 5% of adopters)", "M", main=True),
    "approved_one_child": Target("households approved for one child only", 0.55, 0.65,
                                 "derived from the two rows below", "L"),
    "approved_two_plus": Target(
        "households approved for 2+ children", 0.36, 0.47,
        "New Family Social (36% of different-gender and 47% of same-gender couples would take siblings)", "M"),
    "approved_three_plus": Target("households approved for 3+ children", 0.01, 0.03,
                                  "seed 003 (3 of 325 adopters on the Register, about 1%)", "M", main=True),
    "three_plus_supply": Target(
        "approved households for 3+ per waiting group of 3+", 0.04, 0.30,
        "seed 003 (3 adopters for 80 groups, 0.04, with 0.16 adopters per child: a quarter of the average supply, "
        "about 0.17 at 0.66 per child); 1–3% of adopters gives 0.18 or more; upper bound assumed", "M",
        kind="ratio", main=True),
    "approved_5_plus": Target("households approved for a child aged 5+", 0.10, 0.15,
                              "assumed (most adopters want a child aged 1–4)", "L", main=True),
    "five_plus_supply": Target("approved households for 5+ per waiting child aged 5+", 0.20, 0.30,
                               "assumed", "L", kind="ratio", main=True),
    "infant_supply": Target("approved households open to one child under 2 per waiting single child under 2",
                            2.0, 4.0, "assumed (households are plentiful for single infants)", "L", kind="ratio",
                            main=True),
    "approved_1_to_4": Target("households approved for some age from 1 to 4", 0.85, 1.0,
                              "You Can Adopt 2022 (over 85% would prefer a child aged 1–4)", "L"),
    "accept_severe": Target("households accepting a severe need (3) on some axis", 0.10, 0.20, "assumed", "L"),
    "dual_approved": Target("households dual-approved for early permanence", 0.15, 0.25,
                            "no figure found; assumed", "L", main=True),
    "approval_wait": Target("approved households' median time since approval", 91, 183,
                            "no current national figure; assumed 3–6 months", "L", kind="days"),
}

_WHITE_OR_UNKNOWN = ("WBRI", "WIRI", "WIRT", "WOTH", "WROM", "NOBT", "REFU")


def measure_calibration(children: pl.DataFrame, households: pl.DataFrame, as_of: dt.date) -> dict[str, float]:
    """Each :data:`CALIBRATION_TARGETS` figure as measured on a region."""
    from features.units import build_units

    kids, units = build_units(children, as_of)
    waiting = kids.filter(pl.col("status") == "waiting")
    approved = households.filter(pl.col("status") == "approved")
    age = waiting["age_months"]
    heritage = waiting["ethnicity"]
    levels = waiting.select([f"need_{need}" for need in NEEDS])
    disabled = (waiting["need_physical"] == 3) | (waiting["need_learning"] == 3)
    groups = waiting.filter(pl.col("sibling_group_id").is_not_null()).group_by("sibling_group_id").agg(
        pl.len().alias("size"), pl.col("sibling_plan").first())
    waiting_units = units.filter(pl.col("waiting"))
    singles = waiting.join(waiting_units.filter(pl.col("size") == 1).select("unit_id"), on="unit_id")
    single_infants = singles.filter(pl.col("age_months") < 24)
    days_in_care = waiting.select((pl.lit(as_of) - pl.col("entered_care_date")).dt.total_days()).to_series()
    # BME adults: a single adopter has one heritage; a couple lists one
    # heritage for both or one each.
    bme = households["ethnicities"].list.eval(~pl.element().is_in(_WHITE_OR_UNKNOWN)).list.sum()
    listed = households["ethnicities"].list.len()
    bme_adults = pl.Series(np.where((households["adults"] == 2) & (listed == 1), 2 * bme, bme))
    accept = households.select([f"accept_{need}" for need in NEEDS]).max_horizontal()
    wait = approved.select((pl.lit(as_of) - pl.col("approval_date")).dt.total_days()).to_series()

    def share(mask) -> float:
        return float(mask.mean()) if len(mask) else float("nan")

    def ratio(numerator: int, denominator: int) -> float:
        return numerator / denominator if denominator else float("inf")

    return {
        "in_sibling_group": share(waiting["sibling_group_id"].is_not_null()),
        "groups_of_2": share(groups["size"] == 2),
        "groups_of_3": share(groups["size"] == 3),
        "groups_of_4_plus": share(groups["size"] >= 4),
        "placed_apart": share(groups["sibling_plan"] == "apart"),
        "aged_under_1": share(age < 12),
        "aged_1_to_4": share((age >= 12) & (age < 60)),
        "aged_5_to_9": share((age >= 60) & (age < 120)),
        "aged_10_plus": share(age >= 120),
        "aged_5_plus": share(age >= 60),
        "boys": share(waiting["sex"] == "M"),
        "bme_children": share(~heritage.is_in(_WHITE_OR_UNKNOWN)),
        "priority_groups": share((age >= 60) | disabled | waiting["sibling_group_id"].is_not_null()
                                 | ~heritage.is_in(_WHITE_OR_UNKNOWN)),
        "mixed_heritage": share(heritage.str.starts_with("M")),
        "black_heritage": share(heritage.str.starts_with("B")),
        "asian_heritage": share(heritage.str.starts_with("A")),
        "other_heritage": share(heritage.is_in(["CHNE", "OOTH"])),
        "need_moderate": share(levels.max_horizontal() >= 2),
        "need_severe": share(levels.max_horizontal() == 3),
        "need_severe_several": share((levels == 3).sum_horizontal() >= 2),
        "disability": share(disabled),
        "need_emotional": share(waiting["need_emotional"] >= 2),
        "need_developmental": share(waiting["need_developmental_uncertainty"] >= 2),
        "need_health": share(waiting["need_health"] >= 2),
        "prenatal_exposure": share(waiting["need_prenatal_exposure"] >= 1),
        "fasd": share(waiting["need_prenatal_exposure"] >= 2),
        "fasd_diagnosed": share(waiting["need_prenatal_exposure"] == 3),
        "early_permanence": share(single_infants["early_permanence"]),
        "direct_contact": share(waiting["contact_plan"] == "direct"),
        "some_contact": share(waiting["contact_plan"].is_in(["letterbox", "direct"])),
        "safety_distance": share(waiting["min_distance_km"].is_not_null()),
        "in_care_18_months": share(days_in_care >= 548),
        "days_in_care": float(days_in_care.mean()),
        "vaa": share(households["agency_type"] == "vaa"),
        "single_adopters": share(households["adults"] == 1),
        "bme_adopters": ratio(int(bme_adults.sum()), int(households["adults"].sum())),
        "approved_one_child": share(households["max_children"] == 1),
        "approved_two_plus": share(households["max_children"] >= 2),
        "approved_three_plus": share(households["max_children"] >= 3),
        "three_plus_supply": ratio(approved.filter(pl.col("max_children") >= 3).height,
                                   waiting_units.filter(pl.col("size") >= 3).height),
        "approved_5_plus": share(households["max_age_months"] >= 60),
        "five_plus_supply": ratio(approved.filter(pl.col("max_age_months") >= 60).height, int((age >= 60).sum())),
        "infant_supply": ratio(approved.filter((pl.col("min_children") == 1) & (pl.col("min_age_months") == 0)).height,
                               single_infants.height),
        "approved_1_to_4": share((households["max_age_months"] >= 12) & (households["min_age_months"] < 60)),
        "accept_severe": share(accept == 3),
        "dual_approved": share(households["dual_approved"]),
        "approval_wait": float(wait.median()),
    }


def calibration_table(main_only: bool = False) -> str:
    """The calibration targets as a Markdown table (all of them for
    docs/calibration.md, the ``main`` ones for the README)."""
    rows = ["| figure | range | source | conf. |", "|---|---|---|---|"]
    rows += [f"| {t.label} | {t.range_text()} | {t.source} | {t.confidence} |"
             for t in CALIBRATION_TARGETS.values() if t.main or not main_only]
    return "\n".join(rows) + "\n"


__all__ = ["Calibration", "generate_region", "CALIBRATION_TARGETS", "Target",
           "measure_calibration", "calibration_table", "ETHNICITY_CODES"]
