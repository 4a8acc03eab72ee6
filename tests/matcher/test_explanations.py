"""What a family finder reads (issue 9): rule names in why-not, points per
factor in the reasons, near misses, wording, and tables that fit the
terminal. Small hand-made regions, so each test can say exactly what it
expects to read."""

from __future__ import annotations

import json
import re
import shlex

import polars as pl
import pytest

from features.contract import NEEDS
from matcher import api
from matcher.scoring.weights import FACTORS, Weights
from tests.conftest import AS_OF, write_region
from tests.features.reference_rules import reference_broken_rules, reference_units

# The names the README lists beside the rule numbers.
RULE_NAMES = {0: "excluded", 1: "status", 2: "unit size", 3: "age and sex", 4: "needs",
              5: "early permanence and contact", 6: "safety distance", 7: "siblings together",
              8: "one unit per household"}


def a_child(child_id: str, **changes) -> dict:
    """A waiting boy of 4 years 3 months (born 2022-03-15; 51 months at
    AS_OF) with no additional needs, as text cells of the children file."""
    row = dict(child_id=child_id, agency_id="LA01", region="R1", date_of_birth="2022-03-15", sex="M",
               ethnicity="WBRI", sibling_group_id="", sibling_plan="", entered_care_date="2025-01-01",
               placement_order_date="2025-06-01", early_permanence="false", contact_plan="none", lat="53.00",
               lon="-1.00", birth_family_lat="", birth_family_lon="", min_distance_km="", status="waiting",
               **{f"need_{need}": "0" for need in NEEDS})
    row.update({k: str(v) for k, v in changes.items()})
    return row


def a_household(household_id: str, **changes) -> dict:
    """An approved household 11 km from a_child, approved for 1-2 children
    aged 0-10 years of either sex, accepting mild and considering moderate
    needs, as text cells of the households file."""
    row = dict(household_id=household_id, agency_id="LA01", agency_type="la", region="R1",
               approval_date="2025-06-01", adults="2", ethnicities="WBRI", can_promote="", min_children="1",
               max_children="2", min_age_months="0", max_age_months="120", sexes="F;M", dual_approved="false",
               accepts_direct_contact="false", youngest_child_months="", lat="53.10", lon="-1.00",
               max_travel_km="50", status="approved",
               **{f"accept_{need}": "1" for need in NEEDS}, **{f"consider_{need}": "2" for need in NEEDS})
    row.update({k: str(v) for k, v in changes.items()})
    return row


def files(folder, children: list[dict], households: list[dict]) -> tuple[str, ...]:
    """Write both tables as contract CSV files; the CLI's file arguments."""
    kids, homes = folder / "children.csv", folder / "households.csv"
    pl.DataFrame(children).write_csv(kids)
    pl.DataFrame(households).write_csv(homes)
    return "--children", str(kids), "--households", str(homes), "--as-of", AS_OF.isoformat()


def region(children: list[dict], households: list[dict]):
    return api.region_from_frames(pl.DataFrame(children), pl.DataFrame(households), AS_OF)


def run_json(run_cli, *args) -> dict:
    status, out, err = run_cli(*args, "--format", "json")
    assert status == 0, err
    return json.loads(out)


# --- 15. why-not names every rule in words -------------------------------------------------------------------


