"""The fused scorer (issue 14, item 1): eligibility + scoring in one
compiled pass, against the numpy reference and numpy's read bandwidth,
all measured in the same run.

    python -m benchmarks.bench_scorer [--quick] [--repeat N] [--samples N]

1. the benchmark's 2,000 units x 20,000 households (the first 2,000
   waiting units of a 3,600-child region, 40 M candidate pairs, as
   ``bench_queries``) in-process: the kernel (``queries.all_scores``, two
   threads) and the numpy reference (``eligible_pairs_reference`` +
   ``score_pairs_reference``, two threads) alternating, medians; the bytes
   the pass touches per candidate pair, and the time numpy needs to read
   that many bytes (``np.sum`` over a 256 MB array, one and two threads);
2. one unit x 100,000 households, warm: the kernel (``all_scores`` on one
   unit) and the reference (the rule masks + ``score_pairs_reference``),
   alternating per sample, p50 / p95;
3. the kernel's start-up costs in a fresh interpreter: importing numba,
   importing the kernel module, and the first call (compiled code loaded
   from numba's on-disk cache).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np

from benchmarks.common import AS_OF, machine, region, summary

# Bytes the fused pass reads or writes, per candidate pair and per eligible
# pair (matcher/scoring/kernel.py): the count pass reads the household's
# 8-byte rule word; the fill pass reads it again and writes a 4-byte
# household index (branch-free compaction writes every candidate). Per
# eligible pair: the index read back (4), unit and household rows written
# (16) and read (8), the household's unit vector (24), the half chord
# written (8); numpy's arcsin and the scaling read and write it (32); the
# score reads household row, distance and the household's 64-byte record
# (80) and writes points (40), score, weight and fee (24).
BYTES_PER_CANDIDATE = 8 + 8 + 4
BYTES_PER_ELIGIBLE = 4 + 16 + 8 + 24 + 8 + 32 + 80 + 40 + 24
# Of which to or from main memory (the outputs; the household tables, 8 and
# 64 bytes a household, stay in cache): rows (16), distance (8), points (40),
# score, weight, fee (24).
OUTPUT_BYTES_PER_ELIGIBLE = 16 + 8 + 40 + 24


def _world(n_children: int, n_households: int):
    from matcher.api import region_from_files

    children, households = region(n_children, n_households, fmt="parquet")
    return region_from_files(str(children), str(households), AS_OF)


def numpy_read_bandwidth(repeat: int) -> tuple[float, float]:
    """Bytes per second numpy reads (``np.sum`` of a 256 MB float64 array),
    on one thread and on two (each summing half)."""
    from matcher.pool import run_all

    data = np.ones(32 << 20)
    halves = np.array_split(data, 2)
    data.sum()
    one, two = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        data.sum()
        one.append(time.perf_counter() - start)
        start = time.perf_counter()
        run_all(np.sum, halves, 2)
        two.append(time.perf_counter() - start)
    return data.nbytes / statistics.median(one), data.nbytes / statistics.median(two)


def region_pass(world, rows, weights, repeat: int) -> list[str]:
    from matcher.scoring import queries
    from matcher.scoring.scorer import score_pairs_reference

    candidates = len(rows) * world.tables.n_households

    def fused():
        return queries.all_scores(world, weights, rows)

    def reference():
        u, h = queries.eligible_pairs_reference(world, rows)
        return score_pairs_reference(world.unit_arrays, world.household_arrays, u, h, weights, cache=world.cache)

    new, old = fused(), reference()
    same = all(getattr(new, f).tobytes() == getattr(old, f).tobytes()
               for f in ("units", "households", "points", "score", "weight", "fee", "distance_km"))
    eligible = len(new.units)
    times: dict[str, list[float]] = {"kernel": [], "reference": []}
    cpu: dict[str, list[float]] = {"kernel": [], "reference": []}
    for _ in range(repeat):
        for name, run in (("kernel", fused), ("reference", reference)):
            start, used = time.perf_counter(), time.process_time()
            run()
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - used)
    one_bw, two_bw = numpy_read_bandwidth(repeat)
    k, r = statistics.median(times["kernel"]), statistics.median(times["reference"])
    touched = BYTES_PER_CANDIDATE * candidates + BYTES_PER_ELIGIBLE * eligible
    memory = OUTPUT_BYTES_PER_ELIGIBLE * eligible
    lines = [
        f"1. {len(rows):,} units x {world.tables.n_households:,} households = {candidates / 1e6:.1f} M candidate "
        f"pairs, {eligible:,} eligible; kernel == reference bit for bit: {'yes' if same else 'NO'}",
        f"   kernel (fused, 2 threads):    median {k:.3f} s (best {min(times['kernel']):.3f} s) = "
        f"{candidates / k / 1e6:.0f} M candidate pairs/s (best {candidates / min(times['kernel']) / 1e6:.0f} M/s); "
        f"CPU {statistics.median(cpu['kernel']):.3f} s (target >= 250 M/s)",
        f"   reference (numpy, 2 threads): median {r:.3f} s = {candidates / r / 1e6:.0f} M candidate pairs/s; "
        f"CPU {statistics.median(cpu['reference']):.3f} s; kernel / reference time {k / r:.3f}",
        f"   bytes touched per candidate pair {touched / candidates:.1f} ({BYTES_PER_CANDIDATE} + "
        f"{BYTES_PER_ELIGIBLE} per eligible pair; {memory / candidates:.1f} of them outputs to memory): the kernel "
        f"moves {touched / k / 1e9:.2f} GB/s; numpy reads {one_bw / 1e9:.1f} GB/s on one thread, "
        f"{two_bw / 1e9:.1f} GB/s on two, so reading the same bytes takes numpy {touched / two_bw:.3f} s "
        f"(kernel / numpy read {k / (touched / two_bw):.1f})",
    ]
    return lines


def one_unit(world, weights, samples: int) -> list[str]:
    from features.eligibility import eligible
    from matcher.scoring import queries
    from matcher.scoring.scorer import score_pairs_reference

    rng = np.random.default_rng(0)
    rows = rng.choice(world.waiting_unit_rows, size=samples)

    def fused(row):
        queries.all_scores(world, weights, np.array([row]), workers=1)

    def reference(row):
        hits = np.flatnonzero(eligible(world.unit_arrays, np.array([row]), world.tables)[0])
        score_pairs_reference(world.unit_arrays, world.household_arrays, np.full(len(hits), row), hits, weights,
                              cache=world.cache)

    for row in rows[:20]:
        fused(row)
        reference(row)
    out: dict[str, list[float]] = {"kernel": [], "reference": []}
    for row in rows:
        for name, run in (("kernel", fused), ("reference", reference)):
            start = time.perf_counter()
            run(row)
            out[name].append(time.perf_counter() - start)
    return [f"2. one unit x {world.tables.n_households:,} households, warm: kernel {summary(out['kernel'])} "
            f"(target p95 <= 5 ms); reference {summary(out['reference'])}; p50 kernel / reference "
            f"{statistics.median(out['kernel']) / statistics.median(out['reference']):.2f}"]


STARTUP = """
import time, numpy as np
t0 = time.perf_counter()
import numba
t1 = time.perf_counter()
from matcher.scoring import kernel
t2 = time.perf_counter()
from benchmarks.bench_scorer import _world
w = _world(400, 600)
from matcher.scoring.weights import Weights
t3 = time.perf_counter()
kernel.all_scores(w.unit_arrays, w.household_arrays, w.tables, w.waiting_unit_rows, w.excluded_keys, Weights(),
                  1, w.cache)
