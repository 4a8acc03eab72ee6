"""The pages of ``matcher serve`` on both back ends: logging in and out,
the children waiting, a child's ranked households and the actions on them,
a household's units, links, the audit; the headers of every response; each
protection (CSRF on every form, agency scope, the audit page's roles) has a
test that fails when it is removed."""

from __future__ import annotations

import csv
import re
from collections import Counter
from contextlib import ExitStack, contextmanager

import pytest
from fastapi.testclient import TestClient

from matcher import api
from matcher.web.app import COOKIE, create_app
from tests.conftest import AS_OF, write_region
from tests.store.conftest import throwaway_postgres_database

PASSWORD = "correct horse battery"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@contextmanager
def region_site(tmp_path_factory, backend: str, name: str, accounts):
    """A store on ``backend`` (``sqlite`` or ``postgresql``, a database of
    its own named after ``name``) holding a generated region, the
    ``accounts`` as (username, role, "own" / "other" / None), agency A being
    the agency with the most waiting children and B the next, and the app."""
    folder = tmp_path_factory.mktemp(name)
    region = write_region(folder, n_children=120, n_households=180)
    with ExitStack() as stack:
        if backend == "sqlite":
            db = str(folder / "register.sqlite3")
        else:
            db = stack.enter_context(throwaway_postgres_database(f"matcher_{name}"))
        api.init_store(db)
        api.import_files(region[0], region[1], AS_OF, db)
        children = _rows(region[0])
        waiting = [r for r in children if r["status"] == "waiting"]
        counts = Counter(r["agency_id"] for r in waiting)
        own, other = sorted(counts, key=lambda a: (-counts[a], a))[:2]
        agencies = {"own": own, "other": other, None: None}
        for username, role, agency in accounts:
            api.add_user(db, username, role, agencies[agency], PASSWORD)
        yield {"db": db, "app": create_app(db, as_of=AS_OF), "own": own, "other": other, "children": children,
               "waiting": waiting, "households": _rows(region[1])}
        api.close_store(db)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(request, tmp_path_factory):
    """A store (each back end, made once for the module: each test that
    changes it works on its own child) holding a generated region, with one
    account per role for agency A (the agency with the most waiting
    children), a family finder of another agency B, and the app."""
    with region_site(tmp_path_factory, request.param, "pages",
                     (("finder", "family_finder", "own"), ("manager", "agency_manager", "own"),
                      ("admin", "admin", None), ("stranger", "family_finder", "other"),
                      ("outsider", "agency_manager", "other"))) as made:
        yield made


def login_token(client: TestClient) -> str:
    """The token of the login form, as a browser gets it."""
    form = client.get("/login")
    assert form.status_code == 200
    return re.search(r'name="login_token" value="([^"]+)"', form.text).group(1)


