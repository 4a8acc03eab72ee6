"""Compare this checkout with another one on the same region files, in one
run, interleaved: the figures that a change to the hot path could move.

    python -m benchmarks.bench_compare --against /path/to/older/checkout

Both checkouts are run in fresh processes (``PYTHONPATH`` set to each) on
regions made once by this checkout's generator, so a change to the
generator does not change what is measured. The older checkout may use the
older internal names (``matcher.world.World``); the probes below speak both.
Each case alternates the two checkouts ``--repeat`` times and reports
medians and the ratio new / old.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

from benchmarks.common import machine, region

HERE = Path(__file__).resolve().parents[1]

# Each probe prints one JSON object of seconds. It imports whichever API the
# checkout has: the domain API (matcher.api) or the earlier World.
PRELUDE = textwrap.dedent("""
    import datetime as dt, json, sys, time
    import numpy as np
    AS_OF = dt.date(2026, 6, 30)
    try:
        from matcher import api
        def load(c, h):
            return api.region_from_files(c, h, AS_OF)
        def rank(world, child):
            return api.rank(world, child_id=child, options=api.QueryOptions(top=10))
        def every_score(world):
            from matcher.scoring.queries import all_scores
            from matcher.scoring.weights import Weights
            return all_scores(world, Weights())
        def read(c, h):
            from matcher.files.read import read_region
            return read_region(c, h, as_of=AS_OF)
    except ImportError:
        from matcher.world import World
        def load(c, h):
            return World.from_files(c, h, AS_OF)
        def rank(world, child):
            from matcher.queries import rank_for_child
            return rank_for_child(world, child, 10)
        def every_score(world):
            from matcher.queries import all_scores
            return all_scores(world)
        def read(c, h):
            from matcher.io import read_region
            return read_region(c, h, as_of=AS_OF)
""")

PROBES = {
    "read + validate 100,000 + 100,000 CSV": """
        t = time.perf_counter(); read(C, H); print(json.dumps({"s": time.perf_counter() - t}))
    """,
    "rank one unit x 100,000 households, warm, p50 of 200": """
        world = load(C, H)
        kids = world.children.filter(world.children["status"] == "waiting")["child_id"].to_list()
        rng = np.random.default_rng(0)
        picks = [kids[i] for i in rng.integers(0, len(kids), 200)]
        rank(world, picks[0])
        times = []
        for child in picks:
            t = time.perf_counter(); rank(world, child); times.append(time.perf_counter() - t)
        print(json.dumps({"s": float(np.median(times))}))
    """,
    "eligibility + scoring of every waiting unit x 20,000 households": """
        world = load(C, H)
        every_score(world)
        t = time.perf_counter(); n = len(every_score(world).score); s = time.perf_counter() - t
        print(json.dumps({"s": s, "pairs": n}))
    """,
}


def _probe(checkout: Path, body: str, children: Path, households: Path) -> dict:
    code = PRELUDE + f"C, H = {str(children)!r}, {str(households)!r}\n" + textwrap.dedent(body)
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=checkout)
    if done.returncode != 0:
        raise RuntimeError(f"{checkout}: {done.stderr.strip().splitlines()[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _command(checkout: Path, args: list[str]) -> float:
    """Wall seconds of a whole CLI run in a fresh process (start-up included)."""
    import time

    env = {**os.environ, "PYTHONPATH": str(checkout)}
    argv = [sys.executable, "-c", "import sys; from matcher.cli import main; sys.exit(main(sys.argv[1:]))", *args]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=checkout)
    if done.returncode != 0:
        raise RuntimeError(f"{checkout}: {' '.join(args[:1])}: {done.stderr.strip()[-300:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", required=True, type=Path, help="the older checkout to compare with")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each checkout per case (alternating)")
    args = parser.parse_args()
    old, new = args.against.resolve(), HERE
    big = region(100_000, 100_000)
    pairs = region(2_000, 20_000)
    rank_region = (pairs[0], big[1])
    cases = [
        (name, lambda checkout, body=body, files=files: _probe(checkout, body, *files)["s"])
        for (name, body), files in zip(PROBES.items(), (big, rank_region, pairs))
    ]
    out = Path("/tmp") / "bench_compare"
    out.mkdir(exist_ok=True)
    files = ["--children", str(pairs[0]), "--households", str(pairs[1]), "--as-of", "2026-06-30"]
    cases.append(("`matcher scores` end to end, 2,000 x 20,000, Parquet",
                  lambda checkout: _command(checkout, ["scores", *files, "--out", str(out / f"{checkout.name}.parquet")])))
    cases.append(("`matcher propose` end to end, 2,000 x 20,000",
                  lambda checkout: _command(checkout, ["propose", *files, "--out", str(out / f"{checkout.name}.csv")])))
    print(machine())
    print(f"new: {new}\nold: {old}\n")
    print("| case | old (median) | new (median) | new / old |")
    print("|---|---|---|---|")
    for name, run in cases:
        samples = {old: [], new: []}
        for _ in range(args.repeat):
            for checkout in (old, new):
                samples[checkout].append(run(checkout))
        o, n = statistics.median(samples[old]), statistics.median(samples[new])
        unit, scale = ("ms", 1e3) if o < 0.1 else ("s", 1.0)
        print(f"| {name} | {o * scale:.3g} {unit} | {n * scale:.3g} {unit} | {n / o:.2f} |", flush=True)


if __name__ == "__main__":
    main()
