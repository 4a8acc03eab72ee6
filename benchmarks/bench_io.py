"""Reading and validating 100,000 children plus 100,000 households.

Target (issue 3): <= 2 s and <= 1 GiB peak. Each measurement runs in a fresh
process so that peak memory is that of the read alone.

    python -m benchmarks.bench_io [--rows N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

from benchmarks.common import AS_OF, machine, region, run_measured

PROBE = """
import json, resource, sys, time, datetime as dt
start = time.perf_counter()
from matcher.files.read import read_region
region = read_region(sys.argv[1], sys.argv[2], as_of=dt.date.fromisoformat(sys.argv[3]))
wall = time.perf_counter() - start
print(json.dumps({"seconds": wall, "rows": region.children.height + region.households.height,
                  "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024}))
"""


def measure(rows: int, fmt: str, repeat: int = 5) -> dict:
    children, households = region(rows, rows, fmt)
    runs = []
    for _ in range(repeat):
        _, _, done = run_measured([sys.executable, "-c", PROBE, str(children), str(households), AS_OF.isoformat()])
        if done.returncode != 0:
            raise SystemExit(done.stderr)
        runs.append(json.loads(done.stdout))
    return {
        "format": fmt,
        "rows": runs[0]["rows"],
        "median_s": statistics.median(r["seconds"] for r in runs),
        "max_s": max(r["seconds"] for r in runs),
        "peak_gib": max(r["peak_gib"] for r in runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    print(machine())
    for fmt in ("csv", "parquet"):
        r = measure(args.rows, fmt)
        verdict = "met" if r["median_s"] <= 2.0 and r["peak_gib"] <= 1.0 else "NOT met"
        print(f"read+validate {args.rows:,} children + {args.rows:,} households ({fmt}): "
              f"median {r['median_s']:.2f} s (max {r['max_s']:.2f} s), peak {r['peak_gib']:.2f} GiB "
              f"(includes interpreter and imports) -> target {verdict}")


if __name__ == "__main__":
    main()
