"""Pool sufficiency: for each child profile (age band x group size x
highest need), the waiting units against the approved households eligible
for them; the units with 0, 1 or 2 eligible households first, each with
its near misses (households failing exactly one hard rule)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matcher.region import Region
from matcher.reports.profiles import AGE_BANDS, NEED_LEVELS, SIZE_BANDS
from matcher.reports.rankings import Rankings
from matcher.scoring.near_misses import near_misses_for_child
from matcher.scoring.weights import Weights

SHORT = 2
"""A unit with at most this many eligible households is listed for action."""
NEAR_MISSES_SHOWN = 3


@dataclass(frozen=True)
class ProfileRow:
    """One child profile: its waiting units, how many of them have 0, 1 or
    2 eligible households, and the distinct approved households eligible
    for at least one of them."""

    age_band: str
    size_band: str
    need_level: str
    units: int
    units_with_none: int
    units_with_one: int
    units_with_two: int
    eligible_households: int

    @property
    def short(self) -> int:
        return self.units_with_none + self.units_with_one + self.units_with_two


@dataclass(frozen=True)
class NearMiss:
    household_id: str
    rule: int
    rule_name: str
    message: str


@dataclass(frozen=True)
class ShortUnit:
    """A waiting unit with at most :data:`SHORT` eligible households."""

    unit_id: str
    child_ids: tuple[str, ...]
    agency_id: str
    profile: tuple[str, str, str]
    eligible: int
    near_misses: tuple[NearMiss, ...]


@dataclass(frozen=True)
class PoolSufficiency:
    profiles: tuple[ProfileRow, ...]
    short_units: tuple[ShortUnit, ...]
    approved_households: int
    eligible_counts: tuple[int, ...]  # every waiting unit's eligible households, in unit id order


def _profile_order(profile: tuple[str, str, str]) -> tuple[int, int, int]:
    return ([b[0] for b in AGE_BANDS].index(profile[0]), SIZE_BANDS.index(profile[1]), NEED_LEVELS.index(profile[2]))


def pool_sufficiency(region: Region, ranked: Rankings, weights: Weights) -> PoolSufficiency:
    """Profiles with units short of households first (most such units
    first), then by profile; short units by eligible count, then unit id."""
    units = ranked.units
    profiles = units.profiles
    by_profile: dict[tuple[str, str, str], list[int]] = {}
    for i, profile in enumerate(profiles):
        by_profile.setdefault(profile, []).append(i)
    pair_position = ranked.position[ranked.pairs.units]
    rows = []
    for profile, members in by_profile.items():
        counts = ranked.eligible[members]
        in_profile = np.isin(pair_position, members)
        rows.append(ProfileRow(*profile, units=len(members), units_with_none=int((counts == 0).sum()),
                               units_with_one=int((counts == 1).sum()), units_with_two=int((counts == 2).sum()),
                               eligible_households=int(len(np.unique(ranked.pairs.households[in_profile])))))
    rows.sort(key=lambda r: (-r.short, _profile_order((r.age_band, r.size_band, r.need_level))))
    short = []
    for i in sorted(np.flatnonzero(ranked.eligible <= SHORT).tolist(),
                    key=lambda i: (int(ranked.eligible[i]), units.unit_ids[i])):
        found = near_misses_for_child(region, units.child_ids[i][0], NEAR_MISSES_SHOWN, weights)["results"]
        short.append(ShortUnit(units.unit_ids[i], units.child_ids[i], units.agency_ids[i], profiles[i],
                               int(ranked.eligible[i]),
                               tuple(NearMiss(m["household_id"], m["rule"], m["rule_name"], m["message"])
                                     for m in found)))
    return PoolSufficiency(tuple(rows), tuple(short), int(region.tables.approved.sum()),
                           tuple(int(n) for n in ranked.eligible.tolist()))
