"""What the commands write (issue 9, "files out"): never over an input,
never over a region without --force, empty results with the contract's
columns, CSV text that a spreadsheet cannot run, manifests beside every
output, links a family finder can act on, and a summary that names the side
constraint that kept a unit out."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from pathlib import Path

import polars as pl
import pytest

from features.contract import CHILDREN, HOUSEHOLDS
from features.geo import haversine_km
from matcher.files.write import write_frame, write_table
from matcher.generate import generate_region
from tests.conftest import AS_OF

CONTRACT_LINK_COLUMNS = ["unit_id", "child_ids", "household_id", "score", "weight", "fee"]


def _files(children: Path, households: Path) -> list[str]:
    return ["--children", str(children), "--households", str(households), "--as-of", AS_OF.isoformat()]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# --- 1. an output is never one of the inputs ----------------------------------------------------------------------

def _out_cases():
    """(name, command, how --out and the other options are made from the
    folder, children and households paths)."""
    def same(folder, c, h):
        return [str(c)], []

    def households(folder, c, h):
        return [str(h)], []

    def spelled_otherwise(folder, c, h):
        return [str(folder / "." / ".." / folder.name / c.name)], []

    def symlink(folder, c, h):
        (folder / "link.csv").symlink_to(c)
        return [str(folder / "link.csv")], []

    def hard_link(folder, c, h):
        os.link(h, folder / "hard.csv")
        return [str(folder / "hard.csv")], []

    def weights_as_out(folder, c, h):
        (folder / "w.csv").write_text("[factors]\nneeds = 20\n")
        return [str(folder / "w.csv")], ["--weights", str(folder / "w.csv")]

    def manifest_over_weights(folder, c, h):
        (folder / "links.manifest.json").write_text("[factors]\nneeds = 20\n")
        return [str(folder / "links.csv")], ["--weights", str(folder / "links.manifest.json")]

    def summary_over_weights(folder, c, h):
        (folder / "links.csv.summary.txt").write_text("[factors]\nneeds = 20\n")
        return [str(folder / "links.csv")], ["--weights", str(folder / "links.csv.summary.txt")]

    return [
        ("propose", same), ("scores", households), ("propose", spelled_otherwise), ("propose", symlink),
        ("scores", hard_link), ("scores", weights_as_out), ("propose", weights_as_out),
        ("scores", manifest_over_weights), ("propose", manifest_over_weights), ("propose", summary_over_weights),
    ]


@pytest.mark.parametrize("command,make", _out_cases(), ids=lambda c: c if isinstance(c, str) else c.__name__)
def test_an_out_that_is_an_input_is_refused_and_nothing_is_written(region_files, run_cli, command, make):
    children, households = region_files
    folder = children.parent
    out, extra = make(folder, children, households)
    before = _snapshot(folder)
    status, _, err = run_cli(command, *_files(children, households), "--out", *out, *extra)
    assert status == 2, err
    assert "--out" in err and "input" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert _snapshot(folder) == before


@pytest.mark.parametrize("command", ["scores", "propose"])
def test_an_out_whose_manifest_is_an_inputs_manifest_is_refused(tmp_path, run_cli, command):
    # generate records children.csv in children.manifest.json; a result
    # children.parquet would have the same manifest and replace that record.
    status, _, err = run_cli("generate", "--seed", 2, "--children", 30, "--households", 40, "--out", tmp_path,
                             "--as-of", AS_OF.isoformat())
    assert status == 0, err
    children, households = tmp_path / "children.csv", tmp_path / "households.csv"
    assert (tmp_path / "children.manifest.json").exists()
    before = _snapshot(tmp_path)
    status, _, err = run_cli(command, *_files(children, households), "--out", tmp_path / "children.parquet")
    assert status == 2 and "children file's manifest" in err and len(err.strip().splitlines()) == 1, err
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("command,longest_companion", [("scores", ".manifest.json"), ("propose", ".summary.txt")])
def test_a_long_out_name_works_or_is_refused_never_broken_by_a_temporary_name(region_files, run_cli, tmp_path,
                                                                               command, longest_companion):
    """A name is legal when it and its companions fit the file system's
    limit; a legal name is written (its temporary name never makes it too
    long), any other is refused up front with exit 2 and nothing written."""
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    extra = len(longest_companion) - (len(".csv") if command == "scores" else 0)
    runs = []
    for length in sorted({limit - extra - 1, limit - extra, limit - extra + 1, limit - 5, limit}):
        folder = tmp_path / f"{command}{length}"
        folder.mkdir()
        out = folder / ("x" * (length - 4) + ".csv")
        runs.append((length, folder, out, *run_cli(command, *_files(*region_files), "--out", out)))
    assert [(length, status) for length, _, _, status, _, _ in runs] == \
        [(length, 0 if length + extra <= limit else 2) for length, *_ in runs]
    for length, folder, out, status, _, err in runs:
        if status == 0:
            assert out.exists() and (folder / ("x" * (length - 4) + ".manifest.json")).exists()
            assert not [p for p in folder.iterdir() if p.name.startswith(".")]
        else:
            assert "--out" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
            assert list(folder.iterdir()) == []


# --- 2. generate never writes over a region unless told to --------------------------------------------------------

def test_generate_into_a_folder_holding_a_region_needs_force(tmp_path, run_cli):
    region = ["--children", 30, "--households", 40, "--out", tmp_path / "r", "--as-of", AS_OF.isoformat()]
    assert run_cli("generate", "--seed", 1, *region)[0] == 0
    before = _snapshot(tmp_path / "r")
    status, _, err = run_cli("generate", "--seed", 2, *region)
    assert status == 2 and "--force" in err and "--out" in err and "Traceback" not in err
    assert _snapshot(tmp_path / "r") == before
    # A Parquet region in the folder counts too.
    status, _, err = run_cli("generate", "--seed", 2, *region, "--format", "parquet")
    assert status == 2 and _snapshot(tmp_path / "r") == before
    status, _, err = run_cli("generate", "--seed", 2, *region, "--force")
    assert status == 0, err
    assert (tmp_path / "r" / "children.csv").read_bytes() != before["children.csv"]


# --- 3. an empty result is a result -------------------------------------------------------------------------------

@pytest.fixture
def no_pairs(tmp_path) -> tuple[Path, Path]:
    """A valid region in which no household is approved: no eligible pair."""
    kids, homes = generate_region(4, 30, 40, AS_OF)
    homes = homes.with_columns(pl.lit("on_hold").alias("status"))
    (tmp_path / "none").mkdir()
    children, households = tmp_path / "none" / "children.csv", tmp_path / "none" / "households.csv"
    write_table(kids, children, CHILDREN)
    write_table(homes, households, HOUSEHOLDS)
    return children, households


def test_scores_with_no_eligible_pair_writes_the_contract_columns_and_types(region_files, no_pairs, run_cli,
                                                                            tmp_path):
    for fmt in ("csv", "parquet"):
        full, empty = tmp_path / f"full.{fmt}", tmp_path / f"empty.{fmt}"
        assert run_cli("scores", *_files(*region_files), "--out", full)[0] == 0
        status, _, err = run_cli("scores", *_files(*no_pairs), "--out", empty)
        assert status == 0, err
        read = pl.read_csv if fmt == "csv" else pl.read_parquet
        got, reference = read(empty), read(full)
        assert got.height == 0 and reference.height > 0
        assert got.columns == reference.columns
        assert got.columns[:4] == ["unit_id", "household_id", "score", "weight"]
        if fmt == "parquet":
            assert got.schema == reference.schema
            assert got.schema["score"] == pl.Float64 and got.schema["weight"] == pl.Int64
        else:
            assert empty.read_text().strip() == ",".join(reference.columns)


def test_a_proposal_that_links_nothing_writes_the_contract_columns_and_types(region_files, no_pairs, run_cli,
                                                                             tmp_path):
    for fmt in ("csv", "parquet"):
        full, empty = tmp_path / f"full.{fmt}", tmp_path / f"empty.{fmt}"
        assert run_cli("propose", *_files(*region_files), "--out", full)[0] == 0
        status, out, err = run_cli("propose", *_files(*no_pairs), "--out", empty)
        assert status == 0, err
        assert "0 links" in out
        read = pl.read_csv if fmt == "csv" else pl.read_parquet
        got, reference = read(empty), read(full)
        assert got.height == 0 and got.columns == reference.columns
        assert got.columns[:6] == CONTRACT_LINK_COLUMNS
        if fmt == "parquet":
            assert got.schema == reference.schema


# --- 5. CSV text that a spreadsheet would run is neutralised ------------------------------------------------------

DANGEROUS = ["=HYPERLINK(\"http://x.example\",\"click\")", "+1+2", "-3-4", "@SUM(A1)", "\tTAB", "\rCR"]


def _hostile_links() -> pl.DataFrame:
    n = len(DANGEROUS)
    return pl.DataFrame({
        "unit_id": DANGEROUS,
        "child_ids": [f"C{i};{text}" for i, text in enumerate(DANGEROUS)],
        "household_id": ["H1"] * n,
        "score": [50.0] * n,
        "weight": [-7] * n,
        "fee": [0] * n,
        "lon": [-1.25] * n,
        "reasons": [f"{text};needs fit" for text in DANGEROUS],
        "safe": ["a = b", "x+y", "H-1", "me@home", "fine", "ok"],
    })


def test_csv_cells_that_begin_a_formula_are_neutralised_and_numbers_are_not(tmp_path):
    frame = _hostile_links()
    write_frame(frame, tmp_path / "links.csv")
    with open(tmp_path / "links.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row, text in zip(rows, DANGEROUS):
        assert row["unit_id"] == "'" + text
        assert row["reasons"] == "'" + text + ";needs fit"
        assert row["child_ids"].startswith("C")  # only a cell's first character matters
        assert row["lon"] == "-1.25" and row["weight"] == "-7" and row["score"] == "50.0"
    assert [r["safe"] for r in rows] == frame["safe"].to_list()
    for row in rows:
        for value in row.values():
            assert not value.startswith(tuple("=+-@\t\r")) or value in ("-1.25", "-7")


def test_parquet_keeps_text_as_it_is(tmp_path):
    frame = _hostile_links()
    write_frame(frame, tmp_path / "links.parquet")
    assert pl.read_parquet(tmp_path / "links.parquet").equals(frame)


def test_reasons_in_links_csv_are_neutralised_when_they_begin_a_formula(region_files, run_cli, tmp_path,
                                                                        monkeypatch):
    """Reasons are free text: whatever the explanation functions say, the
    written cell cannot start a formula."""
    from matcher.scoring import explain

    original = explain.pair_reasons
    monkeypatch.setattr(explain, "pair_reasons", lambda *a, **k: ["=cmd|' /C calc'!A0"] + original(*a, **k))
    out = tmp_path / "links.csv"
    status, _, err = run_cli("propose", *_files(*region_files), "--out", out)
    assert status == 0, err
    rows = list(csv.DictReader(open(out, newline="", encoding="utf-8")))
    assert rows and all(r["reasons"].startswith("'=cmd") for r in rows)


# --- 21. every output records how it was made ----------------------------------------------------------------------

def _manifest(path: Path) -> dict:
    return json.loads(path.with_name(path.stem + ".manifest.json").read_text(encoding="utf-8"))


def _check_manifest(record: dict, outputs: list[Path], inputs: list[Path]) -> None:
    assert list(record)[:6] == ["inputs", "as_of", "options", "weights_sha256", "version", "outputs"]
    assert [(Path(i["path"]).resolve(), i["sha256"]) for i in record["inputs"]] == \
        [(p.resolve(), _sha(p)) for p in inputs]
    assert [(Path(o["path"]).resolve(), o["sha256"]) for o in record["outputs"]] == \
        [(p.resolve(), _sha(p)) for p in outputs]
    assert record["as_of"] == AS_OF.isoformat()
    assert isinstance(record["version"], str) and record["version"]


def test_scores_and_propose_write_manifests_and_the_same_bytes_every_run(region_files, run_cli, tmp_path):
    children, households = region_files
    weights = tmp_path / "w.toml"
    weights.write_text("[factors]\nneeds = 30\n")
    runs = []
    for name in ("one", "two"):
        folder = tmp_path / name
        folder.mkdir()
        for fmt in ("csv", "parquet"):  # scores.csv and scores.parquet would share one manifest name
            assert run_cli("scores", *_files(children, households), "--out", folder / f"scores_{fmt}.{fmt}",
                           "--weights", weights)[0] == 0
        assert run_cli("propose", *_files(children, households), "--out", folder / "links.csv",
                       "--budget", "LA01=30000", "--min-score", "40")[0] == 0
        runs.append(folder)
    for folder in runs:
        for fmt in ("csv", "parquet"):
            record = _manifest(folder / f"scores_{fmt}.{fmt}")
            _check_manifest(record, [folder / f"scores_{fmt}.{fmt}"], [children, households, weights])
            assert record["weights_sha256"] and record["weights_file"] == str(weights.resolve())
        record = _manifest(folder / "links.csv")
        _check_manifest(record, [folder / "links.csv", folder / "links.csv.summary.txt"], [children, households])
        assert record["options"]["budgets"] == {"LA01": 30000} and record["options"]["min_score"] == 40
        assert set(record["options"]) >= {"fixed", "excluded", "sibling_contact_km", "shortlist", "time_limit_s",
                                          "workers", "seed"}
        summary = (folder / "links.csv.summary.txt").read_text(encoding="utf-8")
        for item in record["inputs"] + record["outputs"][:1]:
            assert item["sha256"] in summary
        assert record["weights_sha256"] in summary and "--budget LA01=30000" in summary
    # Different weights, a different weights hash; same input, same bytes.
    assert _manifest(runs[0] / "scores_csv.csv")["weights_sha256"] != \
        _manifest(runs[0] / "links.csv")["weights_sha256"]
    for name in ("scores_csv.csv", "scores_parquet.parquet", "links.csv", "links.csv.summary.txt"):
        assert (runs[0] / name).read_bytes() == (runs[1] / name).read_bytes()
    for name in ("scores_csv.manifest.json", "scores_parquet.manifest.json", "links.manifest.json"):
        text = (runs[0] / name).read_text().replace(str(runs[0]), "X")
        assert text == (runs[1] / name).read_text().replace(str(runs[1]), "X")


def test_generate_writes_a_manifest_beside_each_table(tmp_path, run_cli):
    assert run_cli("generate", "--seed", 2, "--children", 20, "--households", 30, "--out", tmp_path,
                   "--as-of", AS_OF.isoformat())[0] == 0
    for table in ("children", "households"):
        record = _manifest(tmp_path / f"{table}.csv")
        _check_manifest(record, [tmp_path / "children.csv", tmp_path / "households.csv"], [])
        assert record["options"] == {"seed": 2, "children": 20, "households": 30, "format": "csv"}


def test_a_csv_and_a_parquet_proposal_each_keep_their_own_summary(region_files, run_cli, tmp_path):
    status, _, _ = run_cli("propose", *_files(*region_files), "--out", tmp_path / "a.csv")
    csv_summary = (tmp_path / "a.csv.summary.txt").read_bytes()
    status, _, _ = run_cli("propose", *_files(*region_files), "--out", tmp_path / "a.parquet")
    assert status == 0
    assert (tmp_path / "a.csv.summary.txt").read_bytes() == csv_summary
    assert _sha(tmp_path / "a.csv") in csv_summary.decode()
    assert _sha(tmp_path / "a.parquet") in (tmp_path / "a.parquet.summary.txt").read_text()


def test_validate_proposal_finds_a_summary_that_is_not_the_links_own(region_files, run_cli, tmp_path):
    files = _files(*region_files)
    assert run_cli("propose", *files, "--out", tmp_path / "links.csv")[0] == 0
    status, out, err = run_cli("validate-proposal", "--links", tmp_path / "links.csv")
    assert status == 0, err
    old_links = (tmp_path / "links.csv").read_bytes()
    first = pl.read_csv(tmp_path / "links.csv").row(0, named=True)
    assert run_cli("propose", *files, "--out", tmp_path / "links.csv",
                   "--exclude", f"{first['unit_id']}={first['household_id']}")[0] == 0
    assert (tmp_path / "links.csv").read_bytes() != old_links
    (tmp_path / "links.csv").write_bytes(old_links)  # old links beside a new summary
    status, out, err = run_cli("validate-proposal", "--links", tmp_path / "links.csv")
    assert status == 2 and "summary" in err and "Traceback" not in err
    status, _, err = run_cli("validate-proposal", "--links", tmp_path / "nowhere.csv")
    assert status == 2 and "nowhere.csv" in err


# --- 22. links a family finder can act on --------------------------------------------------------------------------

def test_links_carry_both_agencies_distance_fee_score_and_top_reasons(region_files, run_cli, tmp_path):
    children, households = region_files
    files = _files(children, households)
    assert run_cli("propose", *files, "--out", tmp_path / "links.csv")[0] == 0
    assert run_cli("scores", *files, "--out", tmp_path / "scores.csv")[0] == 0
    links = pl.read_csv(tmp_path / "links.csv")
    assert links.columns[:6] == CONTRACT_LINK_COLUMNS
    assert {"child_agency_id", "household_agency_id", "distance_km", "reasons"} <= set(links.columns[6:])
    kids = pl.read_csv(children).select("child_id", pl.col("agency_id").alias("child_agency"))
    homes = pl.read_csv(households).select("household_id", pl.col("agency_id").alias("home_agency"))
    scores = pl.read_csv(tmp_path / "scores.csv").select("unit_id", "household_id", "distance_km", "fee", "score")
    first_child = links.with_columns(pl.col("child_ids").str.split(";").list.first().alias("child_id"))
    joined = first_child.join(kids, on="child_id").join(homes, on="household_id").join(
        scores, on=["unit_id", "household_id"], suffix="_scores")
    assert joined.height == links.height > 0
    assert (joined["child_agency_id"] == joined["child_agency"]).all()
    assert (joined["household_agency_id"] == joined["home_agency"]).all()
    assert (joined["distance_km"] == joined["distance_km_scores"]).all()
    assert (joined["fee"] == joined["fee_scores"]).all()
    assert (joined["household_agency_id"] != joined["child_agency_id"]).any()
    for row in links.head(5).iter_rows(named=True):
        child = row["child_ids"].split(";")[0]
        _, out, _ = run_cli("why-not", *files, "--child", child, "--household", row["household_id"],
                            "--format", "json")
        reasons = json.loads(out)["reasons"]
        assert row["reasons"].split(";") == [r.replace(";", ",") for r in reasons[:3]]


def test_a_shortlist_summary_counts_fees_of_each_units_top_link_only(tmp_path, run_cli):
    kids, homes = generate_region(6, 120, 160, AS_OF)
    children, households = tmp_path / "children.csv", tmp_path / "households.csv"
    write_table(kids, children, CHILDREN)
    write_table(homes, households, HOUSEHOLDS)
    status, out, err = run_cli("propose", *_files(children, households), "--out", tmp_path / "s.csv",
                               "--shortlist", "3")
    assert status == 0, err
    links = pl.read_csv(tmp_path / "s.csv")
    top = dict(links.filter(pl.col("rank") == 1).group_by("child_agency_id").agg(pl.col("fee").sum()).iter_rows())
    every = dict(links.group_by("child_agency_id").agg(pl.col("fee").sum()).iter_rows())
    assert top != every, "the region should shortlist alternatives that carry fees"
    assert "top-ranked link of each unit only" in out
    for agency in every:
        assert re.search(rf"^  {agency}: £{top.get(agency, 0):,}$", out, flags=re.MULTILINE), agency


# --- 19. the summary names the side constraint that kept a unit out ------------------------------------------------

@pytest.fixture(scope="module")
def bigger_region(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("bigger")
    # A seed whose region has a sibling kept out by --sibling-contact-km 20
    # and units kept out by budgets (both are rare in small regions).
    kids, homes = generate_region(6, 200, 300, AS_OF)
    children, households = folder / "children.csv", folder / "households.csv"
    write_table(kids, children, CHILDREN)
    write_table(homes, households, HOUSEHOLDS)
    return children, households


def _left_out(summary: str) -> dict[str, str]:
    part = summary.split("Units left unproposed:", 1)[1].split("\n\n", 1)[0]
    return dict(re.findall(r"^  (\S+): (.*)$", part, flags=re.MULTILINE))


def test_the_summary_names_the_sibling_who_would_be_too_far_away(bigger_region, run_cli, tmp_path):
    children, households = bigger_region
    status, out, err = run_cli("propose", *_files(children, households), "--out", tmp_path / "l.csv",
                               "--sibling-contact-km", "20")
    assert status == 0, err
    links = pl.read_csv(tmp_path / "l.csv")
    where = dict(zip(links["unit_id"], links["household_id"]))
    kids = pl.read_csv(children)
    group_of = dict(zip(kids["child_id"], kids["sibling_group_id"]))
    homes = pl.read_csv(households)
    place = {h: (la, lo) for h, la, lo in zip(homes["household_id"], homes["lat"], homes["lon"])}
    found = 0
    for unit, why in _left_out(out).items():
        m = re.search(r"--sibling-contact-km 20: with (\S+), its sibling (\S+) \(proposed to (\S+)\) would be "
                      r"([\d.]+) km away", why)
        if not m:
            continue
        found += 1
        household, sibling, theirs, km = m.group(1), m.group(2), m.group(3), float(m.group(4))
        assert group_of[sibling] == group_of[unit] and group_of[unit] is not None
        assert where[sibling] == theirs
        assert km > 20
        assert abs(km - float(haversine_km(*place[household], *place[theirs]))) < 0.06
    assert found, out


def test_the_summary_names_the_agency_whose_budget_was_spent(bigger_region, run_cli, tmp_path):
    children, households = bigger_region
    status, out, err = run_cli("propose", *_files(children, households), "--out", tmp_path / "l.csv",
                               "--budget", "LA01=30000", "--budget", "LA02=0")
    assert status == 0, err
    kids = pl.read_csv(children)
    agency_of = dict(zip(kids["child_id"], kids["agency_id"]))
    agency_of.update(dict(zip(kids["sibling_group_id"].drop_nulls(),
                              kids.filter(pl.col("sibling_group_id").is_not_null())["agency_id"])))
    named = 0
    for unit, why in _left_out(out).items():
        m = re.search(r"agency (\S+)'s budget \(--budget (\S+)=(\d+)\)", why)
        if "budget" in why:
            assert m, why
        if m:
            named += 1
            assert m.group(1) == m.group(2) == agency_of[unit]
            assert int(m.group(3)) == {"LA01": 30000, "LA02": 0}[m.group(1)]
    assert named, out


@pytest.mark.parametrize("given,other", [
    (["--min-score", "75"], "--exclude"),
    (["--exclude", "{unit}={household}"], "--min-score"),
])
def test_set_aside_names_the_option_given(bigger_region, run_cli, tmp_path, given, other):
    children, households = bigger_region
    files = _files(children, households)
    # A unit with a single eligible household: excluding that pair leaves it nothing.
    assert run_cli("scores", *files, "--out", tmp_path / "s.csv")[0] == 0
    scores = pl.read_csv(tmp_path / "s.csv")
    single = scores.group_by("unit_id").agg(pl.col("household_id").first(), pl.len()).filter(pl.col("len") == 1)
    unit, household = single.sort("unit_id").row(0)[:2]
    args = [a.format(unit=unit, household=household) for a in given]
    status, out, err = run_cli("propose", *files, "--out", tmp_path / "l.csv", *args)
    assert status == 0, err
    set_aside = {u: why for u, why in _left_out(out).items() if "set aside" in why}
    assert set_aside
    flag = given[0]
    assert all(flag in why and other not in why for why in set_aside.values())
    if flag == "--exclude":
        assert unit in set_aside and household in set_aside[unit]


# --- 6. a search stopped by its time limit is repeatable -----------------------------------------------------------

def test_a_search_stopped_by_its_time_limit_gives_the_same_bytes_on_a_busy_machine(tmp_path, run_cli):
    import subprocess
    import sys

    from matcher.api import region_from_files
    from matcher.options import make_request
    from matcher.proposals.propose import propose

    kids, homes = generate_region(5, 200, 300, AS_OF)
    children, households = tmp_path / "children.csv", tmp_path / "households.csv"
    write_table(kids, children, CHILDREN)
    write_table(homes, households, HOUSEHOLDS)
    region = region_from_files(children, households, AS_OF)
    plain = propose(region, make_request())
    fees = plain.links.join(region.units.select("unit_id", "agency_id"), on="unit_id")
    spent = dict(fees.group_by("agency_id").agg(pl.col("fee").sum()).iter_rows())
    # Budgets at half of what the unconstrained optimum spends: they bind, and the search is hard.
    budgets = [f"{a}={spent.get(a, 0) // 2}" for a in region.agencies]
    limit = next((t for t in (1.0, 0.5, 2.0, 0.2, 0.05, 0.01)
                  if propose(region, make_request(budgets=budgets, time_limit_s=t)).stopped), None)
    assert limit is not None, "no short time limit stops this search with a proposal in hand"
    args = [*_files(children, households), *[f"--budget={b}" for b in budgets], "--time-limit", str(limit)]
    outputs = []
    for run in range(3):
        busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 if run == 1 else 0)]
        try:
            status, out, err = run_cli("propose", *args, "--out", tmp_path / "links.csv")
        finally:
            for process in busy:
                process.kill()
                process.wait()
        assert status == 0, err
        summary = next(tmp_path.glob("links*summary.txt"))
        outputs.append(((tmp_path / "links.csv").read_bytes(), summary.read_bytes(),
                        out))
    assert outputs[0][0] == outputs[1][0] == outputs[2][0]
    assert outputs[0] == outputs[1] == outputs[2]
    assert "stopped at its time limit" in out and f"--time-limit {limit:g} s" in out


def test_demo_replaces_only_its_own_region_unless_forced(tmp_path, run_cli):
    foreign = tmp_path / "real"
    foreign.mkdir()
    (foreign / "children.csv").write_text("child_id\nREAL\n", encoding="utf-8")
    status, _, err = run_cli("demo", "--out", foreign)
    assert status == 2 and "--force" in err and len(err.strip().splitlines()) == 1, err
    assert (foreign / "children.csv").read_text(encoding="utf-8") == "child_id\nREAL\n"
    own = tmp_path / "demo"
    for _ in range(2):  # a second demo replaces the first
        status, _, err = run_cli("demo", "--out", own)
        assert status == 0, err
    status, _, err = run_cli("demo", "--out", foreign, "--force")
    assert status == 0, err


def test_scores_parquet_holds_the_frame_exactly_with_lz4_pages(region_files, tmp_path):
    # The scores table is written with LZ4 (cheaper than zstd for millions
    # of rows): the same columns, types and values as the frame, and the
    # Parquet pages say which codec wrote them.
    import pyarrow.parquet as pq

    from matcher import api
    from tests.conftest import AS_OF

    region = api.region_from_files(*map(str, region_files), AS_OF)
    result = api.scores(region)
    out = tmp_path / "pairs.parquet"
    api.write_scores(result, out)
    assert pl.read_parquet(out).equals(result.frame)
    assert pl.read_parquet(out).schema == result.frame.schema
    meta = pq.ParquetFile(out).metadata
    codecs = {meta.row_group(g).column(c).compression for g in range(meta.num_row_groups)
              for c in range(meta.num_columns)}
    assert codecs == {api.SCORES_PARQUET_COMPRESSION.upper()}