def test_why_not_names_every_rule_in_words_and_json_adds_rule_name(tmp_path, run_cli):
    children = [
        a_child("C1", need_physical=3, early_permanence="true", birth_family_lat="53.05", birth_family_lon="-1.00",
                min_distance_km=20),
        a_child("C2", sibling_group_id="G1", sex="F"), a_child("C3", sibling_group_id="G1", status="linked"),
    ]
    strict = a_household("H1", min_children=2, max_children=2, max_age_months=48, sexes="F", status="on_hold")
    args = files(tmp_path, children, [strict])

    answer = run_json(run_cli, "why-not", "--child", "C1", "--household", "H1", *args)
    assert {v["rule"] for v in answer["violations"]} == {1, 2, 3, 4, 5, 6}
    for v in answer["violations"]:
        assert v["rule_name"] == RULE_NAMES[v["rule"]]
    needs = next(v["message"] for v in answer["violations"] if v["rule"] == 4)
    assert "physical needs" in needs and "severe" in needs and "moderate" in needs
    group = run_json(run_cli, "why-not", "--child", "C2", "--household", "H1", *args)
    assert {v["rule"]: v["rule_name"] for v in group["violations"]}[7] == "siblings together"

    for child in ("C1", "C2"):
        status, out, err = run_cli("why-not", "--child", child, "--household", "H1", *args)
        assert status == 0, err
        lines = [line.strip() for line in out.splitlines() if "rule" in line]
        assert lines
        for line in lines:
            named = re.match(r"- rule (\d), ([a-z ]+): \S", line)
            assert named, line  # never "rule 4: ..." without its name
            assert named.group(2) == RULE_NAMES[int(named.group(1))], line


def test_readme_lists_every_rule_name():
    from tests.matcher.test_readme import README

    text = README.read_text(encoding="utf-8")
    for number, name in RULE_NAMES.items():
        assert f"| {number} | {name} |" in text, name


# --- 16. points per factor, what counts against and for -------------------------------------------------------


def test_rank_reasons_say_the_points_each_factor_earned(tmp_path, run_cli):
    children, households = write_region(tmp_path, seed=3, n_children=60, n_households=90)
    world = api.region_from_files(children, households, AS_OF)
    weights = Weights()
    labels = {"needs": "needs", "heritage": "heritage", "siblings": "siblings", "age_fit": "age fit",
              "age_gap": "age gap", "distance": "distance", "early_permanence": "early permanence",
              "child_wait": "child's wait", "household_wait": "household's wait",
              "agency_fee": "inter-agency fee"}
    checked = 0
    for row in world.waiting_unit_rows.tolist()[:12]:
        child_id = world.children_of(row)["child_id"][0]
        answer = run_json(run_cli, "rank", "--child", child_id, "--top", "3", "--children", children,
                          "--households", households, "--as-of", AS_OF.isoformat())
        for r in answer["results"]:
            details = r["reason_details"]
            assert [set(d) for d in details] == [{"factor", "points", "max_points", "text"}] * len(FACTORS)
            assert sorted(d["factor"] for d in details) == sorted(FACTORS)
            for d in details:
                assert d["max_points"] == pytest.approx(weights.factors[d["factor"]])
                assert d["points"] == pytest.approx(r["factors"][d["factor"]])
                assert 0 <= d["points"] <= d["max_points"] + 1e-9
            assert sum(d["points"] for d in details) == pytest.approx(r["score"], abs=1e-6)
            # reasons stay strings: the placement, then one per factor as "label P of M: text"
            assert all(isinstance(reason, str) for reason in r["reasons"])
            assert len(r["reasons"]) == len(details) + 1
            for reason, d in zip(r["reasons"][1:], details):
                assert reason == f"{labels[d['factor']]} {d['points']:.1f} of {d['max_points']:g}: {d['text']}"
            # what counts against (below 90% of its points) comes before what counts for
            against = [d["points"] < 0.9 * d["max_points"] for d in details]
            assert against == sorted(against, reverse=True)
            checked += 1
    assert checked >= 5


def test_text_lists_what_counts_against_apart_from_what_counts_for(tmp_path, run_cli):
    # 69 km away with a 50 km travel limit: the distance factor keeps 4.3 of
    # its 10 points; moderate learning needs, one level above what the
    # household accepts, keep 12 of 16.
    child = a_child("C1", need_learning=2)
    home = a_household("H1", lat="53.62", max_children=1)
    args = files(tmp_path, [child], [home])
    answer = run_json(run_cli, "why-not", "--child", "C1", "--household", "H1", *args)
    reasons = answer["reasons"]
    assert "distance 4.3 of 10: 69 km away, travel limit 50 km" in reasons
    assert "needs 12.0 of 16: would consider moderate learning needs (2; approved up to mild)" in reasons
    assert reasons.index("distance 4.3 of 10: 69 km away, travel limit 50 km") < reasons.index(
        "needs 12.0 of 16: would consider moderate learning needs (2; approved up to mild)")

    status, out, err = run_cli("why-not", "--child", "C1", "--household", "H1", *args)
    assert status == 0, err
    text = out.replace("\n", " ")
    against, earned = text.index("what counts against:"), text.index("what counts for:")
    assert against < text.index("distance 4.3 of 10") < text.index("needs 12.0 of 16") < earned
    assert earned < text.index("heritage 12.0 of 12: shares White British heritage")


