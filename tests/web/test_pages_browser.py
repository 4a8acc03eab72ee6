"""The pages in a real browser: headless Chromium (Playwright) against a
real uvicorn server on 127.0.0.1 over a SQLite store. A family finder logs
in, filters the children waiting (HTMX), opens a child's ranking, asks why
not for a household (HTMX), declines a household with a reason; the agency
manager then sees the decline in the audit. No console error, no request
leaving the server, and axe-core (vendored: ``axe.min.js``, 4.14.1, MPL-2.0)
finds no serious or critical accessibility violation on any page."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from matcher import api
from matcher.web.app import create_app
from tests.browser import browser  # noqa: F401
from tests.conftest import AS_OF, write_region

PASSWORD = "correct horse battery"
AXE = Path(__file__).with_name("axe.min.js")
AXE_PATH = "/__test__/axe.min.js"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """uvicorn serving the app in a thread over a SQLite store: its base
    URL, the store and the agency's accounts."""
    import uvicorn

    folder = tmp_path_factory.mktemp("served")
    children, households = write_region(folder, n_children=120, n_households=180)
    db = str(folder / "register.sqlite3")
    api.init_store(db)
    api.import_files(children, households, AS_OF, db)
    region = api.region_from_store(db, AS_OF)
    units = api.waiting_table(region)["units"]
    pick = None
    for unit in units:
        answer = api.rank(region, child_id=unit["child_ids"][0], options=api.QueryOptions(top=10))
        refused = next((h for h in region.households["household_id"].to_list()
                        if not api.why_not(region, unit["child_ids"][0], h)["eligible"]), None)
        if len(answer["results"]) >= 2 and refused is not None:
            pick = (unit["agency_id"], unit["child_ids"][0], answer["results"][0]["household_id"], refused)
            break
    assert pick is not None
    agency = pick[0]
    api.add_user(db, "finder", "family_finder", agency, PASSWORD)
    api.add_user(db, "manager", "agency_manager", agency, PASSWORD)
    port = _free_port()
    config = uvicorn.Config(create_app(db, as_of=AS_OF), host="127.0.0.1", port=port, log_level="warning")
    served = uvicorn.Server(config)
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not served.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield {"base": f"http://127.0.0.1:{port}", "db": db, "child": pick[1], "household": pick[2],
               "refused": pick[3]}
    finally:
        served.should_exit = True
        thread.join(timeout=10)
        api.close_store(db)


class Watched:
    """A page with every console error, every request and every request
    blocked for leaving the server."""

    def __init__(self, browser, base: str):
        self.base = base
        self.page = browser.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.blocked: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.route("**/*", self._gate)

    def _gate(self, route):
        url = route.request.url
        if url == self.base + AXE_PATH:
            route.fulfill(path=str(AXE), content_type="text/javascript")
        elif url.startswith(self.base + "/"):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)
        self.page.wait_for_load_state("networkidle")

    def axe(self) -> list[str]:
        """The serious and critical violations axe-core finds on the page."""
        if not self.page.evaluate("typeof window.axe !== 'undefined'"):
            self.page.add_script_tag(url=self.base + AXE_PATH)  # same origin: the page's CSP allows it
        found = self.page.evaluate("""async () => (await axe.run(document)).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => v.id + ': ' + v.help + ' (' + v.nodes.map(n => n.target.join(' ')).join(', ') + ')')""")
        return [f"{self.page.url}: {v}" for v in found]

    def check(self) -> None:
        assert self.errors == [], self.errors
        assert self.blocked == [], self.blocked
        assert all(u.startswith(self.base + "/") for u in self.requests), self.requests


def _log_in(w: Watched, username: str) -> None:
    w.go("/login")
    w.page.get_by_label("User name").fill(username)
    w.page.get_by_label("Password").fill(PASSWORD)
    w.page.get_by_role("button", name="Log in").click()
    w.page.wait_for_load_state("networkidle")
    assert w.page.url == w.base + "/children", (w.page.url, w.page.locator("main").inner_text(), w.errors)


def test_a_family_finder_declines_a_household_and_the_manager_sees_it_in_the_audit(browser, server):  # noqa: F811
    w = Watched(browser, server["base"])
    violations = []
    w.go("/login")
    violations += w.axe()
    _log_in(w, "finder")
    assert "finder" in w.page.locator("header").inner_text()
    violations += w.axe()

    # The filters refresh the table in place (HTMX) and the child is in the list.
    before = w.page.locator("#waiting .count").inner_text()
    w.page.get_by_label("Group size").select_option("1 child")
    w.page.wait_for_function("before => document.querySelector('#waiting .count').textContent !== before",
                             arg=before)
    assert "size=1+child" in w.page.url or "size=1%20child" in w.page.url
    w.page.get_by_label("Group size").select_option("")
    w.page.wait_for_function("before => document.querySelector('#waiting .count').textContent === before",
                             arg=before)
    child = server["child"]
    w.page.locator(f'#waiting a[href="/children/{child}"]').click()
    w.page.wait_for_url(f"{w.base}/children/{child}")
    household = server["household"]
    assert w.page.locator(f"#household-{household}").count() == 1
    violations += w.axe()

    # Why not, answered in place.
    w.page.get_by_label("Household id").fill(server["refused"])
    w.page.get_by_role("button", name="Explain").click()
    w.page.locator("#why-not-answer .violations").wait_for()
    assert "cannot be matched" in w.page.locator("#why-not-answer").inner_text()
    assert w.page.url == f"{w.base}/children/{child}"  # no page load: HTMX swapped the answer in

    # Decline with a reason.
    w.page.get_by_label(f"Reason to decline {household}").fill("lives too far from school")
    w.page.get_by_role("button", name="Decline").first.click()
    w.page.wait_for_load_state("networkidle")
    assert "Declined household" in w.page.locator("main").inner_text()
    assert w.page.locator(f"#household-{household}").count() == 0
    w.go("/links")
    assert "lives too far from school" in w.page.locator("main").inner_text()
    violations += w.axe()
    w.go(f"/links/{child}/{household}")
    violations += w.axe()
    w.go(f"/households/{household}")
    violations += w.axe()

    # Log out, log in as the manager, see the decline in the audit.
    w.page.get_by_role("button", name="Log out").click()
    w.page.wait_for_url(w.base + "/login")
    _log_in(w, "manager")
    w.go("/audit")
    rows = w.page.locator("table.audit tbody tr").all_inner_texts()
    decline = [r for r in rows if "link decline" in r and child in r]
    assert decline and "finder" in decline[0] and "web" in decline[0] and "lives too far from school" in decline[0]
    violations += w.axe()
    w.check()
    assert violations == [], violations
    w.page.close()


def test_the_skip_link_and_controls_work_from_the_keyboard(browser, server):  # noqa: F811
    w = Watched(browser, server["base"])
    w.go("/login")
    w.page.keyboard.press("Tab")
    assert w.page.evaluate("document.activeElement.textContent") == "Skip to the main content"
    outline = w.page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    w.page.keyboard.press("Enter")
    w.page.keyboard.press("Tab")
    assert w.page.evaluate("document.activeElement.id") == "username"
    w.page.keyboard.type("finder")
    w.page.keyboard.press("Tab")
    w.page.keyboard.type(PASSWORD)
    w.page.keyboard.press("Enter")
    w.page.wait_for_url(w.base + "/children")
    w.check()
    w.page.close()
