"""The web service's JSON API (CONTRACT.md, "Web service") on both back
ends: logins and their limit, sessions, CSRF, agency scope, redaction and
the audit. Each protection has a test that fails when it is removed."""

from __future__ import annotations

import csv
import io
import itertools
import json

import pytest
from fastapi.testclient import TestClient

from matcher import api
from matcher.web.app import COOKIE, create_app
from tests.conftest import AS_OF

PASSWORD = "correct horse battery"


def _rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def site(loaded, region, run_cli, monkeypatch):
    """The loaded store with one account per role for agency A (the agency
    of the first waiting child), one family finder of another agency B, and
    a client of the app."""
    children = _rows(region[0])
    waiting = [r for r in children if r["status"] == "waiting"]
    own = waiting[0]["agency_id"]
    other = next(r["agency_id"] for r in children if r["agency_id"] != own)
    for name, role, agency in (("finder", "family_finder", own), ("manager", "agency_manager", own),
                               ("admin", "admin", None), ("stranger", "family_finder", other)):
        monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
        args = ["user", "add", "--db", loaded, "--username", name, "--role", role]
        status, _, err = run_cli(*args, *(["--agency", agency] if agency else []))
        assert status == 0, err
    app = create_app(loaded, as_of=AS_OF)
    return {"db": loaded, "app": app, "own": own, "other": other, "children": children,
            "households": _rows(region[1])}


def _client(site) -> TestClient:
    return TestClient(site["app"])


