"""Units (one child, or a sibling group placed together) as numeric arrays."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from features.contract import NEEDS

from ._base import EncoderMixin, NamedColumns
from .codes import HERITAGE_BITS, SEX_BITS, mask_of_code
from .geo import unit_vectors

UNIT_FEATURES: tuple[str, ...] = (
    "size", "age_min_months", "age_max_months", "sexes_mask", *(f"need_{n}" for n in NEEDS),
    "early_permanence", "direct_contact", "heritage_mask", "lat", "lon",
    "days_since_care", "days_since_placement_order", "waiting", "agency_code", "safety_children",
)


@dataclass(frozen=True)
class UnitArrays(NamedColumns):
    """Encoded units, one entry per unit in ``unit_ids`` order.

    The per-child safety constraints (rule 6) are kept child by child, since
    siblings may have different birth-family locations: ``safety_unit`` is
    the unit row of each constrained child, with ``safety_xyz`` its birth
    family's unit vector and ``safety_km`` the distance to keep.
    """

    unit_ids: np.ndarray
    matrix: np.ndarray
    names: tuple[str, ...]
    xyz: np.ndarray
    needs: np.ndarray  # (n, 6) int8, worst level over the unit's children
    safety_unit: np.ndarray
    safety_xyz: np.ndarray
    safety_km: np.ndarray
    safety_child: np.ndarray  # child ids, for explanations

    def __len__(self) -> int:
        return len(self.unit_ids)


class UnitEncoder(EncoderMixin):
    """Encode children, grouped into units, as one row of numbers per unit.

    Parameters
    ----------
    as_of : datetime.date
        The date waits are measured at.
    agencies : tuple of str or None
        The agency vocabulary shared with the household encoder (an agency's
        code is its position here). Learned from the children when None.

    The input is the children frame from :func:`features.units.build_units`,
    which carries ``unit_id`` and ``age_months``. Per unit: size, youngest
    and oldest age, the sexes present (bit mask), the worst level of each
    need, early permanence (any child), direct contact (any child), heritage
    codes (bit mask), location (first child's), the longest wait since
    entering care and since a placement order, whether every child is
    waiting, the responsible agency and how many children carry a safety
    distance.

    Examples
    --------
    >>> import datetime as dt
    >>> import polars as pl
    >>> from features.units import build_units
    >>> day = dt.date(2026, 6, 30)
    >>> children = pl.DataFrame({
    ...     "child_id": ["C1", "C2", "C3"], "agency_id": ["LA01"] * 3, "sibling_group_id": ["G1", "G1", None],
    ...     "sibling_plan": ["together", "together", None], "sex": ["F", "M", "F"],
    ...     "ethnicity": ["WBRI", "WBRI", "BCRB"], "date_of_birth": [dt.date(2022, 1, 5)] * 3,
    ...     "entered_care_date": [dt.date(2024, 2, 1)] * 3, "placement_order_date": [None, None, None],
    ...     "early_permanence": [False] * 3, "contact_plan": ["none"] * 3, "lat": [52.6] * 3,
    ...     "lon": [-1.1] * 3, "birth_family_lat": [None] * 3, "birth_family_lon": [None] * 3,
    ...     "min_distance_km": [None] * 3, "status": ["waiting"] * 3, "region": ["East Midlands"] * 3,
    ...     **{f"need_{n}": [0, 1, 2] for n in NEEDS}},
    ...     schema_overrides={"placement_order_date": pl.Date, "birth_family_lat": pl.Float64,
    ...                       "birth_family_lon": pl.Float64, "min_distance_km": pl.Float64})
    >>> kids, units = build_units(children, day)
    >>> enc = UnitEncoder(as_of=day).fit(kids)
    >>> enc.transform(kids).shape == (units.height, len(enc.get_feature_names_out()))
    True
    """

    FEATURES = UNIT_FEATURES
    REQUIRED = ("agency_id", "unit_id", "age_months")

    def encode(self, X: pl.DataFrame) -> UnitArrays:
        """Encode to :class:`UnitArrays` (the matrix plus per-child safety).

        ``X`` is the children frame from :func:`features.units.build_units`,
        with ``unit_id`` and ``age_months``.
        """
        self._check_fitted()
        as_of = pl.lit(self.as_of)
        agency_codes = {a: i for i, a in enumerate(self.agencies_)}
        kids = X.sort(["unit_id", "child_id"])
        kids = kids.with_columns(
            pl.Series("sex_bit", mask_of_code(kids["sex"], SEX_BITS)),
            pl.Series("heritage_bit", mask_of_code(kids["ethnicity"], HERITAGE_BITS)),
            (as_of - pl.col("entered_care_date")).dt.total_days().alias("care_days"),
            (as_of - pl.col("placement_order_date")).dt.total_days().alias("po_days"),
            pl.col("agency_id").replace_strict(agency_codes, default=-1, return_dtype=pl.Int64).alias("agency_code"),
            (pl.col("min_distance_km").fill_null(0.0) > 0).alias("has_safety"),
        )
        units = kids.group_by("unit_id", maintain_order=True).agg(
            pl.len().alias("size"),
            pl.col("age_months").min().alias("age_min_months"),
            pl.col("age_months").max().alias("age_max_months"),
            pl.col("sex_bit").bitwise_or().alias("sexes_mask"),
            *(pl.col(f"need_{n}").max() for n in NEEDS),
            pl.col("early_permanence").any().alias("early_permanence"),
            (pl.col("contact_plan") == "direct").any().alias("direct_contact"),
            pl.col("heritage_bit").bitwise_or().alias("heritage_mask"),
            pl.col("lat").first(),
            pl.col("lon").first(),
            pl.col("care_days").max().alias("days_since_care"),
            pl.col("po_days").max().alias("days_since_placement_order"),
            (pl.col("status") == "waiting").all().alias("waiting"),
            pl.col("agency_code").first(),
            pl.col("has_safety").sum().alias("safety_children"),
        )
        matrix = units.select(UNIT_FEATURES).cast(pl.Float64).to_numpy(order="fortran")
        unit_row = kids.select(pl.col("unit_id").rle_id()).to_series().to_numpy()
        safety = kids.with_columns(pl.Series("unit_row", unit_row)).filter(pl.col("has_safety"))
        return UnitArrays(
            unit_ids=units["unit_id"].to_numpy(),
            matrix=matrix,
            names=UNIT_FEATURES,
            xyz=np.asfortranarray(unit_vectors(units["lat"].to_numpy(), units["lon"].to_numpy())),
            needs=np.asfortranarray(units.select(f"need_{n}" for n in NEEDS).to_numpy().astype(np.int8)),
            safety_unit=safety["unit_row"].to_numpy().astype(np.int64),
            safety_xyz=unit_vectors(safety["birth_family_lat"].to_numpy(), safety["birth_family_lon"].to_numpy()),
            safety_km=safety["min_distance_km"].to_numpy().astype(np.float64),
            safety_child=safety["child_id"].to_numpy(),
        )
