"""Load test of the web service (issue 13).

    python -m benchmarks.bench_web_load [--quick] [--backend sqlite|postgresql|both]
                                        [--users 50] [--seconds 60] [--pg postgresql://postgres@127.0.0.1:5432]

A store (SQLite in a temporary file; PostgreSQL in a temporary database,
dropped afterwards) holding a generated region of 10,000 households and
3,000 children; one family-finder account per simulated user, spread over
the agencies with waiting children. The server is ``matcher serve`` (one
uvicorn worker: one process, its thread pool for the endpoints) on a free
loopback port; the load generator is locust, headless, on the same machine:
``--users`` users, all started at once, each with its own session and
ranking a waiting child of its agency (``GET /api/rank?child=ID&top=10``)
with 1 s think time, for ``--seconds`` seconds. Each account is logged in
once just before the run (one login after another; their times are printed
too), and its user takes that session. One ranking is asked for
before the run (the region is read from the store once, as on a server that
has been up a while): its time is printed too. Right after the run, one
user alone ranks for 20 s on the same server: a same-run reference for how
fast a ranking is on the machine as loaded at the time.

Prints, per back end: requests, failures, p50/p95/p99 of the ranking
requests (locust's percentiles: whole milliseconds under 100 ms, then two
significant figures), the logins' times, the server's CPU seconds per
ranking, and the load average before and after. Target: p95 <= 200 ms and
no errors. Bounded: locust stops itself after ``--seconds`` (and is killed
if it has not ended 120 s later); traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

from benchmarks.common import AS_OF, machine, region

ROOT = Path(__file__).resolve().parents[1]
CLI = "import sys; from matcher.cli import main; sys.exit(main(sys.argv[1:]))"
PASSWORD = "load test password 13"
REFERENCE_S = 20
"""Seconds of the reference run: one user alone on the same server, right
after the main run, so that the machine's load at the time shows."""


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", CLI, *args]