def _login(site, username: str) -> tuple[TestClient, str]:
    client = _client(site)
    answer = client.post("/api/login", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return client, answer.json()["csrf_token"]


def _child_of(site, agency: str, waiting: bool = True) -> str:
    return next(r["child_id"] for r in site["children"] if r["agency_id"] == agency
                and (r["status"] == "waiting") == waiting)


def test_login_sets_an_httponly_strict_cookie_and_returns_a_csrf_token(site):
    client = _client(site)
    answer = client.post("/api/login", json={"username": "finder", "password": PASSWORD})
    assert answer.status_code == 200 and answer.json()["csrf_token"]
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and COOKIE in cookie
    assert client.post("/api/login", json={"username": "finder", "password": "wrong"}).status_code == 401
    assert client.post("/api/login", json={"username": "nobody", "password": PASSWORD}).status_code == 401


def test_every_api_request_but_login_needs_a_session(site):
    client = _client(site)
    child = _child_of(site, site["own"])
    household = site["households"][0]["household_id"]
    for path in (f"/api/rank?child={child}", f"/api/why-not?child={child}&household={household}",
                 f"/api/children/{child}", f"/api/households/{household}"):
        assert client.get(path).status_code == 401, path
    assert client.post("/api/logout").status_code == 401
    client.cookies.set(COOKIE, "made-up-token")
    assert client.get(f"/api/children/{child}").status_code == 401


def test_state_changing_requests_need_the_csrf_token(site):
    client, csrf = _login(site, "finder")
    assert client.post("/api/logout").status_code == 403
    assert client.post("/api/logout", headers={"X-CSRF-Token": "not-it"}).status_code == 403
    assert client.post("/api/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    # The session is over.
    assert client.get(f"/api/children/{_child_of(site, site['own'])}").status_code == 401


def test_answers_are_the_command_lines_json(site, run_cli):
    client, _ = _login(site, "finder")
    child = _child_of(site, site["own"])
    household = next(r["household_id"] for r in site["households"] if r["status"] == "approved")
    answer = client.get(f"/api/rank?child={child}&top=5")
    assert answer.status_code == 200
    status, out, err = run_cli("rank", "--db", site["db"], "--child", child, "--top", "5", "--as-of", AS_OF,
                               "--format", "json")
    assert status == 0, err
    assert answer.json() == json.loads(out)
    answer = client.get(f"/api/why-not?child={child}&household={household}")
    status, out, _ = run_cli("why-not", "--db", site["db"], "--child", child, "--household", household, "--as-of",
                             AS_OF, "--format", "json")
    assert answer.status_code == 200 and answer.json() == json.loads(out)
    record = client.get(f"/api/children/{child}").json()
    source = next(r for r in site["children"] if r["child_id"] == child)
    assert record["child_id"] == child and record["agency_id"] == source["agency_id"]
    assert record["date_of_birth"] == source["date_of_birth"]
    assert client.get("/api/rank?child=" + child + "&top=0").status_code == 400


def test_agency_scope_and_redaction_for_every_role(site):
    """Every endpoint x role x agency: out-of-scope requests are denied and
    no redacted field appears."""
    own_child, other_child = _child_of(site, site["own"]), _child_of(site, site["other"])
    own_home = next(r for r in site["households"] if r["agency_id"] == site["own"])
    other_home = next(r for r in site["households"] if r["agency_id"] != site["own"])
    clients = {name: _login(site, name)[0] for name in ("finder", "manager", "admin", "stranger")}
    agency = {"finder": site["own"], "manager": site["own"], "admin": None, "stranger": site["other"]}
    for (name, client), child in itertools.product(clients.items(), (own_child, other_child)):
        child_agency = site["own"] if child == own_child else site["other"]
        allowed = name == "admin" or agency[name] == child_agency
        for path in (f"/api/rank?child={child}", f"/api/children/{child}",
                     f"/api/why-not?child={child}&household={own_home['household_id']}"):
            status = client.get(path).status_code
            assert (status == 200) if allowed else (status in (403, 404)), (name, path, status)
        record = client.get(f"/api/children/{child}")
        if not allowed:
            assert "birth_family" not in record.text and "min_distance_km" not in record.text
    for (name, client), home in itertools.product(clients.items(), (own_home, other_home)):
        answer = client.get(f"/api/households/{home['household_id']}")
        assert answer.status_code == 200
        sees_location = name == "admin" or agency[name] == home["agency_id"]
        assert ("lat" in answer.json() and "lon" in answer.json()) == sees_location, (name, home["agency_id"])
        assert answer.json()["max_children"] == int(home["max_children"])
    # A household's location never appears in a ranking seen by another agency.
    ranking = clients["finder"].get(f"/api/rank?child={own_child}&top=50").json()
    homes = {r["household_id"]: r for r in site["households"]}
    for result in ranking["results"]:
        home = homes[result["household_id"]]
        if home["agency_id"] != site["own"]:
            assert f"{float(home['lat']):.2f}" not in json.dumps(result) or home["lat"] in (None, "")


def test_login_limit_is_per_account_and_lifts_after_the_window(site, monkeypatch):
    client = _client(site)
    for _ in range(5):
        assert client.post("/api/login", json={"username": "finder", "password": "wrong"}).status_code == 401
    locked = client.post("/api/login", json={"username": "finder", "password": PASSWORD})
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    # Another account behind the same address is not affected.
    assert client.post("/api/login", json={"username": "manager", "password": PASSWORD}).status_code == 200
    # After the window the right password works again.
    import datetime as dt

    import matcher.store.accounts as accounts

    later = dt.datetime.now(dt.timezone.utc) + accounts.LOGIN_WINDOW + dt.timedelta(seconds=5)
    monkeypatch.setattr(accounts, "_now", lambda: later)
    assert client.post("/api/login", json={"username": "finder", "password": PASSWORD}).status_code == 200


def test_a_disabled_account_is_logged_out_at_once_and_cannot_log_in(site, run_cli):
    client, _ = _login(site, "finder")
    child = _child_of(site, site["own"])
    assert client.get(f"/api/children/{child}").status_code == 200
    status, _, err = run_cli("user", "disable", "--db", site["db"], "--username", "finder")
    assert status == 0, err
    assert client.get(f"/api/children/{child}").status_code == 401
    assert _client(site).post("/api/login", json={"username": "finder", "password": PASSWORD}).status_code == 401
    assert run_cli("user", "enable", "--db", site["db"], "--username", "finder")[0] == 0
    assert _login(site, "finder")[0].get(f"/api/children/{child}").status_code == 200


def test_reads_are_audited_with_the_account_and_web(site):
    client, _ = _login(site, "finder")
    child = _child_of(site, site["own"])
    assert client.get(f"/api/rank?child={child}").status_code == 200
    assert client.get(f"/api/children/{child}").status_code == 200
    rows = [r for r in api.audit_log(site["db"], child_id=child)]
    assert [r["action"] for r in rows][-2:] == ["rank", "child record"]
    assert all(r["how"] == "web" and r["acting_for"] == "finder" for r in rows[-2:])


def test_passwords_are_stored_only_as_argon2_hashes_and_sessions_only_as_digests(site):
    import sqlalchemy as sa

    from matcher.store.engine import engine_for, store_url

    client, _ = _login(site, "finder")
    token = client.cookies.get(COOKIE)
    with engine_for(store_url(site["db"])).connect() as connection:
        hashes = [r[0] for r in connection.execute(sa.text("SELECT password_hash FROM users"))]
        sessions = [r[0] for r in connection.execute(sa.text("SELECT token_sha256 FROM web_sessions"))]
    assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)
    assert token not in sessions and len(sessions) >= 1


def test_user_add_refuses_bad_input_and_the_openapi_describes_every_endpoint(site, run_cli, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    status, _, err = run_cli("user", "add", "--db", site["db"], "--username", "x", "--role", "family_finder",
                             "--agency", site["own"])
    assert status == 2 and "12 characters" in err
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    status, _, err = run_cli("user", "add", "--db", site["db"], "--username", "finder", "--role", "admin")
    assert status == 2 and "not taken" in err
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    status, _, err = run_cli("user", "add", "--db", site["db"], "--username", "y", "--role", "family_finder")
    assert status == 2 and "agency" in err
    paths = _client(site).get("/openapi.json").json()["paths"]
    assert {"/api/login", "/api/logout", "/api/rank", "/api/why-not", "/api/children/{child_id}",
            "/api/households/{household_id}"} <= set(paths)


def test_a_session_ends_when_it_expires(site, monkeypatch):
    import datetime as dt

    import matcher.store.accounts as accounts

    client, _ = _login(site, "finder")
    child = _child_of(site, site["own"])
    assert client.get(f"/api/children/{child}").status_code == 200
    later = dt.datetime.now(dt.timezone.utc) + accounts.SESSION_LIFETIME + dt.timedelta(seconds=5)
    monkeypatch.setattr(accounts, "_now", lambda: later)
    assert client.get(f"/api/children/{child}").status_code == 401
