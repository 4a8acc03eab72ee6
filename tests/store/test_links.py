"""The link lifecycle on both back ends: legal and illegal moves, statuses
following links, declined pairs never proposed again, the register's
statuses winning over a re-import, proposals recorded, and no lost update
under concurrent writers."""

from __future__ import annotations

import csv
import json
import random
import threading
import time
from pathlib import Path

import pytest


AS_OF = "2026-06-30"

# The actions that take a link from nothing to each state.
PATHS = {
    None: [],
    "proposed": ["propose"],
    "exploring": ["propose", "explore"],
    "linked": ["propose", "explore", "link"],
    "matched": ["propose", "explore", "link", "match"],
    "placed": ["propose", "explore", "link", "match", "place"],
    "declined": ["propose", "decline"],
    "closed": ["propose", "close"],
}
ACTIONS = ("propose", "explore", "link", "match", "place", "decline", "close", "reopen")
LEGAL = {
    None: {"propose"},
    "proposed": {"explore", "decline", "close"},
    "exploring": {"link", "decline", "close"},
    "linked": {"match", "decline", "close"},
    "matched": {"place", "decline", "close"},
    "placed": set(),
    "declined": {"reopen", "propose"},
    "closed": {"reopen", "propose"},
}
TARGET = {"propose": "proposed", "explore": "exploring", "link": "linked", "match": "matched", "place": "placed",
          "decline": "declined", "close": "closed", "reopen": "proposed"}


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _write(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)




def _singles(region) -> list[str]:
    return [r["child_id"] for r in _rows(region[0]) if r["status"] == "waiting" and not r["sibling_group_id"]]


def _approved(region) -> list[str]:
    return [r["household_id"] for r in _rows(region[1]) if r["status"] == "approved"]


def _move(run_cli, db, action, child, household, *extra):
    return run_cli("link", action, "--db", db, "--child", child, "--household", household, *extra)


def _drive(run_cli, db, child, household, state):
    for action in PATHS[state]:
        status, _, err = _move(run_cli, db, action, child, household, "--reason", f"to {state}")
        assert status == 0, err


def _state(run_cli, db, child, household):
    status, out, _ = run_cli("link", "show", "--db", db, "--child", child, "--household", household,
                             "--format", "json")
    return json.loads(out) if status == 0 else None


@pytest.mark.parametrize("state", list(PATHS), ids=lambda s: s or "none")
def test_every_move_from_every_state_is_legal_or_refused_naming_the_legal_ones(loaded, region, run_cli, state):
    children, households = _singles(region), _approved(region)
    for i, action in enumerate(ACTIONS):
        child, household = children[i], households[i]
        _drive(run_cli, loaded, child, household, state)
        before = _state(run_cli, loaded, child, household)
        status, out, err = _move(run_cli, loaded, action, child, household, "--reason", "a reason")
        if action in LEGAL[state]:
            assert status == 0, (state, action, err)
            assert _state(run_cli, loaded, child, household)["state"] == TARGET[action]
            continue
        assert status == 2, (state, action, out)
        assert "Traceback" not in err and f"cannot {action}" in err
        if LEGAL[state]:
            assert "legal from here: " in err
            named = err.split("legal from here: ")[1].strip().split(", ")
            assert set(named) == LEGAL[state], (state, action, err)
        else:
            assert "no move is legal from here" in err
        assert _state(run_cli, loaded, child, household) == before  # nothing changed


