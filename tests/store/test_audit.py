"""The audit on both back ends: every store-mode read of a child's record or
ranking and every write is recorded (who, acting for, when, what, how), in
the transaction of the write; the application cannot change or delete it."""

from __future__ import annotations

import datetime as dt
import getpass
import json

import pytest
import sqlalchemy as sa

from tests.store.test_register import AS_OF, _rows, _waiting_child


def _log(run_cli, db, *args) -> list[dict]:
    status, out, err = run_cli("audit-log", "--db", db, "--format", "json", *args)
    assert status == 0, err
    return json.loads(out)


def test_reads_and_writes_are_recorded_with_who_when_what_how(loaded, region, run_cli):
    me = getpass.getuser()
    child = _waiting_child(region[0])
    household = next(r["household_id"] for r in _rows(region[1]) if r["status"] == "approved")
    store = ("--db", loaded, "--as-of", AS_OF)
    assert run_cli("rank", "--child", child, "--format", "json", *store)[0] == 0
    assert run_cli("rank", "--child", child, *store, "--user", "Ann Finder")[0] == 0
    assert run_cli("why-not", "--child", child, "--household", household, *store)[0] == 0
    assert run_cli("near-misses", "--child", child, *store)[0] == 0
    assert run_cli("history", "--db", loaded, "--child", child)[0] == 0
    assert run_cli("exclude", "--db", loaded, "--child", child, "--household", household, "--reason", "too far",
                   "--user", "Bo Manager")[0] == 0
    # File mode reads no store and records nothing.
    assert run_cli("rank", "--child", child, "--children", region[0], "--households", region[1],
                   "--as-of", AS_OF)[0] == 0

    rows = _log(run_cli, loaded)
    assert [r["action"] for r in rows] == ["import", "rank", "rank", "why-not", "near-misses", "history", "exclude"]
    assert all(r["who"] == me and r["how"] == "cli" for r in rows)
    assert [r["acting_for"] for r in rows] == [None, None, "Ann Finder", None, None, None, "Bo Manager"]
    assert "60 added" in rows[0]["what"] and str(region[0]) in rows[0]["what"]
    assert rows[3]["child_id"] == child and rows[3]["household_id"] == household
    assert "too far" in rows[6]["what"]
    now = dt.datetime.now(dt.timezone.utc)
    assert all(abs(dt.datetime.fromisoformat(r["at"]) - now) < dt.timedelta(minutes=5) for r in rows)

    about = _log(run_cli, loaded, "--child", child)
    assert [r["action"] for r in about] == ["rank", "rank", "why-not", "near-misses", "history", "exclude"]
    assert [r["action"] for r in _log(run_cli, loaded, "--user", "Ann Finder")] == ["rank"]
    assert len(_log(run_cli, loaded, "--user", me)) == len(rows)
    assert _log(run_cli, loaded, "--since", (now + dt.timedelta(days=1)).date().isoformat()) == []
    assert len(_log(run_cli, loaded, "--since", now.date().isoformat())) == len(rows)
    status, out, _ = run_cli("audit-log", "--db", loaded, "--child", child)
    assert status == 0 and "Ann Finder" in out and "why-not" in out
    assert run_cli("audit-log", "--db", loaded, "--since", "yesterday")[0] == 2


def test_a_write_that_fails_leaves_no_audit_row(loaded, region, run_cli, tmp_path):
    before = _log(run_cli, loaded)
    import csv

    rows = _rows(region[0])
    rows[4]["need_learning"] = "7"
    bad = tmp_path / "bad.csv"
    with open(bad, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert run_cli("import", "--db", loaded, "--children", bad, "--households", region[1])[0] == 2
    assert run_cli("exclude", "--db", loaded, "--child", "NOBODY", "--household", "H1", "--reason", "x")[0] == 2
    assert _log(run_cli, loaded) == before


def test_record_audit_joins_the_transaction_of_the_action(loaded, run_cli):
    from matcher import api
    from matcher.store.engine import engine_for, store_url

    engine = engine_for(store_url(loaded))
    with pytest.raises(RuntimeError):
        with engine.connect() as connection, connection.begin():
            api.record_audit(connection, "link", "rolled back", child_id="C1")
            raise RuntimeError("the action failed")
    with engine.connect() as connection, connection.begin(), api.acting(how="web", acting_for="Cy"):
        api.record_audit(connection, "link", "kept", child_id="C1", household_id="H1")
    rows = _log(run_cli, loaded, "--child", "C1")
    assert [(r["what"], r["how"], r["acting_for"], r["household_id"]) for r in rows] == [("kept", "web", "Cy", "H1")]


def test_the_application_cannot_change_or_delete_audit_rows(loaded, run_cli):
    from matcher.store.engine import engine_for, store_url

    url = store_url(loaded)
    engine = engine_for(url)  # the application's connection, as every command uses it
    before = _log(run_cli, loaded)
    assert before
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            with connection.begin():
                assert connection.execute(sa.text("SELECT current_user")).scalar() == "matcher_app"
        for statement in ("UPDATE audit_log SET who = 'someone else'", "DELETE FROM audit_log",
                          "UPDATE audit_log SET what = 'nothing' WHERE id = 1"):
            with pytest.raises(sa.exc.DBAPIError) as refused:
                with connection.begin():
                    connection.execute(sa.text(statement))
            message = str(refused.value.orig).lower()
            assert "permission denied" in message or "append-only" in message
        if engine.dialect.name == "postgresql":
            for statement in ("TRUNCATE audit_log", "DROP TABLE audit_log", "ALTER TABLE audit_log DISABLE TRIGGER ALL"):
                with pytest.raises(sa.exc.DBAPIError):
                    with connection.begin():
                        connection.execute(sa.text(statement))
        # It can still add rows, and read them.
        with connection.begin():
            connection.execute(sa.text("INSERT INTO audit_log (at, who, how, action, what) "
                                       "VALUES (CURRENT_TIMESTAMP, 'me', 'cli', 'test', 'added')"))
    assert _log(run_cli, loaded)[:len(before)] == before


def test_link_moves_are_audited_in_their_own_transaction(loaded, region, run_cli):
    child = _waiting_child(region[0])
    household = next(r["household_id"] for r in _rows(region[1]) if r["status"] == "approved")
    link = ("--db", loaded, "--child", child, "--household", household)
    assert run_cli("link", "propose", *link, "--user", "Ann Finder")[0] == 0
    assert run_cli("link", "explore", *link)[0] == 0
    status, _, err = run_cli("link", "match", *link)  # illegal from exploring: refused, nothing recorded
    assert status == 2, err
    moves = [r for r in _log(run_cli, loaded, "--child", child) if r["action"].startswith("link ")]
    assert [r["action"] for r in moves] == ["link propose", "link explore"]
    assert moves[0]["acting_for"] == "Ann Finder" and moves[0]["household_id"] == household
    assert "new -> proposed" in moves[0]["what"] and "proposed -> exploring" in moves[1]["what"]
