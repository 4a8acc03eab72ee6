"""The account pages of ``matcher serve`` on both back ends: changing
one's password, the admin's accounts page (add, disable, enable, reset a
password that must then be replaced), the link page's moves with their
stale-form check, and lifting exclusions. Each protection (CSRF on every
new form, the admin-only page, the forced new password, agency scope, the
stale-form check, ending the other sessions) has a test that fails when it
is removed."""

from __future__ import annotations

import io
import itertools
import re

import pytest
from fastapi.testclient import TestClient

from matcher import api
from matcher.web.app import COOKIE
from tests.conftest import AS_OF
from tests.web.test_pages import PASSWORD, csrf, login, login_token, ranked_child, region_site

NEW_PASSWORD = "a much better passphrase"
TEMPORARY = "temporary passphrase 1"
_names = itertools.count(1)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(request, tmp_path_factory):
    """A store (each back end, made once for the module) holding a
    generated region, an admin, a family finder and a manager of agency A
    (the agency with the most waiting children), a family finder of agency
    B, and the app. Tests that change an account make their own."""
    with region_site(tmp_path_factory, request.param, "accounts",
                     (("finder", "family_finder", "own"), ("manager", "agency_manager", "own"),
                      ("admin", "admin", None), ("stranger", "family_finder", "other"))) as made:
        yield made


def unused_child(site) -> tuple[str, list[str]]:
    """A waiting child of agency A with at least two ranked households and
    no link or exclusion yet (each test that moves links takes its own),
    and those households."""
    region = api.region_from_store(site["db"], AS_OF)
    for child in (u["child_ids"][0] for u in api.waiting_table(region, agency_id=site["own"])["units"]):
        answer = api.rank(region, child_id=child, options=api.QueryOptions(top=10))
        if (len(answer["results"]) >= 2 and api.list_links(site["db"], child_id=child) == ()
                and not api.exclusions_in_force(site["db"], [child])):
            return child, [r["household_id"] for r in answer["results"]]
    raise AssertionError("no waiting unit left without links and with two eligible households")


def fresh_user(site, role: str = "family_finder", agency: str | None = "own") -> str:
    """A new account of its own for a test that changes it."""
    name = f"user{next(_names)}"
    api.add_user(site["db"], name, role, site[agency] if agency else None, PASSWORD)
    return name


def _post_login(site, username: str, password: str) -> tuple[TestClient, object]:
    client = TestClient(site["app"])
    answer = client.post("/login", data={"username": username, "password": password,
                                         "login_token": login_token(client)}, follow_redirects=False)
    return client, answer


def login_with(site, username: str, password: str) -> TestClient:
    client, answer = _post_login(site, username, password)
    assert answer.status_code == 303, answer.text
    return client


def login_refused(site, username: str, password: str) -> bool:
    client, answer = _post_login(site, username, password)
    return answer.status_code == 401 and not client.cookies.get(COOKIE)


def logged_in(client: TestClient) -> bool:
    answer = client.get("/children", follow_redirects=False)
    assert answer.status_code in (200, 303)
    return answer.status_code == 200


def user_row(site, username: str) -> dict:
    return next(u for u in api.list_users(site["db"]) if u["username"] == username)


def change(client: TestClient, current: str, new: str, again: str | None = None, token: str | None = "page"):
    data = {"current_password": current, "new_password": new, "new_password_again": new if again is None else again}
    if token == "page":
        token = csrf(client, "/account/password")
    if token is not None:
        data["csrf_token"] = token
    return client.post("/account/password", data=data, follow_redirects=False)


# --- one's own password --------------------------------------------------------------------------------------------

