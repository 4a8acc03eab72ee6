"""Numbers a user types (issue 9, item 7): every numeric option and every
number in a weights file is checked against its allowed range before any
work is done; a bad one exits 2 with one line naming the option (or the
file and key) and the range, never an exception's name. Budgets that
cannot bind are warnings (item 9). Every option has help text."""

from __future__ import annotations

import math
import re

import click
import polars as pl
import pytest

from matcher import api
from matcher.cli.main import cli
from matcher.scoring.weights import FACTORS, PARAMETER_RANGES, Weights
from solvers import SolverConfig
from tests.conftest import AS_OF

# What a leaked exception looks like in a message: "OverflowError", "ValueError: ...".
EXCEPTION_NAME = re.compile(r"\b[A-Z]\w*(Error|Exception)\b|Traceback")

# Not numbers at all, or numbers out of every range: 10^20, an overflowing float, NaN, words.
NEVER = ["100000000000000000000", "1e309", "nan", "abc", "-inf", "9" * 5000]

# (command, flag, the option's domain name, values below or above its range). Every number a user can type.
NUMERIC_OPTIONS = [
    ("generate", "--children", "n_children", ["0", "-1", "1000001", "2.5"]),
    ("generate", "--households", "n_households", ["0", "-1", "1000001"]),
    ("generate", "--seed", "seed", ["-1", "4294967296"]),
    ("rank", "--top", "top", ["0", "-3", "100001", "2.0"]),
    ("propose", "--shortlist", "shortlist", ["0", "-1", "1001"]),
    ("propose", "--candidates", "candidates", ["0", "-1", "1001", "2.5"]),
    ("propose", "--workers", "workers", ["0", "-1", "65"]),
    ("propose", "--time-limit", "time_limit_s", ["0", "-1", "86401"]),
    ("propose", "--min-score", "min_score", ["-1", "100.5", "-0.001"]),
    ("propose", "--sibling-contact-km", "sibling_contact_km", ["-1", "20000.5"]),
    ("propose", "--seed", "solver_seed", ["-1", "2147483648"]),
    ("propose", "--budget", "budgets", ["-1", "1000000000001", "1.5"]),
    ("demo", "--seed", "seed", ["-1", "4294967296"]),
]

CASES = [(command, flag, name, value) for command, flag, name, bad in NUMERIC_OPTIONS for value in bad + NEVER]


def _command_line(command: str, flag: str, value: str, region_files, tmp_path) -> list:
    children, households = region_files
    region = ["--children", children, "--households", households, "--as-of", AS_OF.isoformat()]
    if flag == "--budget":
        value = f"LA01={value}"
    if command == "generate":
        numbers = {"--seed": "1", "--children": "5", "--households": "5", flag: value}
        return ["generate", *[x for item in numbers.items() for x in item], "--out", tmp_path / "out" / "region"]
    if command == "demo":
        return ["demo", "--seed", value, "--out", tmp_path / "out" / "demo"]
    if command == "rank":
        waiting = pl.read_csv(children).filter(pl.col("status") == "waiting")["child_id"][0]
        return ["rank", *region, "--child", waiting, flag, value]
    return [command, *region, "--out", tmp_path / "out" / "links.csv", flag, value]


@pytest.mark.parametrize("command, flag, name, value", CASES,
                         ids=[f"{c}{f}={v[:12]}" for c, f, _, v in CASES])
def test_every_number_out_of_range_exits_2_naming_the_option_and_its_range(region_files, run_cli, tmp_path,
                                                                           command, flag, name, value):
    (tmp_path / "out").mkdir()
    status, out, err = run_cli(*_command_line(command, flag, value, region_files, tmp_path))
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert flag in lines[0] and api.NUMBERS[name].describe() in lines[0]
    assert not EXCEPTION_NAME.search(err), err
    assert len(err) < 400  # a value of thousands of digits is cut short
    assert list((tmp_path / "out").iterdir()) == []


def test_the_edges_of_each_range_keep_working(region_files, run_cli, tmp_path):
    children, households = region_files
    region = ["--children", children, "--households", households, "--as-of", AS_OF.isoformat()]
    status, _, err = run_cli("generate", "--seed", "0", "--children", "1", "--households", "1", "--out", tmp_path / "a",
                             "--as-of", AS_OF.isoformat())
    assert status == 0, err
    status, _, err = run_cli("generate", "--seed", "4294967295", "--children", "3", "--households", "2",
                             "--out", tmp_path / "b", "--as-of", AS_OF.isoformat())
    assert status == 0, err
    assert pl.read_csv(tmp_path / "b" / "children.csv").height == 3
    waiting = pl.read_csv(children).filter(pl.col("status") == "waiting")["child_id"][0]
    status, _, err = run_cli("rank", *region, "--child", waiting, "--top", "100000")
    assert status == 0, err
    status, _, err = run_cli("propose", *region, "--out", tmp_path / "zero.csv", "--min-score", "0",
                             "--budget", "LA01=0", "--budget", "LA02=1,000,000,000,000", "--seed", "0",
                             "--workers", "1", "--time-limit", "86400", "--sibling-contact-km", "0")
    assert status == 0, err
    assert (tmp_path / "zero.csv").exists()
    status, _, err = run_cli("propose", *region, "--out", tmp_path / "top.csv", "--min-score", "100",
                             "--seed", "2147483647", "--shortlist", "1000")
    assert status == 0, err


