"""Reasons and rule messages in a family finder's words.

Reasons are rendered from the scorer's contributions and the encoded
arrays; nothing here decides eligibility or recomputes a score.
"""

from __future__ import annotations

import numpy as np

from features.codes import HERITAGE_BITS, codes_of_mask

from features.contract import ETHNICITIES, LEVEL_LABELS, NEED_LABELS, NEEDS
from matcher.scoring.weights import FACTORS

# Short, stable names of the hard rules of CONTRACT.md (rule 0: a link
# excluded by hand). JSON answers carry them beside the rule numbers.
RULE_NAMES: dict[int, str] = {
    0: "excluded",
    1: "status",
    2: "unit size",
    3: "age and sex",
    4: "needs",
    5: "early permanence and contact",
    6: "safety distance",
    7: "siblings together",
    8: "one unit per household",
}

# Each factor as a reason names it ("distance 7.0 of 10: ...").
FACTOR_LABELS: dict[str, str] = {
    "needs": "needs", "heritage": "heritage", "siblings": "siblings", "age_fit": "age fit", "age_gap": "age gap",
    "distance": "distance", "early_permanence": "early permanence", "child_wait": "child's wait",
    "household_wait": "household's wait", "agency_fee": "inter-agency fee",
}

WAITS = ("child_wait", "household_wait")

STATUS_WORDS: dict[str, str] = {"on_hold": "on hold"}

AGAINST_SHARE = 0.9
"""A factor counts against a link when it earned less than this share of its points."""


def status_words(status: str) -> str:
    """A status code as a family finder says it ('on_hold' -> 'on hold')."""
    return STATUS_WORDS.get(status, status)


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def age_words(months: float) -> str:
    """An age in whole months as years and months: '9 months', '1 year 8
    months', '3 years', '7 years 2 months'."""
    years, rest = divmod(int(months), 12)
    if not years:
        return _count(rest, "month")
    return _count(years, "year") + (f" {_count(rest, 'month')}" if rest else "")


def age_range_words(low: float, high: float) -> str:
    """'0–4 years' when both ends are whole years, else both ends in years
    and months ('6 months to 2 years 6 months')."""
    low, high = int(low), int(high)
    if low == high:
        return age_words(low)
    if low % 12 == 0 and high % 12 == 0:
        return f"{low // 12}–{high // 12} years"
    return f"{age_words(low)} to {age_words(high)}"


def children_words(n: int) -> str:
    """'1 child', '3 children'."""
    return f"{n} child" if n == 1 else f"{n} children"


def approved_children_words(low: int, high: int) -> str:
    """A household's approved unit size: '1 child', '2 children', '1–2 children'."""
    return children_words(low) if low == high else f"{low}–{high} children"


def money(amount: int) -> str:
    """'£27,000'."""
    return f"£{amount:,}"


def heritage_words(codes: list[str]) -> str:
    return ", ".join(ETHNICITIES[c] for c in codes)


def points_words(points: float) -> str:
    """Points to one decimal, without a trailing '.0' for whole maxima: '10', '10.5'."""
    text = f"{points:.1f}"
    return text[:-2] if text.endswith(".0") else text


def reason_text(detail: dict) -> str:
    """One factor's reason as a line: 'distance 7.0 of 10: 69 km away, travel limit 50 km'."""
    return (f"{FACTOR_LABELS[detail['factor']]} {detail['points']:.1f} of {points_words(detail['max_points'])}: "
            f"{detail['text']}")


def counts_against(points: float, max_points: float) -> bool:
    """Whether a factor lost enough of its points to count against a link."""
    return max_points > 0 and points < AGAINST_SHARE * max_points


