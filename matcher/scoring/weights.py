"""The scorer's weights: defaults, their reasons, and loading from TOML."""

from __future__ import annotations

import dataclasses
import reprlib
import tomllib
from dataclasses import dataclass, field

from matcher.frozen import FrozenDict
from matcher.errors import InputError, Problem
from matcher.files.paths import input_file_problem
from matcher.ranges import Allowed, as_number, shown

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
        # Weights built in code (a web service, a test) are held to the same
        # ranges as a weights file.
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        problems = weight_problems(fields, "weights")
        missing = [name for name in FACTORS if name not in self.factors]
        if missing:
            problems.append(Problem("weights", None, "factors", ", ".join(missing), "every factor given", kind="key"))
        if not problems and sum(self.factors.values()) <= 0:
            problems.append(Problem("weights", None, "factors", None, "at least one factor weight above zero",
                                    kind="key"))
        if problems:
            raise InputError(problems)
        total = sum(self.factors.values())
        factors = {k: v * 100.0 / total for k, v in self.factors.items()} if abs(total - 100.0) > 1e-9 \
            else dict(self.factors)
        object.__setattr__(self, "factors", FrozenDict(factors))  # checked, so read-only

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


# Every number a weights file holds, with its allowed range: shares stay in
# [0, 1] so that every fit stays in [0, 1]; divisors must be above zero;
# every bound is finite, so no score, weight or fee can overflow.
FACTOR_POINTS = Allowed(0, 1_000, whole=False, unit="points")
FEE = Allowed(0, 10_000_000, unit="whole pounds")
MOST_FEES = 10
PARAMETER_RANGES: dict[str, Allowed] = {
    "needs_step": Allowed(0, 1, whole=False),
    "promote_credit": Allowed(0, 1, whole=False),
    "unrecorded_heritage_fit": Allowed(0, 1, whole=False),
    "age_gap_months": Allowed(0, 600, whole=False, above_low=True, unit="months"),
    "default_travel_km": Allowed(0, 20_000, whole=False, above_low=True, unit="kilometres"),
    "dual_reserve": Allowed(0, 1, whole=False),
    "care_threshold_days": Allowed(0, 10_000, whole=False, above_low=True, unit="days"),
    "order_threshold_days": Allowed(0, 10_000, whole=False, above_low=True, unit="days"),
    "approval_full_days": Allowed(0, 10_000, whole=False, above_low=True, unit="days"),
    "wait_boost": Allowed(0, 1_000_000, whole=False),
}


def _file_number(value, allowed: Allowed) -> int | float | None:
    # A TOML file's numbers are numbers already: text such as "5" is not one.
    return None if isinstance(value, str) else as_number(value, allowed.whole)


def _fees_problem(value) -> str | None:
    expected = f"a list of 1 to {MOST_FEES} fees, each {FEE.describe()}"
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= MOST_FEES:
        return expected
    fees = [_file_number(v, FEE) for v in value]
    return expected if any(f is None or not FEE.holds(f) for f in fees) else None


def weight_problems(values: dict, source: str) -> list[Problem]:
    """Every problem with weights given as ``{"factors": {name: points},
    parameter: value, ...}`` (any subset of the keys; a TOML file's
    content, or a :class:`Weights`' fields), each naming ``source`` and
    the key and saying the allowed range."""
    def problem(key, value, expected):
        return Problem(source, None, key, None if value is None else _shown(value), expected, kind="key")

    problems = []
    values = dict(values)
    table = values.pop("factors", {})
    if not isinstance(table, dict):
        problems.append(problem("factors", table, "a [factors] table of factor = points"))
        table = {}
    for key, value in table.items():
        if key not in FACTORS:
            problems.append(problem(f"factors.{key}", value, f"one of {', '.join(FACTORS)}"))
        elif (points := _file_number(value, FACTOR_POINTS)) is None or not FACTOR_POINTS.holds(points):
            problems.append(problem(f"factors.{key}", value, FACTOR_POINTS.describe()))
    known = [f.name for f in dataclasses.fields(Weights) if f.name != "factors"]
    for key, value in values.items():
        if key not in known:
            problems.append(problem(key, value, f"one of factors, {', '.join(known)}"))
        elif key == "fees_by_size":
            if (expected := _fees_problem(value)) is not None:
                problems.append(problem(key, value, expected))
        elif (number := _file_number(value, PARAMETER_RANGES[key])) is None \
                or not PARAMETER_RANGES[key].holds(number):
            problems.append(problem(key, value, PARAMETER_RANGES[key].describe()))
    return problems


def _shown(value) -> str:
    # reprlib stops at a few levels: a table nested thousands deep is shown
    # without recursing into it.
    return shown(value if isinstance(value, (int, float, str)) else reprlib.repr(value), 60)


def load_weights(path: str | None) -> Weights:
    """Defaults, overridden by a TOML file with a ``[factors]`` table and
    top-level parameters. A path that is no readable file, unknown keys and
    values out of range are input errors naming the file and the key."""
    if path is None:
        return Weights()
    path = str(path)
    unreadable = input_file_problem(path, "weights file")
    if unreadable is not None:
        raise InputError(Problem(path, None, None, None, unreadable, kind="key"))
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except RecursionError:
        raise InputError(Problem(path, None, None, None, "a TOML file; its tables or lists are nested too deeply "
                                                         "to read", kind="key")) from None
    except UnicodeDecodeError:
        raise InputError(Problem(path, None, None, None, "a TOML file in UTF-8; found bytes that are not UTF-8",
                                 kind="key")) from None
    except tomllib.TOMLDecodeError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "not TOML"
        raise InputError(Problem(path, None, None, None, f"a TOML file ({shown(first, 120)})", kind="key")) from None
    except ValueError:  # Python reads no integer of more than 4,300 digits
        raise InputError(Problem(path, None, None, None, "a TOML file whose numbers have at most 4,300 digits",
                                 kind="key")) from None
    except OSError as exc:
        raise InputError(Problem(path, None, None, None, f"a readable weights file ({exc.strerror})",
                                 kind="key")) from None
    problems = weight_problems(data, path)
    factors = {**Weights().factors, **data.pop("factors", {})} if not problems else {}
    if not problems and sum(factors.values()) <= 0:
        problems.append(Problem(path, None, "factors", None, "at least one factor weight above zero", kind="key"))
    if problems:
        raise InputError(problems)
    params = {k: tuple(int(f) for f in v) if k == "fees_by_size" else float(v) for k, v in data.items()}
    return Weights(factors={k: float(v) for k, v in factors.items()}, **params)


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
