"""The report's rendering: CSV cells neutralised against formula injection,
text escaped, templates shipped as package data."""

from __future__ import annotations

import base64
import fnmatch
import tomllib
from pathlib import Path

from matcher.reports.render import Table, csv_cell

ROOT = Path(__file__).resolve().parents[2]


def test_csv_cells_that_a_spreadsheet_would_run_get_a_leading_quote_and_numbers_stay_numbers():
    table = Table("t", "caption", ("id", "change"), (("=HYPERLINK(1)", -3), ("@SUM", 2.5), ("+1", 0), ("-x", 1),
                                                      ("\tTAB", 4), ("plain", -0.25)))
    lines = table.csv_text().splitlines()
    assert lines == ["id,change", "'=HYPERLINK(1),-3", "'@SUM,2.50", "'+1,0", "'-x,1", "'\tTAB,4", "plain,-0.25"]
    assert base64.b64decode(table.href.split(",", 1)[1]).decode("utf-8") == table.csv_text()
    assert csv_cell(None) == ""


def test_text_in_the_report_is_escaped(tmp_path):
    import datetime as dt

    from matcher import api

    day = dt.date(2026, 6, 30)
    children, households = api.generate(2, 20, 30, day)
    region = api.region_from_frames(children, households, day)
    html = api.render_report(api.report_data(region, data="<script>alert(1)</script> & co"))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html


def test_every_template_is_package_data():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["matcher.reports"]
    templates = sorted((ROOT / "matcher" / "reports" / "templates").iterdir())
    assert templates
    for template in templates:
        assert any(fnmatch.fnmatch(f"templates/{template.name}", p) for p in patterns), template.name
