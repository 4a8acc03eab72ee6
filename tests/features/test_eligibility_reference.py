"""The vectorised hard rules agree with a plain per-pair reference.

The reference (:mod:`tests.features.reference_rules`) is written from the
contract's text; the regions come from :func:`tests.strategies.regions`,
which plants the boundary cases (ages on a bound, households on a safety
radius, mixed-sex groups, absent siblings, needs at accept/consider, ...).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from features.eligibility import RULE_FUNCTIONS, HouseholdTables, eligible
from matcher.scoring.queries import eligible_pairs, violations
from features.units import build_units
from matcher.region import Region
from tests.features.reference_rules import age_in_months, haversine_km, reference_broken_rules, reference_units
from tests.strategies import DrawnRegion, births_at_age, regions

SETTINGS = settings(max_examples=40, deadline=None)


def _world(region: DrawnRegion) -> Region:
    return Region.build(region.files, region.as_of)


def _reference(region: DrawnRegion, world: Region) -> dict[tuple[int, int], set[int]]:
    """(unit row, household row) -> broken rules, by the reference."""
    units = reference_units(region.children.to_dicts())
    homes = region.households.to_dicts()
    out = {}
    for unit_id, kids in units.items():
        u = world.unit_row_of_id[unit_id]
        for h, home in enumerate(homes):
            out[u, h] = reference_broken_rules(kids, home, region.as_of)
    return out


def _describe(world: Region, u: int, h: int) -> str:
    return f"unit {world.unit_arrays.unit_ids[u]} x household {world.household_arrays.household_ids[h]}"


@SETTINGS
@given(regions())
def test_units_are_the_reference_units(region):
    world = _world(region)
    expected = {unit_id: sorted(c["child_id"] for c in kids)
                for unit_id, kids in reference_units(region.children.to_dicts()).items()}
    got = {row["unit_id"]: sorted(row["child_ids"]) for row in world.units.iter_rows(named=True)}
    assert got == expected


@SETTINGS
@given(regions())
def test_each_rule_mask_agrees_with_the_reference(region):
    world = _world(region)
    rows = np.arange(len(world.unit_arrays))
    tables = HouseholdTables.build(world.household_arrays)
    reference = _reference(region, world)
    assert len(reference) == len(rows) * tables.n_households
    for n, rule in RULE_FUNCTIONS.items():
        mask = rule(world.unit_arrays, rows, tables)
        assert mask.shape == (len(rows), tables.n_households)
        wrong = [f"{_describe(world, u, h)}: mask says {'ok' if mask[u, h] else 'broken'}, "
                 f"reference broken rules {sorted(broken)}"
                 for (u, h), broken in reference.items() if bool(mask[u, h]) != (n not in broken)]
        assert not wrong, f"rule {n} disagrees with the reference on:\n" + "\n".join(wrong[:10])


@SETTINGS
@given(regions())
def test_eligible_agrees_with_the_reference(region):
    world = _world(region)
    rows = np.arange(len(world.unit_arrays))
    mask = eligible(world.unit_arrays, rows, HouseholdTables.build(world.household_arrays))
    reference = _reference(region, world)
    wrong = [f"{_describe(world, u, h)}: eligible={bool(mask[u, h])}, reference broken rules {sorted(broken)}"
             for (u, h), broken in reference.items() if bool(mask[u, h]) != (not broken)]
    assert not wrong, "\n".join(wrong[:10])
    # And the query layer's pair list is exactly the reference's eligible pairs.
    u, h = eligible_pairs(world, workers=1)
    assert set(zip(u.tolist(), h.tolist())) == {pair for pair, broken in reference.items() if not broken}


@settings(max_examples=30, deadline=None)
@given(region=regions(), data=st.data())
def test_violations_report_exactly_the_reference_rules(region, data):
    world = _world(region)
    reference = _reference(region, world)
    # Pairs breaking rules first, so that most draws exercise an explanation.
    pairs = sorted(reference, key=lambda pair: (-len(reference[pair]), pair))
    chosen = data.draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=8, unique=True))
    for u, h in chosen[:1] + pairs[:2] + chosen[1:]:
        found = violations(world, u, h)
        assert {v.rule for v in found} == reference[u, h], _describe(world, u, h)
        kids = set(world.children_of(u)["child_id"].to_list())
        for v in found:
            assert v.child_id is None or v.child_id in kids
            assert v.message.strip()


@settings(max_examples=200, deadline=None)
@given(born=st.dates(dt.date(2008, 1, 1), dt.date(2030, 12, 31)),
       as_of=st.dates(dt.date(2008, 1, 1), dt.date(2030, 12, 31)))
def test_age_in_months_is_the_reference_age(born, as_of):
    from matcher.generate import generate_region

    if born > as_of:
        born, as_of = as_of, born
    kids, _ = generate_region(0, 1, 1, as_of)
    kids = kids.with_columns(date_of_birth=born)
    with_ages, _ = build_units(kids, as_of)
    assert with_ages["age_months"][0] == age_in_months(born, as_of)


def test_reference_age_and_distance_on_known_values():
    # Born on the 31st: the month completes on the 31st, or on the 1st of a
    # month that has no 31st.
    assert age_in_months(dt.date(2026, 1, 31), dt.date(2026, 2, 28)) == 0
    assert age_in_months(dt.date(2026, 1, 31), dt.date(2026, 3, 1)) == 1
    assert age_in_months(dt.date(2024, 2, 29), dt.date(2025, 2, 28)) == 11
    assert age_in_months(dt.date(2024, 2, 29), dt.date(2025, 3, 1)) == 12
    assert age_in_months(dt.date(2020, 6, 30), dt.date(2026, 6, 30)) == 72
    assert births_at_age(0, dt.date(2026, 3, 1))[0] == dt.date(2026, 2, 2)
    # One degree of latitude is 6371 * pi / 180 km.
    assert abs(haversine_km(52.0, -1.0, 53.0, -1.0) - 111.19492664455873) < 1e-9
    assert haversine_km(52.48, -1.9, 52.48, -1.9) == 0.0