t4 = time.perf_counter()
kernel.all_scores(w.unit_arrays, w.household_arrays, w.tables, w.waiting_unit_rows, w.excluded_keys, Weights(),
                  1, w.cache)
t5 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f} {t4 - t3:.3f} {t5 - t4:.4f}")
"""


def startup(repeat: int) -> list[str]:
    runs = []
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-c", STARTUP], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": os.getcwd()})
        if done.returncode != 0:
            raise SystemExit(done.stderr)
        runs.append([float(x) for x in done.stdout.split()])
    numba_s, module_s, first_s, second_s = (statistics.median(r[i] for r in runs) for i in range(4))
    return [f"3. start-up in a fresh interpreter (median of {repeat}): import numba {numba_s:.3f} s, import the "
            f"kernel module {module_s:.3f} s, first call (compiled code loaded from numba's cache) {first_s:.3f} s, "
            f"second call {second_s * 1000:.1f} ms; the first run after a change to the kernel compiles "
            f"(tens of seconds) and writes the cache"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args(argv)
    from matcher.scoring.weights import Weights

    scale = 10 if args.quick else 1
    weights = Weights()
    print(machine(), flush=True)
    print(f"load average at start: {open('/proc/loadavg').read().split()[:3]}", flush=True)
    for line in startup(3):
        print(line, flush=True)
    world = _world(3_600 // scale, 20_000 // scale)
    for line in region_pass(world, world.waiting_unit_rows[:2_000 // scale], weights, args.repeat):
        print(line, flush=True)
    del world
    big = _world(1_000 // scale, 100_000 // scale)
    for line in one_unit(big, weights, args.samples):
        print(line, flush=True)
    print(f"load average at end: {open('/proc/loadavg').read().split()[:3]}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
