"""The domain API: regions from any source give the same answers; results,
regions and options are frozen; caches are bounded and keyed by content."""

from __future__ import annotations

import dataclasses
import threading

import polars as pl
import pytest

from matcher import api
from matcher.region import BoundedCache
from matcher.scoring.weights import Weights
from tests.conftest import AS_OF, write_region


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The same region built from files and from in-memory frames."""
    folder = tmp_path_factory.mktemp("region")
    children, households = write_region(folder, seed=5, n_children=80, n_households=120)
    from_files = api.region_from_files(children, households, AS_OF)
    kids, homes = api.generate(5, 80, 120, AS_OF)
    from_frames = api.region_from_frames(kids, homes, AS_OF)
    return from_files, from_frames


def test_a_region_from_frames_answers_as_one_from_files(both):
    files, frames = both
    waiting = files.children.filter(pl.col("status") == "waiting")["child_id"].to_list()
    households = files.households["household_id"].to_list()
    assert waiting and households
    for child in waiting[:15]:
        assert api.rank(frames, child_id=child) == api.rank(files, child_id=child)
        for household in households[:8]:
            assert api.why_not(frames, child, household) == api.why_not(files, child, household)
    for household in households[:10]:
        if files.households.row(files.household_row(household), named=True)["status"] == "approved":
            assert api.rank(frames, household_id=household) == api.rank(files, household_id=household)
    assert api.scores(frames).frame.equals(api.scores(files).frame)
    assert api.scores(files).frame.height > 0
    a, b = api.propose(files), api.propose(frames)
    assert a.links.equals(b.links) and a.objective == b.objective and a.links.height > 0
    a = api.propose(files, api.ProposalOptions.parse(shortlist=2))
    b = api.propose(frames, api.ProposalOptions.parse(shortlist=2))
    assert a.links.equals(b.links)


def test_in_memory_problems_name_the_table_row_and_column():
    kids, homes = api.generate(2, 10, 10, AS_OF)
    kids = kids.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("X")).otherwise(pl.col("sex"))
                             .alias("sex"))
    with pytest.raises(api.InputError) as caught:
        api.region_from_frames(kids, homes, AS_OF)
    [problem] = caught.value.problems
    assert (problem.file, problem.row, problem.column, problem.value) == ("children", 4, "sex", "X")
    assert problem.code == "invalid"


def test_regions_results_and_options_are_frozen(both):
    files, _ = both
    with pytest.raises(dataclasses.FrozenInstanceError):
        files.as_of = AS_OF  # type: ignore[misc]
    child = files.children.filter(pl.col("status") == "waiting")["child_id"][0]
    answer = api.rank(files, child_id=child)
    with pytest.raises(TypeError):
        answer["results"] = ()
    with pytest.raises(TypeError):
        answer["results"][0]["score"] = 100.0
    options = api.QueryOptions()
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.top = 3  # type: ignore[misc]


@pytest.mark.parametrize("options, name", [
    (dict(top=0), "top"), (dict(workers=0), "workers"),
])
def test_query_options_are_checked_where_built(options, name):
    with pytest.raises(api.InputError) as caught:
        api.QueryOptions(**options)
    assert caught.value.problems[0].column == name
    assert caught.value.problems[0].code == "bad_option"
    assert "--" not in str(caught.value)  # no command-line words in the domain


@pytest.mark.parametrize("kwargs, name", [
    (dict(budgets=["LA01"]), "budgets"), (dict(min_score=101), "min_score"), (dict(fixed=["U"]), "fixed"),
    (dict(excluded=["=H"]), "excluded"), (dict(sibling_contact_km=-1), "sibling_contact_km"),
    (dict(shortlist=0), "shortlist"), (dict(time_limit_s=0), "time_limit_s"),
])
def test_proposal_options_are_checked_where_built(kwargs, name):
    with pytest.raises(api.InputError) as caught:
        api.ProposalOptions.parse(**kwargs)
    assert caught.value.problems[0].column == name
    assert caught.value.problems[0].file == api.OPTIONS


def test_unknown_ids_carry_a_code(both):
    files, _ = both
    with pytest.raises(api.InputError) as caught:
        api.rank(files, child_id="no such child")
    assert caught.value.problems[0].code == "unknown_id"


def test_weights_are_an_argument_and_the_cache_is_keyed_by_content(both):
    files, _ = both
    child = files.children.filter(pl.col("status") == "waiting")["child_id"][0]
    heavy = Weights(factors={**Weights().factors, "heritage": 60.0})
    plain = api.rank(files, child_id=child, options=api.QueryOptions(top=None))
    heavier = api.rank(files, child_id=child, options=api.QueryOptions(weights=heavy, top=None))
    again = api.rank(files, child_id=child, options=api.QueryOptions(weights=Weights(), top=None))
    assert plain == again and plain["results"]
    assert [r["factors"] for r in plain["results"]] != [r["factors"] for r in heavier["results"]]
    # equal weights made separately share one cache entry
    before = len(files.cache)
    api.rank(files, child_id=child, options=api.QueryOptions(weights=Weights(factors=dict(heavy.factors))))
    assert len(files.cache) == before


def test_the_bounded_cache_stays_bounded_and_is_safe_under_threads():
    cache = BoundedCache(size=4)
    made = []

    def work(k):
        for i in range(200):
            value = cache.get_or_make(i % 10, lambda: made.append(1) or (i % 10) * 2)
            assert value == (i % 10) * 2
            assert len(cache) <= 4

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) <= 4 and made


def test_checked_values_cannot_be_changed_afterwards(both):
    files, _ = both
    options = api.ProposalOptions.parse(budgets=["LA01=1000"], fixed=["U1=H1"])
    with pytest.raises(TypeError):
        options.budgets["LA01"] = -5
    assert isinstance(options.fixed, tuple) and options.fixed == (("U1", "H1"),)
    with pytest.raises(TypeError):
        api.QueryOptions().weights.factors["needs"] = 1e308
    for array in (files.child_offsets, files.waiting_unit_rows, files.unit_arrays.unit_ids,
                  files.household_arrays.matrix):
        assert not array.flags.writeable
        with pytest.raises(ValueError):
            array[0] = array[0]


def test_pairs_built_in_code_are_checked_too():
    with pytest.raises(api.InputError) as caught:
        api.ProposalOptions(excluded=[(1, 2)])
    assert caught.value.problems[0].column == "excluded"


def test_an_as_of_before_1900_is_one_option_problem(tmp_path):
    import datetime as dt

    children, households = write_region(tmp_path, seed=2, n_children=10, n_households=10)
    with pytest.raises(api.InputError) as caught:
        api.region_from_files(children, households, dt.date(1800, 1, 1))
    [problem] = caught.value.problems
    assert problem.column == "as_of" and "1900" in problem.expected


def test_domain_messages_name_options_by_domain_names(both):
    files, _ = both
    proposal = api.propose(files)
    # The same links checked against a minimum score none of them reaches.
    tampered = dataclasses.replace(proposal, request=api.ProposalOptions.parse(min_score=100))
    found = api.check_validity(tampered, files)
    assert any("below min_score 100" in p for p in found), found
    assert not any("--" in p or "{option:" in p for p in found)
    timeout = api.SolverTimeout("nothing within {option:time_limit_s} 5 s")
    assert str(timeout) == "nothing within time_limit_s 5 s"


def test_unreadable_files_are_named_without_library_text(tmp_path, run_cli):
    children, households = write_region(tmp_path, seed=2, n_children=10, n_households=10)
    fake = tmp_path / "households.parquet"
    fake.write_bytes(households.read_bytes())
    status, _, err = run_cli("validate", "--children", children, "--households", fake)
    assert status == 2 and "not Parquet" in err and "specification" not in err, err
    weights = tmp_path / "w.toml"
    weights.write_bytes(b"\xff\xfe[factors]\n")
    status, _, err = run_cli("weights", "--weights", weights)
    assert status == 2 and "UTF-8" in err and "codec" not in err, err
    status, _, err = run_cli("validate-proposal", "--links", tmp_path)
    assert status == 2 and "folder" in err, err