@pytest.mark.parametrize("build, name", [
    (lambda v: api.QueryOptions(top=v), "top"),
    (lambda v: api.QueryOptions(workers=v), "workers"),
    (lambda v: api.ProposalOptions(min_score=v), "min_score"),
    (lambda v: api.ProposalOptions(sibling_contact_km=v), "sibling_contact_km"),
    (lambda v: api.ProposalOptions(shortlist=v), "shortlist"),
    (lambda v: api.ProposalOptions(budgets={"LA01": v}), "budgets"),
    (lambda v: api.ProposalOptions(config=SolverConfig(seed=v)), "solver_seed"),
    (lambda v: api.ProposalOptions.parse(time_limit_s=v), "time_limit_s"),
    (lambda v: api.RegionRequest(v, 5, 5), "seed"),
    (lambda v: api.generate(1, v, 5, AS_OF), "n_children"),
])
@pytest.mark.parametrize("value", [-1, 10**20, math.nan, math.inf, "abc", True])
def test_options_built_in_code_are_held_to_the_same_ranges(build, name, value):
    with pytest.raises(api.InputError) as caught:
        build(value)
    [problem] = caught.value.problems
    assert (problem.file, problem.column, problem.code) == (api.OPTIONS, name, "bad_option")
    assert problem.expected == api.NUMBERS[name].describe() or name == "budgets"


def test_a_number_as_text_or_as_a_number_is_the_same_option():
    assert api.QueryOptions(top="7") == api.QueryOptions(top=7)
    assert api.ProposalOptions.parse(min_score="0", seed="0", workers="2", time_limit_s="1.5", shortlist="3") == \
        api.ProposalOptions.parse(min_score=0, seed=0, workers=2, time_limit_s=1.5, shortlist=3)
    messages = set()
    for value in ("0", 0):
        with pytest.raises(api.InputError) as caught:
            api.QueryOptions(top=value)
        messages.add(str(caught.value))
    assert len(messages) == 1


# --- weights files -------------------------------------------------------------------------------------------------

WEIGHT_KEYS = [f"[factors]\n{name} = {{}}\n" for name in FACTORS] + [f"{name} = {{}}\n" for name in PARAMETER_RANGES]
BAD_WEIGHTS = ["-1", "100000000000000000000", "1e308", "1e309", "nan", "inf", "'abc'", "1" + "0" * 5000]


def _key(template: str) -> str:
    line = template.strip().splitlines()[-1]
    name = line.split(" =")[0]
    return f"factors.{name}" if template.startswith("[factors]") else name


@pytest.mark.parametrize("template", WEIGHT_KEYS, ids=_key)
@pytest.mark.parametrize("value", BAD_WEIGHTS, ids=lambda v: v[:12])
def test_every_number_in_a_weights_file_is_range_checked(region_files, run_cli, tmp_path, template, value):
    children, households = region_files
    path = tmp_path / "w.toml"
    path.write_text(template.format(value), encoding="utf-8")
    out = tmp_path / "scores.csv"
    status, _, err = run_cli("scores", "--children", children, "--households", households, "--as-of",
                             AS_OF.isoformat(), "--weights", path, "--out", out)
    assert status == 2, err
    [line] = err.strip().splitlines()
    assert str(path) in line and not EXCEPTION_NAME.search(err)
    if len(value) < 100:  # text of thousands of digits is no TOML number Python will read: the file is named
        assert f"key {_key(template)}" in line and (" from " in line or " above " in line), line
    assert not out.exists()


@pytest.mark.parametrize("text", [
    "fees_by_size = [27000, 10000001]\n", "fees_by_size = [-1]\n", "fees_by_size = []\n",
    "fees_by_size = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]\n", "fees_by_size = [27000.5]\n",
    "fees_by_size = [nan]\n", "fees_by_size = 5\n",
])
def test_fees_are_whole_pounds_in_range(region_files, run_cli, tmp_path, text):
    children, households = region_files
    path = tmp_path / "w.toml"
    path.write_text(text, encoding="utf-8")
    status, _, err = run_cli("weights", "--weights", path)
    assert status == 2
    [line] = err.strip().splitlines()
    assert "key fees_by_size" in line and "10,000,000" in line and str(path) in line


