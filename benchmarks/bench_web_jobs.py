"""The web pages' background jobs (issue 13): what a job's own process costs
and how fast a cancel stops a long CP-SAT run.

    python -m benchmarks.bench_web_jobs [--quick]

1. The same exact proposal (no side constraints) in-process and as a job
   (a ``spawn``ed process that imports matcher and reads the region from the
   store itself): the job's overhead in seconds, same run.
2. A proposal with a budget for every agency and sibling contact within
   5 km (CP-SAT with side constraints, time limit 120 s) started as a job,
   cancelled 2 s after its progress says ``solving``: seconds from the
   cancel to the job being over with its process gone, and whether the
   process had really been solving (still running when cancelled).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from benchmarks.common import AS_OF, machine, region


def _wait(job, predicate, limit_s: float) -> float:
    began = time.perf_counter()
    while not predicate(job):
        if time.perf_counter() - began > limit_s:
            raise SystemExit(f"gave up after {limit_s:.0f} s: job {job.state} / {job.stage} / {job.error}")
        time.sleep(0.02)
    return time.perf_counter() - began


def main() -> None:
    from matcher import api
    from matcher.web.jobs import Jobs

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n_children = 600 if args.quick else 1500
    n_households = int(n_children * 1.3)
    print(machine())
    print(f"load average at start: {open('/proc/loadavg').read().split()[:3]}")
    children, households = region(n_children, n_households, seed=7)
    with tempfile.TemporaryDirectory() as folder:
        db = str(Path(folder) / "register.sqlite3")
        api.init_store(db)
        api.import_files(children, households, AS_OF, db)
        jobs = Jobs(db, lambda: AS_OF)
        here = api.region_from_store(db, AS_OF)

        began = time.perf_counter()
        api.propose(here, api.ProposalOptions.parse(time_limit_s="60"))
        inside = time.perf_counter() - began
        job = jobs.start("propose", {"time_limit_s": "60"}, None, "bench")
        whole = _wait(job, lambda j: j.over, 600)
        assert job.state == "done", job.error
        print(f"1. {n_children} children x {n_households} households, exact proposal: in-process {inside:.2f} s, "
              f"as a job {whole:.2f} s (overhead {whole - inside:.2f} s)")

        agencies = sorted(set(here.children["agency_id"].to_list()))
        params = {"budgets": [f"{a}=5000" for a in agencies], "sibling_contact_km": "5", "time_limit_s": "120"}
        job = jobs.start("propose", params, None, "bench")
        to_solving = _wait(job, lambda j: j.stage == "solving" or j.over, 600)
        assert not job.over, f"over before solving: {job.state} {job.error}"
        time.sleep(2.0)
        solving = job.stage == "solving" and not job.over
        pid = job.pid
        began = time.perf_counter()
        jobs.cancel(job)
        stop = _wait(job, lambda j: j.over, 60)
        try:
            os.kill(pid, 0)
            gone = False
        except ProcessLookupError:
            gone = True
        print(f"2. CP-SAT with side constraints: solving after {to_solving:.1f} s; cancelled 2 s into the solve "
              f"(still solving: {solving}); over after {stop:.3f} s, state {job.state}, process gone: {gone}")
    print(f"load average at end: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()
