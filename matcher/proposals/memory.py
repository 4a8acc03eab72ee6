"""Will the exact path fit? An estimate made before any large allocation.

The exact proposal holds every eligible pair's scores at once. Before it
scores anything, the eligible pairs are estimated from a sample of waiting
units (eligibility only, no scoring: a fraction of a second) and multiplied
by the bytes the exact path holds per pair. Where that exceeds the memory
available (``MemAvailable`` of ``/proc/meminfo``, or the cgroup's limit if
lower, less a margin), the command is refused up front, with the estimate,
and ``--candidates 50`` is suggested instead of being killed part way.

``MATCHER_MEMORY_LIMIT_BYTES`` (environment) sets the memory available by
hand: to test the refusal, or to keep a run within a share of a machine.
"""

from __future__ import annotations

import os

import numpy as np

from matcher.errors import InputError, option_problem
from matcher.region import Region

BYTES_PER_PAIR = 80
"""Peak bytes the exact path holds per eligible pair: the lean pair table
(32 bytes, :mod:`matcher.scoring.lean`) plus the matching solver's own
arrays. Measured at 1.29 GiB peak for 17.3 M pairs on 10,000 x 20,000
children x households (about 69 bytes a pair with the interpreter and the
region; benchmarks/README.md, "Issue 12: memory"), rounded up."""

BASE_BYTES = 400 * 2**20
"""Held whatever the size: the interpreter, the libraries, the region."""

MARGIN = 0.8
"""Share of the available memory a run may plan to use."""

SAMPLE_UNITS = 256
SUGGESTED_K = 50
LIMIT_VARIABLE = "MATCHER_MEMORY_LIMIT_BYTES"


def available_bytes() -> int | None:
    """Memory this process may still use: ``MATCHER_MEMORY_LIMIT_BYTES``
    when set, else the smaller of ``MemAvailable`` and the cgroup limit;
    None when neither can be read."""
    given = os.environ.get(LIMIT_VARIABLE)
    if given:
        try:
            return int(given)
        except ValueError:
            raise InputError(option_problem("memory_limit", given, f"a whole number of bytes in {LIMIT_VARIABLE}"))
    found = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            text = f.read().strip()
        if text.isdigit():
            found.append(int(text))
    except OSError:
        pass
    return min(found) if found else None


def estimate_pairs(region: Region, sample: int = SAMPLE_UNITS) -> int:
    """Eligible pairs, estimated from up to ``sample`` waiting units spread
    evenly over them (exact when there are no more units than that)."""
    from features.eligibility import eligible

    rows = region.waiting_unit_rows
    if len(rows) == 0 or len(region.household_arrays) == 0:
        return 0
    if len(rows) <= sample:
        picked = rows
    else:
        picked = rows[np.linspace(0, len(rows) - 1, sample).round().astype(np.int64)]
    count = int(eligible(region.unit_arrays, picked, region.tables).sum())
    return int(round(count * len(rows) / len(picked)))


def exact_bytes(pairs: int) -> int:
    return BASE_BYTES + BYTES_PER_PAIR * pairs


def gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def check_exact_fits(region: Region) -> None:
    """Refuse (an :class:`InputError` on option ``candidates``, exit 2)
    when the exact path's estimated memory exceeds what is available."""
    available = available_bytes()
    if available is None:
        return
    pairs = estimate_pairs(region)
    need = exact_bytes(pairs)
    if need <= MARGIN * available:
        return
    raise InputError(option_problem(
        "candidates", None,
        f"candidates for a region this large: the exact proposal would hold about {pairs:,} eligible pairs "
        f"(estimated from {min(SAMPLE_UNITS, len(region.waiting_unit_rows))} units) and need about {gib(need)}, "
        f"more than the {gib(MARGIN * available)} it may use of the {gib(available)} available; "
        f"use {{option:candidates}} {SUGGESTED_K} (the best {SUGGESTED_K} households per unit and units per "
        f"household, memory growing with units + households)", code="too_large"))
