"""The generator against its calibration table (docs/calibration.md, README)."""

from __future__ import annotations

from pathlib import Path

import pytest

from matcher.generate import CALIBRATION_TARGETS, calibration_table, generate_region, measure_calibration
from tests.conftest import AS_OF

ROOT = Path(__file__).resolve().parents[2]


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


def test_the_doc_and_the_readme_show_the_same_ranges():
    assert calibration_table() in (ROOT / "docs" / "calibration.md").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert calibration_table(main_only=True) in readme.split("## Synthetic regions", 1)[1]
