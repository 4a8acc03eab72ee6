"""Background jobs of the managers' pages: batch proposals, exchange days and
the pool report, each run in its own process so that the pages never wait on
a solver and a job can be cancelled wherever it is.

Why a process rather than a thread: CP-SAT, HiGHS and the scoring of every
pair run in native code that a Python thread cannot interrupt; the solvers
take a time limit but no stop flag. A process started for the job (``spawn``:
a fresh interpreter, never a fork of the threaded server) is ended by
``terminate()`` (then ``kill()`` if it lingers) whatever it is doing, and the
server keeps nothing of it. The process reads the region from the store
itself and sends back progress (units scored), then the result or the error,
through a pipe.

Jobs are kept in the memory of the server process (a restart forgets them;
nothing of a job is in the store until a manager accepts its proposal). A
job's id is 32 random bytes (``secrets.token_urlsafe``), and a job belongs to
the agency of the account that started it: :meth:`Jobs.find` gives another
agency's job to no one but an admin (the pages answer 404, as for an unknown
id). At most :data:`RUNNING_AT_ONCE` jobs run at once; the others wait their
turn (and can be cancelled while they wait).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import secrets
import threading
import time
import traceback
from dataclasses import dataclass, field

from matcher import api

RUNNING_AT_ONCE = 2
KEPT_JOBS = 200
"""Finished jobs kept in memory (the oldest finished are forgotten first)."""
POLL_S = 0.1
TERMINATE_GRACE_S = 5.0
WEB_NAMES = {
    "budgets": "budget", "min_score": "minimum score", "fixed": "fixed links", "excluded": "excluded links",
    "sibling_contact_km": "sibling contact (km)", "shortlist": "shortlist", "time_limit_s": "time limit",
    "workers": "workers", "seed": "seed", "solver_seed": "seed",
}
"""Option names as the pages' form labels say them (in summaries and errors)."""

STATES = ("waiting", "running", "done", "failed", "cancelled")


@dataclass
class Job:
    """One job: what it runs, for whom, how far it got and what came of it."""

    id: str
    kind: str
    params: dict
    agency_id: str | None
    """The agency of the account that started it (None: an admin's)."""
    owner: str
    data_version: object = None
    """The store's data version the job read (set when its result comes)."""
    state: str = "waiting"
    stage: str = "waiting for a free worker"
    done: int = 0
    total: int = 0
    result: dict | None = None
    error: str | None = None
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    finished_at: dt.datetime | None = None
    pid: int | None = None
    accepted: dict | None = None
    cancel_asked: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def over(self) -> bool:
        return self.state in ("done", "failed", "cancelled")

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0


