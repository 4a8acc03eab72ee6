"""The web service's group commit of audit rows (matcher.web.app.AuditGroup),
on both back ends: rows of reads that come during a commit go together in
the next one, each read returns only once its own row is committed, and a
read whose row cannot be written gives no answer. Also the headers the
app's own ASGI middleware puts on every response."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from matcher import api
from matcher.web.app import AuditGroup, create_app
from tests.conftest import AS_OF

READERS = 8


def test_reads_during_a_commit_share_the_next_and_each_waits_for_its_own_row(loaded, monkeypatch):
    group = AuditGroup(loaded)
    write = api.audit_reads
    release, committed, groups = threading.Event(), set(), []

    def slow_first(db, reads):
        reads = list(reads)
        groups.append(len(reads))
        if len(groups) == 1:
            assert release.wait(60)
        write(db, reads)
        committed.update(r.acting_for for r in reads)

    monkeypatch.setattr(api, "audit_reads", slow_first)
    seen_at_return, errors = {}, []

    def read(i: int) -> None:
        try:
            with api.acting(how="web", acting_for=f"reader{i}"):
                group.record("child record", f"child record C{i}", child_id=f"C{i}")
            seen_at_return[i] = f"reader{i}" in committed
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    first = threading.Thread(target=read, args=(0,))
    first.start()
    deadline = time.monotonic() + 60
    while not groups:  # the first commit is under way
        assert time.monotonic() < deadline
        time.sleep(0.01)
    others = [threading.Thread(target=read, args=(i,)) for i in range(1, READERS)]
    for thread in others:
        thread.start()
    while len(group._waiting) < READERS - 1:  # all of them wait behind it
        assert time.monotonic() < deadline
        time.sleep(0.01)
    release.set()
    for thread in [first, *others]:
        thread.join(60)
    assert not errors, errors
    assert groups == [1, READERS - 1], groups
    assert seen_at_return == {i: True for i in range(READERS)}
    rows = [r for r in api.audit_log(loaded) if r["action"] == "child record"]
    assert sorted((r["acting_for"], r["how"], r["child_id"]) for r in rows) == sorted(
        (f"reader{i}", "web", f"C{i}") for i in range(READERS))


def test_a_read_whose_audit_row_cannot_be_written_gives_no_answer(loaded, run_cli, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    assert run_cli("user", "add", "--db", loaded, "--username", "boss", "--role", "admin")[0] == 0
    client = TestClient(create_app(loaded, as_of=AS_OF), raise_server_exceptions=False)
    assert client.post("/api/login", json={"username": "boss", "password": "correct horse battery"}).status_code == 200
    child = api.region_from_store(loaded, AS_OF).children["child_id"][0]
    assert client.get(f"/api/children/{child}").status_code == 200

    def broken(db, reads):
        raise OSError("disk full")

    monkeypatch.setattr(api, "audit_reads", broken)
    answer = client.get(f"/api/children/{child}")
    assert answer.status_code == 500 and child not in answer.text
    with pytest.raises(RuntimeError, match="audit row"):
        AuditGroup(loaded).record("rank", "rank", child_id=child)


def test_every_response_says_how_it_may_be_cached(loaded):
    client = TestClient(create_app(loaded, as_of=AS_OF))
    assert client.get("/openapi.json").headers["cache-control"] == "no-store"
    assert client.get("/api/rank?child=x").headers["cache-control"] == "no-store"
    assert client.get("/static/style.css").headers["cache-control"] == "no-cache"


def test_a_document_with_a_stricter_policy_of_its_own_keeps_it(loaded):
    from fastapi.responses import HTMLResponse

    app = create_app(loaded, as_of=AS_OF)
    strict = "default-src 'none'; style-src 'self'"

    @app.get("/strict-document")
    def strict_document():
        return HTMLResponse("<p>x</p>", headers={"Content-Security-Policy": strict})

    client = TestClient(app)
    assert client.get("/strict-document").headers["content-security-policy"] == strict
    assert client.get("/openapi.json").headers["content-security-policy"].startswith("default-src 'self'")
