"""The managers' pages on both back ends: batch proposals run as background
jobs (progress, the summary, accepting the links as ``proposed``, audited
as web), cancelling a job ends its process, exchange days and the report;
each protection (roles, the job's agency, CSRF, the report's own
Content-Security-Policy) has a test that fails when it is removed."""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re
import time

import pytest

from matcher import api
from matcher.web.jobs import WEB_NAMES
from tests.conftest import AS_OF
from tests.web.test_pages import csrf, login, site  # noqa: F401  (site: the fixture, on both back ends)

JOB = re.compile(r"^/jobs/([A-Za-z0-9_-]+)$")
WAIT_S = 240


def start(client, path: str, data: dict) -> str:
    answer = client.post(path, data={"csrf_token": csrf(client, path), **data}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return JOB.match(answer.headers["location"]).group(1)


def wait_done(client, job_id: str) -> str:
    """Poll the job's fragment as HTMX does until it asks for the whole page
    (the job is over); return the whole page."""
    deadline = time.monotonic() + WAIT_S
    while True:
        answer = client.get(f"/jobs/{job_id}", headers={"HX-Request": "true"})
        assert answer.status_code == 200
        assert 'id="job-status"' in answer.text and "<html" not in answer.text  # a fragment, not a page
        if answer.headers.get("hx-refresh") == "true":
            break
        assert 'hx-trigger="every 1s"' in answer.text  # still polling
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.3)
    page = client.get(f"/jobs/{job_id}")
    assert page.status_code == 200
    assert 'hx-trigger="every 1s"' not in page.text  # over: no more polling
    return page.text


def _pre(page: str) -> str:
    return html.unescape(re.search(r'<pre class="summary">(.*?)</pre>', page, re.S).group(1))


def test_a_family_finder_gets_403_on_every_managers_page(site):  # noqa: F811
    client = login(site, "finder")
    token = csrf(client)
    for path in ("/proposals", "/exchange-days", "/report"):
        assert client.get(path).status_code == 403, path
        assert client.post(path, data={"csrf_token": token}).status_code == 403, path
    assert 'href="/proposals"' not in client.get("/children").text  # no navigation to them either
    manager = login(site, "manager")
    nav = manager.get("/children").text
    assert all(f'href="{p}"' in nav for p in ("/proposals", "/exchange-days", "/report"))


def test_a_manager_runs_a_proposal_sees_the_summary_and_accepts_the_own_agencys_links(site):  # noqa: F811
    client = login(site, "manager")
    job_id = start(client, "/proposals", {"time_limit_s": "30", "workers": "1", "seed": "0"})
    assert len(job_id) >= 40  # 32 random bytes
    page = wait_done(client, job_id)
    assert "State: <strong>done</strong>" in page

    # The summary in propose's words (ids of other agencies' units hidden), computed here the same way.
    region = api.region_from_store(site["db"], AS_OF)
    proposal = api.propose(region, api.ProposalOptions.parse(time_limit_s="30"))
    words = api.hide_other_agencies_units(region, api.proposal_summary(region, proposal, WEB_NAMES), site["own"])
    assert _pre(page) == words
    assert _pre(page).startswith("Batch proposal as of")
    theirs = {c["child_id"] for c in site["children"] if c["agency_id"] != site["own"]}
    assert not theirs & set(re.findall(r"[^\s,;:()=]+", _pre(page)))

    # Only the own agency's children's links are shown and accepted.
    mine = [(r[1].split(";")[0], r[2]) for r in proposal.links.select("unit_id", "child_ids", "household_id",
                                                                       "child_agency_id").iter_rows()
            if r[3] == site["own"]]
    assert mine and len(mine) < proposal.links.height
    for child, household in mine:
        assert f'href="/children/{child}"' in page and f'href="/households/{household}"' in page
    assert f"Accept these {len(mine)} links as proposed" in page
    accepted = client.post(f"/jobs/{job_id}/accept", data={"csrf_token": csrf(client)}, follow_redirects=False)
    assert accepted.status_code == 303
    assert f"Accepted: {len(mine)} links recorded as proposed" in client.get(f"/jobs/{job_id}").text
    recorded = {(link["child_ids"][0], link["household_id"]) for link in api.list_links(site["db"], state="proposed")}
    assert recorded == set(mine)
    rows = [r for r in api.audit_log(site["db"]) if r["action"] == "record proposal"]
    assert rows and rows[-1]["how"] == "web" and rows[-1]["acting_for"] == "manager"
    moves = api.show_link(site["db"], *mine[0])["history"]
    assert moves[-1]["to_state"] == "proposed" and moves[-1]["acting_for"] == "manager"


