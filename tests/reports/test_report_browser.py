"""The report in a real browser (headless Debian Chromium through
Playwright): no console error, no request leaving the page, and every
table's download link holds the table's CSV."""

from __future__ import annotations

import pytest

from tests.browser import assert_download_matches_table, assert_self_contained, visit
from tests.conftest import AS_OF, write_region


@pytest.fixture(scope="module")
def report_page(tmp_path_factory):
    from matcher.cli import main

    folder = tmp_path_factory.mktemp("report")
    children, households = write_region(folder, seed=5, n_children=60, n_households=90)
    files = ["--children", str(children), "--households", str(households), "--as-of", AS_OF.isoformat()]
    assert main(["propose", "--out", str(folder / "links.csv"), *files]) == 0
    out = folder / "report.html"
    assert main(["report", "--out", str(out), "--proposal", str(folder / "links.csv"), "--budget", "LA01=30000",
                 *files]) == 0
    return out


def test_report_opens_with_no_console_error_and_no_request_leaving_it(browser, report_page):
    seen = visit(browser, report_page)
    assert_self_contained(seen)
    assert seen.page.title().startswith("Pool report as of 2026-06-30")
    assert seen.page.locator("svg[role=img]").count() >= 4  # charts drawn inline
    seen.page.close()


def test_every_table_downloads_as_its_own_csv(browser, report_page):
    seen = visit(browser, report_page)
    keys = seen.page.eval_on_selector_all("figure.table", "figures => figures.map(f => f.id)")
    assert {"pool-short", "pool-profiles", "waiting-agencies", "fees", "fairness-groups",
            "fairness-counterfactual"} <= set(keys)
    for key in keys:
        if seen.page.locator(f"#{key} table").count() == 0:  # an empty table: header-only CSV
            continue
        rows = assert_download_matches_table(seen, f"a[data-table='{key}']", f"#{key} table")
        assert len(rows) >= 2
    fees = assert_download_matches_table(seen, "a[data-table='fees']", "#fees table")
    assert fees[0][:4] == ["agency", "links", "inter-agency links", "fees"]
    assert any(row[0] == "LA01" and row[4] == "30000" for row in fees[1:])
    seen.page.close()


def test_the_checks_catch_a_page_that_leaks_or_errs(browser, tmp_path):
    """The helper itself fails on a page that asks the network for
    something or logs an error (so a passing report test means something)."""
    leaking = tmp_path / "leaking.html"
    leaking.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png"></body></html>')
    seen = visit(browser, leaking)
    with pytest.raises(AssertionError):
        assert_self_contained(seen)
    erring = tmp_path / "erring.html"
    erring.write_text("<!DOCTYPE html><html><body><script>console.error('broken')</script></body></html>")
    seen = visit(browser, erring)
    with pytest.raises(AssertionError):
        assert_self_contained(seen)

