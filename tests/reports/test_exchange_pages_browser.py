"""An exchange day's printable pages in a real browser (headless Debian
Chromium through Playwright): a household's page and a table's page open
with no console error and no request leaving the page, and the household's
page lists its meetings slot by slot."""

from __future__ import annotations

import csv
import json

import pytest

from matcher import api
from tests.browser import assert_self_contained, visit
from tests.conftest import AS_OF, write_region


@pytest.fixture(scope="module")
def day_folder(tmp_path_factory):
    from matcher.cli import main

    folder = tmp_path_factory.mktemp("exchange")
    children, households = write_region(folder, seed=3, n_children=60, n_households=90)
    region = api.region_from_files(children, households, AS_OF)
    frame = api.scores(region).frame
    units = sorted(set(frame["unit_id"].to_list()))[:6]
    homes = sorted(set(frame.filter(frame["unit_id"].is_in(units))["household_id"].to_list()))[:10]
    event = {"slots": 3, "max_meetings": 2, "min_meetings": 1, "household_ids": homes,
             "tables": [{"table_id": f"T{t + 1}", "capacity": 2, "unit_ids": units[t::3]} for t in range(3)],
             "requests": [{"household_id": homes[0], "table_id": "T2"}]}
    path = folder / "event.json"
    path.write_text(json.dumps(event), encoding="utf-8")
    out = folder / "day"
    assert main(["exchange-day", "--event", str(path), "--out", str(out), "--children", str(children),
                 "--households", str(households), "--as-of", AS_OF.isoformat()]) == 0
    return out


def test_a_households_page_opens_self_contained_with_its_meetings(browser, day_folder):
    with open(day_folder / "schedule.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    household = rows[0]["household_id"]
    seen = visit(browser, day_folder / "households" / f"{household}.html")
    assert_self_contained(seen)
    text = seen.page.inner_text("body")
    for row in (r for r in rows if r["household_id"] == household):
        assert row["table_id"] in text
    seen.page.close()


def test_a_tables_page_opens_self_contained(browser, day_folder):
    seen = visit(browser, day_folder / "tables" / "T1.html")
    assert_self_contained(seen)
    seen.page.close()
