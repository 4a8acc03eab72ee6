"""The generator against its calibration table (docs/calibration.md, README)."""

from __future__ import annotations

import pytest

from matcher.generate import CALIBRATION_TARGETS, generate_region, measure_calibration
from tests.conftest import AS_OF


@pytest.fixture(scope="module")
def measured() -> dict[str, float]:
    kids, homes = generate_region(2024, 6000, 4000, AS_OF)
    return measure_calibration(kids, homes, AS_OF)


def test_every_target_is_measured(measured):
    assert set(measured) == set(CALIBRATION_TARGETS)


def test_each_calibrated_figure_is_within_its_range(measured):
    outside = [f"{key}: {measured[key]:.4g} not in {t.range_text()}" for key, t in CALIBRATION_TARGETS.items()
               if not t.low <= measured[key] <= t.high]
    assert not outside, "\n".join(outside)


def test_the_scarce_profiles_are_scarce(measured):
    # README: households outnumber children for single infants; children
    # outnumber households for groups of three or more and for ages 5+.
    assert measured["infant_supply"] > 1
    assert measured["three_plus_supply"] < 1
    assert measured["five_plus_supply"] < 1

