"""What a caller asks for, as frozen values checked where they are built.

Every front end (the CLI now; the store, the web service and reports later)
builds these and hands them to :mod:`matcher.api`. A bad value raises
:class:`~matcher.errors.InputError` whose problems name the option by its
domain name (``budgets``, ``min_score``, ...) and say what was expected; the
CLI maps those names to its flags.

Every number a caller can give has its allowed range in :data:`NUMBERS`,
checked by :func:`number` where the value is built. A number may be given as
text (as typed on a command line or in a query string) or as a Python
number; either way the same range and the same message apply, so every
front end says the same thing.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from features.contract import EARLIEST_DATE
from matcher.errors import InputError, option_problem
from matcher.frozen import FrozenDict
from matcher.ranges import LONGEST_WHOLE, Allowed, as_number, shown
from matcher.scoring.distributed import Scheduler, parse_scheduler
from matcher.scoring.weights import Weights
from solvers import SolverConfig

NUMBERS: dict[str, Allowed] = {
    # Synthetic regions: counts of rows, and the generator's seed.
    "n_children": Allowed(1, 1_000_000),
    "n_households": Allowed(1, 1_000_000),
    "seed": Allowed(0, 2**32 - 1),
    # Queries and proposals.
    "top": Allowed(1, 100_000),
    "shortlist": Allowed(1, 1_000),
    "candidates": Allowed(1, 1_000),
    "workers": Allowed(1, 64),
    "time_limit_s": Allowed(0, 86_400, whole=False, above_low=True, unit="seconds"),
    "min_score": Allowed(0, 100, whole=False, unit="a score"),
    "budgets": Allowed(0, 10**12, unit="whole pounds"),
    "sibling_contact_km": Allowed(0, 20_000, whole=False, unit="kilometres"),
    # CP-SAT keeps its seed in a signed 32-bit integer.
    "solver_seed": Allowed(0, 2**31 - 1),
}
"""Every numeric option's allowed range, by its domain name (README,
"Numbers you can type")."""


def number(option: str, value, allowed: Allowed | None = None) -> int | float:
    """``value`` (text or a number) as the number option ``option`` takes,
    checked against its range in :data:`NUMBERS`; an :class:`InputError`
    naming the option and its range otherwise. Text is a plain decimal
    (``12``, ``0.5``, ``1e3`` where fractions are allowed); ``nan``, ``inf``
    and ``True`` are never numbers."""
    allowed = allowed or NUMBERS[option]
    parsed = as_number(value, allowed.whole)
    if parsed is None or not allowed.holds(parsed):
        raise InputError(option_problem(option, shown(value), allowed.describe()))
    return parsed


def _maybe_number(option: str, value) -> int | float | None:
    return None if value is None else number(option, value)


_DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")


def iso_date(option: str, value) -> dt.date:
    """An ISO ``YYYY-MM-DD`` date (text or a date) for option ``option``,
    from :data:`~features.contract.EARLIEST_DATE` on."""
    day = None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        day = value
    elif isinstance(value, str) and _DATE_TEXT.fullmatch(value.strip()):
        try:
            day = dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    if day is None:
        raise InputError(option_problem(option, shown(value), "a date YYYY-MM-DD"))
    if day < EARLIEST_DATE:
        raise InputError(option_problem(option, shown(value), f"a date from {EARLIEST_DATE.isoformat()} on"))
    return day


@dataclass(frozen=True)
class RegionRequest:
    """What a synthetic region is drawn from: a seed and the number of
    children and households (each checked against :data:`NUMBERS`)."""

    seed: int
    n_children: int
    n_households: int

    def __post_init__(self) -> None:
        for name in ("seed", "n_children", "n_households"):
            object.__setattr__(self, name, number(name, getattr(self, name)))


@dataclass(frozen=True)
class QueryOptions:
    """Options of the ranked queries, why-not and scores.

    ``top`` is how many results ``rank`` keeps (None: all); ``workers`` how
    many threads score and check eligibility in parallel. Either may be
    given as text; both are checked against :data:`NUMBERS`.
    """

    weights: Weights = field(default_factory=Weights)
    top: int | None = 10
    workers: int = 2
    scheduler: Scheduler | None = None
    """Score on Dask distributed (:mod:`matcher.scoring.distributed`):
    a :class:`Scheduler`, or its address as text; None: in this process."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "top", _maybe_number("top", self.top))
        object.__setattr__(self, "workers", number("workers", self.workers))
        object.__setattr__(self, "scheduler", parse_scheduler(self.scheduler))


def _pair_list(pairs, option: str) -> tuple[tuple[str, str], ...]:
    """``UNIT=HOUSEHOLD`` texts, or (unit, household) pairs of ids, as a
    tuple of pairs of ids."""
    out = []
    for text in pairs:
        if isinstance(text, (tuple, list)):
            if len(text) != 2 or not all(isinstance(i, str) and i.strip() for i in text):
                raise InputError(option_problem(option, shown(text), "a (unit id, household id) pair of texts"))
            out.append((text[0].strip(), text[1].strip()))
            continue
        if not isinstance(text, str):
            raise InputError(option_problem(option, shown(text), "UNIT=HOUSEHOLD"))
        unit, sep, household = text.partition("=")
        if not sep or not unit or not household:
            raise InputError(option_problem(option, text, "UNIT=HOUSEHOLD"))
        out.append((unit.strip(), household.strip()))
    return tuple(out)


