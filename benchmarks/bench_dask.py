"""Scoring on Dask distributed (issue 12, item 6): the cost of one unit block,
one process against a local cluster of 2 worker processes in the same run,
and what those figures say about 1 M units on 10 and 100 workers.

    python -m benchmarks.bench_dask [--quick] [--children N] [--households N]

Prints a table for benchmarks/README.md ("Issue 12: Dask").
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import time

import numpy as np

from benchmarks.common import AS_OF, machine, region as region_files


def _load(n_children: int, n_households: int):
    from matcher import api

    children, households = region_files(n_children, n_households)
    return api.region_from_files(children, households, AS_OF)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small region (CI smoke run)")
    parser.add_argument("--children", type=int, default=2_000)
    parser.add_argument("--households", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.quick:
        args.children, args.households, args.repeat = 300, 2_000, 1

    from matcher.scoring import distributed as dist
    from matcher.scoring.queries import BLOCK_PAIRS, local_scores
    from matcher.scoring.weights import Weights

    print(machine())
    print(f"load before: {open('/proc/loadavg').read().strip()}")
    region = _load(args.children, args.households)
    weights = Weights()
    rows = region.waiting_unit_rows
    n_units, n_households = len(rows), len(region.household_arrays)
    print(f"region: {args.children} children x {args.households} households; {n_units} waiting units")

    # One process, two threads (what `matcher scores` does without --scheduler), and one thread.
    local_scores(region, weights, workers=2)  # warm the region's cache
    one = [None]

    def whole(workers):
        start = time.perf_counter()
        one[0] = local_scores(region, weights, workers=workers)
        return time.perf_counter() - start

    t_two = statistics.median(whole(2) for _ in range(args.repeat))
    t_one = statistics.median(whole(1) for _ in range(args.repeat))
    pairs = len(one[0].score)
    fraction = pairs / (n_units * n_households)
    print(f"one process: {pairs} eligible pairs ({fraction:.1%} of units x households); "
          f"2 threads {t_two:.3f} s, 1 thread {t_one:.3f} s")

    # One block as a worker scores it (one thread), at the block size the runner uses.
    block_units = max(1, BLOCK_PAIRS // n_households)
    blocks = dist.unit_id_blocks(region, rows, 1, block_units)
    sample = blocks[: max(1, min(len(blocks), 10))]
    per_block, sizes = [], []
    for i, block in enumerate(sample):
        start = time.perf_counter()
        part = dist.score_block(region, weights, i, block)
        per_block.append(time.perf_counter() - start)
        sizes.append(len(pickle.dumps(part, protocol=5)))
    block_s = statistics.median(per_block)
    unit_cost = sum(per_block) / sum(len(b) for b in sample)  # seconds a unit, one thread
    block_pairs = statistics.median(len(dist.score_block(region, weights, 0, b).score) for b in sample[:3])
    bytes_per_pair = sum(sizes) / max(1, sum(len(dist.score_block(region, weights, 0, b).score) for b in sample))
    region_bytes = len(pickle.dumps(region, protocol=5))
    print(f"block: {len(sample[0])} units x {n_households} households, median {block_s * 1e3:.1f} ms on one thread "
          f"({len(sample)} blocks; {block_pairs:.0f} eligible pairs a block); result {bytes_per_pair:.1f} bytes a "
          f"pair pickled; the region pickled {region_bytes / 2**20:.1f} MiB")

    # A local cluster of 2 worker processes, one thread each, in the same run.
    start = time.perf_counter()
    runner = dist.DaskRunner.connect(dist.Scheduler("local:2"))
    up = time.perf_counter() - start
    try:
        runner.block_units = block_units
        start = time.perf_counter()
        runner.all_scores(region, weights)  # first call: workers import matcher and unpickle a region
        cold = time.perf_counter() - start
        walls = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            spread = runner.all_scores(region, weights)
            walls.append(time.perf_counter() - start)
        t_dask = statistics.median(walls)
    finally:
        start = time.perf_counter()
        runner.close()
        down = time.perf_counter() - start
    same = all(np.array_equal(getattr(one[0], f), getattr(spread, f))
               for f in ("units", "households", "points", "score", "weight", "fee", "distance_km"))
    print(f"local:2: start {up:.1f} s, first scoring {cold:.3f} s, then {t_dask:.3f} s (median of {args.repeat}: "
          f"{', '.join(f'{w:.3f}' for w in walls)}), close {down:.1f} s; same pairs as one process: {same}")
    print(f"ratio local:2 / one process (2 threads): {t_dask / t_two:.2f}; / one thread: {t_dask / t_one:.2f}")

    # 1 M units on W workers: the compute scales with units x households (the rules
    # see every pair) and the eligible pairs (the scorer); both are in the measured block.
    unit_s = unit_cost * (60_000 / n_households)
    print(f"per unit against 60,000 households (scaled linearly from {n_households}): {unit_s * 1e3:.2f} ms")
    for workers in (10, 100):
        compute = 1_000_000 * unit_s / workers
        print(f"1 M units x 60,000 households on {workers} workers: compute {compute:.0f} s "
              f"({compute / 60:.1f} min)")
    full_pairs = 1_000_000 * 60_000 * fraction
    print(f"full table: {full_pairs:.2e} eligible pairs, {full_pairs * bytes_per_pair / 1e9:.0f} GB to gather")
    print(f"load after: {open('/proc/loadavg').read().strip()}; pid {os.getpid()}")


if __name__ == "__main__":
    main()
