"""The encoders follow scikit-learn's estimator conventions."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sklearn.base import clone

from features.household_encoder import HouseholdEncoder
from features.unit_encoder import UnitEncoder
from matcher.generate import generate_region
from features.units import build_units

AS_OF = dt.date(2026, 6, 30)


@pytest.fixture(scope="module")
def frames():
    kids, homes = generate_region(9, 40, 30, AS_OF)
    kids, units = build_units(kids, AS_OF)
    return kids, units, homes


@pytest.mark.parametrize("encoder_class", [UnitEncoder, HouseholdEncoder])
def test_sklearn_conventions(frames, encoder_class):
    kids, units, homes = frames
    data = kids if encoder_class is UnitEncoder else homes
    encoder = encoder_class(as_of=AS_OF)
    with pytest.raises(RuntimeError, match="not fitted"):
        encoder.transform(data)
    assert encoder.fit(data) is encoder
    matrix = encoder.transform(data)
    names = encoder.get_feature_names_out()
    assert matrix.shape == ((units.height if encoder_class is UnitEncoder else homes.height), len(names))
    assert np.array_equal(encoder.fit_transform(data), matrix, equal_nan=True)
    twin = clone(encoder)
    assert twin.get_params() == {"as_of": AS_OF, "agencies": None} and not hasattr(twin, "agencies_")
    with pytest.raises(ValueError, match="invalid parameter"):
        encoder.set_params(colour="red")
    with pytest.raises(ValueError, match="as_of must be a datetime.date"):
        encoder_class(as_of="2026-06-30").fit(data)


def test_unit_rows_hold_the_worst_need_and_the_age_range(frames):
    kids, units, _ = frames
    encoded = UnitEncoder(as_of=AS_OF).fit(kids).encode(kids)
    for row, unit_id in enumerate(encoded.unit_ids):
        members = kids.filter(kids["unit_id"] == unit_id)
        assert encoded.column("size")[row] == members.height
        assert encoded.column("age_min_months")[row] == members["age_months"].min()
        assert encoded.column("age_max_months")[row] == members["age_months"].max()
        assert encoded.column("need_emotional")[row] == members["need_emotional"].max()


def test_unit_encoder_needs_build_units_columns():
    kids, _ = generate_region(9, 10, 5, AS_OF)
    with pytest.raises(ValueError, match="unit_id"):
        UnitEncoder(as_of=AS_OF).fit(kids)
