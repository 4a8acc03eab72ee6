"""The case register on both back ends: import, export, versions,
exclusions, and store mode answering exactly as file mode."""

from __future__ import annotations

import csv
import json
from pathlib import Path



AS_OF = "2026-06-30"




def _export(run_cli, db: str, folder: Path) -> dict[str, bytes]:
    status, _, err = run_cli("export", "--db", db, "--out", folder, "--force")
    assert status == 0, err
    return {name: (folder / name).read_bytes() for name in ("children.csv", "households.csv")}


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _waiting_child(path: Path) -> str:
    return next(r["child_id"] for r in _rows(path) if r["status"] == "waiting" and not r["sibling_group_id"])


def test_import_then_export_round_trips_exactly(loaded, region, run_cli, tmp_path):
    import datetime as dt

    import polars as pl

    from matcher.files.read import read_region

    first = _export(run_cli, loaded, tmp_path / "one")
    # The same values as the files imported, defaults written out.
    day = dt.date.fromisoformat(AS_OF)
    given = read_region(*region, as_of=day)
    back = read_region(tmp_path / "one" / "children.csv", tmp_path / "one" / "households.csv", as_of=day)
    for a, b in ((given.children, back.children), (given.households, back.households)):
        assert a.drop("__row__").equals(b.drop("__row__"))
    assert b.filter(pl.col("consider_learning").is_null()).height == 0
    # Importing the export changes nothing, and exports the same bytes.
    status, out, _ = run_cli("import", "--db", loaded, "--children", tmp_path / "one" / "children.csv",
                             "--households", tmp_path / "one" / "households.csv", "--as-of", AS_OF)
    assert status == 0
    assert "children: 0 added, 0 updated, 60 unchanged" in out
    assert _export(run_cli, loaded, tmp_path / "two") == first


def test_store_mode_answers_byte_for_byte_as_file_mode(loaded, region, run_cli, tmp_path):
    files = ("--children", region[0], "--households", region[1])
    store = ("--db", loaded)
    child = _waiting_child(region[0])
    household = next(r["household_id"] for r in _rows(region[1]) if r["status"] == "approved")
    queries = [
        ("rank", "--child", child, "--top", "5", "--format", "json"),
        ("rank", "--child", child, "--top", "50"),
        ("rank", "--household", household, "--top", "5", "--format", "json"),
        ("why-not", "--child", child, "--household", household, "--format", "json"),
        ("why-not", "--child", child, "--household", household),
        ("near-misses", "--child", child, "--top", "20", "--format", "json"),
    ]
    for query in queries:
        by_file = run_cli(*query, *files, "--as-of", AS_OF)
        by_store = run_cli(*query, *store, "--as-of", AS_OF)
        assert by_file[0] == by_store[0] == 0, (query, by_file[2], by_store[2])
        assert by_file[1] == by_store[1], query
    for command, name in (("scores", "pairs.csv"), ("propose", "links.csv")):
        outputs = []
        for source, folder in ((files, tmp_path / "f"), (store, tmp_path / "s")):
            folder.mkdir(exist_ok=True)
            status, out, err = run_cli(command, "--out", folder / name, *source, "--as-of", AS_OF)
            assert status == 0, err
            outputs.append((folder / name).read_bytes())
        assert outputs[0] == outputs[1], command
    manifest = json.loads((tmp_path / "s" / "links.manifest.json").read_text())
    assert manifest["inputs"] == [] and "data version" in manifest["store"]