def _done_proposal(site, client) -> str:
    """A finished proposal job of the own agency (made once per back end)."""
    if "proposal_job" not in site:
        job_id = start(client, "/proposals", {"time_limit_s": "30"})
        wait_done(client, job_id)
        site["proposal_job"] = job_id
    return site["proposal_job"]


def test_another_agencys_manager_cannot_see_cancel_or_accept_the_job_but_an_admin_can(site):  # noqa: F811
    job_id = _done_proposal(site, login(site, "manager"))
    outsider = login(site, "outsider")
    token = csrf(outsider)
    assert outsider.get(f"/jobs/{job_id}").status_code == 404
    assert outsider.get(f"/jobs/{job_id}", headers={"HX-Request": "true"}).status_code == 404
    for action in ("accept", "cancel"):
        answer = outsider.post(f"/jobs/{job_id}/{action}", data={"csrf_token": token}, follow_redirects=False)
        assert answer.status_code == 404, action
    assert job_id not in outsider.get("/proposals").text
    assert outsider.get("/jobs/" + "A" * 43).status_code == 404  # a guessed id is just unknown
    admin = login(site, "admin")
    assert admin.get(f"/jobs/{job_id}").status_code == 200
    assert job_id in admin.get("/proposals").text
    assert job_id in login(site, "manager").get("/proposals").text


def test_posts_without_the_csrf_token_are_refused(site):  # noqa: F811
    client = login(site, "manager")
    job_id = _done_proposal(site, client)
    before = len(api.list_links(site["db"]))
    jobs = len(app_jobs(site).listed(None, True))
    for path in ("/proposals", "/exchange-days", "/report", f"/jobs/{job_id}/accept", f"/jobs/{job_id}/cancel"):
        for data in ({}, {"csrf_token": "forged"}):
            answer = client.post(path, data=data, follow_redirects=False)
            assert answer.status_code == 403, (path, data)
    assert len(api.list_links(site["db"])) == before
    assert len(app_jobs(site).listed(None, True)) == jobs


def test_cancelling_a_job_ends_its_process(site):  # noqa: F811
    client = login(site, "manager")
    jobs = app_jobs(site)
    jobs.hold_s = 120  # the job's process waits before its work: the cancel finds it running
    try:
        job_id = start(client, "/proposals", {"time_limit_s": "30"})
    finally:
        jobs.hold_s = 0
    job = jobs.find(job_id, site["own"], False)
    deadline = time.monotonic() + 60
    while job.pid is None or job.stage != "held by a test":
        assert time.monotonic() < deadline, job.stage
        time.sleep(0.1)
    assert job.state == "running" and _alive(job.pid)
    page = client.get(f"/jobs/{job_id}").text
    assert 'action="/jobs/' + job_id + '/cancel"' in page
    began = time.monotonic()
    answer = client.post(f"/jobs/{job_id}/cancel", data={"csrf_token": csrf(client)}, follow_redirects=False)
    assert answer.status_code == 303
    assert time.monotonic() - began < 20
    assert job.state == "cancelled" and job.result is None
    assert not _alive(job.pid)
    page = client.get(f"/jobs/{job_id}").text
    assert "State: <strong>cancelled</strong>" in page and "/cancel" not in page and "/accept" not in page
    refused = client.post(f"/jobs/{job_id}/accept", data={"csrf_token": csrf(client)}, follow_redirects=False)
    assert refused.status_code == 409


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is no longer running
        return stat.read().split(") ")[-1][0] != "Z"


