"""The hard rules of CONTRACT.md, each in one place, as boolean masks.

Every rule is a function ``rule(units, rows, tables) -> (len(rows), H)``
boolean mask over the units at ``rows`` against every household in
``tables``. rank, why-not, scores, propose and check_validity all call these
functions; nothing else in the project decides eligibility.

Speed: the household side of each rule is tabulated once per household set
(:class:`HouseholdTables`): for every possible unit value (size 1-5+, age
0-217 months, sex mask, need levels, early-permanence/contact code) a row
of booleans over households. A rule for a block of units is then one row
gather per unit instead of a comparison per pair, so the whole mask costs a
handful of byte-wide operations per pair. Rule 6 (birth-family safety
distance) is a threshold on a dot product of unit vectors, computed only
for children who carry a safety distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geo import DISTANCE_TOLERANCE_KM, chord_squared_of_km
from .household_encoder import HouseholdArrays
from .unit_encoder import UnitArrays

MAX_SIZE_ROW = 5  # units of five or more children share the last row
AGE_ROWS = 218  # ages 0..216 months; 217 stands for "older than any approval"


@dataclass(frozen=True)
class HouseholdTables:
    """Per-household lookup tables for the rules (see module docstring)."""

    approved: np.ndarray  # (H,)
    size_ok: np.ndarray  # (6, H)
    age_from_ok: np.ndarray  # (AGE_ROWS, H): min_age <= a
    age_to_ok: np.ndarray  # (AGE_ROWS, H): a <= max_age
    sex_ok: np.ndarray  # (4, H): mask within approved sexes
    needs_first_ok: np.ndarray  # (64, H): the first three needs within consider
    needs_last_ok: np.ndarray  # (64, H): the last three needs within consider
    permanence_ok: np.ndarray  # (2, H): row 1 = dual-approved (for an early-permanence plan)
    contact_ok: np.ndarray  # (2, H): row 1 = accepts direct contact (for a direct-contact plan)
    xyz_t: np.ndarray  # (3, H) household unit vectors, transposed for matmul

    @property
    def n_households(self) -> int:
        return len(self.approved)

    @classmethod
    def build(cls, households: HouseholdArrays) -> HouseholdTables:
        h = households
        size = np.arange(MAX_SIZE_ROW + 1)[:, None]
        size_ok = (size >= h.int_column("min_children")) & (size <= h.int_column("max_children"))
        size_ok[MAX_SIZE_ROW] = False  # nobody is approved for five or more (CONTRACT: 1-4)
        age = np.arange(AGE_ROWS)[:, None]
        codes = np.arange(64)
        levels = np.stack([codes % 4, (codes // 4) % 4, codes // 16], axis=1)  # (64, 3)
        consider = h.consider.astype(np.int64)
        needs_first = np.all(levels[:, None, :] <= consider[None, :, :3], axis=2)
        needs_last = np.all(levels[:, None, :] <= consider[None, :, 3:], axis=2)
        sexes = h.int_column("sexes_mask")
        sex_ok = np.stack([(m & ~sexes) == 0 for m in range(4)])
        dual, direct = h.bool_column("dual_approved"), h.bool_column("accepts_direct_contact")
        yes = np.ones_like(dual)
        return cls(
            approved=h.bool_column("approved"),
            size_ok=np.ascontiguousarray(size_ok),
            age_from_ok=np.ascontiguousarray(age >= h.int_column("min_age_months")),
            age_to_ok=np.ascontiguousarray(age <= h.int_column("max_age_months")),
            sex_ok=sex_ok,
            needs_first_ok=np.ascontiguousarray(needs_first),
            needs_last_ok=np.ascontiguousarray(needs_last),
            permanence_ok=np.stack([yes, dual]),
            contact_ok=np.stack([yes, direct]),
            xyz_t=np.ascontiguousarray(h.xyz.T),
        )


def _age_row(ages: np.ndarray) -> np.ndarray:
    return np.clip(ages, 0, AGE_ROWS - 1)


def rule_1_status(units: UnitArrays, rows: np.ndarray, tables: HouseholdTables) -> np.ndarray:
    """Rule 1: every child of the unit is waiting and the household is approved."""
    return units.bool_column("waiting")[rows][:, None] & tables.approved[None, :]


def rule_2_size(units: UnitArrays, rows: np.ndarray, tables: HouseholdTables) -> np.ndarray:
    """Rule 2: the unit's size is within [min_children, max_children]."""
    return tables.size_ok[np.minimum(units.int_column("size")[rows], MAX_SIZE_ROW)]


def ages_within_range(units: UnitArrays, rows: np.ndarray, tables: HouseholdTables) -> np.ndarray:
    """Part of rule 3: every child's age within [min_age_months,
    max_age_months] (the youngest and the oldest are enough)."""
    youngest = _age_row(units.int_column("age_min_months")[rows])
    oldest = _age_row(units.int_column("age_max_months")[rows])
    return tables.age_from_ok[youngest] & tables.age_to_ok[oldest]


def sexes_approved(units: UnitArrays, rows: np.ndarray, tables: HouseholdTables) -> np.ndarray:
    """Part of rule 3: every child's sex is one the household is approved for."""
    return tables.sex_ok[units.int_column("sexes_mask")[rows]]


