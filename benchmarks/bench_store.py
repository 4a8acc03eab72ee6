"""Case register benchmarks (issue 10).

    python -m benchmarks.bench_store [--quick] [--pg postgresql://postgres@127.0.0.1:5432]

On SQLite (a temporary file) and on PostgreSQL (a temporary database on the
server given, dropped afterwards):

1. ``matcher import`` of 100,000 children + 100,000 households into an
   empty store, end to end (validation included; target <= 20 s each);
2. ``rank`` through the domain API in a warm process in store mode on
   100,000 households: the region from the store (a cache hit: one read of
   the data version), the ranking, and the audit row it records
   (target p95 <= 50 ms);
3. ``matcher rank --db`` from a cold start on 10,000 households
   (target <= 1.5 s).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from benchmarks.common import AS_OF, machine, region, summary

ROOT = Path(__file__).resolve().parents[1]
CLI = "import sys; from matcher.cli import main; sys.exit(main(sys.argv[1:]))"


def cli(*args: str) -> list[str]:
    return [sys.executable, "-c", CLI, *args]


@contextmanager
def stores(server: str):
    """An empty SQLite store path and an empty PostgreSQL database URL."""
    import psycopg

    name = f"matcher_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with tempfile.TemporaryDirectory() as tmp:
            yield {"SQLite": str(Path(tmp) / "register.sqlite3"), "PostgreSQL": f"{server}/{name}"}
    finally:
        from matcher.store.engine import dispose_all

        dispose_all()
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(argv: list[str]) -> float:
    start = time.perf_counter()
    done = __import__("subprocess").run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return time.perf_counter() - start


def warm_rank(db: str, samples: int) -> tuple[list[float], list[float]]:
    """Seconds per rank in store mode through the API, with and without the
    audit row (the region cached after a first build)."""
    import numpy as np

    from matcher import api

    region = api.region_from_store(db, AS_OF)
    waiting = region.children.filter(region.children["status"] == "waiting")["child_id"].to_list()
    rng = np.random.default_rng(0)
    picked = [waiting[i] for i in rng.integers(0, len(waiting), size=samples + 20)]
    options = api.QueryOptions()
    with_audit, bare = [], []
    for i, child in enumerate(picked):
        start = time.perf_counter()
        region = api.region_from_store(db, AS_OF)
        api.rank(region, child_id=child, options=options)
        middle = time.perf_counter()
        api.audit_read(db, "rank", f"rank --child {child}", child_id=child)
        end = time.perf_counter()
        if i >= 20:  # the first few warm caches up
            bare.append(middle - start)
            with_audit.append(end - start)
    return with_audit, bare


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--pg", default=os.environ.get("MATCHER_TEST_PG", "postgresql://postgres@127.0.0.1:5432"))
    parser.add_argument("--cold-only", action="store_true", help="run only case 3, the cold start")
    arguments = parser.parse_args()
    scale = 10 if arguments.quick else 1
    os.environ["PYTHONPATH"] = str(ROOT)
    os.environ.pop("MATCHER_DB", None)
    print(machine())
    big = None if arguments.cold_only else region(100_000 // scale, 100_000 // scale)
    small = region(3_000 // scale, 10_000 // scale)
    day = AS_OF.isoformat()
    with stores(arguments.pg) as big_stores, stores(arguments.pg) as small_stores:
        for backend, db in ({} if big is None else big_stores).items():
            run(cli("db", "init", "--db", db))
            seconds = run(cli("import", "--db", db, "--children", str(big[0]), "--households", str(big[1]),
                              "--as-of", day))
            print(f"1. {backend}: matcher import of {100_000 // scale:,} children + {100_000 // scale:,} households "
                  f"into an empty store: {seconds:.1f} s (target <= 20 s)", flush=True)
        for backend, db in ({} if big is None else big_stores).items():
            with_audit, bare = warm_rank(db, 200)
            print(f"2. {backend}: warm rank through the API in store mode, {100_000 // scale:,} households: "
                  f"{summary(with_audit)} with its audit row; {summary(bare)} without (target p95 <= 50 ms)",
                  flush=True)
        cold_commands = {}
        for backend, db in small_stores.items():
            run(cli("db", "init", "--db", db))
            run(cli("import", "--db", db, "--children", str(small[0]), "--households", str(small[1]), "--as-of", day))
            from matcher import api

            frame = api.region_from_store(db, AS_OF).children
            child = frame.filter(frame["status"] == "waiting")["child_id"][0]
            cold_commands[backend] = cli("rank", "--db", db, "--child", child, "--as-of", day, "--format", "json")
        cold_commands["files (same query, same data)"] = cli(
            "rank", "--children", str(small[0]), "--households", str(small[1]), "--child", child, "--as-of", day,
            "--format", "json")
        cold_commands["floor: python -c 'import numpy, polars'"] = [sys.executable, "-c", "import numpy, polars"]
        walls = cold_rank(cold_commands, repeat=7)
        files = statistics.median(walls["files (same query, same data)"])
        for name, seconds in walls.items():
            target = " (target <= 1.5 s)" if name in ("SQLite", "PostgreSQL") else ""
            print(f"3. {name}: matcher rank cold start, {10_000 // scale:,} households: median "
                  f"{statistics.median(seconds):.2f} s, max {max(seconds):.2f} s, "
                  f"{statistics.median(seconds) / files:.2f}x files{target}", flush=True)


def cold_rank(commands: dict[str, list[str]], repeat: int) -> dict[str, list[float]]:
    """Wall seconds of each command from a cold interpreter, the commands
    interleaved run by run so that a busy machine slows them alike (one
    warm-up round first: the operating system's file cache). The project's
    modules are compiled to bytecode first, as installing a wheel (and
    ``make install``) does: with ``PYTHONDONTWRITEBYTECODE`` set in the
    environment an editable install would otherwise compile every module
    at every start."""
    import compileall

    for package in ("matcher", "features", "solvers"):
        compileall.compile_dir(str(ROOT / package), quiet=1)
    for argv in commands.values():
        run(argv)
    walls: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, argv in commands.items():
            walls[name].append(run(argv))
    return walls


if __name__ == "__main__":
    main()