def test_every_move_records_who_when_why_and_reasons_are_required_to_end_or_reopen(loaded, region, run_cli):
    child, household = _singles(region)[0], _approved(region)[0]
    assert _move(run_cli, loaded, "propose", child, household, "--user", "Ann Finder")[0] == 0
    status, _, err = _move(run_cli, loaded, "decline", child, household)
    assert status == 2 and "--reason" in err
    status, _, err = _move(run_cli, loaded, "close", child, household, "--reason", "  ")
    assert status == 2 and "--reason" in err
    assert _move(run_cli, loaded, "decline", child, household, "--reason", "too far from school")[0] == 0
    status, _, err = _move(run_cli, loaded, "reopen", child, household)
    assert status == 2 and "--reason" in err
    status, _, err = _move(run_cli, loaded, "propose", child, household)
    assert status == 2 and "--reason" in err
    assert _move(run_cli, loaded, "propose", child, household, "--reason", "the school moved")[0] == 0
    history = _state(run_cli, loaded, child, household)["history"]
    assert [(e["action"], e["from_state"], e["to_state"]) for e in history] == [
        ("propose", None, "proposed"), ("decline", "proposed", "declined"), ("propose", "declined", "proposed")]
    assert history[0]["acting_for"] == "Ann Finder" and history[1]["acting_for"] is None
    assert all(e["who"] and e["at"] for e in history)
    assert history[1]["reason"] == "too far from school" and history[2]["reason"] == "the school moved"
    status, out, _ = run_cli("link", "show", "--db", loaded, "--child", child, "--household", household)
    assert status == 0 and "acting for Ann Finder" in out and "too far from school" in out
    status, out, _ = run_cli("link", "list", "--db", loaded, "--state", "proposed", "--format", "json")
    assert [(x["child_ids"], x["household_id"]) for x in json.loads(out)["links"]] == [([child], household)]
    assert json.loads(run_cli("link", "list", "--db", loaded, "--child", _singles(region)[1], "--format",
                              "json")[1])["links"] == []


def test_a_move_from_a_state_the_link_is_no_longer_in_is_refused_saying_what_changed(loaded, region, run_cli):
    child, household = _singles(region)[0], _approved(region)[0]
    _drive(run_cli, loaded, child, household, "exploring")
    status, _, err = _move(run_cli, loaded, "explore", child, household, "--from", "proposed")
    assert status == 2
    assert "not proposed" in err and "exploring" in err and "nothing was changed" in err and " by " in err
    assert _move(run_cli, loaded, "link", child, household, "--from", "exploring")[0] == 0


def _rank(run_cli, db, *who):
    status, out, err = run_cli("rank", *who, "--db", db, "--top", "200", "--format", "json", "--as-of", AS_OF)
    return status, (json.loads(out) if status == 0 else err)


def _proposed_pairs(run_cli, db, path: Path) -> set[tuple[str, str]]:
    status, _, err = run_cli("propose", "--db", db, "--out", path, "--as-of", AS_OF)
    assert status == 0, err
    return {(r["unit_id"], r["household_id"]) for r in _rows(path)}


def _eligible_pair(run_cli, db, region):
    """A waiting single child with two other waiting singles that rank the
    same household, and that household."""
    singles = _singles(region)
    ranked = {c: {r["household_id"] for r in _rank(run_cli, db, "--child", c)[1]["results"]} for c in singles}
    for household in _approved(region):
        fans = [c for c in singles if household in ranked[c]]
        if len(fans) >= 2:
            return fans[0], fans[1], household
    raise AssertionError("the fixture region has no household ranked for two single children")


def test_statuses_follow_links(loaded, region, run_cli, tmp_path):
    child, other, household = _eligible_pair(run_cli, loaded, region)
    assert _move(run_cli, loaded, "propose", child, household)[0] == 0
    assert _move(run_cli, loaded, "explore", child, household)[0] == 0
    # Exploring: both still ranked elsewhere, and the ranking says a link is being explored.
    answer = _rank(run_cli, loaded, "--child", other)[1]
    shown = next(r for r in answer["results"] if r["household_id"] == household)
    assert shown["exploring"][0]["unit_id"] == child and shown["exploring"][0]["by"]
    assert all("exploring" not in r for r in answer["results"] if r["household_id"] != household)
    units = _rank(run_cli, loaded, "--household", household)[1]["results"]
    assert child in [r["unit_id"] for r in units]
    status, out, _ = run_cli("rank", "--child", other, "--db", loaded, "--top", "200", "--as-of", AS_OF)
    assert status == 0 and "is being explored" in out

    # Linked: neither is ranked or proposed elsewhere (hard rule 1), and their statuses say so.
    assert _move(run_cli, loaded, "link", child, household)[0] == 0
    assert household not in [r["household_id"] for r in _rank(run_cli, loaded, "--child", other)[1]["results"]]
    status, err = _rank(run_cli, loaded, "--child", child)
    assert status == 2 and "linked" in err
    status, err = _rank(run_cli, loaded, "--household", household)
    assert status == 2 and "linked" in err
    pairs = _proposed_pairs(run_cli, loaded, tmp_path / "a.csv")
    assert household not in {h for _, h in pairs} and child not in {u for u, _ in pairs}
    status, out, _ = run_cli("history", "--db", loaded, "--household", household, "--format", "json")
    assert json.loads(out)["versions"][-1]["changed"] == {"status": ["approved", "linked"]}
    for action, child_status, household_status in (("match", "matched", "matched"), ("close", "waiting", "approved")):
        assert _move(run_cli, loaded, action, child, household, "--reason", "panel")[0] == 0
        assert run_cli("export", "--db", loaded, "--out", tmp_path / action, "--force")[0] == 0
        assert {r["child_id"]: r["status"] for r in _rows(tmp_path / action / "children.csv")}[child] == child_status
        assert {r["household_id"]: r["status"] for r in _rows(tmp_path / action / "households.csv")}[household] \
            == household_status
    # Closed: both free again, ranked as before.
    assert household in [r["household_id"] for r in _rank(run_cli, loaded, "--child", other)[1]["results"]]
    assert household in [r["household_id"] for r in _rank(run_cli, loaded, "--child", child)[1]["results"]]


