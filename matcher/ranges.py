"""Allowed ranges of numbers a user types (options, weights files), and
reading such a number from text or a Python number. Shared by
:mod:`matcher.options` and :mod:`matcher.scoring.weights`, so every range
is described in the same words."""

from __future__ import annotations

import numbers
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Allowed:
    """The values a numeric option may take: ``low`` to ``high``, whole
    numbers only when ``whole``; ``low`` itself is excluded when
    ``above_low`` (a time limit must be above 0 s)."""

    low: int | float
    high: int | float
    whole: bool = True
    above_low: bool = False
    unit: str = ""
    """What the number counts, for the message ("seconds", "km"); a whole
    number without a unit is "a whole number"."""

    def describe(self) -> str:
        """The range as a family finder reads it: "a whole number from 1 to
        100,000", "seconds above 0, at most 86,400"."""
        noun = self.unit or ("a whole number" if self.whole else "a number")
        if self.above_low:
            return f"{noun} above {figure(self.low)}, at most {figure(self.high)}"
        return f"{noun} from {figure(self.low)} to {figure(self.high)}"

    def holds(self, value: int | float) -> bool:
        """Whether ``value`` (already a number) lies in the range; NaN never does."""
        above = value > self.low if self.above_low else value >= self.low
        return bool(above and value <= self.high)


def figure(value: int | float) -> str:
    """A bound as a message shows it: 1,000,000, or 0.5."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,}"


WHOLE_TEXT = re.compile(r"[+-]?\d+")
NUMBER_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
# Longer than any allowed whole number: out of range without converting it
# (Python refuses to convert text of more than 4,300 digits).
LONGEST_WHOLE = 24


def shown(value, limit: int = 40) -> str:
    """A value as a message shows it: its text, cut short when long."""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def as_number(value, whole: bool) -> int | float | None:
    """``value`` (text or a Python number) as a number, or None when it is
    none: text is a plain decimal (``12``, or ``0.5`` and ``1e3`` unless
    ``whole``); ``nan``, ``inf``, ``True`` and text of more digits than any
    range allows are not numbers."""
    if isinstance(value, str):
        text = value.strip()
        if WHOLE_TEXT.fullmatch(text):
            return int(text) if len(text) <= LONGEST_WHOLE else None
        if whole or not NUMBER_TEXT.fullmatch(text):
            return None
        return float(text)  # 1e309 becomes inf: out of every range
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and not whole:
        return float(value)
    return None
