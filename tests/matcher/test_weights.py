"""Scorer weights: defaults, overrides and bad files."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from matcher.files.read import read_region
from matcher.scoring.queries import all_scores
from matcher.scoring.weights import FACTORS, Weights, load_weights
from matcher.region import Region
from tests.conftest import AS_OF


def test_printed_defaults_load_back_as_the_defaults(run_cli, tmp_path):
    status, out, _ = run_cli("weights")
    assert status == 0
    tomllib.loads(out)  # valid TOML
    path = tmp_path / "w.toml"
    path.write_text(out, encoding="utf-8")
    assert load_weights(str(path)) == Weights()
    for name in FACTORS:
        assert f"\n{name} = " in out


def test_an_override_changes_scores_and_weights_are_scaled_to_100(region_files, tmp_path):
    children, households = region_files
    path = tmp_path / "w.toml"
    path.write_text("[factors]\nheritage = 40\n", encoding="utf-8")
    weights = load_weights(str(path))
    assert sum(weights.factors.values()) == pytest.approx(100.0)
    region = read_region(children, households, as_of=AS_OF)
    default = all_scores(Region.build(region, AS_OF), Weights())
    heavier = all_scores(Region.build(region, AS_OF), weights)
    assert np.all(heavier.score <= 100.0) and np.all(heavier.score >= 0.0)
    heritage = FACTORS.index("heritage")
    assert heavier.contributions[:, heritage].max() > default.contributions[:, heritage].max()


@pytest.mark.parametrize("text,needle", [
    ("factors = 3\n", "key factors"),
    ("[factors]\nneedz = 3\n", "key factors.needz"),
    ("[factors]\nneeds = -1\n", "key factors.needs"),
    ("needs_step = 3\n", "key needs_step"),
    ("care_threshold_days = 0\n", "key care_threshold_days"),
    ("promote_credit = true\n", "key promote_credit"),
    ("fees_by_size = [1, -2]\n", "key fees_by_size"),
    ("colour = 'red'\n", "key colour"),
    ("[factors\n", "TOML"),
])
def test_bad_weights_files_exit_2_naming_the_key(region_files, run_cli, tmp_path, text, needle):
    children, households = region_files
    path = tmp_path / "w.toml"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "scores.csv"
    status, _, err = run_cli("scores", "--children", children, "--households", households, "--as-of",
                             AS_OF.isoformat(), "--weights", path, "--out", out)
    assert status == 2 and needle in err and str(path) in err and "Traceback" not in err
    assert not out.exists()