def test_a_linked_household_cannot_be_linked_to_another_unit(loaded, region, run_cli):
    child, other, household = _eligible_pair(run_cli, loaded, region)
    for unit in (child, other):
        _drive(run_cli, loaded, unit, household, "exploring")
    assert _move(run_cli, loaded, "link", child, household)[0] == 0
    status, _, err = _move(run_cli, loaded, "link", other, household)
    assert status == 2 and f"through the link of unit {child}" in err
    assert _state(run_cli, loaded, other, household)["state"] == "exploring"  # nothing half-done


def test_a_declined_pair_is_not_ranked_or_proposed_again_unless_reopened(loaded, region, run_cli, tmp_path):
    links = tmp_path / "links.csv"
    proposed = _proposed_pairs(run_cli, loaded, links)
    unit, household = next((u, h) for u, h in sorted(proposed) if u in _singles(region))
    assert _move(run_cli, loaded, "propose", unit, household)[0] == 0
    assert _move(run_cli, loaded, "decline", unit, household, "--reason", "the family said no")[0] == 0
    assert household not in [r["household_id"] for r in _rank(run_cli, loaded, "--child", unit)[1]["results"]]
    assert (unit, household) not in _proposed_pairs(run_cli, loaded, tmp_path / "again.csv")
    status, out, _ = run_cli("why-not", "--db", loaded, "--child", unit, "--household", household, "--format",
                             "json", "--as-of", AS_OF)
    violation = json.loads(out)["violations"][0]
    assert violation["rule"] == 0 and violation["rule_name"] == "excluded"
    assert "declined" in violation["message"] and "the family said no" in violation["message"]
    assert _move(run_cli, loaded, "reopen", unit, household, "--reason", "the family asked again")[0] == 0
    assert household in [r["household_id"] for r in _rank(run_cli, loaded, "--child", unit)[1]["results"]]


def test_the_register_wins_over_a_reimported_status(loaded, region, run_cli, tmp_path):
    child, _, household = _eligible_pair(run_cli, loaded, region)
    _drive(run_cli, loaded, child, household, "linked")
    rows = _rows(region[0])
    changed = next(r for r in rows if r["child_id"] != child and r["status"] == "waiting")
    changed["status"] = "placed"  # a status no link holds: the file's wins
    _write(tmp_path / "children.csv", rows)
    status, out, err = run_cli("import", "--db", loaded, "--children", tmp_path / "children.csv", "--households",
                               region[1], "--as-of", AS_OF)
    assert status == 0, err
    assert "children: 0 added, 1 updated" in out
    assert f"children: kept the register's status of 1 row that a link holds, over the file's: {child} linked " \
           f"(file: waiting)" in out
    assert f"{household} linked (file: approved)" in out
    run_cli("export", "--db", loaded, "--out", tmp_path / "out", "--force")
    statuses = {r["child_id"]: r["status"] for r in _rows(tmp_path / "out" / "children.csv")}
    assert statuses[child] == "linked" and statuses[changed["child_id"]] == "placed"
    homes = {r["household_id"]: r["status"] for r in _rows(tmp_path / "out" / "households.csv")}
    assert homes[household] == "linked"
    # Once the link is closed the register no longer holds the status: the file's counts again.
    assert _move(run_cli, loaded, "close", child, household, "--reason", "over")[0] == 0
    status, out, _ = run_cli("import", "--db", loaded, "--children", tmp_path / "children.csv", "--households",
                             region[1], "--as-of", AS_OF)
    assert status == 0 and "kept the register's status" not in out


