"""Same-run references (issue 14 item 5): what this machine does right now,
measured beside every case so that a figure can be read as a ratio on a
slower or busier day.

- ``numpy_read_gbps(nbytes, threads)``: a numpy pass reading ``nbytes``
  (``np.add.reduce`` over int64 words; with two threads each sums half, numpy
  releases the GIL), in GB/s (1e9 bytes), best of a few passes;
- ``python_loop_pairs_per_s()``: a plain Python per-pair loop (eight integer
  comparisons per pair over lists of dicts, the shape of a straightforward
  rules loop), pairs per second on a small sample.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

DEFAULT_BYTES = 256 * 1024 * 1024


def numpy_read_gbps(nbytes: int = DEFAULT_BYTES, threads: int = 1, passes: int = 3) -> float:
    words = max(1024, int(nbytes) // 8)
    data = np.ones(words, dtype=np.int64)
    parts = np.array_split(data, threads)
    best = float("inf")
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(passes):
            start = time.perf_counter()
            total = sum(pool.map(np.add.reduce, parts))
            best = min(best, time.perf_counter() - start)
    assert int(total) == words
    return data.nbytes / best / 1e9


def python_loop_pairs_per_s(n_units: int = 20, n_households: int = 2000) -> float:
    rng = np.random.default_rng(0)
    units = [{"age": int(a), "size": int(s), "need": int(n)} for a, s, n in
             zip(rng.integers(0, 200, n_units), rng.integers(1, 4, n_units), rng.integers(0, 4, n_units))]
    homes = [{"min_age": int(a), "max_age": int(a) + 60, "min_children": 1, "max_children": int(m),
              "consider": int(c), "approved": bool(b)} for a, m, c, b in
             zip(rng.integers(0, 150, n_households), rng.integers(1, 5, n_households),
                 rng.integers(0, 4, n_households), rng.random(n_households) < 0.9)]
    start = time.perf_counter()
    hits = 0
    for unit in units:
        for home in homes:
            if (home["approved"] and home["min_children"] <= unit["size"] <= home["max_children"]
                    and home["min_age"] <= unit["age"] <= home["max_age"] and unit["need"] <= home["consider"]):
                hits += 1
    return n_units * n_households / (time.perf_counter() - start)


def machine_references(nbytes: int = DEFAULT_BYTES) -> dict:
    """The references every case's JSON carries."""
    return {"numpy_read_bytes": nbytes,
            "numpy_read_gbps_1t": round(numpy_read_gbps(nbytes, 1), 3),
            "numpy_read_gbps_2t": round(numpy_read_gbps(nbytes, 2), 3),
            "python_loop_pairs_per_s": round(python_loop_pairs_per_s(), 1),
            "python_loop": "plain Python per-pair loop, 4 rule checks per pair on lists of dicts, 20 x 2,000 pairs"}