class Jobs:
    """The server's jobs over the store ``store`` at the date ``today()``."""

    def __init__(self, store, today, running_at_once: int = RUNNING_AT_ONCE):
        self.store = store
        self.today = today
        self.hold_s = 0.0
        """Tests only: seconds a job's process waits before its work (so that
        a cancel finds it running); 0 in service."""
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(running_at_once)
        self._context = multiprocessing.get_context("spawn")

    def start(self, kind: str, params: dict, agency_id: str | None, owner: str) -> Job:
        job = Job(id=secrets.token_urlsafe(32), kind=kind, params=dict(params), agency_id=agency_id, owner=owner)
        with self._lock:
            self._forget_old()
            self._jobs[job.id] = job
        threading.Thread(target=self._run, args=(job,), name=f"job-{kind}", daemon=True).start()
        return job

    def find(self, job_id: str, agency_id: str | None, is_admin: bool) -> Job | None:
        """The job, if the account may see it: an admin any, anyone else
        only a job of their own agency."""
        job = self._jobs.get(job_id)
        if job is None or not (is_admin or (agency_id is not None and job.agency_id == agency_id)):
            return None
        return job

    def listed(self, agency_id: str | None, is_admin: bool, kind: str | None = None) -> list[Job]:
        """The jobs the account may see, newest first."""
        with self._lock:
            jobs = list(self._jobs.values())
        return sorted((j for j in jobs if (is_admin or j.agency_id == agency_id) and (kind is None or j.kind == kind)),
                      key=lambda j: j.started_at, reverse=True)

    def cancel(self, job: Job) -> None:
        """Ask the job to stop: its process is ended at once (see the module's
        words on why a process)."""
        job.cancel_asked.set()

    def _forget_old(self) -> None:
        finished = sorted((j for j in self._jobs.values() if j.over), key=lambda j: j.started_at)
        for job in finished[:max(0, len(self._jobs) - KEPT_JOBS + 1)]:
            del self._jobs[job.id]

    # --- running a job ----------------------------------------------------------------------------------------------

    def _run(self, job: Job) -> None:
        try:
            while not self._slots.acquire(timeout=POLL_S):
                if job.cancel_asked.is_set():
                    self._finish(job, "cancelled", stage="cancelled before it started")
                    return
            try:
                self._run_process(job)
            finally:
                self._slots.release()
        except Exception as error:  # pragma: no cover - a fault of the machinery itself, said on the job page
            self._finish(job, "failed", error=f"the job could not run: {error}")

    def _run_process(self, job: Job) -> None:
        if job.cancel_asked.is_set():
            self._finish(job, "cancelled", stage="cancelled before it started")
            return
        receiving, sending = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=work, args=(job.kind, job.params, os.fspath(self.store) if self.store is not None else None,
                               self.today().isoformat(), job.agency_id, self.hold_s, sending),
            name=f"matcher-job-{job.kind}", daemon=True)
        job.state, job.stage = "running", "starting"
        process.start()
        sending.close()
        job.pid = process.pid
        try:
            while True:
                if job.cancel_asked.is_set():
                    _end(process)
                    self._finish(job, "cancelled", stage="cancelled while it ran; its process was ended")
                    return
                if receiving.poll(POLL_S):
                    try:
                        message = receiving.recv()
                    except EOFError:
                        break
                    kind = message[0]
                    if kind == "progress":
                        _, job.stage, job.done, job.total = message
                    elif kind == "result":
                        job.data_version, job.result = message[1], message[2]
                        process.join(TERMINATE_GRACE_S)
                        self._finish(job, "done", stage="done")
                        return
                    elif kind == "error":
                        process.join(TERMINATE_GRACE_S)
                        self._finish(job, "failed", error=message[1])
                        return
                elif not process.is_alive() and not receiving.poll(0):
                    break
            process.join(TERMINATE_GRACE_S)
            self._finish(job, "failed", error=f"the job's process ended without an answer (exit code "
                                              f"{process.exitcode})")
        finally:
            receiving.close()
            if process.is_alive():
                _end(process)

    def _finish(self, job: Job, state: str, *, stage: str | None = None, error: str | None = None) -> None:
        job.state = state
        job.stage = stage or state
        job.error = error
        job.finished_at = dt.datetime.now(dt.timezone.utc)
        job.finished.set()


def _end(process) -> None:
    process.terminate()
    process.join(TERMINATE_GRACE_S)
    if process.is_alive():
        process.kill()
        process.join(TERMINATE_GRACE_S)


# --- the work, in the job's own process ---------------------------------------------------------------------------

def work(kind: str, params: dict, store: str | None, as_of: str, agency_id: str | None, hold_s: float,
         answer) -> None:
    """Run one job and send ``("progress", stage, done, total)`` messages,
    then ``("result", data_version, result)`` or ``("error", text)``."""
    try:
        if hold_s:
            answer.send(("progress", "held by a test", 0, 0))
            time.sleep(hold_s)
        answer.send(("progress", "reading the register", 0, 0))
        region = api.region_from_store(store, dt.date.fromisoformat(as_of))
        result = RUNS[kind](region, store, params, agency_id, answer)
        answer.send(("result", region.data_version, result))
    except api.InputError as error:
        answer.send(("error", api.name_options(error.render() if hasattr(error, "render") else str(error),
                                               WEB_NAMES)))
    except api.SolverTimeout as error:
        answer.send(("error", api.name_options(str(getattr(error, "template", error)), WEB_NAMES)))
    except Exception:  # pragma: no cover - shown on the job page rather than lost with the process
        answer.send(("error", "the job failed:\n" + traceback.format_exc(limit=5)))
    finally:
        answer.close()


