"""Approved adopter households as numeric arrays."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from features.contract import NEEDS

from ._base import EncoderMixin, NamedColumns
from .codes import HERITAGE_BITS, SEX_BITS, mask_of_list
from .geo import unit_vectors

HOUSEHOLD_FEATURES: tuple[str, ...] = (
    "min_children", "max_children", "min_age_months", "max_age_months", "sexes_mask",
    *(f"accept_{n}" for n in NEEDS), *(f"consider_{n}" for n in NEEDS),
    "heritage_mask", "promote_mask", "dual_approved", "accepts_direct_contact", "youngest_child_months",
    "lat", "lon", "max_travel_km", "days_since_approval", "agency_code", "vaa", "approved",
)


@dataclass(frozen=True)
class HouseholdArrays(NamedColumns):
    """Encoded households, one entry per row of the households file."""

    household_ids: np.ndarray
    matrix: np.ndarray
    names: tuple[str, ...]
    xyz: np.ndarray
    accept: np.ndarray  # (n, 6) int8
    consider: np.ndarray  # (n, 6) int8

    def __len__(self) -> int:
        return len(self.household_ids)

    def take(self, rows: np.ndarray) -> HouseholdArrays:
        """The households at ``rows`` only."""
        return HouseholdArrays(self.household_ids[rows], np.asfortranarray(self.matrix[rows]), self.names,
                               np.asfortranarray(self.xyz[rows]), np.asfortranarray(self.accept[rows]),
                               np.asfortranarray(self.consider[rows]))


class HouseholdEncoder(EncoderMixin):
    """Encode households as one row of numbers each.

    Parameters
    ----------
    as_of : datetime.date
        The date the households' wait since approval is measured at.
    agencies : tuple of str or None
        The agency vocabulary shared with the unit encoder. Learned from the
        households when None.

    Per household: approved unit size and age range, sexes (bit mask), the
    accept and consider level of each need, own heritage and heritage it
    can promote (bit masks; a household can promote its own heritage),
    dual approval, direct contact, age of the youngest child at home (NaN
    when none), location, travel limit (NaN when none given), days since
    approval, agency, whether the agency is voluntary, and whether the
    household is approved (rule 1).
    """

    FEATURES = HOUSEHOLD_FEATURES
    REQUIRED = ("agency_id",)

    def encode(self, X: pl.DataFrame) -> HouseholdArrays:
        """Encode to :class:`HouseholdArrays`."""
        self._check_fitted()
        agency_codes = {a: i for i, a in enumerate(self.agencies_)}
        heritage = mask_of_list(X["ethnicities"], HERITAGE_BITS)
        promote = mask_of_list(X["can_promote"], HERITAGE_BITS) | heritage
        frame = X.select(
            "min_children", "max_children", "min_age_months", "max_age_months",
            pl.Series("sexes_mask", mask_of_list(X["sexes"], SEX_BITS)),
            *(pl.col(f"accept_{n}") for n in NEEDS), *(pl.col(f"consider_{n}") for n in NEEDS),
            pl.Series("heritage_mask", heritage),
            pl.Series("promote_mask", promote),
            "dual_approved", "accepts_direct_contact", "youngest_child_months", "lat", "lon", "max_travel_km",
            (pl.lit(self.as_of) - pl.col("approval_date")).dt.total_days().alias("days_since_approval"),
            pl.col("agency_id").replace_strict(agency_codes, default=-1, return_dtype=pl.Int64).alias("agency_code"),
            (pl.col("agency_type") == "vaa").alias("vaa"),
            (pl.col("status") == "approved").alias("approved"),
        )
        matrix = frame.cast(pl.Float64).to_numpy(order="fortran")
        return HouseholdArrays(
            household_ids=X["household_id"].to_numpy(),
            matrix=matrix,
            names=HOUSEHOLD_FEATURES,
            xyz=np.asfortranarray(unit_vectors(X["lat"].to_numpy(), X["lon"].to_numpy())),
            accept=np.asfortranarray(X.select(f"accept_{n}" for n in NEEDS).to_numpy().astype(np.int8)),
            consider=np.asfortranarray(X.select(f"consider_{n}" for n in NEEDS).to_numpy().astype(np.int8)),
        )