def _budget_expected() -> str:
    return f"AGENCY=AMOUNT, the amount in {NUMBERS['budgets'].describe()}"


def parse_budgets(values) -> dict[str, int]:
    """``AGENCY=AMOUNT`` strings to a dict; input errors for bad ones."""
    budgets: dict[str, int] = {}
    for text in values:
        agency, sep, amount = text.partition("=")
        amount = amount.strip().lstrip("£")
        # Whole pounds, optionally with thousands separators: 100000 or 100,000.
        plain = amount.replace(",", "") if re.fullmatch(r"\d+|\d{1,3}(,\d{3})+", amount) else None
        agency = agency.strip()
        if not sep or not agency or plain is None or len(plain) > LONGEST_WHOLE \
                or not NUMBERS["budgets"].holds(int(plain)):
            raise InputError(option_problem("budgets", shown(text), _budget_expected()))
        if agency in budgets:
            raise InputError(option_problem("budgets", text, "one budget per agency"))
        budgets[agency] = int(plain)
    return budgets


def _checked_budgets(budgets) -> FrozenDict:
    out = {}
    for agency, amount in dict(budgets).items():
        value = as_number(amount, whole=True) if not isinstance(amount, str) else None
        if not isinstance(agency, str) or value is None or not NUMBERS["budgets"].holds(value):
            raise InputError(option_problem("budgets", shown(f"{agency}={amount}"), _budget_expected()))
        out[agency] = value
    return FrozenDict(out)


def _check_combination(shortlist, km, one_proposal_only: bool) -> None:
    if shortlist is not None and (one_proposal_only or km is not None):
        raise InputError(option_problem("shortlist", shortlist,
                                        "no {option:budgets}, {option:fixed} or {option:sibling_contact_km} with a shortlist (a shortlist "
                                        "lists alternatives; budgets and fixed links apply to one proposal)"))


def _solver_config(time_limit_s, workers, seed) -> SolverConfig:
    return SolverConfig(time_limit_s=float(number("time_limit_s", time_limit_s)),
                        workers=number("workers", workers), seed=number("solver_seed", seed))


@dataclass(frozen=True)
class ProposalOptions:
    """What the family finder asked a proposal for. Ids are unit and
    household ids; ``budgets`` maps a child's agency to its cap on fees.
    Every number is checked against :data:`NUMBERS` (``config``'s time
    limit, workers and seed too)."""

    budgets: dict[str, int] = field(default_factory=dict)
    min_score: float | None = None
    fixed: tuple[tuple[str, str], ...] = ()
    excluded: tuple[tuple[str, str], ...] = ()
    sibling_contact_km: float | None = None
    shortlist: int | None = None
    config: SolverConfig = field(default_factory=SolverConfig)
    weights: Weights = field(default_factory=Weights)
    scheduler: Scheduler | None = None
    """Score (and generate candidates) on Dask distributed; see
    :attr:`QueryOptions.scheduler`. Not part of what is asked: the
    proposal is the same, and the manifest does not record it."""
    candidates: int | None = None
    """Keep only the best K households per unit and K units per household
    (their union), streamed without the full pair table; None: every
    eligible pair (see :mod:`matcher.proposals.candidates`)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "scheduler", parse_scheduler(self.scheduler))
        for name in ("shortlist", "min_score", "sibling_contact_km", "candidates"):
            object.__setattr__(self, name, _maybe_number(name, getattr(self, name)))
        object.__setattr__(self, "budgets", _checked_budgets(self.budgets))
        object.__setattr__(self, "fixed", _pair_list(self.fixed, "fixed"))
        object.__setattr__(self, "excluded", _pair_list(self.excluded, "excluded"))
        _solver_config(self.config.time_limit_s, self.config.workers, self.config.seed)
        _check_combination(self.shortlist, self.sibling_contact_km, bool(self.budgets or self.fixed))

    @classmethod
    def parse(cls, budgets=(), min_score=None, fixed=(), excluded=(), sibling_contact_km=None, shortlist=None,
              time_limit_s=60.0, workers=1, seed=0, weights: Weights | None = None,
              scheduler: Scheduler | str | None = None, candidates=None) -> ProposalOptions:
        """Build options from their text forms (numbers as text or numbers,
        ``AGENCY=AMOUNT`` budgets, ``UNIT=HOUSEHOLD`` pairs), checking each
        value once."""
        shortlist, min_score, sibling_contact_km = (
            _maybe_number(name, value) for name, value in
            (("shortlist", shortlist), ("min_score", min_score), ("sibling_contact_km", sibling_contact_km)))
        _check_combination(shortlist, sibling_contact_km, bool(budgets or fixed))
        config = _solver_config(time_limit_s, workers, seed)
        return cls(parse_budgets(budgets), min_score, _pair_list(fixed, "fixed"), _pair_list(excluded, "excluded"),
                   sibling_contact_km, shortlist, config, weights or Weights(), parse_scheduler(scheduler),
                   _maybe_number("candidates", candidates))


# The request a proposal answers: the same value under its earlier name.
ProposalRequest = ProposalOptions


def make_request(*args, **kwargs) -> ProposalOptions:
    """:meth:`ProposalOptions.parse` (kept for callers of the earlier name)."""
    return ProposalOptions.parse(*args, **kwargs)