def test_propose_record_records_links_in_one_transaction(loaded, region, run_cli, tmp_path):
    from matcher import api

    status, _, err = run_cli("propose", "--db", loaded, "--out", tmp_path / "links.csv", "--as-of", AS_OF,
                             "--record", "--user", "Ann Finder")
    assert status == 0, err
    written = {(r["child_ids"].split(";")[0], r["household_id"]) for r in _rows(tmp_path / "links.csv")}
    assert f"recorded {len(written)} links as proposed" in err
    listed = json.loads(run_cli("link", "list", "--db", loaded, "--format", "json")[1])["links"]
    assert {(x["child_ids"][0], x["household_id"]) for x in listed} == written
    assert {x["state"] for x in listed} == {"proposed"} and {x["last"]["acting_for"] for x in listed} == {"Ann Finder"}
    # Again: the open links are left as they are.
    status, _, err = run_cli("propose", "--db", loaded, "--out", tmp_path / "again.csv", "--as-of", AS_OF,
                             "--record")
    assert status == 0 and f"left {len(written)} already open" in err
    # A proposal made before the store changed is not recorded at all.
    import datetime as dt

    region_read = api.region_from_store(loaded, dt.date.fromisoformat(AS_OF))
    proposal = api.propose(region_read)
    child, household = sorted(written)[0]
    api.move_link(loaded, "close", child, household, reason="changed meanwhile")
    with pytest.raises(api.InputError, match="store changed"):
        api.record_proposal(loaded, region_read, proposal)
    assert len(api.list_links(loaded)) == len(written)
    status, _, err = run_cli("propose", "--children", region[0], "--households", region[1], "--out",
                             tmp_path / "files.csv", "--record")
    assert status == 2 and "--record" in err


WRITERS = 8
SECONDS = 3.0
# From each state, the moves a writer picks from (a cycle that never ends at placed).
CYCLE = {None: ("propose",), "proposed": ("explore", "close", "decline"), "exploring": ("link", "close"), "linked": ("match", "close"),
         "matched": ("close", "decline"), "declined": ("reopen",), "closed": ("reopen",)}


def test_concurrent_writers_lose_no_update(loaded, region, run_cli):
    from matcher import api

    pairs = list(zip(_singles(region)[:4], _approved(region)[:4]))
    for child, household in pairs[:3]:  # the fourth pair is proposed by the writers, racing
        assert _move(run_cli, loaded, "propose", child, household)[0] == 0
    accepted, rejected, failures = [], [], []
    lock = threading.Lock()
    stop = time.monotonic() + SECONDS

    def writer(number: int) -> None:
        rng = random.Random(number)
        while time.monotonic() < stop:
            child, household = rng.choice(pairs)
            try:
                try:
                    state = api.show_link(loaded, child, household)["state"]
                except api.InputError:  # no link yet
                    state = None
                action = rng.choice(CYCLE[state])
                done = api.move_link(loaded, action, child, household, reason=f"writer {number}",
                                     acting_for=f"writer {number}", from_state=state)
            except api.InputError as error:
                with lock:
                    rejected.append((child, household, str(error)))
            except Exception as error:  # noqa: BLE001 - any other failure fails the test
                with lock:
                    failures.append(repr(error))
            else:
                with lock:
                    accepted.append(done)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert failures == []
    assert accepted and rejected, (len(accepted), len(rejected))
    # Every rejected writer was told what changed.
    assert all("changed since it was read" in m or "is not" in m or "cannot propose" in m or "same moment" in m
               for *_, m in rejected), rejected[:3]
    total_added = 0
    for child, household in pairs:
        link = api.show_link(loaded, child, household)
        history = link["history"]
        mine = sorted((d for d in accepted if d["household_id"] == household), key=lambda d: d["version"])
        # Versions run 1, 2, ... with no gap; the first is the proposal made above (or by a writer).
        if household != pairs[3][1]:
            mine = [history[0]] + mine
        assert [e["version"] for e in history] == list(range(1, len(history) + 1)) == [d["version"] for d in mine]
        mine = mine[1:]
        assert link["version"] == len(history) and link["state"] == history[-1]["to_state"]
        for event, done in zip(history[1:], mine):
            assert (event["action"], event["from_state"], event["to_state"], event["acting_for"], event["at"]) == \
                (done["action"], done["from_state"], done["state"], done["acting_for"], done["at"])
        # Each move starts where the one before it ended: nothing was overwritten.
        assert all(a["to_state"] == b["from_state"] for a, b in zip(history, history[1:]))
        total_added += len(history) - (0 if household == pairs[3][1] else 1)
    assert total_added == len(accepted)


