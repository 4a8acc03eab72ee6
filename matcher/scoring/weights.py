"""The scorer's weights: defaults, their reasons, and loading from TOML."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field

from matcher.errors import InputError, Problem

FACTORS: tuple[str, ...] = (
    "needs", "heritage", "siblings", "age_fit", "age_gap", "distance",
    "early_permanence", "child_wait", "household_wait", "agency_fee",
)

FACTOR_REASONS: dict[str, str] = {
    "needs": "Needs above what the household accepts (but within what it would consider) lower the fit, "
             "by a quarter per level above; within accept levels it is full.",
    "heritage": "Sharing the child's heritage gives full credit per heritage; heritage the household is "
                "assessed as able to promote gives most of it. Never a filter (Children and Families Act 2014).",
    "siblings": "Households approved for more children than the unit has are kept for sibling groups, "
                "which wait longest: the fit falls by a third per unused place.",
    "age_fit": "Children whose ages sit in the middle of the approved age range fit best.",
    "age_gap": "Best practice keeps an adopted child at least two years younger than the youngest child "
               "already at home; smaller gaps lower the fit, an older adopted child gets none.",
    "distance": "Introductions are easier close by: full credit near home, falling to 70% at the "
                "household's travel limit (or the default) and to nothing at twice it.",
    "early_permanence": "Dual-approved carers are scarce: using one for a child without an early-permanence "
                        "plan halves this factor.",
    "child_wait": "Children waiting longer come first: half from days since entering care against twice the "
                  "scorecard A1 threshold (426 days), half from days since the placement order against twice "
                  "A2 (121 days).",
    "household_wait": "Adopters approved longer ago come first; full credit after a year.",
    "agency_fee": "An inter-agency fee (27,000 / 43,000 / 54,000 for 1 / 2 / 3 children) lowers the fit, down to "
           "half at the largest fee; no fee within the child's own agency.",
}


@dataclass(frozen=True)
class Weights:
    """Frozen scorer configuration. Factor weights are points out of 100;
    weights that do not add up to 100 are scaled so that they do."""

    factors: dict[str, float] = field(default_factory=lambda: {
        "needs": 16.0, "heritage": 12.0, "siblings": 8.0, "age_fit": 6.0, "age_gap": 6.0,
        "distance": 10.0, "early_permanence": 4.0, "child_wait": 18.0, "household_wait": 6.0, "agency_fee": 14.0,
    })
    needs_step: float = 0.25
    promote_credit: float = 0.8
    unrecorded_heritage_fit: float = 0.5
    age_gap_months: float = 24.0
    default_travel_km: float = 100.0
    dual_reserve: float = 0.5
    care_threshold_days: float = 426.0
    order_threshold_days: float = 121.0
    approval_full_days: float = 365.0
    fees_by_size: tuple[int, ...] = (27_000, 43_000, 54_000)
    wait_boost: float = 1.0

    def __post_init__(self):
        total = sum(self.factors.values())
        if set(self.factors) != set(FACTORS):
            raise ValueError(f"factors must be exactly {list(FACTORS)}; got {sorted(self.factors)}")
        if any(v < 0 for v in self.factors.values()) or total <= 0:
            raise ValueError("factor weights must be >= 0 and not all zero")
        if abs(total - 100.0) > 1e-9:
            object.__setattr__(self, "factors", {k: v * 100.0 / total for k, v in self.factors.items()})

    def key(self) -> tuple:
        """The weights' content as a hashable value (equal weights, equal
        key): what caches of derived arrays are keyed by."""
        return tuple((f.name, tuple(sorted(v.items())) if isinstance(v, dict) else v)
                     for f in dataclasses.fields(self) for v in [getattr(self, f.name)])


PARAMETER_REASONS: dict[str, str] = {
    "needs_step": "Fit lost per need level above the household's accept level.",
    "promote_credit": "Share of full heritage credit for heritage the household can promote but does not share.",
    "unrecorded_heritage_fit": "Heritage fit when the child's heritage is refused or not yet obtained.",
    "age_gap_months": "Gap to the youngest child at home that earns full age-gap credit.",
    "default_travel_km": "Travel limit assumed when a household gives none.",
    "dual_reserve": "Share of the early-permanence factor lost when a dual-approved household is used "
                    "for a child without an early-permanence plan.",
    "care_threshold_days": "Scorecard A1 threshold: entering care to placement (seed reports).",
    "order_threshold_days": "Scorecard A2 threshold: placement order to match (seed reports).",
    "approval_full_days": "Days since approval that earn full household-wait credit.",
    "fees_by_size": "Inter-agency fee for 1, 2, 3 (or more) children (Rotherham 2016/17).",
    "wait_boost": "Link weight multiplier for the longest-waiting children: weight = 10 x score x size x "
                  "(1 + wait_boost x min(1, days since care / (2 x A1))).",
}


INF = float("inf")
# (lowest, highest, lowest allowed itself): shares stay in [0, 1] so that
# every fit stays in [0, 1]; divisors must be above zero.
PARAMETER_RANGES: dict[str, tuple[float, float, bool]] = {
    "needs_step": (0.0, 1.0, True),
    "promote_credit": (0.0, 1.0, True),
    "unrecorded_heritage_fit": (0.0, 1.0, True),
    "age_gap_months": (0.0, INF, False),
    "default_travel_km": (0.0, INF, False),
    "dual_reserve": (0.0, 1.0, True),
    "care_threshold_days": (0.0, INF, False),
    "order_threshold_days": (0.0, INF, False),
    "approval_full_days": (0.0, INF, False),
    "wait_boost": (0.0, 1e6, True),
}


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value and abs(value) < INF


def load_weights(path: str | None) -> Weights:
    """Defaults, overridden by a TOML file with a ``[factors]`` table and
    top-level parameters. Unknown keys and bad values are input errors."""
    if path is None:
        return Weights()
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise InputError(Problem(path, None, None, None, "an existing weights file; no such file", kind="key")) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(Problem(path, None, None, None, f"a TOML file ({exc})", kind="key")) from None
    defaults = Weights()
    factors = dict(defaults.factors)
    problems = []
    table = data.pop("factors", {})
    if not isinstance(table, dict):
        problems.append(Problem(path, None, "factors", str(table), "a [factors] table of factor = points", kind="key"))
        table = {}
    for key, value in table.items():
        if key not in factors:
            problems.append(Problem(path, None, f"factors.{key}", str(value), f"one of {', '.join(FACTORS)}", kind="key"))
        elif not _is_number(value) or value < 0:
            problems.append(Problem(path, None, f"factors.{key}", str(value), "a number >= 0", kind="key"))
        else:
            factors[key] = float(value)
    params = {}
    known = {f.name: f for f in dataclasses.fields(Weights) if f.name != "factors"}
    for key, value in data.items():
        if key not in known:
            problems.append(Problem(path, None, key, str(value), f"one of factors, {', '.join(known)}", kind="key"))
        elif key == "fees_by_size":
            if not (isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool)
                                                             and v >= 0 for v in value)):
                problems.append(Problem(path, None, key, str(value), "a list of whole amounts >= 0", kind="key"))
            else:
                params[key] = tuple(value)
        else:
            low, high, closed_low = PARAMETER_RANGES[key]
            ok = _is_number(value) and (value >= low if closed_low else value > low) and value <= high
            if not ok:
                shown = f"a number {'>=' if closed_low else '>'} {low:g}" + (f" and <= {high:g}" if high < 1e300 else "")
                problems.append(Problem(path, None, key, str(value), shown, kind="key"))
            else:
                params[key] = float(value)
    if sum(factors.values()) <= 0:
        problems.append(Problem(path, None, "factors", None, "at least one factor weight above zero", kind="key"))
    if problems:
        raise InputError(problems)
    return Weights(factors=factors, **params)


def describe_weights(weights: Weights) -> str:
    """The defaults as TOML, each with a sentence saying why."""
    lines = ["# matcher scorer weights (TOML). Factor weights are points out of 100.", "", "[factors]"]
    for name in FACTORS:
        reason = FACTOR_REASONS[name]
        if name == "agency_fee":
            fees = " / ".join(f"{f:,}" for f in weights.fees_by_size)
            reason = reason.replace("27,000 / 43,000 / 54,000", fees)
        lines.append(f"# {reason}")
        lines.append(f"{name} = {weights.factors[name]:g}")
    lines.append("")
    body = []
    for f in dataclasses.fields(Weights):
        if f.name == "factors":
            continue
        value = getattr(weights, f.name)
        shown = "[" + ", ".join(str(v) for v in value) + "]" if isinstance(value, tuple) else f"{value:g}"
        body += [f"# {PARAMETER_REASONS[f.name]}", f"{f.name} = {shown}"]
    # TOML: top-level keys must come before the first table.
    return "\n".join(lines[:1] + [""] + body + [""] + lines[2:])