def test_bad_options_show_the_form_again_with_the_problem(site):  # noqa: F811
    client = login(site, "manager")
    token = csrf(client, "/proposals")
    jobs = len(app_jobs(site).listed(None, True))
    for data, said in (({"workers": "3"}, "workers: at most 2"), ({"time_limit_s": "601"}, "at most 600"),
                       ({"min_score": "101"}, "min_score"), ({"budget": "lots"}, "budget")):
        answer = client.post("/proposals", data={"csrf_token": token, **data}, follow_redirects=False)
        assert answer.status_code == 400, data
        assert said in html.unescape(answer.text), (data, answer.text)
    answer = client.post("/exchange-days", data={"csrf_token": token, "slots": "none"}, follow_redirects=False)
    assert answer.status_code == 400 and "slots" in answer.text
    assert len(app_jobs(site).listed(None, True)) == jobs


def _policy_allows_only_its_styles(answer) -> None:
    policy = answer.headers["content-security-policy"]
    assert policy.startswith("default-src 'none'") and "unsafe-inline" not in policy and "script-src" not in policy
    assert "frame-ancestors 'none'" in policy
    for style in re.findall(r"<style[^>]*>(.*?)</style>", answer.text, re.S):
        digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert answer.headers["x-frame-options"] == "DENY" and answer.headers["x-content-type-options"] == "nosniff"


def test_an_exchange_day_is_planned_in_the_background_with_printable_pages(site):  # noqa: F811
    client = login(site, "manager")
    job_id = start(client, "/exchange-days", {**{k: v for k, v in (("slots", "3"), ("tables", "2"),
                                                                     ("capacity", "2"), ("max_meetings", "2"),
                                                                     ("min_meetings", "1"), ("unit_limit", "6"),
                                                                     ("household_limit", "10"),
                                                                     ("time_limit_s", "20"))}})
    page = wait_done(client, job_id)
    assert "State: <strong>done</strong>" in page, page
    summary = _pre(page)
    assert summary.startswith("exchange day: ") and "in 3 slots at 2 tables" in summary
    job = app_jobs(site).find(job_id, site["own"], False)
    mine = {u["unit_id"] for u in api.waiting_table(api.region_from_store(site["db"], AS_OF),
                                                    agency_id=site["own"])["units"]}
    featured = [u for t in job.result["event"]["tables"] for u in t["unit_ids"]]
    assert len(featured) == 6 and set(featured) <= mine
    assert job.result["schedule"], "no meeting at all"
    for m in job.result["schedule"]:
        assert f'href="/jobs/{job_id}/tables/{m["table_id"]}"' in page
    table = client.get(f"/jobs/{job_id}/tables/T1")
    assert table.status_code == 200 and "Table T1" in table.text
    _policy_allows_only_its_styles(table)
    household = job.result["schedule"][0]["household_id"]
    shown = client.get(f"/jobs/{job_id}/households/{household}")
    assert shown.status_code == 200 and household in shown.text
    _policy_allows_only_its_styles(shown)
    assert client.get(f"/jobs/{job_id}/households/no-such").status_code == 404
    assert login(site, "outsider").get(f"/jobs/{job_id}/tables/T1").status_code == 404

    # A unit of another agency cannot be featured: the job fails and says which.
    theirs = next(u["unit_id"] for u in api.waiting_table(api.region_from_store(site["db"], AS_OF),
                                                          agency_id=site["other"])["units"])
    failed = start(client, "/exchange-days", {"unit_ids": theirs, "slots": "2", "tables": "1", "capacity": "1",
                                              "max_meetings": "1", "min_meetings": "0", "unit_limit": "3",
                                              "household_limit": "5", "time_limit_s": "10"})
    page = html.unescape(wait_done(client, failed))
    assert "State: <strong>failed</strong>" in page and f"these are not: {theirs}" in page


