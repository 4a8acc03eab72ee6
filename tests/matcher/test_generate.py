"""Synthetic regions: always valid, deterministic, calibrated, round-trip."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.generate import generate_region
from matcher.files.read import read_region
from matcher.files.write import write_table
from features.contract import CHILDREN, HOUSEHOLDS
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

