"""``matcher scores`` end to end, this checkout against an older one.

    python -m benchmarks.bench_scores --against /path/to/older/checkout \
        [--children N --households N] [--repeat N] [--format parquet|csv]

Both checkouts run ``matcher scores --out pairs.<format>`` in fresh
processes (``PYTHONPATH`` set to each, run from each checkout's folder),
alternating, on one region made by ``matcher generate`` (seed 1); medians,
the ratio new / old, whether the two wrote the same bytes, and whether they
wrote the same table (the table's order and content must not change).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import AS_OF, machine

HERE = Path(__file__).resolve().parents[1]
CLI = "import sys; from matcher.cli import main; sys.exit(main(sys.argv[1:]))"


def _run(checkout: Path, argv: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, every thread) of one
    run; on a machine shared with other work the CPU time moves less."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # cwd = the checkout: ``python -c`` puts the current folder before
    # PYTHONPATH, so run from anywhere else both runs would load one checkout.
    done = subprocess.run([sys.executable, "-c", CLI, *argv], env=env, capture_output=True, text=True, cwd=checkout)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{checkout}: {done.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", required=True, type=Path)
    parser.add_argument("--children", type=int, default=10_000)
    parser.add_argument("--households", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--format", default="parquet", choices=["parquet", "csv"])
    args = parser.parse_args(argv)
    print(machine(), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "region"
        _run(HERE, ["generate", "--seed", "1", "--children", str(args.children), "--households",
                    str(args.households), "--as-of", AS_OF.isoformat(), "--out", str(folder)])
        times: dict[str, list[float]] = {"old": [], "new": []}
        cpu: dict[str, list[float]] = {"old": [], "new": []}
        digests: dict[str, set[str]] = {"old": set(), "new": set()}
        for _ in range(args.repeat):
            for name, checkout in (("old", args.against), ("new", HERE)):
                out = Path(tmp) / f"{name}.{args.format}"
                wall, used = _run(checkout, [
                    "scores", "--children", str(folder / "children.csv"), "--households",
                    str(folder / "households.csv"), "--as-of", AS_OF.isoformat(), "--out", str(out)])
                times[name].append(wall)
                cpu[name].append(used)
                digests[name].add(hashlib.sha256(out.read_bytes()).hexdigest())
                kept = Path(tmp) / f"{name}-kept.{args.format}"
                if not kept.exists():
                    out.rename(kept)
                else:
                    out.unlink()
                print(f"  {name}: {wall:.2f} s wall, {used:.2f} s CPU", flush=True)
        same = len(digests["old"] | digests["new"]) == 1
        # The table itself (a different Parquet codec changes the bytes, not the table).
        import polars as pl

        read = pl.read_parquet if args.format == "parquet" else pl.read_csv
        old_table, new_table = (read(Path(tmp) / f"{name}-kept.{args.format}") for name in ("old", "new"))
        same_table = old_table.schema == new_table.schema and old_table.equals(new_table)
    old, new = statistics.median(times["old"]), statistics.median(times["new"])
    old_cpu, new_cpu = statistics.median(cpu["old"]), statistics.median(cpu["new"])
    print(f"matcher scores --out pairs.{args.format}, {args.children:,} children x {args.households:,} households: "
          f"wall old {old:.2f} s, new {new:.2f} s, new / old {new / old:.2f}; CPU old {old_cpu:.2f} s, "
          f"new {new_cpu:.2f} s, new / old {new_cpu / old_cpu:.2f}; same bytes: {'yes' if same else 'no'}; "
          f"same table (columns, types, values, order): {'yes' if same_table else 'NO'}")
    return 0 if same_table else 1


if __name__ == "__main__":
    raise SystemExit(main())
