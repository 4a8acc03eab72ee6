"""The account pages, the link page's moves and the exclusions page in a
real browser (headless Chromium through Playwright, a real uvicorn server
over SQLite; see test_pages_browser.py): an admin resets a family finder's
password on the accounts page; the family finder, logging in with the
temporary one, lands on the password page and sets a new one; then moves a
link and lifts an exclusion. No console error, no request leaving the
server, and axe-core finds no serious or critical violation on any of
these pages."""

from __future__ import annotations

from matcher import api
from tests.browser import browser  # noqa: F401
from tests.web.test_pages_browser import PASSWORD, Watched, server  # noqa: F401

TEMPORARY = "temporary passphrase 1"
NEW_PASSWORD = "a much better passphrase"


def _log_in(w: Watched, username: str, password: str) -> None:
    w.go("/login")
    w.page.get_by_label("User name").fill(username)
    w.page.get_by_label("Password", exact=True).fill(password)
    w.page.get_by_role("button", name="Log in").click()
    w.page.wait_for_load_state("networkidle")


def test_a_reset_password_is_replaced_then_a_link_moves_and_an_exclusion_is_lifted(browser, server):  # noqa: F811
    db, child, household = server["db"], server["child"], server["household"]
    api.add_user(db, "boss", "admin", None, PASSWORD)
    with api.acting(how="cli"):
        api.move_link(db, "propose", child, household)
        api.exclude(db, child, server["refused"], "known to the family")
    w = Watched(browser, server["base"])
    violations = []

    _log_in(w, "boss", PASSWORD)
    w.go("/admin/users")
    violations += w.axe()
    w.page.get_by_label("Temporary password for finder").fill(TEMPORARY)
    w.page.locator('form[action="/admin/users/finder/reset-password"]').get_by_label("Again").fill(TEMPORARY)
    w.page.get_by_role("button", name="Reset the password of finder").click()
    w.page.wait_for_load_state("networkidle")
    assert "Reset the password of finder" in w.page.locator("#users-note").inner_text()
    w.page.get_by_role("button", name="Log out").click()
    w.page.wait_for_url(w.base + "/login")

    _log_in(w, "finder", TEMPORARY)
    assert w.page.url == w.base + "/account/password"
    assert "reset your password" in w.page.locator("#must-set").inner_text()
    violations += w.axe()
    w.page.get_by_label("Current password").fill(TEMPORARY)
    w.page.get_by_label("New password (at least 12 characters)").fill(NEW_PASSWORD)
    w.page.get_by_label("New password again").fill(NEW_PASSWORD)
    w.page.get_by_role("button", name="Change the password").click()
    w.page.wait_for_load_state("networkidle")
    assert "Your password is changed" in w.page.locator("#password-done").inner_text()

    w.go(f"/links/{child}/{household}")
    violations += w.axe()
    w.page.get_by_role("button", name="Explore").click()
    w.page.wait_for_load_state("networkidle")
    assert "exploring" in w.page.locator("main p").first.inner_text()
    assert api.show_link(db, child, household)["state"] == "exploring"

    w.go("/exclusions")
    violations += w.axe()
    w.page.get_by_label(f"Reason to lift the exclusion of {child} and {server['refused']}").fill("checked again")
    w.page.get_by_role("button", name="Lift").click()
    w.page.wait_for_load_state("networkidle")
    assert "Lifted the exclusion" in w.page.locator("#exclusions-note").inner_text()
    assert not api.exclusions_in_force(db, [child])
    violations += w.axe()
    w.check()
    assert violations == [], violations
    w.page.close()
