"""A generated test of agency scope and redaction (issue 13): every JSON
endpoint of the app's route table x role (family finder, agency manager,
admin, no session) x agency of what the request names (the user's own,
another, none: an unknown id), on both back ends.

The endpoints come from the app itself: a new ``/api/`` route that
:data:`ENDPOINTS` does not know how to call fails
:func:`test_the_table_knows_every_api_route`. Every request out of scope
must be denied (401, 403 or 404), every request in scope answered 200, and
no redacted value (a household's ``lat``/``lon`` outside its agency; a
child's ``birth_family_lat``/``birth_family_lon``/``min_distance_km``
outside the child's agency) may appear anywhere in any answer: the region's
coordinates and safety distances are made distinct (each moved by a few
hundred-thousandths), so a leaked value is found wherever it hides, under
any key or inside a message. Two more tests remove a scope check and a
redaction from the running app and see the matrix catch each."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Callable

import polars as pl
import pytest
from fastapi.testclient import TestClient
from starlette.routing import Route

from matcher import api
from matcher.web.app import create_app
from tests.conftest import AS_OF, write_region

PASSWORD = "correct horse battery"
ROLES = ("family_finder", "agency_manager", "admin", "no session")
AGENCIES = ("own", "other", "unknown")
UNKNOWN = {"child": "C-NOT-THERE", "household": "H-NOT-THERE"}
DENIED = (401, 403, 404)


@dataclass(frozen=True)
class Endpoint:
    """How the matrix calls one JSON endpoint: what it names (``child``,
    ``household``), the request for given ids, and (for an endpoint about no
    child or household) the status every caller gets."""

    names: tuple[str, ...]
    request: Callable[[dict], tuple[str, str, dict]]
    fixed_status: Callable[[str], int] | None = None


ENDPOINTS: dict[tuple[str, str], Endpoint] = {
    # A login with a wrong password, and a logout without the CSRF token: denied for everyone.
    ("POST", "/api/login"): Endpoint((), lambda ids: ("POST", "/api/login", {"json": {
        "username": "nobody-here", "password": "not the password"}}), lambda role: 401),
    ("POST", "/api/logout"): Endpoint((), lambda ids: ("POST", "/api/logout", {}),
                                      lambda role: 401 if role == "no session" else 403),
    ("GET", "/api/rank"): Endpoint(("child",), lambda ids: ("GET", "/api/rank", {"params": {
        "child": ids["child"], "top": "1000"}})),
    ("GET", "/api/why-not"): Endpoint(("child", "household"), lambda ids: ("GET", "/api/why-not", {"params": {
        "child": ids["child"], "household": ids["household"]}})),
    ("GET", "/api/children/{child_id}"): Endpoint(("child",), lambda ids: (
        "GET", f"/api/children/{ids['child']}", {})),
    ("GET", "/api/households/{household_id}"): Endpoint(("household",), lambda ids: (
        "GET", f"/api/households/{ids['household']}", {})),
}


def api_routes(app) -> set[tuple[str, str]]:
    """(method, path) of every route of ``app`` under /api/."""
    return {(method, route.path) for route in app.routes if isinstance(route, Route)
            and route.path.startswith("/api/") for method in (route.methods or ()) if method != "HEAD"}


# --- the site: a region whose redacted values are all distinct ------------------------------------------------------

LOCATION = ("lat", "lon")
BIRTH_FAMILY = ("birth_family_lat", "birth_family_lon", "min_distance_km")


def _distinct_region(folder) -> tuple:
    """The fixtures' region with every coordinate and safety distance moved
    by its own few hundred-thousandths, so no two are equal."""
    children, households = write_region(folder)
    step = itertools.count(1)
    for path, columns in ((children, ("lat", "lon") + BIRTH_FAMILY), (households, LOCATION)):
        frame = pl.read_csv(path, infer_schema=False)
        for column in columns:
            frame = frame.with_columns(pl.Series(column, [
                v if v in (None, "") else f"{float(v) + next(step) * 1e-5:.5f}" for v in frame[column]]))
        frame.write_csv(path)
    return children, households


@pytest.fixture
def scoped(ready_store, tmp_path, run_cli):
    children, households = _distinct_region(tmp_path)
    status, _, err = run_cli("import", "--db", ready_store, "--children", children, "--households", households,
                             "--as-of", AS_OF)
    assert status == 0, err
    kids = pl.read_csv(children, infer_schema=False).to_dicts()
    homes = pl.read_csv(households, infer_schema=False).to_dicts()
    # Children with a birth family and a safety distance: their hiding from other agencies is tested.
    waiting = [r for r in kids if r["status"] == "waiting" and all(r[f] not in (None, "") for f in BIRTH_FAMILY)]
    own = waiting[0]["agency_id"]
    other = next(r["agency_id"] for r in waiting if r["agency_id"] != own)
    targets = {
        "child": {"own": waiting[0]["child_id"], "other": next(r["child_id"] for r in waiting
                                                              if r["agency_id"] == other)},
        "household": {"own": next(r["household_id"] for r in homes if r["agency_id"] == own),
                      "other": next(r["household_id"] for r in homes if r["agency_id"] == other)},
    }
    users = {"family_finder": own, "agency_manager": own, "admin": None}
    for role, agency in users.items():
        api.add_user(ready_store, role, role, agency, PASSWORD)
    return {"db": ready_store, "own": own, "children": kids, "households": homes, "targets": targets}


def _clients(app) -> dict[str, TestClient]:
    clients = {"no session": TestClient(app)}
    for role in ROLES[:3]:
        client = TestClient(app)
        assert client.post("/api/login", json={"username": role, "password": PASSWORD}).status_code == 200
        clients[role] = client
    return clients


# --- what each role may not see -------------------------------------------------------------------------------------

def _hidden(scoped, role: str) -> dict[float, str]:
    """Every redacted value the role may not see, with what it is."""
    sees = (lambda agency: True) if role == "admin" else (lambda agency: role != "no session"
                                                          and agency == scoped["own"])
    hidden = {}
    for rows, id_column, fields in ((scoped["households"], "household_id", LOCATION),
                                    (scoped["children"], "child_id", BIRTH_FAMILY)):
        for row in rows:
            if not sees(row["agency_id"]):
                hidden.update({float(row[f]): f"{f} of {row[id_column]}" for f in fields if row[f] not in (None, "")})
    return hidden


def _leaks(body, hidden: dict[float, str], scoped, role: str) -> list[str]:
    """The redacted values found anywhere in a JSON body: as a number, inside
    a string, or as a key of another agency's household or child."""
    agency_of = {r["household_id"]: r["agency_id"] for r in scoped["households"]}
    agency_of.update({r["child_id"]: r["agency_id"] for r in scoped["children"]})
    texts = {f"{value:.5f}".rstrip("0"): what for value, what in hidden.items()}
    found = []

    def walk(value, where: str) -> None:
        if isinstance(value, dict):
            for id_key, fields in (("household_id", LOCATION), ("child_id", BIRTH_FAMILY)):
                owner = value.get(id_key)
                if (isinstance(owner, str) and role != "admin" and agency_of.get(owner) != scoped["own"]
                        and set(fields) & set(value)):
                    found.append(f"{where}: {sorted(set(fields) & set(value))} of {owner}")
            for key, item in value.items():
                walk(item, f"{where}.{key}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{where}[{i}]")
        elif isinstance(value, float) and value in hidden:
            found.append(f"{where}: {hidden[value]} ({value})")
        elif isinstance(value, str):
            found.extend(f"{where}: {what} ({text}) in {value!r}" for text, what in texts.items() if text in value)

    walk(body, "$")
    return found