def test_changing_the_password_ends_the_other_sessions_and_is_audited(site):
    name = fresh_user(site)
    here, elsewhere = login_with(site, name, PASSWORD), login_with(site, name, PASSWORD)
    answer = change(here, PASSWORD, NEW_PASSWORD)
    assert answer.status_code == 303 and answer.headers["location"] == "/account/password?done=1"
    assert "Your password is changed" in here.get(answer.headers["location"]).text
    assert logged_in(here)  # this session stays
    assert not logged_in(elsewhere)  # the other one has ended
    assert login_refused(site, name, PASSWORD)
    assert logged_in(login_with(site, name, NEW_PASSWORD))
    rows = api.audit_log(site["db"], user=name)
    assert any(r["action"] == "change password" and r["how"] == "web" and r["acting_for"] == name for r in rows)
    assert user_row(site, name)["password_changed_at"] is not None


def test_a_wrong_current_password_or_a_bad_new_one_changes_nothing(site):
    name = fresh_user(site)
    client, other = login_with(site, name, PASSWORD), login_with(site, name, PASSWORD)
    wrong = change(client, "not my password at all", NEW_PASSWORD)
    assert wrong.status_code == 400 and 'id="password-problem"' in wrong.text and "current password" in wrong.text
    differ = change(client, PASSWORD, NEW_PASSWORD, again=NEW_PASSWORD + "x")
    assert differ.status_code == 400 and "differ" in differ.text
    short = change(client, PASSWORD, "short")
    assert short.status_code == 400 and "at least 12" in short.text
    same = change(client, PASSWORD, PASSWORD)
    assert same.status_code == 400 and "other than the current" in same.text
    assert logged_in(client) and logged_in(other)
    assert login_refused(site, name, NEW_PASSWORD)
    assert logged_in(login_with(site, name, PASSWORD))
    rows = api.audit_log(site["db"], user=name)
    assert any(r["action"] == "password refused" and r["how"] == "web" for r in rows)


def test_a_wrong_current_password_counts_against_the_login_limit(site):
    name = fresh_user(site)
    client = login_with(site, name, PASSWORD)
    for _ in range(5):
        assert change(client, "not my password at all", NEW_PASSWORD).status_code == 400
    # The account is now over its limit: the right password changes nothing, and logging in is refused.
    assert change(client, PASSWORD, NEW_PASSWORD).status_code == 400
    fresh = TestClient(site["app"])
    token = login_token(fresh)
    answer = fresh.post("/login", data={"username": name, "password": PASSWORD, "login_token": token})
    assert answer.status_code == 429
    assert user_row(site, name)["password_changed_at"] is None


def test_the_password_form_needs_the_csrf_token(site):
    name = fresh_user(site)
    client = login_with(site, name, PASSWORD)
    assert change(client, PASSWORD, NEW_PASSWORD, token=None).status_code == 403
    assert change(client, PASSWORD, NEW_PASSWORD, token="forged").status_code == 403
    assert login_refused(site, name, NEW_PASSWORD)
    assert logged_in(login_with(site, name, PASSWORD))


# --- the admin's accounts page -------------------------------------------------------------------------------------

def test_the_accounts_page_and_its_forms_are_for_admins_only(site):
    target = fresh_user(site)
    for name in ("finder", "manager", "stranger"):
        client = login(site, name)
        assert client.get("/admin/users").status_code == 403, name
        assert 'href="/admin/users"' not in client.get("/children").text
        token = csrf(client)
        for path, data in (("/admin/users", {"username": f"sneaky-{name}", "role": "admin", "password": TEMPORARY,
                                             "password_again": TEMPORARY}),
                           (f"/admin/users/{target}/disable", {}),
                           (f"/admin/users/{target}/reset-password", {"password": TEMPORARY,
                                                                       "password_again": TEMPORARY})):
            answer = client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)
            assert answer.status_code == 403, (name, path)
    names = {u["username"]: u for u in api.list_users(site["db"])}
    assert not any(n.startswith("sneaky") for n in names)
    assert not names[target]["disabled"] and not names[target]["must_change_password"]
    assert logged_in(login_with(site, target, PASSWORD))
    page = login(site, "admin").get("/admin/users")
    assert page.status_code == 200
    for user in ("finder", "manager", "stranger", target):
        assert f'id="user-{user}"' in page.text
    assert "argon2" not in page.text