def _propose(region, store, params: dict, agency_id: str | None, answer) -> dict:
    total = api.waiting_unit_count(region)
    done = [0]

    def progress(n: int) -> None:
        done[0] += n
        answer.send(("progress", "scoring units", done[0], total))
        if done[0] >= total:
            answer.send(("progress", "solving", total, total))

    options = api.ProposalOptions.parse(params.get("budgets", ()), params.get("min_score"), (), (),
                                        params.get("sibling_contact_km"), params.get("shortlist"),
                                        params.get("time_limit_s", "60"), params.get("workers", "1"),
                                        params.get("seed", "0"))
    answer.send(("progress", "scoring units", 0, total))
    proposal = api.propose(region, options, progress=progress)
    answer.send(("progress", "writing the summary", total, total))
    problems = api.check_validity(proposal, region)
    if problems:  # pragma: no cover - the solvers' own tests keep this from happening
        raise RuntimeError("the proposal broke a rule: " + "; ".join(problems))
    summary = api.hide_other_agencies_units(region, api.proposal_summary(region, proposal, WEB_NAMES), agency_id)
    mine = api.proposal_for_agency(proposal, agency_id)
    links = [dict(row) for row in mine.links.iter_rows(named=True)]
    return {"summary": summary, "warnings": list(proposal.warnings), "links": links, "all_links": proposal.links.height,
            "proposal": mine, "wall_time_s": proposal.wall_time_s}


def _exchange_day(region, store, params: dict, agency_id: str | None, answer) -> dict:
    answer.send(("progress", "choosing units and households", 0, 0))
    table = api.waiting_table(region, agency_id=agency_id)
    allowed = {u["unit_id"] for u in table["units"]}
    units = list(params.get("unit_ids") or ())
    if units:
        unknown = [u for u in units if u not in allowed]
        if unknown:
            raise api.LookupInputError("units to feature must be waiting units of your agency; these are not: "
                                       + ", ".join(unknown))
    else:
        units = [u["unit_id"] for u in table["units"]][:int(params["unit_limit"])]
    if not units:
        raise api.LookupInputError("there is no waiting unit to feature")
    households = list(params.get("household_ids") or ()) or api.likely_households(region, units,
                                                                                  int(params["household_limit"]))
    value = api.exchange_event_value(unit_ids=units, household_ids=households, slots=params["slots"],
                                     tables=params["tables"], capacity=params["capacity"],
                                     max_meetings=params["max_meetings"], min_meetings=params["min_meetings"])
    event = api.exchange_event(value, region)
    answer.send(("progress", "solving the schedule", 0, 0))
    day = api.exchange_day(region, event, time_limit_s=params.get("time_limit_s", 30))
    answer.send(("progress", "writing the pages", 0, 0))
    attending = [h for h in event.household_ids if h not in set(day.absent)]
    return {"summary": api.exchange_day_summary(day), "schedule": api.exchange_schedule_rows(day),
            "event": value, "households": {h: api.exchange_household_page(region, day, h) for h in attending},
            "tables": {t["table_id"]: api.exchange_table_page(day, t["table_id"]) for t in value["tables"]}}


def _report(region, store, params: dict, agency_id: str | None, answer) -> dict:
    answer.send(("progress", "ranking every unit's households", 0, 0))
    proposal = api.latest_proposal(store, region)
    data = api.report_data(region, api.QueryOptions(workers=1), data=api.store_provenance(store), proposal=proposal)
    answer.send(("progress", "writing the report", 0, 0))
    return {"html": api.hide_other_agencies_units_in_page(region, api.render_report(data), agency_id)}


RUNS = {"propose": _propose, "exchange-day": _exchange_day, "report": _report}
