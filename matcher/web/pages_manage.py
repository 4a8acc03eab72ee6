"""The agency managers' and admins' pages: batch proposals, exchange days and
the pool report, each made by a background job (:mod:`matcher.web.jobs`);
a family finder gets 403 on every one.

- **batch proposals** (``/proposals``): the options of ``matcher propose``
  that make sense on the web; the job page (``/jobs/ID``) shows progress
  (HTMX polls a fragment; a plain reload does without JavaScript), can be
  cancelled, then shows the summary in ``propose``'s words (ids of other
  agencies' children hidden from a manager) and the proposed links of the
  manager's own agency's children, which the manager can accept: they are
  recorded as ``proposed`` links in the register (``api.record_proposal``,
  as ``propose --record`` does), audited with the account and ``web``;
- **exchange days** (``/exchange-days``): an event built from the agency's
  waiting units and households, its schedule, a printable page per
  household and per table;
- **the report** (``/report``): the pool report, a whole HTML document
  served with its own Content-Security-Policy (no script at all; its inline
  style allowed by hash, never ``unsafe-inline``).

Every POST carries the session's CSRF token (``kit.checked_form``). A job
belongs to its agency: another agency's job answers 404, as an unknown id.
"""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from matcher import api
from matcher.web.jobs import WEB_NAMES, Jobs
from matcher.web.pages import PageProblem, _fragment, render

MOST_WORKERS = 2
MOST_TIME_LIMIT_S = 600
EXCHANGE_DEFAULTS = {"slots": "4", "tables": "3", "capacity": "2", "max_meetings": "3", "min_meetings": "1",
                     "unit_limit": "12", "household_limit": "20", "time_limit_s": "30"}
PROPOSAL_DEFAULTS = {"budget": "", "budgets": "", "min_score": "", "sibling_contact_km": "", "shortlist": "",
                     "time_limit_s": "60", "workers": "1", "seed": "0"}
_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.S | re.I)


def document_policy(html: str) -> str:
    """The Content-Security-Policy of a whole document we did not write as
    a page (the report, an exchange day's printable pages): nothing may
    load or run but its own inline style blocks, each allowed by its hash."""
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
                      for s in _STYLE.findall(html))
    return (f"default-src 'none'; style-src {hashes or chr(39) + 'none' + chr(39)}; img-src data:; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'")


def _document(html: str) -> HTMLResponse:
    return HTMLResponse(html, headers={"Content-Security-Policy": document_policy(html)})


def _lines(text: str) -> list[str]:
    return [line.strip() for line in re.split(r"[\r\n]+", text or "") if line.strip()]


def _whole(form: dict, name: str, label: str, low: int, high: int) -> int:
    text = (form.get(name) or "").strip()
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise ValueError(f"{label}: a whole number from {low} to {high}, not {text!r}")
    return value