# --- 17. near misses ---------------------------------------------------------------------------------------------


def near_miss_region() -> tuple[list[dict], list[dict]]:
    """C1 (51 months, severe learning needs) and the siblings G1 (C2, C3,
    both 51 months) against households one or two rules away."""
    children = [a_child("C1", need_learning=3),
                a_child("C2", sibling_group_id="G1"), a_child("C3", sibling_group_id="G1", sex="F")]
    households = [
        a_household("H_OK", consider_learning=3),  # eligible for C1
        a_household("H_AGE", consider_learning=3, max_age_months=48),  # rule 3 only: 3 months too old
        a_household("H_NEED"),  # rule 4 only: would consider moderate learning needs
        a_household("H_BOTH", max_age_months=48),  # rules 3 and 4: no near miss
        a_household("H_HOLD", consider_learning=3, status="on_hold"),  # rule 1: no near miss
        a_household("H_HOLD_AGE", consider_learning=3, max_age_months=48, status="on_hold"),
        a_household("H_BOYS", consider_learning=3, sexes="M", max_age_months=48),  # G1: rule 3 twice over
    ]
    return children, households


def test_rank_lists_near_misses_apart_when_fewer_than_top_are_eligible(tmp_path, run_cli):
    args = files(tmp_path, *near_miss_region())
    answer = run_json(run_cli, "rank", "--child", "C1", "--top", "5", *args)
    assert [r["household_id"] for r in answer["results"]] == ["H_OK"]
    misses = {m["household_id"]: m for m in answer["near_misses"]}
    assert set(misses) == {"H_AGE", "H_NEED", "H_BOYS"}
    assert {k: (m["rule"], m["rule_name"]) for k, m in misses.items()} == {
        "H_AGE": (3, "age and sex"), "H_NEED": (4, "needs"), "H_BOYS": (3, "age and sex")}
    assert misses["H_AGE"]["message"] == "approved up to 4 years; this child is 4 years 3 months (3 months older)"
    assert misses["H_NEED"]["message"] == \
        "would consider up to moderate (2) learning needs; this child's are severe or complex (3)"
    # Enough eligible households: no near misses at all.
    assert "near_misses" not in run_json(run_cli, "rank", "--child", "C1", "--top", "1", *args)
    # Made up to --top: one eligible and at most one near miss.
    assert len(run_json(run_cli, "rank", "--child", "C1", "--top", "2", *args)["near_misses"]) == 1

    status, out, err = run_cli("rank", "--child", "C1", "--top", "5", *args)
    assert status == 0, err
    near = out.index("NOT eligible")
    assert out.index("H_OK") < near < out.index("H_AGE") and "H_AGE" not in out[:near]


def test_near_misses_command_counts_one_rule_however_many_children_break_it(tmp_path, run_cli):
    args = files(tmp_path, *near_miss_region())
    answer = run_json(run_cli, "near-misses", "--child", "C2", *args)
    assert answer["unit_id"] == "G1" and answer["child_ids"] == ["C2", "C3"]
    by_household = {r["household_id"]: r for r in answer["results"]}
    # H_BOYS breaks rule 3 for both children (C2's age, C3's age and sex): one rule, a near miss.
    assert by_household["H_BOYS"]["rule"] == 3
    assert "C2" in by_household["H_BOYS"]["message"] and "C3" in by_household["H_BOYS"]["message"]
    assert "approved for boys only; C3 is a girl" in by_household["H_BOYS"]["message"]
    assert not {"H_HOLD", "H_HOLD_AGE"} & set(by_household)  # not approved: no near miss
    for r in answer["results"]:
        assert set(r) == {"household_id", "rule", "rule_name", "message"}
        assert r["rule_name"] == RULE_NAMES[r["rule"]]
    assert len(run_json(run_cli, "near-misses", "--child", "C2", "--top", "1", *args)["results"]) == 1

    status, out, err = run_cli("near-misses", "--child", "C2", *args)
    assert status == 0, err
    assert "NOT eligible" in out and "rule 3, age and sex" in out