def _listed(words: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _ages_text(ages: list[int]) -> str:
    return _listed([age_words(a) for a in ages])


def _placement(h, household_row: int, ages: list[int]) -> str:
    """What the household is approved for against what the unit is:
    'approved for 1–2 children aged 0–4 years; this child is 3 years 1 month'."""
    low, high = h.column("min_age_months")[household_row], h.column("max_age_months")[household_row]
    approved = approved_children_words(int(h.column("min_children")[household_row]),
                                       int(h.column("max_children")[household_row]))
    unit = f"this child is {_ages_text(ages)}" if len(ages) == 1 else \
        f"this group is {len(ages)} children aged {_ages_text(ages)}"
    return f"approved for {approved} aged {age_range_words(low, high)}; {unit}"


def pair_reasons(region, weights, unit_row: int, household_row: int, contributions: np.ndarray, fee: int,
                 distance_km: float) -> list[str]:
    """The reasons of a scored pair as family finders read them: the
    placement line, then each factor's reason in :func:`pair_explanation`'s
    order (what counts against first)."""
    placement, details = pair_explanation(region, weights, unit_row, household_row, contributions, fee, distance_km)
    return [placement] + [reason_text(d) for d in details]


def pair_explanation(region, weights, unit_row: int, household_row: int, contributions: np.ndarray, fee: int,
                     distance_km: float) -> tuple[str, list[dict]]:
    """The placement line and one reason per factor for a scored pair.

    Each reason is ``{"factor", "points", "max_points", "text"}``: the
    points the factor earned (its contribution), the points it could earn
    (its weight) and why. Factors that count against the link come first,
    the one that lost most first; then the rest, the one that earned most
    first. In each group the waits come after the factors of fit: they say
    who comes first rather than how well the pair fits. Ties keep factor
    order."""
    u, h = region.unit_arrays, region.household_arrays
    ages = region.children_of(unit_row)["age_months"].to_list()
    size = len(ages)
    texts: dict[str, str] = {}

    accept = h.accept[household_row]
    above = [(NEEDS[i], int(level), int(accept[i])) for i, level in enumerate(u.needs[unit_row]) if level > accept[i]]
    texts["needs"] = (
        "would consider " + _listed([f"{LEVEL_LABELS[level]} {NEED_LABELS[need]} ({level}; approved up to "
                                         f"{LEVEL_LABELS[limit]})" for need, level, limit in above])
        if above else "every need is within what the household is approved for")

    child_codes = codes_of_mask(int(u.column("heritage_mask")[unit_row]), HERITAGE_BITS)
    own = int(h.column("heritage_mask")[household_row])
    promote = int(h.column("promote_mask")[household_row])
    shared = [c for c in child_codes if own & HERITAGE_BITS[c]]
    promoted = [c for c in child_codes if not own & HERITAGE_BITS[c] and promote & HERITAGE_BITS[c]]
    missing = [c for c in child_codes if c not in shared and c not in promoted]
    parts = []
    if shared:
        parts.append(f"shares {heritage_words(shared)} heritage")
    if promoted:
        parts.append(f"can promote {heritage_words(promoted)} heritage")
    if missing:
        parts.append(f"neither shares nor is assessed to promote {heritage_words(missing)} heritage")
    texts["heritage"] = "; ".join(parts) if child_codes else "heritage not recorded"

    cmin, cmax = int(h.column("min_children")[household_row]), int(h.column("max_children")[household_row])
    unused = cmax - size
    texts["siblings"] = (
        f"approved for up to {children_words(cmax)}: placing {children_words(size)} here leaves "
        f"{_count(unused, 'place')} a sibling group could have used" if unused > 0 else
        f"uses every place it is approved for ({approved_children_words(cmin, cmax)})")

    low, high = h.column("min_age_months")[household_row], h.column("max_age_months")[household_row]
    share = contributions[FACTORS.index("age_fit")] / weights.factors["age_fit"] if weights.factors["age_fit"] else 1
    where = "near the middle of" if share >= 0.8 else "off-centre in" if share >= 0.4 else "near the edge of"
    sits = "age sits" if size == 1 else "ages sit"
    texts["age_fit"] = f"{sits} {where} the approved ages ({age_range_words(low, high)})"

    youngest = h.column("youngest_child_months")[household_row]
    if np.isnan(youngest):
        texts["age_gap"] = "no children already at home"
    else:
        gap = int(youngest) - max(ages)
        relation = f"{age_words(gap)} younger than" if gap > 0 else \
            "the same age as" if gap == 0 else f"{age_words(-gap)} older than"
        who = "this child" if size == 1 else "the oldest of the group"
        texts["age_gap"] = f"youngest child at home is {age_words(youngest)}; {who} would be {relation} them"

    travel = h.column("max_travel_km")[household_row]
    limit = f"travel limit {travel:.0f} km" if travel > 0 else \
        f"no travel limit given, {weights.default_travel_km:.0f} km assumed"  # as the scorer: NaN or 0
    texts["distance"] = f"{distance_km:.0f} km away, {limit}"

    planned = u.column("early_permanence")[unit_row] != 0
    dual = h.column("dual_approved")[household_row] != 0
    texts["early_permanence"] = (
        "dual-approved for this early-permanence (fostering for adoption) plan" if planned else
        "dual-approved household, kept for early-permanence plans where possible" if dual else
        "no early-permanence plan")

    care = u.column("days_since_care")[unit_row]
    order = u.column("days_since_placement_order")[unit_row]
    order_text = f", {order:.0f} since the placement order (A2 {weights.order_threshold_days:.0f})" \
        if not np.isnan(order) else ", no placement order yet"
    texts["child_wait"] = f"waiting {care:.0f} days since entering care (A1 {weights.care_threshold_days:.0f})" \
        + order_text
    texts["household_wait"] = f"household approved {h.column('days_since_approval')[household_row]:.0f} days ago"
    texts["agency_fee"] = f"{money(fee)}, the household's agency is not the child's" if fee else \
        "none, same agency"

    details = [{"factor": factor, "points": float(contributions[k]), "max_points": float(weights.factors[factor]),
                "text": texts[factor]} for k, factor in enumerate(FACTORS)]
    against = [d for d in details if counts_against(d["points"], d["max_points"])]
    earned = [d for d in details if not counts_against(d["points"], d["max_points"])]
    against.sort(key=lambda d: (d["factor"] in WAITS, d["points"] - d["max_points"]))
    earned.sort(key=lambda d: (d["factor"] in WAITS, -d["points"]))
    return _placement(h, household_row, ages), against + earned
