"""Headless Chromium for page tests: Debian's ``chromium`` driven by
Playwright through ``executable_path`` (never a browser download).

A test that needs a browser FAILS, never skips, when Chromium or
Playwright is missing, saying how to install them (``make test`` does).

Use: a ``conftest.py`` imports the :func:`browser` fixture
(``from tests.browser import browser  # noqa: F401``); a test calls
:func:`visit` on a local HTML file and checks :func:`assert_self_contained`
(no console error, no request leaving the page) and, for a table with a
CSV download, :func:`assert_download_matches_table`. Another page type
(an exchange-day household page, say) needs only one more small test.
"""

from __future__ import annotations

import base64
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from matcher.reports.screenshot import chromium_path, missing_browser  # noqa: F401  (missing_browser: for tests)

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for a test module (Playwright's sync API runs
    one instance per thread: a module that starts its own, such as the
    screenshot tests, must not overlap; module scope closes this one at the
    module's end)."""
    problem = missing_browser()
    if problem is not None:
        pytest.fail(f"browser tests need Chromium and Playwright: {problem}", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium_path(), headless=True)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Visit:
    """A page opened from a local file, with everything it said and asked for."""

    page: object
    url: str
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)


def _allowed(url: str, own: str) -> bool:
    return url == own or url.startswith("data:")


def visit(browser, path: str | Path) -> Visit:
    """Open ``path`` (a local HTML file) in a new page, recording console
    errors, page errors and every request; any request but the file itself
    or a ``data:`` URL is blocked (and recorded)."""
    page = browser.new_page()
    url = Path(path).resolve().as_uri()
    seen = Visit(page, url)
    page.on("console", lambda message: seen.console_errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: seen.console_errors.append(str(error)))
    page.on("request", lambda request: seen.requests.append(request.url))

    def gate(route):
        if _allowed(route.request.url, url):
            route.continue_()
        else:
            seen.blocked.append(route.request.url)
            route.abort()

    page.route("**/*", gate)
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    return seen


def assert_self_contained(seen: Visit) -> None:
    """No console error and no request but the file itself and data: URLs."""
    assert seen.console_errors == [], seen.console_errors
    assert seen.blocked == [], seen.blocked
    leaving = [u for u in seen.requests if not _allowed(u, seen.url)]
    assert leaving == [], leaving
    assert seen.url in seen.requests


def downloaded_csv(seen: Visit, link_selector: str) -> list[list[str]]:
    """The rows of the CSV a ``data:text/csv;base64,...`` download link holds."""
    link = seen.page.locator(link_selector)
    assert link.count() == 1, f"{link_selector}: {link.count()} links"
    assert link.get_attribute("download"), "the link has no download attribute"
    href = link.get_attribute("href")
    prefix = "data:text/csv;base64,"
    assert href.startswith(prefix), href[:60]
    text = base64.b64decode(href[len(prefix):]).decode("utf-8")
    return list(csv.reader(io.StringIO(text)))


def table_cells(seen: Visit, table_selector: str) -> list[list[str]]:
    """A table's header and body cells as the page shows them."""
    return seen.page.eval_on_selector(table_selector, """table => [
        Array.from(table.querySelectorAll('thead th')).map(c => c.textContent),
        ...Array.from(table.querySelectorAll('tbody tr')).map(
            r => Array.from(r.querySelectorAll('td')).map(c => c.textContent))]""")


def assert_download_matches_table(seen: Visit, link_selector: str, table_selector: str) -> list[list[str]]:
    """The link's CSV is the table's cells (a cell a spreadsheet would run
    as a formula carries a leading quote in the CSV only); returns the rows."""
    rows = downloaded_csv(seen, link_selector)
    shown = table_cells(seen, table_selector)
    assert len(rows) == len(shown)
    for got, want in zip(rows, shown):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g == w or (w.startswith(FORMULA_STARTS) and g == "'" + w), (g, w)
    return rows