def rule_3_age_sex(units: UnitArrays, rows: np.ndarray, tables: HouseholdTables) -> np.ndarray:
    """Rule 3: every child's age within the approved range and sex approved."""
    mask = ages_within_range(units, rows, tables)
    mask &= sexes_approved(units, rows, tables)
    return mask


def need_codes(needs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Six need levels 0-3 per row as two codes 0-63: the first three needs
    and the last three (base 4), the index into the need tables."""
    needs = needs.astype(np.int64)
    return needs[:, 0] + 4 * needs[:, 1] + 16 * needs[:, 2], needs[:, 3] + 4 * needs[:, 4] + 16 * needs[:, 5]


def rule_4_needs(units: UnitArrays, rows: np.ndarray, tables: HouseholdTables) -> np.ndarray:
    """Rule 4: every need at or below the household's consider level."""
    first, last = need_codes(units.needs[rows])
    return tables.needs_first_ok[first] & tables.needs_last_ok[last]


def need_within_consider(units: UnitArrays, rows: np.ndarray, tables: HouseholdTables, need: int) -> np.ndarray:
    """Part of rule 4 for one need (its index in ``schema.NEEDS``): the same
    tables, with every other need taken as level 0."""
    only = np.zeros_like(units.needs[rows])
    only[:, need] = units.needs[rows, need]
    first, last = need_codes(only)
    return tables.needs_first_ok[first] & tables.needs_last_ok[last]


def early_permanence_met(units: UnitArrays, rows: np.ndarray, tables: HouseholdTables) -> np.ndarray:
    """Part of rule 5: an early-permanence plan needs a dual-approved household."""
    return tables.permanence_ok[units.int_column("early_permanence")[rows]]


def direct_contact_met(units: UnitArrays, rows: np.ndarray, tables: HouseholdTables) -> np.ndarray:
    """Part of rule 5: a direct-contact plan needs a household that accepts it."""
    return tables.contact_ok[units.int_column("direct_contact")[rows]]


def rule_5_permanence_contact(units: UnitArrays, rows: np.ndarray, tables: HouseholdTables) -> np.ndarray:
    """Rule 5: early permanence needs dual approval; direct contact needs a
    household that accepts it."""
    mask = early_permanence_met(units, rows, tables)
    mask &= direct_contact_met(units, rows, tables)
    return mask


def rule_6_safety_distance(units: UnitArrays, rows: np.ndarray, tables: HouseholdTables,
                           candidates: np.ndarray | None = None) -> np.ndarray:
    """Rule 6: the household is at least each child's ``min_distance_km``
    from that child's birth family (great-circle, 1 mm tolerance).

    With ``candidates`` (a mask of the same shape), pairs already excluded
    are left as they are and only the rest are measured: the result is then
    ``candidates & rule 6``.
    """
    mask = np.ones((len(rows), tables.n_households), dtype=bool) if candidates is None else candidates
    if len(units.safety_unit) == 0 or len(rows) == 0:
        return mask
    position = np.full(len(units), -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    picked = np.flatnonzero(position[units.safety_unit] >= 0)
    if len(picked) == 0:
        return mask
    pos = position[units.safety_unit[picked]]
    order = np.argsort(pos, kind="stable")
    picked, pos = picked[order], pos[order]
    # chord^2 = 2 - 2 dot >= threshold  <=>  dot <= 1 - threshold / 2
    limit = 1.0 - chord_squared_of_km(np.maximum(units.safety_km[picked] - DISTANCE_TOLERANCE_KM, 0.0)) / 2.0
    if candidates is None:
        far_enough = (units.safety_xyz[picked] @ tables.xyz_t) <= limit[:, None]
        starts = np.flatnonzero(np.r_[True, pos[1:] != pos[:-1]])
        mask[pos[starts]] = np.logical_and.reduceat(far_enough, starts, axis=0)
        return mask
    for child, at, most in zip(picked, pos, limit):
        open_households = np.flatnonzero(mask[at])
        if len(open_households):
            dot = units.safety_xyz[child] @ tables.xyz_t[:, open_households]
            mask[at, open_households] = dot <= most
    return mask


def rule_7_whole_group(units: UnitArrays, rows: np.ndarray, tables: HouseholdTables) -> np.ndarray:
    """Rule 7: a together sibling group is one unit, so it is placed whole by
    construction; it cannot be placed at all while any member is not
    waiting (the rest would be placed without them)."""
    whole = (units.int_column("size")[rows] == 1) | units.bool_column("waiting")[rows]
    return np.broadcast_to(whole[:, None], (len(rows), tables.n_households)).copy()


RULE_FUNCTIONS = {
    1: rule_1_status,
    2: rule_2_size,
    3: rule_3_age_sex,
    4: rule_4_needs,
    5: rule_5_permanence_contact,
    6: rule_6_safety_distance,
    7: rule_7_whole_group,
}


def eligible(units: UnitArrays, rows: np.ndarray, tables: HouseholdTables) -> np.ndarray:
    """(len(rows), H) mask: the pairs that break none of rules 1-7."""
    rows = np.asarray(rows, dtype=np.int64)
    mask = rule_1_status(units, rows, tables)
    mask &= rule_2_size(units, rows, tables)
    mask &= rule_3_age_sex(units, rows, tables)
    mask &= rule_4_needs(units, rows, tables)
    mask &= rule_5_permanence_contact(units, rows, tables)
    mask &= rule_7_whole_group(units, rows, tables)
    return rule_6_safety_distance(units, rows, tables, candidates=mask)