def test_a_bad_import_exits_2_names_file_row_column_and_changes_nothing(loaded, region, run_cli, tmp_path):
    before = _export(run_cli, loaded, tmp_path / "before")
    rows = _rows(region[0])
    rows[4]["need_learning"] = "7"  # line 6 of the file
    rows[0]["status"] = "linked"  # a good change that must not land either
    rows.append({**rows[1], "child_id": "C999999"})  # a new row that must not land either
    bad = tmp_path / "bad_children.csv"
    with open(bad, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    status, out, err = run_cli("import", "--db", loaded, "--children", bad, "--households", region[1],
                               "--as-of", AS_OF)
    assert status == 2
    assert str(bad) in err and "6" in err and "need_learning" in err
    # The same message as file mode gives for the same file.
    file_mode = run_cli("validate", "--children", bad, "--households", region[1], "--as-of", AS_OF)
    assert file_mode[0] == 2
    message = [line for line in err.splitlines() if "need_learning" in line]
    assert message and all(line.replace("error: ", "") in file_mode[2] for line in message)
    assert _export(run_cli, loaded, tmp_path / "after") == before


def test_reimport_updates_by_id_keeps_versions_and_rows_left_out(loaded, region, run_cli, tmp_path):
    rows = _rows(region[0])
    child = rows[0]["child_id"]
    old_level = rows[0]["need_learning"]
    rows[0]["need_learning"] = "3" if old_level != "3" else "2"
    kept = rows[:-3]
    changed = tmp_path / "children.csv"
    with open(changed, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)
    status, out, err = run_cli("import", "--db", loaded, "--children", changed, "--households", region[1],
                               "--as-of", AS_OF)
    assert status == 0, err
    assert "children: 0 added, 1 updated, 56 unchanged; 3 rows in the store not in the file" in out
    exported = _rows(Path(tmp_path / "out" / "children.csv")) if _export(run_cli, loaded, tmp_path / "out") else []
    assert len(exported) == 60  # nothing deleted
    status, out, _ = run_cli("history", "--db", loaded, "--child", child, "--format", "json")
    assert status == 0
    versions = json.loads(out)["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0]["changed"] is None and versions[0]["values"]["need_learning"] == int(old_level)
    assert versions[1]["changed"] == {"need_learning": [int(old_level), int(rows[0]["need_learning"])]}
    assert versions[1]["who"] and versions[1]["at"]
    status, out, _ = run_cli("history", "--db", loaded, "--child", child)
    assert status == 0 and "2 versions" in out and "need_learning" in out
    assert run_cli("history", "--db", loaded, "--child", "NOBODY")[0] == 2


def test_an_excluded_pair_is_never_ranked_or_proposed_and_why_not_says_rule_0(loaded, region, run_cli, tmp_path):
    files = ("--children", region[0], "--households", region[1], "--as-of", AS_OF)
    links = tmp_path / "links.csv"
    assert run_cli("propose", "--out", links, *files)[0] == 0
    link = next(r for r in _rows(links) if ";" not in r["child_ids"])
    child, household = link["child_ids"], link["household_id"]
    ranked = json.loads(run_cli("rank", "--child", child, "--top", "100", "--format", "json", *files)[1])
    assert household in [r["household_id"] for r in ranked["results"]]

    status, out, err = run_cli("exclude", "--db", loaded, "--child", child, "--household", household,
                               "--reason", "birth family lives nearby")
    assert status == 0, err
    store = ("--db", loaded, "--as-of", AS_OF)
    ranked = json.loads(run_cli("rank", "--child", child, "--top", "100", "--format", "json", *store)[1])
    assert household not in [r["household_id"] for r in ranked["results"]]
    assert household not in [r["household_id"] for r in ranked.get("near_misses", [])]
    near = json.loads(run_cli("near-misses", "--child", child, "--top", "100", "--format", "json", *store)[1])
    assert household not in [r["household_id"] for r in near["results"]]
    units = json.loads(run_cli("rank", "--household", household, "--top", "100", "--format", "json", *store)[1])
    assert link["unit_id"] not in [r["unit_id"] for r in units["results"]]
    stored_links = tmp_path / "stored_links.csv"
    assert run_cli("propose", "--out", stored_links, *store)[0] == 0
    assert (link["unit_id"], household) not in {(r["unit_id"], r["household_id"]) for r in _rows(stored_links)}
    scores = tmp_path / "pairs.csv"
    assert run_cli("scores", "--out", scores, *store)[0] == 0
    assert (link["unit_id"], household) not in {(r["unit_id"], r["household_id"]) for r in _rows(scores)}
    answer = json.loads(run_cli("why-not", "--child", child, "--household", household, "--format", "json",
                                *store)[1])
    assert answer["eligible"] is False and answer["score"] is None
    first = answer["violations"][0]
    assert first["rule"] == 0 and first["rule_name"] == "excluded" and first["child_id"] == child
    assert "birth family lives nearby" in first["message"] and "excluded by " in first["message"]
    # Twice is refused; lifting it (with a reason) restores file mode's answer.
    assert run_cli("exclude", "--db", loaded, "--child", child, "--household", household, "--reason", "again")[0] == 2
    assert run_cli("exclude", "--db", loaded, "--child", child, "--household", household, "--reason", "new facts",
                   "--undo")[0] == 0
    query = ("rank", "--child", child, "--top", "100", "--format", "json")
    assert run_cli(*query, *store)[1] == run_cli(*query, *files)[1]


def test_matcher_db_is_used_when_no_data_is_given_and_otherwise_says_how(loaded, region, run_cli, monkeypatch):
    child = _waiting_child(region[0])
    query = ("rank", "--child", child, "--format", "json", "--as-of", AS_OF)
    given = run_cli(*query, "--db", loaded)
    monkeypatch.setenv("MATCHER_DB", loaded)
    from_environment = run_cli(*query)
    assert given[0] == from_environment[0] == 0 and given[1] == from_environment[1]
    # Files given: MATCHER_DB is not read.
    assert run_cli(*query, "--children", region[0], "--households", region[1])[1] == given[1]
    monkeypatch.delenv("MATCHER_DB")
    status, out, err = run_cli(*query)
    assert status == 2 and out == ""
    assert "--children" in err and "--db" in err and "MATCHER_DB" in err and "Traceback" not in err
    status, _, err = run_cli(*query, "--children", region[0])
    assert status == 2 and "--households" in err
    status, _, err = run_cli(*query, "--children", region[0], "--households", region[1], "--db", loaded)
    assert status == 2 and "not both" in err


def test_a_store_not_initialised_is_named_with_how_to_make_it(store, region, run_cli):
    status, _, err = run_cli("import", "--db", store, "--children", region[0], "--households", region[1])
    assert status == 2 and "db init" in err
    status, _, err = run_cli("rank", "--db", store, "--child", "C000001")
    assert status == 2 and "db init" in err
    if "://" not in store:
        assert not Path(store).exists()  # only db init makes a store


def test_the_migrations_build_the_declared_tables(ready_store, run_cli):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.config import Config

    from matcher.store import schema
    from matcher.store.engine import engine_for, store_url
    from matcher.store.register import migrations_folder

    config = Config()
    config.set_main_option("script_location", str(migrations_folder()))
    assert ScriptDirectory.from_config(config).get_current_head() == schema.SCHEMA_REVISION
    with engine_for(store_url(ready_store)).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), schema.metadata)
    assert differences == []
    status, out, _ = run_cli("db", "init", "--db", ready_store)
    assert status == 0 and "up to date" in out
