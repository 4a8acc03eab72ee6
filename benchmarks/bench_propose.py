"""Batch proposal benchmarks (issue 5).

    python -m benchmarks.bench_propose [--quick] [--profile FILE]

1. a region of 400 children and 600 households, ``propose`` with a budget
   for every agency: proven optimal within 60 s?
2. ``propose`` end to end on 2,000 units x 20,000 households (target
   <= 30 s), with a pyinstrument profile of the in-process run written to
   ``--profile`` (text).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from benchmarks.common import AS_OF, machine, region, repeated_runs


def budgets_case(seed: int = 1) -> str:
    from matcher.options import make_request
    from matcher.proposals.propose import propose
    from matcher.proposals.checks import check_validity
    from matcher.api import region_from_files

    children, households = region(400, 600, seed=seed)
    world = region_from_files(str(children), str(households), AS_OF)
    plain = propose(world, make_request())
    fees = plain.links.join(world.units.select("unit_id", "agency_id"), on="unit_id")
    spent = dict(fees.group_by("agency_id").agg(pl.col("fee").sum()).iter_rows())
    # Budgets at half of what the unconstrained optimum spends: they bind.
    budgets = [f"{a}={int(spent.get(a, 0) // 2)}" for a in world.agencies]
    start = time.perf_counter()
    capped = propose(world, make_request(budgets=budgets, time_limit_s=60))
    wall = time.perf_counter() - start
    assert check_validity(capped, world) == []
    return (f"1. 400 children x 600 households (seed {seed}), budget for each of {len(world.agencies)} agencies at "
            f"half the unconstrained spend: status {capped.status}, gap {capped.gap:.4f}, {wall:.1f} s "
            f"(objective {capped.objective:,.0f} vs unconstrained {plain.objective:,.0f}) -> target "
            f"{'met' if capped.status == 'optimal' and wall <= 60 else 'NOT met'}")


def large_case(n_children: int, n_households: int, profile: str | None) -> list[str]:
    from matcher.options import make_request
    from matcher.proposals.propose import propose
    from matcher.api import region_from_files

    children, households = region(n_children, n_households)
    lines = []
    exe = str(Path(sys.executable).with_name("matcher"))
    with tempfile.TemporaryDirectory() as tmp:
        walls, peaks = repeated_runs([exe, "propose", "--children", str(children), "--households", str(households),
                                      "--as-of", AS_OF.isoformat(), "--out", f"{tmp}/links.csv"])
    world = region_from_files(str(children), str(households), AS_OF)
    lines.append(f"2. matcher propose end to end, {len(world.waiting_unit_rows):,} waiting units x "
                 f"{len(world.households):,} households: median {statistics.median(walls):.2f} s "
                 f"(max {max(walls):.2f} s), peak {max(peaks):.2f} GiB (target <= 30 s)")
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()
        w = region_from_files(str(children), str(households), AS_OF)
        proposal = propose(w, make_request())
        from matcher.proposals.checks import check_validity

        check_validity(proposal, w)
        profiler.stop()
        Path(profile).write_text(profiler.output_text(unicode=False, color=False, show_all=False))
        lines.append(f"   profile written to {profile}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--profile", default=None)
    args = parser.parse_args()
    print(machine())
    print(budgets_case())
    scale = 10 if args.quick else 1
    for line in large_case(3_600 // scale, 20_000 // scale, args.profile):
        print(line)


if __name__ == "__main__":
    main()
