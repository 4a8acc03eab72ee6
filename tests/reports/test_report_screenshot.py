"""Pictures of the report: a full-page PNG taken with headless Chromium
(what ``matcher demo`` writes), and the demo going on when Chromium is
missing. Apart from the page tests: one Playwright runs at a time in a
thread, and those tests hold one for their module."""

from __future__ import annotations

import pytest

from tests.browser import missing_browser
from tests.conftest import AS_OF, write_region


@pytest.fixture
def report_page(tmp_path):
    from matcher import api

    children, households = write_region(tmp_path, seed=5, n_children=40, n_households=60)
    region = api.region_from_files(children, households, AS_OF)
    out = tmp_path / "report.html"
    api.write_report(api.report_data(region, data="test"), out)
    return out


def test_a_screenshot_of_the_report_is_a_png(report_page, tmp_path):
    from matcher import api

    problem = missing_browser()
    if problem is not None:
        pytest.fail(problem, pytrace=False)

    picture = api.screenshot_report(report_page, tmp_path / "report.png")
    data = picture.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width == 1280 and height > 2000  # the whole page, not the first screen


def test_the_demo_report_says_when_chromium_is_missing_and_goes_on(monkeypatch, tmp_path, capsys):
    from matcher import api
    from matcher.cli.demo import _pool_report

    children, households = write_region(tmp_path, seed=2, n_children=20, n_households=30)
    region = api.region_from_files(children, households, AS_OF)
    links = tmp_path / "links.csv"
    api.write_proposal(region, api.propose(region), links)
    monkeypatch.setenv("CHROMIUM", str(tmp_path / "no-such-browser"))
    _pool_report(str(tmp_path), region, str(children), str(households), str(links))
    out = capsys.readouterr().out
    assert "no screenshot of the report: Chromium is not installed" in out and "make test" in out
    assert (tmp_path / "report.html").exists() and not (tmp_path / "report.png").exists()
