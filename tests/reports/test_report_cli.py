"""``matcher report`` and ``propose --budgets FILE`` on the command line:
bad budgets and proposal files exit 2 naming file, row and column with
nothing written; the report is deterministic and never replaces an input;
store mode reads the latest recorded proposal."""

from __future__ import annotations

import pytest

from tests.conftest import AS_OF, write_region


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    from matcher.cli import main

    folder = tmp_path_factory.mktemp("cli")
    children, households = write_region(folder, seed=3, n_children=60, n_households=90)
    files = ["--children", str(children), "--households", str(households), "--as-of", AS_OF.isoformat()]
    assert main(["propose", "--out", str(folder / "links.csv"), *files]) == 0
    return folder, files


def _bad_budgets(folder, text: str):
    path = folder / "budgets.csv"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("text, row, column", [
    ("agency_id,amount\nLA01,100000\nLA02,lots\n", 3, "amount"),
    ("agency_id,amount\nLA01,-5\n", 2, "amount"),
    ("agency_id,amount\n,100\n", 2, "agency_id"),
    ("agency_id,amount\nLA01,100\nla01,200\n", 3, "agency_id"),
    ("agency,amount\nLA01,100\n", None, "agency_id"),
])
def test_a_bad_budgets_file_exits_2_naming_file_row_and_column_and_writes_nothing(run_cli, region, tmp_path, text,
                                                                                  row, column):
    folder, files = region
    budgets = _bad_budgets(tmp_path, text)
    for command, out in (("report", tmp_path / "r.html"), ("propose", tmp_path / "l.csv")):
        status, _, err = run_cli(command, "--out", out, "--budgets", budgets, *files)
        assert status == 2, err
        where = f"{budgets}" + (f", row {row}" if row else "") + f", column {column}"
        assert where in err
        assert "Traceback" not in err
        assert list(tmp_path.iterdir()) == [budgets]


def test_an_agency_in_the_budgets_file_and_a_flag_is_an_error(run_cli, region, tmp_path):
    folder, files = region
    budgets = _bad_budgets(tmp_path, "agency_id,amount\nLA01,100000\n")
    status, _, err = run_cli("report", "--out", tmp_path / "r.html", "--budgets", budgets, "--budget", "LA01=5",
                             *files)
    assert status == 2
    assert f"{budgets}, row 2, column agency_id" in err and "--budget" in err
    assert not (tmp_path / "r.html").exists()


def test_propose_with_a_budgets_file_equals_the_same_budget_flags(run_cli, region, tmp_path):
    folder, files = region
    budgets = _bad_budgets(tmp_path, 'agency_id,amount\nLA01,30000\nLA02,"£54,000"\n')
    assert run_cli("propose", "--out", tmp_path / "file.csv", "--budgets", budgets, *files)[0] == 0
    assert run_cli("propose", "--out", tmp_path / "flags.csv", "--budget", "LA01=30000", "--budget", "LA02=54000",
                   *files)[0] == 0
    assert (tmp_path / "file.csv").read_bytes() == (tmp_path / "flags.csv").read_bytes()
    # A file and flags together: the flags' agencies added to the file's.
    assert run_cli("propose", "--out", tmp_path / "both.csv", "--budgets", _bad_budgets(
        tmp_path, "agency_id,amount\nLA01,30000\n"), "--budget", "LA02=54000", *files)[0] == 0
    assert (tmp_path / "both.csv").read_bytes() == (tmp_path / "flags.csv").read_bytes()


@pytest.mark.parametrize("edit, row, column", [
    (lambda lines: [lines[0], "NOPE" + lines[1][lines[1].index(","):]], 2, "unit_id"),
    (lambda lines: [lines[0], lines[1], lines[1]], 3, "unit_id"),
    (lambda lines: [lines[0].replace("household_id", "home")] + lines[1:], None, "household_id"),
])
def test_a_bad_proposal_file_exits_2_naming_file_row_and_column_and_writes_nothing(run_cli, region, tmp_path, edit,
                                                                                   row, column):
    folder, files = region
    lines = (folder / "links.csv").read_text(encoding="utf-8").splitlines()
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(edit(lines)) + "\n", encoding="utf-8")
    status, _, err = run_cli("report", "--out", tmp_path / "r.html", "--proposal", bad, *files)
    assert status == 2, err
    assert f"{bad}" + (f", row {row}" if row else "") + f", column {column}" in err
    assert not (tmp_path / "r.html").exists()


