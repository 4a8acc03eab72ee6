"""A budgets file: CSV ``agency_id,amount``, one row per child's agency,
the cap on the inter-agency fees its children's links may commit (what
``--budget AGENCY=AMOUNT`` gives, for a standing table of budgets).

Amounts are whole pounds as ``--budget`` takes them (``100000``,
``100,000`` or ``£100,000``). An agency written twice, in the file or in
the file and a ``--budget`` flag, is an error; so is any bad cell, named by
file, row (the CSV line: the header is line 1) and column.
"""

from __future__ import annotations

import os
import re

from features.contract import id_key
from matcher.errors import InputError, Problem
from matcher.files.paths import input_file_problem
from matcher.files.read import _raw_csv  # the project's CSV reading: encodings, separators, quotes
from matcher.options import NUMBERS
from matcher.ranges import LONGEST_WHOLE

COLUMNS = ("agency_id", "amount")


def _amount(text: str) -> int | None:
    amount = text.strip().lstrip("£")
    plain = amount.replace(",", "") if re.fullmatch(r"\d+|\d{1,3}(,\d{3})+", amount) else None
    if plain is None or len(plain) > LONGEST_WHOLE or not NUMBERS["budgets"].holds(int(plain)):
        return None
    return int(plain)


def read_budgets(path: str | os.PathLike, already: dict[str, int] | None = None) -> dict[str, int]:
    """The budgets of the file at ``path`` merged with ``already`` (those
    given by ``--budget`` flags): agency -> whole pounds. Every problem is
    collected, then raised as one :class:`InputError`."""
    where = os.fspath(path)
    unusable = input_file_problem(where, "budgets file")
    if unusable is not None:
        raise InputError(Problem(where, None, None, None, unusable))
    frame, problems = _raw_csv(where)
    if problems:
        raise InputError(problems)
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise InputError([Problem(where, None, c, None, "a column agency_id and a column amount (CSV "
                                                        "agency_id,amount)") for c in missing])
    if frame.height == 0:
        raise InputError(Problem(where, None, None, None, "at least one row agency_id,amount"))
    given = dict(already or {})
    seen = {id_key(a): ("a --budget flag", a) for a in given}
    budgets: dict[str, int] = {}
    problems = []
    for i, (agency, amount) in enumerate(frame.select(COLUMNS).iter_rows()):
        row = i + 2
        agency = (agency or "").strip()
        if not agency:
            problems.append(Problem(where, row, "agency_id", None, "an agency id"))
            continue
        key = id_key(agency)
        if key in seen:
            first, spelt = seen[key]
            problems.append(Problem(where, row, "agency_id", agency, f"one budget per agency; {spelt} already has "
                                                                     f"one ({first})"))
            continue
        seen[key] = (f"row {row}", agency)
        value = _amount(amount or "")
        if value is None:
            problems.append(Problem(where, row, "amount", amount, f"an amount in {NUMBERS['budgets'].describe()}"))
            continue
        budgets[agency] = value
    if problems:
        raise InputError(problems)
    return {**given, **budgets}
