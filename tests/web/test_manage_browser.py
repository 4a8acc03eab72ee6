"""The managers' pages in a real browser (headless Chromium through
Playwright, against uvicorn on 127.0.0.1 over a SQLite store): a manager
runs a batch proposal, watches it (HTMX polling), accepts its links; plans
an exchange day and makes the report. The report and the printable pages
load under their own Content-Security-Policy without a console error (a
blocked inline style would be one), and axe-core finds no serious or
critical violation on the proposal, job, exchange-day and report pages."""

from __future__ import annotations

from matcher import api
from tests.browser import browser  # noqa: F401
from tests.web.test_pages_browser import AXE_PATH, Watched, _log_in, server  # noqa: F401

WAIT_MS = 240_000


class Unguarded(Watched):
    """A page that ignores Content-Security-Policy (so that axe-core can be
    added to a document whose policy allows no script at all), logged in
    with the cookies of ``logged_in``."""

    def __init__(self, browser, base: str, logged_in: Watched):  # noqa: F811
        context = browser.new_context(bypass_csp=True)
        context.add_cookies(logged_in.page.context.cookies())
        self.base = base
        self.page = context.new_page()
        self.errors, self.requests, self.blocked = [], [], []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.route("**/*", self._gate)


def _wait_for_the_job(w: Watched) -> None:
    """The job page polls (HTMX) until the job is over, then shows it whole."""
    w.page.wait_for_url(f"{w.base}/jobs/*")
    w.page.wait_for_function("() => /State: (done|failed|cancelled)/.test(document.querySelector('#job-status')"
                             ".textContent) && !document.querySelector('[hx-trigger]')", timeout=WAIT_MS)
    w.page.wait_for_load_state("networkidle")


def _document_axe(browser, w: Watched, path: str) -> list[str]:  # noqa: F811
    """Open a whole document of ours (the report, a printable page) under
    its own policy: no console error; then axe-core on it, policy aside."""
    w.go(path)
    assert w.errors == [], (path, w.errors)
    loose = Unguarded(browser, w.base, w)
    loose.go(path)
    found = loose.axe()
    loose.page.context.close()
    return found


def test_a_manager_runs_a_batch_proposal_accepts_it_and_plans_a_day_and_a_report(browser, server):  # noqa: F811
    w = Watched(browser, server["base"])
    violations = []
    _log_in(w, "manager")
    w.page.get_by_role("link", name="Batch proposals").click()
    w.page.wait_for_url(w.base + "/proposals")
    violations += w.axe()
    w.page.get_by_label("Time limit of the solver").fill("30")
    w.page.get_by_role("button", name="Run the proposal").click()
    w.page.wait_for_url(f"{w.base}/jobs/*")
    violations += w.axe()  # while it runs (or already done)
    _wait_for_the_job(w)
    main = w.page.locator("main").inner_text()
    assert "State: done" in main and "Batch proposal as of" in main, main
    violations += w.axe()
    accept = w.page.get_by_role("button", name="Accept these")
    count = int(accept.inner_text().split()[2])
    accept.click()
    w.page.wait_for_load_state("networkidle")
    assert f"Accepted: {count} links recorded as proposed" in w.page.locator("main").inner_text()
    assert len(api.list_links(server["db"], state="proposed")) == count
    violations += w.axe()

    # An exchange day.
    w.page.get_by_role("link", name="Exchange days").click()
    w.page.wait_for_url(w.base + "/exchange-days")
    violations += w.axe()
    w.page.get_by_label("At most this many units when none is named").fill("4")
    w.page.get_by_label("At most this many households when none is named").fill("8")
    w.page.get_by_role("button", name="Plan the day").click()
    _wait_for_the_job(w)
    assert "exchange day:" in w.page.locator("pre.summary").inner_text()
    violations += w.axe()
    table = w.page.get_by_role("link", name="Table T1").get_attribute("href")
    violations += _document_axe(browser, w, table)

    # The report.
    w.go("/report")
    violations += w.axe()
    w.page.get_by_role("button", name="Make the report").click()
    _wait_for_the_job(w)
    violations += w.axe()
    report = w.page.get_by_role("link", name="Open the report").get_attribute("href")
    violations += _document_axe(browser, w, report)
    assert "Pool report as of" in w.page.title()
    w.check()
    assert violations == [], violations
    w.page.close()
