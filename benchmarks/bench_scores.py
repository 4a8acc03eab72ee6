"""``matcher scores`` end to end, this checkout against an older one.

    python -m benchmarks.bench_scores --against /path/to/older/checkout \
        [--children N --households N] [--repeat N] [--format parquet|csv]

Both checkouts run ``matcher scores --out pairs.<format>`` in fresh
processes (``PYTHONPATH`` set to each), alternating, on one region made by
``matcher generate`` (seed 1); medians, the ratio new / old, and whether the
two wrote the same bytes (the table's order and content must not change).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import AS_OF, machine

HERE = Path(__file__).resolve().parents[1]
CLI = "import sys; from matcher.cli import main; sys.exit(main(sys.argv[1:]))"


def _run(checkout: Path, argv: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CLI, *argv], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{checkout}: {done.stderr}")
    return wall


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
        digests: dict[str, set[str]] = {"old": set(), "new": set()}
        for _ in range(args.repeat):
            for name, checkout in (("old", args.against), ("new", HERE)):
                out = Path(tmp) / f"{name}.{args.format}"
                times[name].append(_run(checkout, [
                    "scores", "--children", str(folder / "children.csv"), "--households",
                    str(folder / "households.csv"), "--as-of", AS_OF.isoformat(), "--out", str(out)]))
                digests[name].add(hashlib.sha256(out.read_bytes()).hexdigest())
                out.unlink()
                print(f"  {name}: {times[name][-1]:.2f} s", flush=True)
    old, new = statistics.median(times["old"]), statistics.median(times["new"])
    same = len(digests["old"] | digests["new"]) == 1
    print(f"matcher scores --out pairs.{args.format}, {args.children:,} children x {args.households:,} households: "
          f"old median {old:.2f} s, new median {new:.2f} s, new / old {new / old:.2f}; "
          f"same bytes: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