def test_near_misses_are_the_reference_households_one_rule_away(tmp_path, run_cli):
    children, households = write_region(tmp_path, seed=1, n_children=60, n_households=120)
    world = api.region_from_files(children, households, AS_OF)
    kids = world.children.to_dicts()
    units = reference_units(kids)
    homes = world.households.to_dicts()
    found = 0
    for row in world.waiting_unit_rows.tolist()[:15]:
        unit = str(world.unit_arrays.unit_ids[row])
        answer = api.near_misses(world, units[unit][0]["child_id"], api.QueryOptions(top=None))
        expected = {}
        for home in homes:
            broken = reference_broken_rules(units[unit], home, AS_OF)
            if len(broken) == 1 and home["status"] == "approved":
                expected[home["household_id"]] = next(iter(broken))
        assert {r["household_id"]: r["rule"] for r in answer["results"]} == expected, unit
        for r in answer["results"][:3]:
            why = api.why_not(world, units[unit][0]["child_id"], r["household_id"])
            assert {v["rule"] for v in why["violations"]} == {r["rule"]}
            assert r["message"] == "; ".join(v["message"] for v in why["violations"])
        found += len(expected)
    assert found > 0


def test_near_misses_of_a_child_who_is_not_waiting_exit_2(tmp_path, run_cli):
    children, households = near_miss_region()
    args = files(tmp_path, [a_child("C9", status="matched"), *children], households)
    status, out, err = run_cli("near-misses", "--child", "C9", *args)
    assert status == 2 and out == ""
    assert "C9 is matched, not waiting" in err and "Traceback" not in err


# --- 18. wording -------------------------------------------------------------------------------------------------


def test_ages_read_as_years_and_months():
    from matcher.scoring.explain import age_range_words, age_words

    assert [age_words(m) for m in (0, 1, 9, 12, 20, 24, 51, 137)] == [
        "0 months", "1 month", "9 months", "1 year", "1 year 8 months", "2 years", "4 years 3 months",
        "11 years 5 months"]
    assert age_range_words(0, 48) == "0–4 years"
    assert age_range_words(6, 30) == "6 months to 2 years 6 months"
    assert age_range_words(24, 24) == "2 years"


def test_rule_messages_read_as_sentences():
    children = [a_child("C1", date_of_birth="2023-06-30"),  # exactly 3 years
                a_child("C2", sibling_group_id="G1"), a_child("C3", sibling_group_id="G1", status="placed")]
    households = [a_household("H1", min_age_months=24, max_age_months=24, status="on_hold")]
    world = region(children, households)
    messages = [v["message"] for v in api.why_not(world, "C1", "H1")["violations"]]
    assert "the household is on hold, not approved: only approved households are proposed" in messages
    assert "approved up to 2 years; this child is 3 years (1 year older)" in messages
    assert not any("on_hold" in m or "months)" in m or "24–24" in m for m in messages)
    group = {v["rule"]: v["message"] for v in api.why_not(world, "C2", "H1")["violations"]}
    assert group[7] == ("this sibling group is to be placed together, but C3 is placed, not waiting, so the group "
                        "cannot be placed now")
    with pytest.raises(api.InputError, match="H1 is on hold, not approved"):
        api.rank(world, household_id="H1")