def _run(argv: list[str], env: dict | None = None) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(done.stderr)


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@contextmanager
def _store(backend: str, server: str):
    """An empty store of the back end: a temporary SQLite file or a
    temporary PostgreSQL database (dropped afterwards)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield str(Path(tmp) / "register.sqlite3")
        return
    import psycopg

    name = f"matcher_load_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        from matcher.store.engine import dispose_all

        dispose_all()
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _plan(db: str, users: int, folder: Path) -> Path:
    """One family-finder account per user, round robin over the agencies
    with waiting children; the plan file the locust users read."""
    from matcher import api

    children = api.region_from_store(db, AS_OF).children
    waiting = children.filter(children["status"] == "waiting")
    by_agency: dict[str, list[str]] = {}
    for agency, child in zip(waiting["agency_id"].to_list(), waiting["child_id"].to_list()):
        by_agency.setdefault(agency, []).append(child)
    agencies = sorted(by_agency)
    plan = {"password": PASSWORD, "users": []}
    for i in range(users):
        agency = agencies[i % len(agencies)]
        name = f"finder{i:03d}"
        api.add_user(db, name, "family_finder", agency, PASSWORD)
        plan["users"].append({"username": name, "agency": agency, "children": by_agency[agency]})
    api.close_store(db)
    path = folder / "plan.json"
    path.write_text(json.dumps(plan), encoding="utf-8")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def _server(db: str, env: dict):
    """``matcher serve`` on a free loopback port: (its URL, its pid)."""
    port = _free_port()
    process = subprocess.Popen(_cli("serve", "--db", db, "--host", "127.0.0.1", "--port", str(port)), env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/openapi.json", timeout=5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the server did not start: {process.stderr.read() if process.stderr else ''}")
                time.sleep(0.2)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _log_in(url: str, plan: Path) -> list[float]:
    """Log every account of the plan in, one after another, and write its
    session into the plan; the seconds of each login."""
    import httpx

    from matcher.web.app import COOKIE

    content = json.loads(plan.read_text(encoding="utf-8"))
    seconds = []
    for me in content["users"]:
        with httpx.Client(base_url=url, timeout=120) as client:
            start = time.perf_counter()
            answer = client.post("/api/login", json={"username": me["username"], "password": PASSWORD})
            seconds.append(time.perf_counter() - start)
            answer.raise_for_status()
            me["session"], me["csrf_token"] = client.cookies[COOKIE], answer.json()["csrf_token"]
    content["cookie"] = COOKIE
    plan.write_text(json.dumps(content), encoding="utf-8")
    return seconds


def _first_ranking(url: str, plan: Path) -> float:
    """Seconds of the first ranking after the server started (it reads the
    region from the store), asked by the first account."""
    import httpx

    from matcher.web.app import COOKIE

    me = json.loads(plan.read_text(encoding="utf-8"))["users"][0]
    with httpx.Client(base_url=url, timeout=120, cookies={COOKIE: me["session"]}) as client:
        start = time.perf_counter()
        client.get("/api/rank", params={"child": me["children"][0], "top": "10"}).raise_for_status()
        return time.perf_counter() - start


def _locust(url: str, plan: Path, users: int, seconds: int, folder: Path, env: dict) -> dict[str, dict]:
    prefix = folder / "locust"
    argv = [sys.executable, "-m", "locust", "-f", str(Path(__file__).with_name("locust_web.py")), "--headless",
            "--users", str(users), "--spawn-rate", str(users), "--run-time", f"{seconds}s", "--host", url,
            "--csv", str(prefix), "--only-summary", "--stop-timeout", "5", "--loglevel", "WARNING"]
    done = subprocess.run(argv, env={**env, "MATCHER_LOAD_PLAN": str(plan)}, capture_output=True, text=True,
                          timeout=seconds + 120)
    if not Path(f"{prefix}_stats.csv").exists():
        raise SystemExit(f"locust failed ({done.returncode}): {done.stderr[-2000:]}")
    with open(f"{prefix}_stats.csv", newline="", encoding="utf-8") as handle:
        rows = {f"{r['Type']} {r['Name']}".strip(): r for r in csv.DictReader(handle)}
    failures = Path(f"{prefix}_failures.csv").read_text(encoding="utf-8").strip().splitlines()[1:]
    rows["failures"] = {"lines": failures}
    return rows


def measure(backend: str, db: str, users: int, seconds: int, small: tuple[Path, Path]) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MATCHER_DB", None)
    _run(_cli("db", "init", "--db", db), env)
    _run(_cli("import", "--db", db, "--children", str(small[0]), "--households", str(small[1]), "--as-of",
              AS_OF.isoformat()), env)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        plan = _plan(db, users, folder)
        with _server(db, env) as (url, pid):
            logins = sorted(_log_in(url, plan))
            first = _first_ranking(url, plan)
            before, cpu_before = _loadavg(), _cpu_seconds(pid)
            rows = _locust(url, plan, users, seconds, folder, env)
            cpu = _cpu_seconds(pid) - cpu_before
            after = _loadavg()
            alone = _locust(url, plan, 1, REFERENCE_S, folder, env)["GET /api/rank"]
    rank = rows["GET /api/rank"]
    count, failed = int(rank["Request Count"]), int(rank["Failure Count"])
    all_failed = int(rows["Aggregated"]["Failure Count"])
    print(f"{backend}: {users} users x {seconds} s, 1 s think time, server `matcher serve` (1 uvicorn worker)",
          flush=True)
    reached = float(rank["95%"]) <= 200 and all_failed == 0
    print(f"  GET /api/rank: {count} requests ({float(rank['Requests/s']):.1f}/s), {failed} failed; "
          f"p50 {rank['50%']} ms, p95 {rank['95%']} ms, p99 {rank['99%']} ms, "
          f"max {float(rank['Max Response Time']):.0f} ms "
          f"(target p95 <= 200 ms, 0 errors: {'reached' if reached else 'NOT reached'})", flush=True)
    print(f"  logins before the run, one after another: median {logins[len(logins) // 2] * 1000:.0f} ms, "
          f"max {logins[-1] * 1000:.0f} ms", flush=True)
    print(f"  errors of any request: {all_failed}" + "".join(f"\n    {line}" for line in rows["failures"]["lines"][:5]),
          flush=True)
    print(f"  reference, the same server right after with 1 user for {REFERENCE_S} s: {alone['Request Count']} "
          f"requests, p50 {alone['50%']} ms, p95 {alone['95%']} ms, max {float(alone['Max Response Time']):.0f} ms",
          flush=True)
    print(f"  first ranking after start (reads the region): {first:.2f} s; server CPU {cpu:.1f} s in the run, "
          f"{cpu / max(count, 1) * 1000:.1f} ms per ranking; load average before {before}, after {after}",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="10 users for 15 s on 1,000 households")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--pg", default=os.environ.get("MATCHER_TEST_PG", "postgresql://postgres@127.0.0.1:5432"))
    arguments = parser.parse_args()
    users, seconds, scale = (10, 15, 10) if arguments.quick else (arguments.users, arguments.seconds, 1)
    print(machine(), f"load average {_loadavg()}", flush=True)
    small = region(3_000 // scale, 10_000 // scale)
    backends = ("sqlite", "postgresql") if arguments.backend == "both" else (arguments.backend,)
    for backend in backends:
        with _store(backend, arguments.pg) as db:
            measure(backend, db, users, seconds, small)


if __name__ == "__main__":
    main()