def test_a_proposal_whose_fee_disagrees_with_the_region_is_named(run_cli, region, tmp_path):
    import polars as pl

    folder, files = region
    links = pl.read_csv(folder / "links.csv", infer_schema=False)
    links = links.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("1")).otherwise(pl.col("fee"))
                               .alias("fee"))
    bad = tmp_path / "fee.csv"
    links.write_csv(bad)
    status, _, err = run_cli("report", "--out", tmp_path / "r.html", "--proposal", bad, *files)
    assert status == 2 and f"{bad}, row 2, column fee" in err


def test_the_report_is_the_same_bytes_on_rerun_and_never_replaces_an_input(run_cli, region, tmp_path):
    folder, files = region
    first, second = tmp_path / "a.html", tmp_path / "b.html"
    for out in (first, second):
        status, out_text, err = run_cli("report", "--out", out, "--proposal", folder / "links.csv", *files)
        assert status == 0, err
        assert str(out) in out_text
    assert first.read_bytes() == second.read_bytes()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left behind
    links = folder / "links.csv"
    before = links.read_bytes()
    status, _, err = run_cli("report", "--out", folder / "links.html", "--proposal", links, *files)
    assert status == 0
    for given in (links, folder / "children.csv"):
        status, _, err = run_cli("report", "--out", given, "--proposal", links, *files)
        assert status == 2 and "--out" in err
    html_input = folder / "links.html"
    status, _, err = run_cli("report", "--out", html_input, "--proposal", html_input, *files)
    assert status == 2 and "would replace the proposal file" in err
    assert links.read_bytes() == before


def test_store_mode_reports_the_latest_recorded_proposal(run_cli, region, tmp_path):
    folder, files = region
    db = tmp_path / "store.sqlite3"
    assert run_cli("db", "init", "--db", db)[0] == 0
    assert run_cli("import", "--db", db, *files)[0] == 0
    status, _, err = run_cli("report", "--out", tmp_path / "none.html", "--db", db, "--as-of", AS_OF.isoformat())
    assert status == 0, err
    assert "No proposal was given" in (tmp_path / "none.html").read_text(encoding="utf-8")
    status, _, err = run_cli("propose", "--out", tmp_path / "links.csv", "--db", db, "--as-of", AS_OF.isoformat(),
                             "--record")
    assert status == 0, err
    status, _, err = run_cli("report", "--out", tmp_path / "r.html", "--db", db, "--as-of", AS_OF.isoformat(),
                             "--budget", "LA01=1")
    assert status == 0, err
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    links = (tmp_path / "links.csv").read_text(encoding="utf-8").splitlines()
    assert f"the store&#39;s latest recorded proposal" in html and f"{len(links) - 1} links)" in html
    # The same figures as the file-mode report of the same proposal.
    assert run_cli("report", "--out", tmp_path / "f.html", "--proposal", tmp_path / "links.csv", "--budget",
                   "LA01=1", *files)[0] == 0
    file_html = (tmp_path / "f.html").read_text(encoding="utf-8")
    section = lambda text: text.split('<section id="fees">')[1].split("</section>")[0].split("</p>", 1)[1]
    assert section(html) == section(file_html)
    audit = run_cli("audit-log", "--db", db)[1]
    assert "report" in audit


def test_the_report_names_its_weights_file_and_their_hash(run_cli, region, tmp_path):
    from matcher import api

    folder, files = region
    weights = tmp_path / "weights.toml"
    weights.write_text(api.describe_weights(api.load_weights(None)).replace("heritage = 12", "heritage = 14"),
                       encoding="utf-8")
    loaded = api.load_weights(str(weights))
    assert api.weights_sha256(loaded) != api.weights_sha256(api.load_weights(None))
    status, _, err = run_cli("report", "--out", tmp_path / "r.html", "--weights", weights, *files)
    assert status == 0, err
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert f"{weights}, SHA-256 <code>{api.weights_sha256(loaded)}</code>" in html