def test_the_admin_adds_an_account_and_the_form_needs_the_csrf_token(site):
    admin = login(site, "admin")
    data = {"username": "added1", "role": "agency_manager", "agency": site["own"], "password": TEMPORARY,
            "password_again": TEMPORARY}
    assert admin.post("/admin/users", data=data).status_code == 403
    assert "added1" not in {u["username"] for u in api.list_users(site["db"])}
    token = csrf(admin, "/admin/users")
    differ = admin.post("/admin/users", data={**data, "csrf_token": token, "password_again": "x"})
    assert differ.status_code == 400 and "differ" in differ.text
    no_agency = admin.post("/admin/users", data={**data, "csrf_token": token, "agency": ""})
    assert no_agency.status_code == 400 and "agency" in no_agency.text
    answer = admin.post("/admin/users", data={**data, "csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303
    row = user_row(site, "added1")
    assert row["role"] == "agency_manager" and row["agency_id"] == site["own"] and row["last_login_at"] is None
    assert admin.post("/admin/users", data={**data, "csrf_token": token}).status_code == 400  # taken
    assert logged_in(login_with(site, "added1", TEMPORARY))
    assert user_row(site, "added1")["last_login_at"] is not None
    rows = api.audit_log(site["db"], user="admin")
    assert any(r["action"] == "add user" and r["how"] == "web" and "added1" in r["what"] for r in rows)


def test_disabling_ends_the_sessions_at_once_and_enabling_lets_the_user_in_again(site):
    name = fresh_user(site)
    victim = login_with(site, name, PASSWORD)
    admin = login(site, "admin")
    token = csrf(admin, "/admin/users")
    assert admin.post(f"/admin/users/{name}/disable", data={}).status_code == 403
    assert logged_in(victim)
    answer = admin.post(f"/admin/users/{name}/disable", data={"csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303 and "Disabled" in admin.get(answer.headers["location"]).text
    assert not logged_in(victim)
    assert user_row(site, name)["disabled"] and user_row(site, name)["sessions"] == 0
    assert login_refused(site, name, PASSWORD)
    assert admin.post(f"/admin/users/{name}/enable", data={}).status_code == 403
    assert admin.post(f"/admin/users/{name}/enable", data={"csrf_token": token}).status_code == 200
    assert logged_in(login_with(site, name, PASSWORD))
    assert admin.post("/admin/users/admin/disable", data={"csrf_token": token}).status_code == 409
    assert admin.post("/admin/users/nobody-here/disable", data={"csrf_token": token}).status_code == 404
    rows = api.audit_log(site["db"], user="admin")
    assert any(r["action"] == "disable user" and r["how"] == "web" and name in r["what"] for r in rows)


def test_a_reset_password_must_be_replaced_before_anything_else(site):
    name = fresh_user(site)
    before = login_with(site, name, PASSWORD)
    admin = login(site, "admin")
    token = csrf(admin, "/admin/users")
    path = f"/admin/users/{name}/reset-password"
    assert admin.post(path, data={"password": TEMPORARY, "password_again": TEMPORARY}).status_code == 403
    assert logged_in(before) and not user_row(site, name)["must_change_password"]
    assert admin.post(path, data={"csrf_token": token, "password": "short", "password_again": "short"}) \
        .status_code == 400
    answer = admin.post(path, data={"csrf_token": token, "password": TEMPORARY, "password_again": TEMPORARY},
                        follow_redirects=False)
    assert answer.status_code == 303
    ended = before.get("/account/password", follow_redirects=False)  # the reset ended the account's sessions
    assert ended.status_code == 303 and ended.headers["location"].startswith("/login?next=")
    assert user_row(site, name)["sessions"] == 0
    assert user_row(site, name)["must_change_password"]
    assert login_refused(site, name, PASSWORD)

    client = login_with(site, name, TEMPORARY)
    child, households = ranked_child(site, site["own"])
    for page in ("/children", f"/children/{child}", "/links", "/exclusions", "/admin/users", f"/links/{child}/x",
                 "/proposals", "/report"):
        moved = client.get(page, follow_redirects=False)
        assert moved.status_code == 303 and moved.headers["location"] == "/account/password", page
        assert "default-src 'self'" in moved.headers["content-security-policy"]
    forced = client.get("/account/password")
    assert forced.status_code == 200 and 'id="must-set"' in forced.text
    api_client = TestClient(site["app"])
    assert api_client.post("/api/login", json={"username": name, "password": TEMPORARY}).status_code == 200
    for call in (f"/api/rank?child={child}", f"/api/children/{child}", f"/api/why-not?child={child}&household="
                                                                        f"{households[0]}"):
        refused = api_client.get(call)
        assert refused.status_code == 403 and "set a new password first" in refused.json()["detail"], call
    assert api.audit_log(site["db"], child_id=child, user=name) == ()  # nothing was read for the account

    assert change(client, TEMPORARY, NEW_PASSWORD).status_code == 303
    assert not user_row(site, name)["must_change_password"]
    assert logged_in(client)
    assert client.get(f"/children/{child}").status_code == 200
    assert api_client.get(f"/api/children/{child}").status_code == 401  # the other session ended with the change
    assert api_client.post("/api/login", json={"username": name, "password": NEW_PASSWORD}).status_code == 200
    assert api_client.get(f"/api/children/{child}").status_code == 200
    rows = api.audit_log(site["db"], user="admin")
    assert any(r["action"] == "reset password" and r["how"] == "web" and name in r["what"] for r in rows)


def test_logging_out_still_works_before_the_new_password_is_set(site):
    name = fresh_user(site)
    api.reset_password(site["db"], name, TEMPORARY)
    client = login_with(site, name, TEMPORARY)
    token = csrf(client, "/account/password")
    answer = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    api_client = TestClient(site["app"])
    csrf_token = api_client.post("/api/login", json={"username": name, "password": TEMPORARY}).json()["csrf_token"]
    assert api_client.post("/api/logout", headers={"X-CSRF-Token": csrf_token}).status_code == 204


def test_the_cli_resets_a_password_from_standard_input(site, run_cli, monkeypatch):
    name = fresh_user(site)
    monkeypatch.setattr("sys.stdin", io.StringIO(TEMPORARY + "\n"))
    status, out, err = run_cli("user", "reset-password", "--db", site["db"], "--username", name)
    assert status == 0, err
    assert "must set a new password" in out and user_row(site, name)["must_change_password"]
    assert login_refused(site, name, PASSWORD)
    client = login_with(site, name, TEMPORARY)
    assert client.get("/children", follow_redirects=False).headers["location"] == "/account/password"
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    status, _, err = run_cli("user", "reset-password", "--db", site["db"], "--username", name)
    assert status == 2 and "12" in err
    monkeypatch.setattr("sys.stdin", io.StringIO(TEMPORARY + "\n"))
    status, _, err = run_cli("user", "reset-password", "--db", site["db"], "--username", "nobody-here")
    assert status == 2 and "nobody-here" in err


# --- a link's moves ------------------------------------------------------------------------------------------------

def _form_of(page: str) -> tuple[str, str]:
    state = re.search(r'name="from_state" value="([^"]+)"', page).group(1)
    version = re.search(r'name="from_version" value="([^"]+)"', page).group(1)
    return state, version


def move(client: TestClient, child: str, household: str, action: str, reason: str | None = None,
         seen: tuple[str, str] | None = None, token: str | None = "page"):
    path = f"/links/{child}/{household}"
    page = client.get(path).text
    state, version = seen or _form_of(page)
    data = {"action": action, "from_state": state, "from_version": version}
    if token == "page":
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    if token is not None:
        data["csrf_token"] = token
    if reason is not None:
        data["reason"] = reason
    return client.post(path + "/move", data=data, follow_redirects=False)


def test_the_link_page_moves_a_link_through_its_lifecycle(site):
    client = login(site, "finder")
    child, households = unused_child(site)
    with api.acting(how="web", acting_for="finder"):
        api.move_link(site["db"], "propose", child, households[0])
    for action, state in (("explore", "exploring"), ("link", "linked"), ("match", "matched"), ("place", "placed")):
        page = client.get(f"/links/{child}/{households[0]}").text
        assert f'name="action" value="{action}"' in page
        answer = move(client, child, households[0], action)
        assert answer.status_code == 303, answer.text
        link = api.show_link(site["db"], child, households[0])
        assert link["state"] == state
        assert link["history"][-1]["acting_for"] == "finder"
    assert "No move is legal from placed" in client.get(f"/links/{child}/{households[0]}").text
    rows = api.audit_log(site["db"], child_id=child)
    for action in ("explore", "link", "match", "place"):
        assert any(r["action"] == f"link {action}" and r["how"] == "web" and r["acting_for"] == "finder"
                   for r in rows), action


def test_decline_close_and_reopen_need_a_reason(site):
    client = login(site, "finder")
    child, households = unused_child(site)
    with api.acting(how="web", acting_for="finder"):
        api.move_link(site["db"], "propose", child, households[0])
    page = client.get(f"/links/{child}/{households[0]}").text
    assert {'value="explore"', 'value="decline"', 'value="close"'} <= set(re.findall(r'value="[a-z]+"', page))
    assert move(client, child, households[0], "decline").status_code == 400
    assert move(client, child, households[0], "decline", reason="  ").status_code == 400
    assert api.show_link(site["db"], child, households[0])["state"] == "proposed"
    assert move(client, child, households[0], "decline", reason="too far").status_code == 303
    link = api.show_link(site["db"], child, households[0])
    assert link["state"] == "declined" and link["history"][-1]["reason"] == "too far"
    page = client.get(f"/links/{child}/{households[0]}").text
    assert 'value="reopen"' in page and 'value="explore"' not in page
    assert move(client, child, households[0], "reopen").status_code == 400
    assert move(client, child, households[0], "reopen", reason="family asked again").status_code == 303
    assert api.show_link(site["db"], child, households[0])["state"] == "proposed"
    assert move(client, child, households[0], "close", reason="child placed elsewhere").status_code == 303
    assert api.show_link(site["db"], child, households[0])["state"] == "closed"
    illegal = move(client, child, households[0], "place")
    assert illegal.status_code == 409 and "cannot place" in illegal.text


def test_a_stale_link_form_is_refused_saying_what_changed(site):
    client = login(site, "finder")
    child, households = unused_child(site)
    with api.acting(how="web", acting_for="finder"):
        api.move_link(site["db"], "propose", child, households[0])
    seen = _form_of(client.get(f"/links/{child}/{households[0]}").text)
    with api.acting(how="cli", acting_for="colleague"):
        api.move_link(site["db"], "explore", child, households[0])
    stale = move(client, child, households[0], "decline", reason="too far", seen=seen)
    assert stale.status_code == 409
    assert "changed since the page was read" in stale.text and "it is now exploring" in stale.text
    assert "colleague" in stale.text
    assert api.show_link(site["db"], child, households[0])["state"] == "exploring"
    # Back at the same state by other moves: the version still tells.
    seen = _form_of(stale.text)  # the page shown with the refusal is the link as it is now
    assert seen[0] == "exploring"
    with api.acting(how="cli", acting_for="colleague"):
        api.move_link(site["db"], "decline", child, households[0], reason="not now")
        api.move_link(site["db"], "reopen", child, households[0], reason="now after all")
        api.move_link(site["db"], "explore", child, households[0])
    again = move(client, child, households[0], "link", seen=seen)
    assert again.status_code == 409 and "it is now exploring" in again.text
    link = api.show_link(site["db"], child, households[0])
    assert link["state"] == "exploring" and link["history"][-1]["acting_for"] == "colleague"


def test_link_moves_need_the_csrf_token_and_stay_in_the_own_agency(site):
    child, households = unused_child(site)
    with api.acting(how="web", acting_for="finder"):
        api.move_link(site["db"], "propose", child, households[0])
    client = login(site, "finder")
    assert move(client, child, households[0], "explore", token=None).status_code == 403
    assert move(client, child, households[0], "explore", token="forged").status_code == 403
    stranger = login(site, "stranger")
    seen = _form_of(client.get(f"/links/{child}/{households[0]}").text)
    answer = stranger.post(f"/links/{child}/{households[0]}/move",
                           data={"csrf_token": csrf(stranger), "action": "explore", "from_state": seen[0],
                                 "from_version": seen[1]})
    assert answer.status_code == 404
    assert api.show_link(site["db"], child, households[0])["state"] == "proposed"


# --- exclusions ----------------------------------------------------------------------------------------------------

def test_lifting_an_exclusion_ranks_the_pair_again(site):
    client = login(site, "finder")
    child, households = unused_child(site)
    target = households[0]
    with api.acting(how="web", acting_for="finder"):
        api.exclude(site["db"], child, target, "known to the family")
    region = api.region_from_store(site["db"], AS_OF)
    assert target not in [r["household_id"] for r in api.rank(region, child_id=child)["results"]]
    page = client.get("/exclusions").text
    assert f'id="exclusion-{child}-{target}"' in page and "known to the family" in page
    stranger = login(site, "stranger")
    assert f'id="exclusion-{child}-{target}"' not in stranger.get("/exclusions").text
    path = f"/exclusions/{child}/{target}/lift"
    assert stranger.post(path, data={"csrf_token": csrf(stranger), "reason": "not ours"}).status_code == 404
    assert client.post(path, data={"reason": "checked again"}).status_code == 403
    token = csrf(client, "/exclusions")
    assert client.post(path, data={"csrf_token": token, "reason": " "}).status_code == 400
    assert api.exclusions_in_force(site["db"], [child])
    answer = client.post(path, data={"csrf_token": token, "reason": "checked again"}, follow_redirects=False)
    assert answer.status_code == 303
    assert "Lifted the exclusion" in client.get(answer.headers["location"]).text
    assert not api.exclusions_in_force(site["db"], [child])
    region = api.region_from_store(site["db"], AS_OF)
    assert target in [r["household_id"] for r in api.rank(region, child_id=child)["results"]]
    assert client.post(path, data={"csrf_token": token, "reason": "again"}).status_code == 409  # not excluded now
    rows = api.audit_log(site["db"], child_id=child)
    assert any(r["action"] == "lift exclusion" and r["how"] == "web" and r["acting_for"] == "finder"
               and "checked again" in r["what"] for r in rows)


def test_the_new_pages_send_a_visitor_without_a_session_to_the_login_page(site):
    client = TestClient(site["app"])
    for path in ("/account/password", "/admin/users", "/exclusions"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next="), path


# --- the migration -------------------------------------------------------------------------------------------------

def test_a_store_at_the_accounts_revision_is_migrated_keeping_its_accounts(ready_store, run_cli):
    from alembic import command
    from alembic.config import Config

    from matcher.store import schema
    from matcher.store.engine import dispose_all, store_url
    from matcher.store.register import _transaction, migrations_folder

    api.add_user(ready_store, "old", "family_finder", "A", PASSWORD)
    config = Config()
    config.set_main_option("script_location", str(migrations_folder()))
    config.set_main_option("path_separator", "os")
    with _transaction(store_url(ready_store), write=True, admin=True) as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0003_accounts")
    dispose_all()
    with pytest.raises(api.InputError, match="db init"):
        api.web_login(ready_store, "old", PASSWORD)
    status, out, err = run_cli("db", "init", "--db", ready_store)
    assert status == 0, err
    assert schema.SCHEMA_REVISION == "0004_password_changes"
    row = next(u for u in api.list_users(ready_store) if u["username"] == "old")
    assert row["last_login_at"] is None and row["password_changed_at"] is None
    assert api.web_login(ready_store, "old", PASSWORD).account.username == "old"
    assert next(u for u in api.list_users(ready_store) if u["username"] == "old")["last_login_at"] is not None