# --- the matrix -----------------------------------------------------------------------------------------------------

def _expected(endpoint: Endpoint, role: str, agencies: dict[str, str]) -> str:
    """"allowed", "denied" (out of scope) or "unknown" (in scope, naming an id that does not exist)."""
    if role == "no session":
        return "denied"
    if agencies.get("child") == "other" and role != "admin":
        return "denied"
    if "unknown" in agencies.values():
        return "unknown"
    return "allowed"


def run_matrix(app, scoped) -> tuple[list[str], dict[str, int]]:
    """Every endpoint x role x agency of what it names: the problems found
    and the count of requests of each kind."""
    clients = _clients(app)
    hidden = {role: _hidden(scoped, role) for role in ROLES}
    problems, counts = [], {"allowed": 0, "denied": 0, "unknown": 0, "fixed": 0}
    for (method, path), endpoint in sorted(ENDPOINTS.items()):
        for role in ROLES:
            for chosen in itertools.product(AGENCIES, repeat=len(endpoint.names)):
                agencies = dict(zip(endpoint.names, chosen))
                ids = {name: UNKNOWN[name] if agency == "unknown" else scoped["targets"][name][agency]
                       for name, agency in agencies.items()}
                verb, url, kwargs = endpoint.request(ids)
                answer = clients[role].request(verb, url, **kwargs)
                what = f"{method} {path} as {role} about {agencies or 'nothing'} ({ids}): {answer.status_code}"
                if endpoint.fixed_status is not None:
                    kind, ok = "fixed", answer.status_code == endpoint.fixed_status(role)
                else:
                    kind = _expected(endpoint, role, agencies)
                    ok = {"allowed": answer.status_code == 200, "denied": answer.status_code in DENIED,
                          "unknown": answer.status_code == 404}[kind]
                counts[kind] += 1
                if not ok:
                    problems.append(f"{kind} but answered {what} {answer.text[:200]}")
                if answer.content:
                    body = answer.json()
                    problems.extend(f"leak in {what}: {leak}" for leak in _leaks(body, hidden[role], scoped, role))
    return problems, counts