def test_reasons_say_older_and_a_range_of_sizes_in_words():
    child = a_child("C1")  # 51 months
    world = region([child, a_child("C2", sibling_group_id="G1"), a_child("C3", sibling_group_id="G1")],
                   [a_household("H1", youngest_child_months=30), a_household("H2", youngest_child_months=51),
                    a_household("H3", youngest_child_months=80, min_children=1, max_children=1)])
    reasons = {h: " | ".join(api.why_not(world, "C1", h)["reasons"]) for h in ("H1", "H2", "H3")}
    assert "this child would be 1 year 9 months older than them" in reasons["H1"]
    assert "this child would be the same age as them" in reasons["H2"]
    assert "not younger" not in reasons["H1"] + reasons["H2"]
    assert "approved for 1 child aged 0–10 years; this child is 4 years 3 months" in reasons["H3"]
    group = " | ".join(api.why_not(world, "C2", "H1")["reasons"])
    assert "uses every place it is approved for (1–2 children)" in group
    assert "exactly this many" not in group


def test_summary_says_its_only_eligible_household_and_one_child(tmp_path):
    from matcher.proposals.report import proposal_summary

    # Two children, one household that both could go to: one goes without.
    world = region([a_child("C1"), a_child("C2", entered_care_date="2023-01-01")], [a_household("H1")])
    summary = proposal_summary(world, api.propose(world))
    assert "C1: its only eligible household went to another unit" in summary
    assert "every one of its 1 eligible households" not in summary
    lone = region([a_child("C1")], [a_household("H1")])
    assert "(1 of 1 child)" in proposal_summary(lone, api.propose(lone))


def test_generate_says_one_child_not_one_children(tmp_path, run_cli):
    status, out, err = run_cli("generate", "--seed", "1", "--children", "1", "--households", "1", "--out",
                               tmp_path / "one", "--as-of", AS_OF.isoformat())
    assert status == 0, err
    assert out.startswith("wrote 1 child and 1 household to ")


def test_validate_counts_approved_households_of_voluntary_agencies(tmp_path, run_cli):
    homes = [a_household("H1", agency_type="vaa", agency_id="VAA1"),
             a_household("H2", agency_type="vaa", agency_id="VAA1", status="on_hold"),
             a_household("H3", agency_type="vaa", agency_id="VAA2", status="matched"), a_household("H4")]
    args = files(tmp_path, [a_child("C1")], homes)
    status, out, err = run_cli("validate", *args[:4])
    assert status == 0, err
    assert "households: 4 (2 approved, 1 of them by voluntary agencies)" in out


# --- 20. tables fit the terminal; the demo's commands run ---------------------------------------------------------


@pytest.mark.parametrize("columns", [80, 99, 100, 140])
def test_rank_table_fits_the_terminal(tmp_path, run_cli, monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    args = files(tmp_path, *near_miss_region())
    status, out, err = run_cli("rank", "--child", "C1", "--top", "5", *args)
    assert status == 0, err
    assert max(len(line) for line in out.splitlines()) <= columns
    assert ("main reasons" in out) == (columns >= 100)
    assert "what counts for:" in out  # below 100 columns the reasons come under the table


def test_demo_prints_commands_that_run_as_shown(tmp_path, run_cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, err = run_cli("demo", "--out", "demo out")
    assert status == 0, err
    commands = [line[line.index("matcher "):] for line in out.splitlines() if re.search(r"(^|: )\s*matcher ", line)]
    assert {c.split()[1] for c in commands} >= {"rank", "propose", "db", "import", "link"}
    # The register's commands replay the demo's tour in order on a new
    # register; every other command names its files and date.
    register = tmp_path / "demo out" / "register.sqlite3"
    api.close_store(str(register))
    for leftover in (register, register.with_name(register.name + "-wal"), register.with_name(register.name + "-shm")):
        leftover.unlink(missing_ok=True)
    for command in commands:
        words = shlex.split(command)[1:]
        if "--db" not in words:
            assert {"--children", "--households", "--as-of"} <= set(words), command
        status, _, err = run_cli(*words)
        assert status == 0, (command, err)


def test_a_need_the_household_would_not_consider_at_all_is_said_so():
    home = a_household("H0", accept_learning=0, consider_learning=0)
    answer = api.why_not(region([a_child("C1", need_learning=1)], [home]), "C1", "H0")
    [violation] = answer["violations"]
    assert violation["message"] == "would not consider learning needs (0); this child's are mild (1)"
