"""Helpers shared by the benchmarks: cached synthetic regions, timing, and
peak memory of a child process."""

from __future__ import annotations

import datetime as dt
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

AS_OF = dt.date(2026, 6, 30)
DATA = Path(__file__).resolve().parent / "_data"


def region(n_children: int, n_households: int, fmt: str = "csv", seed: int = 1) -> tuple[Path, Path]:
    """A synthetic region on disk, generated once and cached in benchmarks/_data."""
    from matcher.generate import generate_region
    from matcher.files.write import write_table
    from features.contract import CHILDREN, HOUSEHOLDS

    folder = DATA / f"r{seed}-{n_children}-{n_households}"
    children, households = folder / f"children.{fmt}", folder / f"households.{fmt}"
    if not (children.exists() and households.exists()):
        folder.mkdir(parents=True, exist_ok=True)
        kids, homes = generate_region(seed, n_children, n_households, AS_OF)
        write_table(kids, children, CHILDREN)
        write_table(homes, households, HOUSEHOLDS)
    return children, households


def timed(func, repeat: int = 5) -> list[float]:
    """Wall seconds of ``repeat`` calls."""
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        out.append(time.perf_counter() - start)
    return out


def run_measured(argv: list[str]) -> tuple[float, float, subprocess.CompletedProcess]:
    """Run a command in a child process; returns (wall seconds, peak RSS in
    GiB of the children, completed process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak_kib < before:  # ru_maxrss is a high-water mark over all children
        peak_kib = before
    return wall, peak_kib / 1024 / 1024, done


def repeated_runs(argv: list[str], repeat: int = 3) -> tuple[list[float], list[float]]:
    """Run a command ``repeat`` times; (wall seconds, peak GiB) of each run.
    Exits with the command's stderr if it fails."""
    walls, peaks = [], []
    for _ in range(repeat):
        wall, peak, done = run_measured(argv)
        if done.returncode != 0:
            raise SystemExit(done.stderr)
        walls.append(wall)
        peaks.append(peak)
    return walls, peaks


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{platform.node()}: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, "
            f"{dt.date.today().isoformat()}")


def summary(samples: list[float]) -> str:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]
    return f"p50 {statistics.median(samples) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, n={len(samples)}"


def python() -> str:
    return sys.executable


ONCE_S = 20.0
"""A timed run longer than this is not repeated."""


def clock(func, repeat: int):
    """Median wall seconds of ``func`` over ``repeat`` runs (one only when
    the first is slower than :data:`ONCE_S`), and its last value."""
    import time

    import numpy as np

    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = func()
        times.append(time.perf_counter() - start)
        if times[0] > ONCE_S:
            break
    return float(np.median(times)), value