def test_every_endpoint_role_and_agency_is_scoped_and_redacted(scoped):
    problems, counts = run_matrix(create_app(scoped["db"], as_of=AS_OF), scoped)
    assert not problems, "\n".join(problems)
    # 4 roles x (3 + 9 + 3 + 3 targets) + 2 x 4 fixed; all 18 requests without a session and 5 of each
    # agency role's are out of scope.
    assert counts == {"allowed": 22, "denied": 28, "unknown": 22, "fixed": 8}, counts


def test_the_table_knows_every_api_route(scoped):
    app = create_app(scoped["db"], as_of=AS_OF)
    routes = api_routes(app)
    assert routes - set(ENDPOINTS) == set(), "add these routes to ENDPOINTS in tests/store/test_web_scope.py"
    assert set(ENDPOINTS) - routes == set(), "ENDPOINTS names routes the app does not have"

    # A route added later is noticed.
    @app.get("/api/something-new")
    def something_new():
        return {}

    assert api_routes(app) - set(ENDPOINTS) == {("GET", "/api/something-new")}


def test_the_matrix_catches_a_scope_check_removed(scoped, monkeypatch):
    """With the agency check of a child gone, out-of-scope requests succeed
    and the other agency's birth-family fields leak: the matrix says so."""
    whole = api.child_in_scope
    monkeypatch.setattr(api, "child_in_scope", lambda region, child_id, agency_id: whole(region, child_id, None))
    problems, _ = run_matrix(create_app(scoped["db"], as_of=AS_OF), scoped)
    other = scoped["targets"]["child"]["other"]
    assert any(p.startswith("denied but answered GET /api/children/{child_id} as family_finder") for p in problems)
    assert any(p.startswith("denied but answered GET /api/rank as agency_manager") for p in problems)
    assert any("leak in" in p and f"birth_family_lat of {other}" in p for p in problems), problems


def test_the_matrix_catches_a_redaction_removed(scoped, monkeypatch):
    """With a household answered in full to every agency, its location
    leaks: the matrix says so."""
    import matcher.web.app as web

    monkeypatch.setattr(web, "HouseholdForMatching", web.HouseholdRecord)
    problems, _ = run_matrix(create_app(scoped["db"], as_of=AS_OF), scoped)
    other = scoped["targets"]["household"]["other"]
    assert problems and all("leak in GET /api/households/{household_id}" in p for p in problems), problems
    assert any(f"lat of {other}" in p for p in problems)


def test_the_region_s_redacted_values_are_distinct(scoped):
    """The leak search relies on it: no redacted value equals any other
    coordinate or distance of the region."""
    values = [float(r[f]) for r in scoped["children"] for f in ("lat", "lon") + BIRTH_FAMILY if r[f] not in (None, "")]
    values += [float(r[f]) for r in scoped["households"] for f in LOCATION]
    assert len(values) == len(set(values))
    assert json.dumps(_hidden(scoped, "family_finder"))  # some values are hidden from a family finder
