"""Run every benchmark: ``python -m benchmarks [--quick]`` (``make bench``).

Figures go to standard output; copy them into benchmarks/README.md with the
machine and the date they were measured on.
"""

from __future__ import annotations

import subprocess
import sys

MODULES = ("benchmarks.bench_io", "benchmarks.bench_queries", "benchmarks.bench_solvers", "benchmarks.bench_propose",
           "benchmarks.bench_core", "benchmarks.bench_exchange", "benchmarks.bench_report", "benchmarks.bench_store",
           "benchmarks.bench_web_load")


def main() -> int:
    quick = ["--quick"] if "--quick" in sys.argv[1:] else []
    failed = 0
    for module in MODULES:
        print(f"== {module}", flush=True)
        args = quick if module != "benchmarks.bench_io" else ([] if not quick else ["--rows", "10000"])
        failed += subprocess.run([sys.executable, "-m", module, *args]).returncode != 0
    return failed


if __name__ == "__main__":
    sys.exit(main())
