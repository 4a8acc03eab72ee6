"""Reasons and rule messages in a family finder's words.

Reasons are rendered from the scorer's contributions and the encoded
arrays; nothing here decides eligibility or recomputes a score.
"""

from __future__ import annotations

import numpy as np

from features.codes import HERITAGE_BITS, codes_of_mask

from features.contract import ETHNICITIES, LEVEL_LABELS, NEED_LABELS, NEEDS
from matcher.scoring.weights import FACTORS


def age_words(months: float) -> str:
    """'9 months', '3 years', '7 years 2 months'."""
    months = int(months)
    if months < 24:
        return f"{months} month{'s' if months != 1 else ''}"
    years, rest = divmod(months, 12)
    return f"{years} years" + (f" {rest} month{'s' if rest != 1 else ''}" if rest else "")


def age_range_words(low: float, high: float) -> str:
    """'0–4 years' when both ends are whole years, else '6–30 months'."""
    low, high = int(low), int(high)
    if low == high:
        return age_words(low)
    if low % 12 == 0 and high % 12 == 0:
        return f"{low // 12}–{high // 12} years"
    return f"{low}–{high} months"


def children_words(n: int) -> str:
    return f"{n} child" if n == 1 else f"{n} children"


def money(amount: int) -> str:
    return f"£{amount:,}"


def heritage_words(codes: list[str]) -> str:
    return ", ".join(ETHNICITIES[c] for c in codes)


def pair_reasons(region, weights, unit_row: int, household_row: int, contributions: np.ndarray, fee: int,
                 distance_km: float) -> list[str]:
    """Reasons for one scored pair: the placement first, then each fit
    factor by the points it cost (largest loss first), then the waits, which
    say who comes first rather than how well the pair fits."""
    u, h = region.unit_arrays, region.household_arrays
    ages = region.children_of(unit_row)["age_months"].to_list()
    size = len(ages)
    low, high = h.column("min_age_months")[household_row], h.column("max_age_months")[household_row]
    cmin, cmax = int(h.column("min_children")[household_row]), int(h.column("max_children")[household_row])
    approved = f"{cmin}–{cmax} children" if cmin != cmax else children_words(cmin)
    ages_text = " and ".join(age_words(a) for a in ages) if size <= 3 else \
        ", ".join(age_words(a) for a in ages[:-1]) + " and " + age_words(ages[-1])
    unit_text = f"this child is {ages_text}" if size == 1 else f"this group is {size} children aged {ages_text}"
    age_text = f"aged {age_range_words(low, high)}"
    placement = f"approved for {approved} {age_text}; {unit_text}"
    lines: list[tuple[str, float, str]] = []

    def add(factor: str, text: str) -> None:
        lost = weights.factors[factor] - contributions[FACTORS.index(factor)]
        lines.append((factor, lost, text))

    accept, consider = h.accept[household_row], h.consider[household_row]
    above = [(NEEDS[i], int(level)) for i, level in enumerate(u.needs[unit_row]) if level > accept[i]]
    if above:
        for need, level in above:
            i = NEEDS.index(need)
            add("needs", f"would consider {LEVEL_LABELS[level]} {NEED_LABELS[need]} ({level}); approved up to "
                         f"{LEVEL_LABELS[accept[i]]} ({accept[i]})")
    else:
        add("needs", "every need is within what the household is approved for")

    child_codes = codes_of_mask(int(u.column("heritage_mask")[unit_row]), HERITAGE_BITS)
    own = int(h.column("heritage_mask")[household_row])
    promote = int(h.column("promote_mask")[household_row])
    shared = [c for c in child_codes if own & HERITAGE_BITS[c]]
    promoted = [c for c in child_codes if not own & HERITAGE_BITS[c] and promote & HERITAGE_BITS[c]]
    missing = [c for c in child_codes if c not in shared and c not in promoted]
    if not child_codes:
        add("heritage", "heritage not recorded")
    else:
        parts = []
        if shared:
            parts.append(f"shares {heritage_words(shared)} heritage")
        if promoted:
            parts.append(f"can promote {heritage_words(promoted)} heritage")
        if missing:
            parts.append(f"neither shares nor is assessed to promote {heritage_words(missing)} heritage")
        add("heritage", "; ".join(parts))

    if cmax > size:
        add("siblings", f"approved for up to {children_words(cmax)}: placing {children_words(size)} here leaves "
                        f"{cmax - size} place{'s' if cmax - size > 1 else ''} a sibling group could have used")
    else:
        add("siblings", "the household is approved for exactly this many children")

    share = contributions[FACTORS.index("age_fit")] / weights.factors["age_fit"] if weights.factors["age_fit"] else 1
    where = "near the middle of" if share >= 0.8 else "within, off-centre in" if share >= 0.4 else "near the edge of"
    add("age_fit", f"ages sit {where} the approved age range")
    youngest = h.column("youngest_child_months")[household_row]
    if np.isnan(youngest):
        add("age_gap", "no children already at home")
    else:
        gap = youngest - max(ages)
        relation = f"{age_words(gap)} younger than" if gap > 0 else "not younger than"
        add("age_gap", f"youngest child at home is {age_words(youngest)}; this child would be {relation} them"
            if size == 1 else f"youngest child at home is {age_words(youngest)}; the oldest of the group would "
                              f"be {relation} them")

    travel = h.column("max_travel_km")[household_row]
    limit = f"travel limit {travel:.0f} km" if travel > 0 else \
        f"no travel limit given; {weights.default_travel_km:.0f} km assumed"  # as the scorer: NaN or 0
    add("distance", f"{distance_km:.0f} km away ({limit})")

    planned = u.column("early_permanence")[unit_row] != 0
    dual = h.column("dual_approved")[household_row] != 0
    if planned:
        add("early_permanence", "dual-approved for this early-permanence (fostering for adoption) plan")
    elif dual:
        add("early_permanence", "dual-approved household, kept for early-permanence plans where possible")
    else:
        add("early_permanence", "no early-permanence plan")

    care = u.column("days_since_care")[unit_row]
    order = u.column("days_since_placement_order")[unit_row]
    order_text = f", {order:.0f} since the placement order (A2 {weights.order_threshold_days:.0f})" \
        if not np.isnan(order) else ", no placement order yet"
    add("child_wait", f"waiting {care:.0f} days since entering care (A1 {weights.care_threshold_days:.0f})"
        + order_text)
    add("household_wait", f"household approved {h.column('days_since_approval')[household_row]:.0f} days ago")
    add("agency_fee", f"inter-agency fee {money(fee)}" if fee else "no inter-agency fee (same agency)")

    waits = ("child_wait", "household_wait")
    fits = sorted((line for line in lines if line[0] not in waits), key=lambda line: -line[1])
    return [placement] + [text for _, _, text in fits] + [text for factor, _, text in lines if factor in waits]
