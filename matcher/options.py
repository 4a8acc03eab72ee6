"""What a caller asks for, as frozen values checked where they are built.

Every front end (the CLI now; the store, the web service and reports later)
builds these and hands them to :mod:`matcher.api`. A bad value raises
:class:`~matcher.errors.InputError` whose problems name the option by its
domain name (``budgets``, ``min_score``, ...) and say what was expected; the
CLI maps those names to its flags.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from matcher.errors import InputError, option_problem
from matcher.scoring.weights import Weights
from solvers import SolverConfig


def _check_top(top: int | None) -> None:
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise InputError(option_problem("top", top, "a whole number >= 1"))


@dataclass(frozen=True)
class QueryOptions:
    """Options of the ranked queries, why-not and scores.

    ``top`` is how many results ``rank`` keeps (None: all); ``workers`` how
    many threads score and check eligibility in parallel.
    """

    weights: Weights = field(default_factory=Weights)
    top: int | None = 10
    workers: int = 2

    def __post_init__(self) -> None:
        _check_top(self.top)
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise InputError(option_problem("workers", self.workers, "a whole number >= 1"))


def _pair_list(pairs, option: str) -> tuple[tuple[str, str], ...]:
    out = []
    for text in pairs:
        if isinstance(text, tuple):
            out.append(text)
            continue
        unit, sep, household = text.partition("=")
        if not sep or not unit or not household:
            raise InputError(option_problem(option, text, "UNIT=HOUSEHOLD"))
        out.append((unit.strip(), household.strip()))
    return tuple(out)


def parse_budgets(values) -> dict[str, int]:
    """``AGENCY=AMOUNT`` strings to a dict; input errors for bad ones."""
    budgets: dict[str, int] = {}
    for text in values:
        agency, sep, amount = text.partition("=")
        amount = amount.strip().lstrip("£")
        # Whole pounds, optionally with thousands separators: 100000 or 100,000.
        value = int(amount.replace(",", "")) if re.fullmatch(r"\d+|\d{1,3}(,\d{3})+", amount) else -1
        agency = agency.strip()
        if not sep or not agency or value < 0:
            raise InputError(option_problem("budgets", text, "AGENCY=AMOUNT, a whole amount >= 0"))
        if agency in budgets:
            raise InputError(option_problem("budgets", text, "one budget per agency"))
        budgets[agency] = value
    return budgets


def _check_proposal_values(shortlist, min_score, km, one_proposal_only: bool) -> None:
    if shortlist is not None and shortlist < 1:
        raise InputError(option_problem("shortlist", shortlist, "a whole number >= 1"))
    if min_score is not None and not 0 <= min_score <= 100:
        raise InputError(option_problem("min_score", min_score, "a score from 0 to 100"))
    if km is not None and km < 0:
        raise InputError(option_problem("sibling_contact_km", km, "a distance >= 0"))
    if shortlist is not None and (one_proposal_only or km is not None):
        raise InputError(option_problem("shortlist", shortlist,
                                        "no {option:budgets}, {option:fixed} or {option:sibling_contact_km} with a shortlist (a shortlist "
                                        "lists alternatives; budgets and fixed links apply to one proposal)"))


@dataclass(frozen=True)
class ProposalOptions:
    """What the family finder asked a proposal for. Ids are unit and
    household ids; ``budgets`` maps a child's agency to its cap on fees."""

    budgets: dict[str, int] = field(default_factory=dict)
    min_score: float | None = None
    fixed: tuple[tuple[str, str], ...] = ()
    excluded: tuple[tuple[str, str], ...] = ()
    sibling_contact_km: float | None = None
    shortlist: int | None = None
    config: SolverConfig = field(default_factory=SolverConfig)
    weights: Weights = field(default_factory=Weights)

    def __post_init__(self) -> None:
        _check_proposal_values(self.shortlist, self.min_score, self.sibling_contact_km,
                               bool(self.budgets or self.fixed))

    @classmethod
    def parse(cls, budgets=(), min_score=None, fixed=(), excluded=(), sibling_contact_km=None, shortlist=None,
              time_limit_s=60.0, workers=1, seed=0, weights: Weights | None = None) -> ProposalOptions:
        """Build options from their text forms (``AGENCY=AMOUNT`` budgets,
        ``UNIT=HOUSEHOLD`` pairs), checking each value once."""
        _check_proposal_values(shortlist, min_score, sibling_contact_km, bool(budgets or fixed))
        if not time_limit_s > 0:
            raise InputError(option_problem("time_limit_s", time_limit_s, "seconds > 0"))
        config = SolverConfig(time_limit_s=time_limit_s, workers=max(1, workers), seed=seed)
        return cls(parse_budgets(budgets), min_score, _pair_list(fixed, "fixed"), _pair_list(excluded, "excluded"),
                   sibling_contact_km, shortlist, config, weights or Weights())


# The request a proposal answers: the same value under its earlier name.
ProposalRequest = ProposalOptions


def make_request(*args, **kwargs) -> ProposalOptions:
    """:meth:`ProposalOptions.parse` (kept for callers of the earlier name)."""
    return ProposalOptions.parse(*args, **kwargs)