def add_manage_pages(app: FastAPI, kit) -> None:
    """Add the managers' pages to ``app`` (see :class:`matcher.web.pages.PageKit`)."""
    jobs = Jobs(kit.store, kit.today)
    app.state.jobs = jobs

    def manager(who=Depends(kit.viewer)):
        if not who.may_audit:
            raise PageProblem(403, "Not allowed", "Batch proposals, exchange days and the report are for agency "
                                                  "managers and admins.", who)
        return who

    async def manager_form(request: Request):
        who, form = await kit.checked_form(request)
        manager(who)
        return who, form

    def own_job(who, job_id: str, kind: str | None = None):
        job = jobs.find(job_id, who.account.agency_id, who.account.is_admin)
        if job is None or (kind is not None and job.kind != kind):
            raise PageProblem(404, "Not found", "There is no such job among your agency's jobs (jobs are kept "
                                                "until the server restarts).", who)
        return job

    def start(who, kind: str, params: dict, audit: str):
        with api.acting(how="web", acting_for=who.username):
            kit.audit_read(kind, audit)
        job = jobs.start(kind, params, who.agency, who.username)
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    # --- batch proposals ----------------------------------------------------------------------------------------

    def proposal_form(who, status: int = 200, values: dict | None = None, problem: str | None = None):
        return render("proposals.html", status, who=who, title="Batch proposals",
                      values={**PROPOSAL_DEFAULTS, **(values or {})}, problem=problem,
                      jobs=jobs.listed(who.account.agency_id, who.account.is_admin, "propose"),
                      most_workers=MOST_WORKERS, most_time=MOST_TIME_LIMIT_S)

    @app.get("/proposals", include_in_schema=False)
    def proposals_page(who=Depends(manager)):
        return proposal_form(who)

    @app.post("/proposals", include_in_schema=False)
    def proposals_start(checked=Depends(manager_form)):
        who, form = checked
        values = {k: (form.get(k) or "").strip() for k in PROPOSAL_DEFAULTS}
        if who.agency is not None:
            budgets = [f"{who.agency}={values['budget']}"] if values["budget"] else []
        else:
            budgets = _lines(values["budgets"])
        params = {"budgets": budgets, "min_score": values["min_score"] or None,
                  "sibling_contact_km": values["sibling_contact_km"] or None,
                  "shortlist": values["shortlist"] or None, "time_limit_s": values["time_limit_s"] or "60",
                  "workers": values["workers"] or "1", "seed": values["seed"] or "0"}
        try:
            options = api.ProposalOptions.parse(params["budgets"], params["min_score"], (), (),
                                                params["sibling_contact_km"], params["shortlist"],
                                                params["time_limit_s"], params["workers"], params["seed"])
            if options.config.workers > MOST_WORKERS:
                raise ValueError(f"workers: at most {MOST_WORKERS} on the web (the server shares its cores)")
            if options.config.time_limit_s > MOST_TIME_LIMIT_S:
                raise ValueError(f"time limit: at most {MOST_TIME_LIMIT_S} seconds on the web")
        except api.InputError as error:
            return proposal_form(who, 400, values, api.name_options(error.render(), WEB_NAMES))
        except ValueError as error:
            return proposal_form(who, 400, values, str(error))
        return start(who, "propose", params, "batch proposal on the web pages")

    # --- exchange days ------------------------------------------------------------------------------------------

    def exchange_form(who, status: int = 200, values: dict | None = None, problem: str | None = None):
        return render("exchange_days.html", status, who=who, title="Exchange days",
                      values={**EXCHANGE_DEFAULTS, "unit_ids": "", "household_ids": "", **(values or {})},
                      problem=problem, jobs=jobs.listed(who.account.agency_id, who.account.is_admin, "exchange-day"))

    @app.get("/exchange-days", include_in_schema=False)
    def exchange_days_page(who=Depends(manager)):
        return exchange_form(who)

    @app.post("/exchange-days", include_in_schema=False)
    def exchange_days_start(checked=Depends(manager_form)):
        who, form = checked
        values = {k: (form.get(k) or "").strip() for k in (*EXCHANGE_DEFAULTS, "unit_ids", "household_ids")}
        try:
            params = {"slots": _whole(values, "slots", "slots", 1, 50),
                      "tables": _whole(values, "tables", "tables", 1, 100),
                      "capacity": _whole(values, "capacity", "meetings a table holds in a slot", 1, 100),
                      "max_meetings": _whole(values, "max_meetings", "most meetings for a household", 1, 50),
                      "min_meetings": _whole(values, "min_meetings", "fewest meetings for a unit", 0, 50),
                      "unit_limit": _whole(values, "unit_limit", "units to feature", 1, 500),
                      "household_limit": _whole(values, "household_limit", "households to invite", 1, 2000),
                      "time_limit_s": _whole(values, "time_limit_s", "time limit", 1, MOST_TIME_LIMIT_S),
                      "unit_ids": [u for line in _lines(values["unit_ids"]) for u in line.split(",") if u.strip()],
                      "household_ids": [h for line in _lines(values["household_ids"]) for h in line.split(",")
                                        if h.strip()]}
        except ValueError as error:
            return exchange_form(who, 400, values, str(error))
        params["unit_ids"] = [u.strip() for u in params["unit_ids"]]
        params["household_ids"] = [h.strip() for h in params["household_ids"]]
        return start(who, "exchange-day", params, "exchange day on the web pages")

    # --- the report ---------------------------------------------------------------------------------------------

    @app.get("/report", include_in_schema=False)
    def report_page(who=Depends(manager)):
        return render("report.html", who=who, title="Pool report",
                      jobs=jobs.listed(who.account.agency_id, who.account.is_admin, "report"))

    @app.post("/report", include_in_schema=False)
    def report_start(checked=Depends(manager_form)):
        return start(checked[0], "report", {}, "pool report on the web pages")

    # --- a job --------------------------------------------------------------------------------------------------

    @app.get("/jobs/{job_id}", include_in_schema=False)
    def job_page(request: Request, job_id: str, who=Depends(manager)):
        job = own_job(who, job_id)
        if _fragment(request):
            response = render("_job_status.html", who=who, job=job)
            if job.over:  # the whole page shows the result
                response.headers["HX-Refresh"] = "true"
            return response
        return render("job.html", who=who, title=_job_title(job), job=job)

    @app.post("/jobs/{job_id}/cancel", include_in_schema=False)
    def job_cancel(job_id: str, checked=Depends(manager_form)):
        job = own_job(checked[0], job_id)
        if not job.over:
            jobs.cancel(job)
            job.finished.wait(10)
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    @app.post("/jobs/{job_id}/accept", include_in_schema=False)
    def job_accept(job_id: str, checked=Depends(manager_form)):
        who = checked[0]
        job = own_job(who, job_id, "propose")
        if job.state != "done":
            raise PageProblem(409, "Not done", "This proposal has not finished: there is nothing to accept yet.",
                              who)
        here = kit.region()
        if here.data_version != job.data_version:
            raise PageProblem(409, "The register changed", "The register changed since this proposal was made: "
                                                           "run the proposal again.", who)
        try:
            with api.acting(how="web", acting_for=who.username):
                job.accepted = dict(api.record_proposal(kit.store, here, job.result["proposal"],
                                                        acting_for=who.username))
        except api.InputError as error:
            raise PageProblem(409, "Not recorded", error.render(), who) from None
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    @app.get("/jobs/{job_id}/report", include_in_schema=False)
    def job_report(job_id: str, who=Depends(manager)):
        job = own_job(who, job_id, "report")
        if job.state != "done":
            raise PageProblem(409, "Not ready", "The report is not made yet.", who)
        return _document(job.result["html"])

    @app.get("/jobs/{job_id}/households/{household_id}", include_in_schema=False)
    def job_household(job_id: str, household_id: str, who=Depends(manager)):
        return _printable(who, own_job(who, job_id, "exchange-day"), "households", household_id)

    @app.get("/jobs/{job_id}/tables/{table_id}", include_in_schema=False)
    def job_table(job_id: str, table_id: str, who=Depends(manager)):
        return _printable(who, own_job(who, job_id, "exchange-day"), "tables", table_id)

    def _printable(who, job, what: str, key: str) -> Response:
        page = (job.result or {}).get(what, {}).get(key)
        if page is None:
            raise PageProblem(404, "Not found", f"This exchange day has no page for {key}.", who)
        return _document(page)


def _job_title(job) -> str:
    return {"propose": "Batch proposal", "exchange-day": "Exchange day", "report": "Pool report"}[job.kind] + " job"


def job_path(job, *rest: str) -> str:
    return "/".join([f"/jobs/{job.id}", *(quote(r, safe="") for r in rest)])