def test_factor_points_of_1e308_are_refused_not_a_proposal_of_nothing(region_files, run_cli, tmp_path):
    children, households = region_files
    path = tmp_path / "w.toml"
    path.write_text("[factors]\nneeds = 1e308\nheritage = 1e308\n", encoding="utf-8")
    status, _, err = run_cli("propose", "--children", children, "--households", households, "--as-of",
                             AS_OF.isoformat(), "--weights", path, "--out", tmp_path / "links.csv")
    assert status == 2 and "factors.needs" in err and "factors.heritage" in err
    assert not (tmp_path / "links.csv").exists()


def test_legitimate_weights_at_the_edges_keep_working(run_cli, tmp_path):
    path = tmp_path / "w.toml"
    path.write_text("wait_boost = 0\nneeds_step = 1\nfees_by_size = [0]\ncare_threshold_days = 10000\n"
                    "[factors]\nneeds = 1000\nheritage = 0\n", encoding="utf-8")
    status, out, err = run_cli("weights", "--weights", path)
    assert status == 0, err
    assert "fees_by_size = [0]" in out and "\nheritage = 0\n" in out


def test_weights_built_in_code_are_held_to_the_same_ranges():
    for factors in ({**Weights().factors, "needs": 1e308}, {**Weights().factors, "needs": math.nan}):
        with pytest.raises(api.InputError) as caught:
            Weights(factors=factors)
        assert caught.value.problems[0].column == "factors.needs"
    with pytest.raises(api.InputError) as caught:
        Weights(fees_by_size=(10**20,))
    assert caught.value.problems[0].column == "fees_by_size"
    with pytest.raises(api.InputError):
        Weights(care_threshold_days=math.inf)


# --- budgets that cannot bind (item 9) ------------------------------------------------------------------------------

def test_budgets_that_cannot_bind_are_warnings_naming_the_agency(region_files, run_cli, tmp_path):
    children, households = region_files
    kids = pl.read_csv(children)
    homes = pl.read_csv(households)
    waiting_agencies = set(kids.filter(pl.col("status") == "waiting")["agency_id"].to_list())
    idle = sorted(set(homes["agency_id"].to_list()) - waiting_agencies)[0]  # approves households, has no waiting child
    region = ["--children", children, "--households", households, "--as-of", AS_OF.isoformat()]
    status, _, err = run_cli("propose", *region, "--out", tmp_path / "plain.csv")
    assert status == 0, err
    status, _, err = run_cli("propose", *region, "--out", tmp_path / "budgets.csv", "--budget", f"{idle}=0",
                             "--budget", "NOWHERE=100000")
    assert status == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2
    assert any(idle in w and "no waiting child" in w for w in warnings)
    assert any("NOWHERE" in w and "no child or household" in w for w in warnings)
    # The proposal ignores them: the same links as with no budget at all.
    assert (tmp_path / "budgets.csv").read_bytes() == (tmp_path / "plain.csv").read_bytes()


def test_the_api_reports_budgets_it_ignored(region_files):
    children, households = region_files
    region = api.region_from_files(children, households, AS_OF)
    waiting = region.units.filter(pl.col("waiting"))["agency_id"][0]
    proposal = api.propose(region, api.ProposalOptions.parse(budgets=[f"{waiting}=0", "NOWHERE=5"]))
    assert len(proposal.warnings) == 1 and "NOWHERE" in proposal.warnings[0]
    assert proposal.request.budgets == {waiting: 0}
    assert api.check_validity(proposal, region) == []


# --- help ----------------------------------------------------------------------------------------------------------

def _commands(group: click.Group, prefix: str = "matcher"):
    yield prefix, group
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix} {name}")
        else:
            yield f"{prefix} {name}", command


def test_every_option_of_every_command_has_help():
    missing = [f"{where} {param.opts[0]}" for where, command in _commands(cli) for param in command.params
               if isinstance(param, click.Option) and not (param.help or "").strip()]
    assert missing == []
    assert len(list(_commands(cli))) > 5


def test_numeric_options_show_their_range_in_help(run_cli):
    for command, flag, name, _ in NUMERIC_OPTIONS:
        status, out, _ = run_cli(command, "--help")
        assert status == 0
        text = " ".join(out.split())
        assert api.NUMBERS[name].describe() in text, (command, flag)


def test_the_readme_gives_every_range():
    from pathlib import Path

    from matcher.scoring.weights import FACTOR_POINTS, FEE

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for _, flag, name, _ in NUMERIC_OPTIONS:
        rows = [line for line in readme.splitlines() if line.startswith("| `") and f"`{flag}" in line.split("|")[1]]
        assert any(api.NUMBERS[name].describe() in row for row in rows), (flag, name)
    for name, allowed in PARAMETER_RANGES.items():
        assert any(f"`{name}`" in line and allowed.describe() in line for line in readme.splitlines()), name
    assert FACTOR_POINTS.describe() in readme and FEE.describe() in readme
