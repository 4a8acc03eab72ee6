"""Synthetic regions: always valid, deterministic, calibrated, round-trip."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.generate import generate_region
from matcher.files.read import read_region
from matcher.files.write import write_table
from features.contract import CHILDREN, HOUSEHOLDS
from features.units import build_units
from tests.conftest import AS_OF, write_region


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), n_children=st.integers(1, 120), n_households=st.integers(1, 80),
       as_of=st.dates(dt.date(2000, 1, 1), dt.date(2040, 12, 31)), fmt=st.sampled_from(["csv", "parquet"]))
def test_generated_regions_always_validate(tmp_path_factory, seed, n_children, n_households, as_of, fmt):
    folder = tmp_path_factory.mktemp("region")
    kids, homes = generate_region(seed, n_children, n_households, as_of)
    write_table(kids, folder / f"children.{fmt}", CHILDREN)
    write_table(homes, folder / f"households.{fmt}", HOUSEHOLDS)
    region = read_region(folder / f"children.{fmt}", folder / f"households.{fmt}", as_of=as_of)
    assert region.children.height == n_children and region.households.height == n_households


def test_same_seed_same_bytes(tmp_path, run_cli):
    for name in ("a", "b"):
        status, _, err = run_cli("generate", "--seed", 11, "--children", 50, "--households", 40,
                                 "--out", tmp_path / name, "--as-of", "2026-06-30")
        assert status == 0, err
    for file in ("children.csv", "households.csv"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
    run_cli("generate", "--seed", 12, "--children", 50, "--households", 40, "--out", tmp_path / "c",
            "--as-of", "2026-06-30")
    assert (tmp_path / "a" / "children.csv").read_bytes() != (tmp_path / "c" / "children.csv").read_bytes()


def test_csv_and_parquet_round_trip_identically(tmp_path):
    (tmp_path / "csv").mkdir()
    (tmp_path / "pq").mkdir()
    csv_children, csv_households = write_region(tmp_path / "csv")
    pq_children, pq_households = write_region(tmp_path / "pq", fmt="parquet")
    from_csv = read_region(csv_children, csv_households, as_of=AS_OF)
    from_pq = read_region(pq_children, pq_households, as_of=AS_OF)
    drop = ["__row__"]
    assert from_csv.children.drop(drop).equals(from_pq.children.drop(drop))
    assert from_csv.households.drop(drop).equals(from_pq.households.drop(drop))
    # And writing what was read gives back the same file.
    again = tmp_path / "again.csv"
    write_table(from_csv.children, again, CHILDREN)
    assert again.read_bytes() == csv_children.read_bytes()


def test_calibration_on_a_large_region():
    kids, homes = generate_region(2024, 6000, 4000, AS_OF)
    kids, units = build_units(kids, AS_OF)
    waiting = kids.filter(pl.col("status") == "waiting")
    in_group = waiting["sibling_group_id"].is_not_null().mean()
    assert 0.42 <= in_group <= 0.58, in_group
    aged_5 = (waiting["age_months"] >= 60).mean()
    assert 0.22 <= aged_5 <= 0.36, aged_5
    boys = (waiting["sex"] == "M").mean()
    assert 0.50 <= boys <= 0.60, boys
    bme = (~waiting["ethnicity"].is_in(["WBRI", "WIRI", "WIRT", "WOTH", "WROM", "NOBT", "REFU"])).mean()
    assert 0.17 <= bme <= 0.30, bme
    group_sizes = units.filter(pl.col("size") > 1)["size"]
    assert 0.1 <= (group_sizes >= 3).mean() <= 0.35
    vaa = (homes["agency_type"] == "vaa").mean()
    assert 0.18 <= vaa <= 0.32, vaa
    assert 0.1 <= homes["dual_approved"].mean() <= 0.3
    assert kids["early_permanence"].any()
    assert kids["min_distance_km"].is_not_null().any()
    # Households outnumber children for single infants, children outnumber
    # households for groups of three or more.
    approved = homes.filter(pl.col("status") == "approved")
    infants = units.filter(pl.col("waiting") & (pl.col("size") == 1)).join(
        kids.select("unit_id", "age_months"), on="unit_id").filter(pl.col("age_months") < 24).height
    for_infants = approved.filter((pl.col("min_children") == 1) & (pl.col("min_age_months") == 0)).height
    assert for_infants > infants
    big_groups = units.filter(pl.col("waiting") & (pl.col("size") >= 3)).height
    for_big = approved.filter(pl.col("max_children") >= 3).height
    assert big_groups > for_big