def test_the_report_is_made_in_the_background_and_served_with_its_own_policy(site):  # noqa: F811
    client = login(site, "manager")
    job_id = start(client, "/report", {})
    page = wait_done(client, job_id)
    assert f'href="/jobs/{job_id}/report"' in page
    report = client.get(f"/jobs/{job_id}/report")
    assert report.status_code == 200 and report.text.startswith("<!DOCTYPE html>")
    assert "Pool report as of" in report.text and "<script" not in report.text
    _policy_allows_only_its_styles(report)
    assert login(site, "outsider").get(f"/jobs/{job_id}/report").status_code == 404
    # Other agencies' children are named by no id, in the page or in its CSV downloads; the admin's names them.
    theirs = {c["child_id"] for c in site["children"] if c["agency_id"] != site["own"]}
    assert not theirs & _words(report.text) and "(a unit of another agency)" in report.text
    admin = login(site, "admin")
    everyone = start(admin, "/report", {})
    wait_done(admin, everyone)
    assert theirs & _words(admin.get(f"/jobs/{everyone}/report").text)
    # The pages keep the site's policy.
    assert client.get("/report").headers["content-security-policy"].startswith("default-src 'self'")
    assert any(r["action"] == "report" and r["how"] == "web" for r in api.audit_log(site["db"]))


def _words(page: str) -> set[str]:
    """Every id-like word of a page and of the CSV downloads it carries."""
    found = set(re.findall(r"[A-Za-z0-9_-]+", page))
    for data in re.findall(r"data:text/csv;base64,([A-Za-z0-9+/=]+)", page):
        found |= set(re.findall(r"[A-Za-z0-9_-]+", base64.b64decode(data).decode()))
    return found


def test_other_agencies_unit_ids_are_hidden_from_a_summary(site):  # noqa: F811
    region = api.region_from_store(site["db"], AS_OF)
    own = api.waiting_table(region, agency_id=site["own"])["units"][0]
    other = api.waiting_table(region, agency_id=site["other"])["units"][0]
    text = (f"  {own['unit_id']}: kept out; {other['unit_id']} went to H1 (weight 3).\n  {other['child_ids'][0]}."
            f" {other['child_ids'][0]}'s needs")
    hidden = api.hide_other_agencies_units(region, text, site["own"])
    assert own["unit_id"] in hidden and other["unit_id"] not in hidden and other["child_ids"][0] not in hidden
    assert "(a unit of another agency) went to H1" in hidden
    assert hidden.endswith("(a unit of another agency). (a unit of another agency)'s needs")
    assert api.hide_other_agencies_units(region, text, None) == text


def app_jobs(site):
    return site["app"].state.jobs


def test_a_job_waits_for_a_free_worker_and_can_be_cancelled_while_it_waits(site):  # noqa: F811
    from matcher.web.jobs import Jobs

    jobs = Jobs(site["db"], lambda: AS_OF, running_at_once=1)
    jobs.hold_s = 120
    first = jobs.start("report", {}, site["own"], "manager")
    deadline = time.monotonic() + 60
    while first.stage != "held by a test":
        assert time.monotonic() < deadline, first.stage
        time.sleep(0.05)
    second = jobs.start("report", {}, site["own"], "manager")
    time.sleep(0.5)
    assert second.state == "waiting" and second.pid is None  # no process while the only worker is busy
    jobs.cancel(second)
    assert second.finished.wait(10) and second.state == "cancelled" and second.pid is None
    jobs.cancel(first)
    assert first.finished.wait(10) and first.state == "cancelled" and not _alive(first.pid)
    assert [j.id for j in jobs.listed(site["own"], False)] == [second.id, first.id]
    assert jobs.listed(site["other"], False) == [] and jobs.find(first.id, site["other"], False) is None