def login(site, username: str) -> TestClient:
    """A client logged in through the login form."""
    client = TestClient(site["app"])
    token = login_token(client)
    answer = client.post("/login", data={"username": username, "password": PASSWORD, "login_token": token},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert client.cookies.get(COOKIE)
    return client


def csrf(client: TestClient, path: str = "/children") -> str:
    return TOKEN.search(client.get(path).text).group(1)


def ranked_child(site, agency: str, nth: int = 0) -> tuple[str, list[str]]:
    """The ``nth`` waiting child of ``agency`` (one per unit) with at least
    two ranked households, and those households (each test that changes the
    store takes its own child)."""
    region = api.region_from_store(site["db"], AS_OF)
    found = []
    for child in (u["child_ids"][0] for u in api.waiting_table(region, agency_id=agency)["units"]):
        answer = api.rank(region, child_id=child, options=api.QueryOptions(top=10))
        if len(answer["results"]) >= 2:
            found.append((child, [r["household_id"] for r in answer["results"]]))
            if len(found) > nth:
                return found[nth]
    raise AssertionError(f"fewer than {nth + 1} waiting units with two eligible households")


def test_every_response_has_the_security_headers(site):
    client = login(site, "finder")
    child, _ = ranked_child(site, site["own"])
    for path in ("/login", "/children", f"/children/{child}", "/links", "/static/htmx.min.js",
                 "/static/style.css", f"/api/children/{child}", "/openapi.json", "/no-such-page"):
        headers = client.get(path).headers
        policy = headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy, path
        assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy, path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY", path
        assert headers["referrer-policy"] == "no-referrer", path


def test_pages_send_a_visitor_without_a_session_to_the_login_page(site):
    client = TestClient(site["app"])
    child = site["waiting"][0]["child_id"]
    for path in ("/children", f"/children/{child}", "/links", "/audit", "/households/x"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login?next="), path


def test_the_login_form_needs_its_token(site):
    client = TestClient(site["app"])
    client.get("/login")
    answer = client.post("/login", data={"username": "finder", "password": PASSWORD}, follow_redirects=False)
    assert answer.status_code == 403 and not client.cookies.get(COOKIE)
    forged = client.post("/login", data={"username": "finder", "password": PASSWORD, "login_token": "guess"},
                         follow_redirects=False)
    assert forged.status_code == 403 and not client.cookies.get(COOKIE)


def test_a_form_from_another_site_is_refused_even_with_its_token(site):
    client = TestClient(site["app"])
    token = login_token(client)
    answer = client.post("/login", data={"username": "finder", "password": PASSWORD, "login_token": token},
                         headers={"Sec-Fetch-Site": "cross-site"}, follow_redirects=False)
    assert answer.status_code == 403 and not client.cookies.get(COOKIE)
    client = login(site, "finder")
    child, households = ranked_child(site, site["own"], 6)
    answer = client.post(f"/children/{child}/households/{households[0]}/decline",
                         data={"csrf_token": csrf(client), "reason": "x"}, headers={"Origin": "http://evil.example"})
    assert answer.status_code == 403 and api.list_links(site["db"], child_id=child) == ()


def test_a_wrong_password_shows_the_form_again_and_opens_no_session(site):
    client = TestClient(site["app"])
    token = login_token(client)
    answer = client.post("/login", data={"username": "finder", "password": "wrong", "login_token": token})
    assert answer.status_code == 401 and 'id="login-problem"' in answer.text
    assert not client.cookies.get(COOKIE)


def test_login_never_redirects_to_another_site(site):
    client = TestClient(site["app"])
    token = login_token(client)
    answer = client.post("/login", data={"username": "finder", "password": PASSWORD, "login_token": token,
                                         "next": "//evil.example/x"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/children"


def test_the_shell_names_the_user_and_logout_needs_the_csrf_token(site):
    client = login(site, "manager")
    page = client.get("/children").text
    assert "manager" in page and "agency manager" in page and site["own"] in page
    assert 'href="#main"' in page and 'id="main"' in page
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403
    assert client.get("/children", follow_redirects=False).status_code == 200  # still logged in
    answer = client.post("/logout", data={"csrf_token": csrf(client)}, follow_redirects=False)
    assert answer.status_code == 303
    assert client.get("/children", follow_redirects=False).status_code == 303


def test_children_waiting_are_the_own_agency_s_with_waits_flagged_against_the_thresholds(site):
    client = login(site, "finder")
    page = client.get("/children").text
    table = api.waiting_table(api.region_from_store(site["db"], AS_OF), agency_id=site["own"])
    assert table["units"] and table["care_threshold_days"] == 426 and table["order_threshold_days"] == 121
    for unit in table["units"]:
        assert f"<td>{unit['unit_id']}</td>" in page
    others = [r["child_id"] for r in site["waiting"] if r["agency_id"] != site["own"]]
    assert not any(f'href="/children/{c}"' in page for c in others)
    over = [u for u in table["units"] if u["over_care"]]
    assert over, "the generated region has units over the care threshold"
    assert page.count("over by") == sum(u["over_care"] for u in table["units"]) + sum(
        u["over_order"] for u in table["units"])
    first = over[0]
    assert f"over by {first['care_days'] - 426}" in page


def test_the_waiting_table_filters_with_and_without_htmx(site):
    client = login(site, "admin")
    table = api.waiting_table(api.region_from_store(site["db"], AS_OF))
    size = "2 children"
    wanted = [u["unit_id"] for u in table["units"] if u["size"] == size]
    assert wanted and len(wanted) < len(table["units"])
    full = client.get("/children", params={"size": size}).text
    part = client.get("/children", params={"size": size}, headers={"HX-Request": "true"}).text
    assert "<html" in full and "<html" not in part and part.lstrip().startswith('<section id="waiting"')
    restored = client.get("/children", params={"size": size},
                          headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}).text
    assert "<html" in restored  # going back in history needs the whole page
    for page in (full, part):
        shown = re.findall(r"<tr>\s*<td>([^<]+)</td>", page)
        assert shown == wanted
        assert f"{len(wanted)} of {len(table['units'])} waiting units shown" in page


def test_a_child_page_ranks_households_with_signed_reasons(site):
    client = login(site, "finder")
    child, households = ranked_child(site, site["own"], 4)
    page = client.get(f"/children/{child}").text
    answer = api.rank(api.region_from_store(site["db"], AS_OF), child_id=child, options=api.QueryOptions(top=10))
    positions = [page.index(f'id="household-{h}"') for h in households]
    assert positions == sorted(positions)
    first = answer["results"][0]
    block = page[positions[0]:positions[1] if len(positions) > 1 else len(page)]
    against = [d for d in first["reason_details"] if api.counts_against(d["points"], d["max_points"])]
    earned = [d for d in first["reason_details"] if not api.counts_against(d["points"], d["max_points"])]
    assert ("What counts against:" in block) == bool(against)
    assert ("What counts for:" in block) == bool(earned)
    if against:
        head = block.index("What counts against:")
        for d, text in zip(first["reason_details"], first["reasons"][1:]):
            where = block.index(_escaped(text))
            assert (where > head and ("What counts for:" not in block or where < block.index("What counts for:"))) \
                == api.counts_against(d["points"], d["max_points"])
    assert f"score {first['score']:.1f}" in block


def _escaped(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


def test_another_agency_s_child_is_not_found_on_every_page(site):
    client = login(site, "stranger")
    child, households = ranked_child(site, site["own"], 5)
    token = csrf(client)
    assert client.get(f"/children/{child}").status_code == 404
    assert client.get(f"/children/{child}/why-not", params={"household": households[0]}).status_code == 404
    assert client.get(f"/links/{child}/{households[0]}").status_code == 404
    for action in ("explore", "decline", "exclude"):
        answer = client.post(f"/children/{child}/households/{households[0]}/{action}",
                             data={"csrf_token": token, "reason": "not ours"})
        assert answer.status_code == 404, action
    assert api.list_links(site["db"], child_id=child) == ()
    assert client.get(f"/children/{child}").status_code == 404


def test_why_not_explains_a_household_in_full_and_as_a_fragment(site):
    client = login(site, "finder")
    child, households = ranked_child(site, site["own"], 3)
    region = api.region_from_store(site["db"], AS_OF)
    refused = next(h["household_id"] for h in site["households"]
                   if not api.why_not(region, child, h["household_id"])["eligible"])
    full = client.get(f"/children/{child}/why-not", params={"household": refused})
    assert full.status_code == 200 and "cannot be matched" in full.text and "<html" in full.text
    part = client.get(f"/children/{child}/why-not", params={"household": households[0]},
                      headers={"HX-Request": "true"})
    assert "<html" not in part.text and "is eligible" in part.text
    unknown = client.get(f"/children/{child}/why-not", params={"household": "<b>nope</b>"})
    assert unknown.status_code == 404 and "<b>nope</b>" not in unknown.text and "&lt;b&gt;nope" in unknown.text
    rows = api.audit_log(site["db"], child_id=child)
    assert any(r["action"] == "why-not" and r["how"] == "web" and r["acting_for"] == "finder"
               and r["household_id"] == refused for r in rows)


def test_decline_needs_the_csrf_token_and_a_reason_and_is_audited_as_web(site):
    client = login(site, "finder")
    child, households = ranked_child(site, site["own"], 0)
    target = households[0]
    path = f"/children/{child}/households/{target}/decline"
    assert client.post(path, data={"reason": "too far"}).status_code == 403
    assert client.post(path, data={"reason": "too far", "csrf_token": "forged"}).status_code == 403
    assert api.list_links(site["db"], child_id=child) == ()
    token = csrf(client, f"/children/{child}")
    assert client.post(path, data={"csrf_token": token, "reason": " "}).status_code == 400
    done = client.post(path, data={"csrf_token": token, "reason": "too far"}, follow_redirects=False)
    assert done.status_code == 303
    link = api.show_link(site["db"], child, target)
    assert link["state"] == "declined" and link["history"][-1]["reason"] == "too far"
    assert link["history"][-1]["acting_for"] == "finder"
    page = client.get(done.headers["location"]).text
    assert "Declined household" in page and f'id="household-{target}"' not in page
    rows = api.audit_log(site["db"], child_id=child)
    assert any(r["action"] == "link decline" and r["how"] == "web" and r["acting_for"] == "finder" for r in rows)


def test_explore_and_exclude_move_the_pair_through_the_domain_api(site):
    client = login(site, "finder")
    child, households = ranked_child(site, site["own"], 1)
    token = csrf(client, f"/children/{child}")
    assert client.post(f"/children/{child}/households/{households[0]}/explore", data={}).status_code == 403
    answer = client.post(f"/children/{child}/households/{households[0]}/explore", data={"csrf_token": token},
                         follow_redirects=False)
    assert answer.status_code == 303
    assert api.show_link(site["db"], child, households[0])["state"] == "exploring"
    again = client.post(f"/children/{child}/households/{households[0]}/explore", data={"csrf_token": token})
    assert again.status_code == 409  # exploring already: the domain API says what is legal
    assert client.post(f"/children/{child}/households/{households[1]}/exclude",
                       data={"reason": "known to the family"}).status_code == 403
    answer = client.post(f"/children/{child}/households/{households[1]}/exclude",
                         data={"csrf_token": token, "reason": "known to the family"}, follow_redirects=False)
    assert answer.status_code == 303
    region = api.region_from_store(site["db"], AS_OF)
    why = api.why_not(region, child, households[1])
    assert not why["eligible"] and why["violations"][0]["rule"] == 0
    rows = api.audit_log(site["db"], child_id=child)
    assert any(r["action"] == "exclude" and r["how"] == "web" and r["acting_for"] == "finder" for r in rows)


def test_links_and_their_history_are_the_own_agency_s(site):
    client = login(site, "finder")
    child, households = ranked_child(site, site["own"], 2)
    token = csrf(client, f"/children/{child}")
    client.post(f"/children/{child}/households/{households[0]}/decline",
                data={"csrf_token": token, "reason": "too far"})
    page = client.get("/links").text
    assert households[0] in page and "declined" in page and "too far" in page
    history = client.get(f"/links/{child}/{households[0]}").text
    assert "propose" in history and "decline" in history and "finder" in history
    stranger = login(site, "stranger")
    assert households[0] + "</td>" not in stranger.get("/links").text
    assert stranger.get(f"/links/{child}/{households[0]}").status_code == 404


def test_the_audit_page_is_for_managers_and_admins(site):
    finder = login(site, "finder")
    child, _ = ranked_child(site, site["own"])
    finder.get(f"/children/{child}")
    assert finder.get("/audit").status_code == 403
    assert 'href="/audit"' not in finder.get("/children").text
    for name in ("manager", "admin"):
        page = login(site, name).get("/audit")
        assert page.status_code == 200, name
        assert f"rank --child {child}" in page.text and "<td>finder</td>" in page.text
    assert login(site, "stranger").get("/audit").status_code == 403  # a family finder of B
    outsider = login(site, "outsider").get("/audit")  # a manager of B: no row about A's children
    assert outsider.status_code == 200 and f"rank --child {child}" not in outsider.text


def test_a_household_page_shows_only_the_own_agency_s_units(site):
    region = api.region_from_store(site["db"], AS_OF)
    household = next(h["household_id"] for h in site["households"] if h["status"] == "approved"
                     and {api.unit_agency(region, r["unit_id"]) for r in
                         api.rank(region, household_id=h["household_id"], options=api.QueryOptions(top=None))["results"]}
                     >= {site["own"], site["other"]})
    every = api.rank(region, household_id=household, options=api.QueryOptions(top=None))["results"]
    for name, agency in (("finder", site["own"]), ("stranger", site["other"])):
        page = login(site, name).get(f"/households/{household}").text
        shown = re.findall(r"Unit (\S+) \(", page)
        assert shown, name
        assert all(api.unit_agency(region, u) == agency for u in shown), name
        assert shown == [r["unit_id"] for r in every if api.unit_agency(region, r["unit_id"]) == agency][:10]
    record = api.household_record(region, household)
    page = login(site, "stranger").get(f"/households/{household}").text
    assert str(record["lat"]) not in page and str(record["lon"]) not in page
    placed = next(h["household_id"] for h in site["households"] if h["status"] != "approved")
    assert login(site, "finder").get(f"/households/{placed}").status_code == 409


def test_page_reads_are_audited_through_the_group_commit(site, monkeypatch):
    """A page's read writes its audit row through the API's group commit
    (one transaction for the rows of concurrent reads), before the page
    leaves: a page whose row cannot be written gives no answer."""
    client = login(site, "finder")
    child, households = ranked_child(site, site["own"], 3)
    write, written = api.audit_reads, []

    def recording(db, reads):
        reads = list(reads)
        written.extend((r.action, r.how, r.acting_for, r.child_id) for r in reads)
        write(db, reads)

    monkeypatch.setattr(api, "audit_reads", recording)
    assert client.get(f"/children/{child}").status_code == 200
    assert client.get(f"/children/{child}/why-not", params={"household": households[0]}).status_code == 200
    assert ("rank", "web", "finder", child) in written and ("why-not", "web", "finder", child) in written

    def broken(db, reads):
        raise OSError("disk full")

    monkeypatch.setattr(api, "audit_reads", broken)
    quiet = TestClient(site["app"], raise_server_exceptions=False)
    quiet.cookies = client.cookies
    answer = quiet.get(f"/children/{child}")
    assert answer.status_code == 500 and households[0] not in answer.text
