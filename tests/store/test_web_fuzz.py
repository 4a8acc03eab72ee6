"""schemathesis against the running web service (issue 13): a real uvicorn
server on a free loopback port over a store made by the fixtures (both back
ends), logged in so that the cases get past 401. Every operation of
``/openapi.json`` gets at least 100 generated cases, valid and invalid
(derandomized: the same cases on every run), each checked for no server
error and for a status code, content type and body that its OpenAPI
declares. The cases use the ids of real children and households part of the
time, so that the full answers (rankings, records of each role) are
checked too, not only the 404s of made-up ids."""

from __future__ import annotations

import collections
import socket
import threading
import time

import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from tests.store.test_web_api import PASSWORD, site  # noqa: F401  (the fixture)

CASES_PER_OPERATION = 100
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SESSIONS = {"fuzz-finder": ("family_finder", "own"), "fuzz-manager": ("agency_manager", "own"),
            "fuzz-admin": ("admin", None), "fuzz-stranger": ("family_finder", "other")}


@pytest.fixture
def live(site, monkeypatch):  # noqa: F811
    """The site's app served by uvicorn on 127.0.0.1 (a port the system
    picked), stopped after the test, with one fuzzing account per role
    (and one of another agency). Their password hashes, and the work
    spent on a login with an unknown name, use argon2 at its lowest cost:
    the hundreds of logins of a run would otherwise take minutes on a busy
    machine (the production cost is tested in test_web_api.py)."""
    from argon2 import PasswordHasher

    import matcher.store.accounts as accounts
    from matcher import api

    monkeypatch.setattr(accounts, "_hasher", lambda: PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    for name, (role, agency) in SESSIONS.items():
        api.add_user(site["db"], name, role, agency and site[agency], PASSWORD)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(site["app"], log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield {**site, "base": f"http://127.0.0.1:{port}"}
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def _login(base: str, username: str) -> tuple[requests.Session, str]:
    session = requests.Session()
    answer = session.post(f"{base}/api/login", json={"username": username, "password": PASSWORD}, timeout=30)
    assert answer.status_code == 200, answer.text
    return session, answer.json()["csrf_token"]


def _with_real_ids(case, child: str, household: str):
    """The case with its child and household ids replaced by real ones."""
    for where in (case.query, case.path_parameters):
        if where is None:
            continue
        for name, value in (("child", child), ("child_id", child), ("household", household),
                            ("household_id", household)):
            if name in where:
                where[name] = value
    return case


def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_openapi(live):
    base = live["base"]
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    sessions = {name: _login(base, name) for name in SESSIONS}
    children = sorted(r["child_id"] for r in live["children"])
    households = sorted(r["household_id"] for r in live["households"])
    calls: collections.Counter = collections.Counter()
    statuses: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {"POST /api/login", "POST /api/logout", "GET /api/rank",
                                               "GET /api/why-not", "GET /api/children/{child_id}",
                                               "GET /api/households/{household_id}"}
    for operation in operations:
        cases = st.one_of(operation.as_strategy(schemathesis.GenerationMode.POSITIVE),
                          operation.as_strategy(schemathesis.GenerationMode.NEGATIVE))

        @settings(max_examples=CASES_PER_OPERATION, derandomize=True, database=None, deadline=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=cases, who=st.sampled_from(sorted(SESSIONS)), real=st.integers(0, 3),
               child=st.sampled_from(children), household=st.sampled_from(households), right_token=st.booleans())
        def run(case, who, real, child, household, right_token):
            if real:  # three cases in four
                case = _with_real_ids(case, child, household)
            if operation.label == "POST /api/logout":
                # A logout ends its session: each gets a fresh one.
                session, csrf = _login(base, who)
            else:
                session, csrf = sessions[who]
            headers = {"X-CSRF-Token": csrf} if right_token else {}
            response = case.call_and_validate(base_url=base, session=session, headers=headers, checks=CHECKS,
                                              timeout=60)
            calls[operation.label] += 1
            statuses[operation.label][response.status_code] += 1

        started = time.perf_counter()
        run()
        print(f"{operation.label}: {calls[operation.label]} cases in {time.perf_counter() - started:.1f} s",
              dict(statuses[operation.label]))
    for operation in operations:
        assert calls[operation.label] >= CASES_PER_OPERATION, (operation.label, calls[operation.label])
    # The cases reached past the session check: every operation answered something but 401 too.
    for label, seen in statuses.items():
        assert set(seen) - {401}, (label, seen)
    assert statuses["GET /api/rank"][200] and statuses["GET /api/children/{child_id}"][200], dict(statuses)


def test_there_is_no_docs_page_the_csp_would_break_and_the_openapi_stays(site):  # noqa: F811
    from fastapi.testclient import TestClient

    client = TestClient(site["app"])
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        assert client.get(path).status_code == 404, path
    described = client.get("/openapi.json")
    assert described.status_code == 200 and "/api/rank" in described.json()["paths"]