def test_a_together_group_moves_as_one_unit(loaded, region, run_cli, tmp_path):
    rows = _rows(region[0])
    groups: dict[str, list[dict]] = {}
    for r in rows:
        if r["sibling_group_id"] and r["sibling_plan"] == "together":
            groups.setdefault(r["sibling_group_id"], []).append(r)
    group, members = next((g, m) for g, m in sorted(groups.items()) if all(r["status"] == "waiting" for r in m))
    household = _approved(region)[0]
    first, last = members[0]["child_id"], members[-1]["child_id"]
    _drive(run_cli, loaded, first, household, "exploring")
    # Any child of the group names the same link.
    assert _state(run_cli, loaded, last, household)["unit_id"] == group
    assert _move(run_cli, loaded, "link", last, household)[0] == 0
    run_cli("export", "--db", loaded, "--out", tmp_path / "out", "--force")
    statuses = {r["child_id"]: r["status"] for r in _rows(tmp_path / "out" / "children.csv")}
    assert {statuses[r["child_id"]] for r in members} == {"linked"}


def test_writers_proposing_the_same_new_pair_at_once_make_one_link(loaded, region, run_cli):
    from matcher import api

    child, household = _singles(region)[0], _approved(region)[0]
    barrier = threading.Barrier(WRITERS)
    outcomes, lock = [], threading.Lock()

    def writer(number: int) -> None:
        barrier.wait()
        try:
            done = api.move_link(loaded, "propose", child, household, acting_for=f"writer {number}")
        except api.InputError as error:
            outcome = ("refused", str(error))
        except Exception as error:  # noqa: BLE001
            outcome = ("failed", repr(error))
        else:
            outcome = ("accepted", done["acting_for"])
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    kinds = [kind for kind, _ in outcomes]
    assert kinds.count("accepted") == 1 and kinds.count("refused") == WRITERS - 1, outcomes
    history = api.show_link(loaded, child, household)["history"]
    assert len(history) == 1 and history[0]["acting_for"] == next(x for k, x in outcomes if k == "accepted")
    assert all("proposed" in message or "same moment" in message for kind, message in outcomes if kind == "refused")


def test_an_excluded_pair_cannot_be_proposed_and_bad_options_are_named(loaded, region, run_cli):
    child, household = _singles(region)[0], _approved(region)[0]
    assert run_cli("exclude", "--db", loaded, "--child", child, "--household", household, "--reason", "kin")[0] == 0
    status, _, err = _move(run_cli, loaded, "propose", child, household)
    assert status == 2 and "excluded" in err and "kin" in err
    assert run_cli("link", "list", "--db", loaded)[1].startswith("0 links")
    other = _approved(region)[1]
    status, _, err = _move(run_cli, loaded, "propose", child, other, "--from", "nowhere")
    assert status == 2 and "--from" in err and "proposed, exploring" in err
    status, _, err = _move(run_cli, loaded, "propose", "NOBODY", other)
    assert status == 2 and "NOBODY" in err
    status, _, err = run_cli("link", "show", "--db", loaded, "--child", child, "--household", other)
    assert status == 2 and "no link" in err
    assert run_cli("link", "--help")[0] == 0
