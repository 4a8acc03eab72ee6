"""Bit masks for codes and lists of codes, shared by both encoders."""

from __future__ import annotations

import numpy as np
import polars as pl

from features.contract import ETHNICITY_CODES, SEXES

UNRECORDED_HERITAGE = ("REFU", "NOBT")
HERITAGE_BITS = {code: 1 << i for i, code in enumerate(ETHNICITY_CODES) if code not in UNRECORDED_HERITAGE}
SEX_BITS = {sex: 1 << i for i, sex in enumerate(SEXES)}


def mask_of_code(values: pl.Series, bits: dict[str, int]) -> np.ndarray:
    """One bit per row for a single-code column (0 for codes not in ``bits``)."""
    return values.replace_strict(bits, default=0, return_dtype=pl.Int64).fill_null(0).to_numpy()


def mask_of_list(values: pl.Series, bits: dict[str, int]) -> np.ndarray:
    """OR of the bits of every code in a list column."""
    exploded = values.list.eval(pl.element().replace_strict(bits, default=0, return_dtype=pl.Int64))
    return exploded.list.eval(pl.element().bitwise_or()).list.first().fill_null(0).to_numpy()


def codes_of_mask(mask: int, bits: dict[str, int]) -> list[str]:
    """The codes whose bits are set, in declaration order."""
    return [code for code, bit in bits.items() if int(mask) & bit]
