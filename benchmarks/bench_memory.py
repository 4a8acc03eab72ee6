"""Issue 12, item 3: memory that fits.

Peak resident memory and wall time of ``matcher propose`` in a fresh child
process per case (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``):

- exact ``propose`` on 10,000 children x 20,000 households (target: within
  1.5 GiB);
- ``propose --sibling-contact-km 30`` on 2,000 x 20,000 (target: within
  2 GiB);
- bytes per eligible pair: the lean table ``propose`` keeps
  (:class:`matcher.scoring.lean.LeanPairs`) against the full
  :class:`~matcher.scoring.scorer.PairScores`, measured on the arrays.

``--against DIR`` runs the same commands on another source tree (say, an
older commit unpacked with ``git archive``) in the same run, alternating, so
that a before/after pair of figures shares the machine's load. ``--quick``
runs small regions (CI smoke test).

    python -m benchmarks.bench_memory [--quick] [--against DIR] [--cases exact,sibling,bytes]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import AS_OF, machine, region

# Run in its own process so that RUSAGE_CHILDREN's high-water mark is this
# one command's, whatever ran before it.
_WRAPPER = """
import json, os, resource, subprocess, sys, time
cap = float(os.environ.get("BENCH_MEMORY_CAP_GIB", "0"))

def limit():
    if cap:
        resource.setrlimit(resource.RLIMIT_AS, (int(cap * 2**30), int(cap * 2**30)))

start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True, preexec_fn=limit)
wall = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"wall": wall, "peak_kib": peak, "rc": done.returncode,
                  "stderr": (done.stderr + done.stdout)[-400:]}))
"""


def run_measured(argv: list[str], env: dict) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall seconds and peak RSS (GiB) of one command, in a fresh process."""
    import json

    with tempfile.TemporaryDirectory() as cwd:  # not this checkout: `python -c` puts the cwd first on sys.path
        out = subprocess.run([sys.executable, "-c", _WRAPPER, *argv], capture_output=True, text=True, env=env,
                             cwd=cwd)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    done = subprocess.CompletedProcess(argv, result["rc"], "", result["stderr"])
    return result["wall"], result["peak_kib"] / 1024 / 1024, done

SHAPES = {"exact": (10_000, 20_000), "sibling": (2_000, 20_000)}
QUICK_SHAPES = {"exact": (1_000, 2_000), "sibling": (400, 2_000)}
EXTRA = {"exact": [], "sibling": ["--sibling-contact-km", "30"]}


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def propose_case(case: str, shape: tuple[int, int], source: str | None, timeout_s: float,
                 cap_gib: float = 0.0) -> dict:
    """One ``matcher propose`` in a fresh process (``source``: run that
    tree's matcher instead of the installed one)."""
    children, households = region(*shape)
    with tempfile.TemporaryDirectory() as tmp:
        argv = [sys.executable, "-c", "import sys; from matcher.cli.main import main; sys.argv[0] = 'matcher'; main()",
                "propose", "--children", str(children), "--households", str(households),
                "--as-of", AS_OF.isoformat(), "--out", f"{tmp}/links.csv", *EXTRA[case]]
        env = dict(os.environ)
        if source:
            env["PYTHONPATH"] = source + os.pathsep + env.get("PYTHONPATH", "")
        if cap_gib:  # address-space cap: a run that would take the machine's memory fails instead
            env["BENCH_MEMORY_CAP_GIB"] = str(cap_gib)
        load_before = _load()
        wall, peak, done = run_measured(["timeout", str(timeout_s), *argv], env=env)
        written = Path(f"{tmp}/links.csv")
        links = written.read_bytes() if written.exists() else b""
        if done.returncode == 0 and not links:  # a run that wrote nothing did not succeed
            done = subprocess.CompletedProcess(argv, -1, "", done.stderr)
        summary = next(iter(sorted(Path(tmp).glob("*summary*"))), None)
        summary_bytes = summary.read_bytes() if summary else b""
    return {"case": case, "shape": shape, "source": source or "this checkout", "wall_s": wall, "peak_gib": peak,
            "returncode": done.returncode, "stderr": done.stderr[-400:], "load": (load_before, _load()),
            "links": links, "summary": summary_bytes}


def bytes_case(shape: tuple[int, int]) -> list[str]:
    """Bytes per eligible pair of the lean table and of the full scores."""
    from matcher.api import region_from_files
    from matcher.scoring.lean import lean_scores
    from matcher.scoring.queries import all_scores
    from matcher.scoring.weights import Weights

    children, households = region(*shape)
    world = region_from_files(str(children), str(households), AS_OF)
    lean = lean_scores(world, Weights())
    n = len(lean)
    lean_bytes = lean.nbytes
    del lean
    full = all_scores(world, Weights())
    full_bytes = sum(a.nbytes for a in (full.units, full.households, full.points, full.score, full.weight, full.fee,
                                        full.distance_km))
    return [f"bytes per eligible pair, {shape[0]:,} x {shape[1]:,} ({n:,} eligible pairs): lean table "
            f"{lean_bytes / n:.1f} B (what propose keeps), full PairScores {full_bytes / n:.1f} B"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--against", default=None, help="another source tree to run in the same run")
    parser.add_argument("--cases", default="exact,sibling,bytes")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per propose run")
    parser.add_argument("--cap-gib", type=float, default=12.0,
                        help="address-space cap of the --against runs (the old sibling model needs more than 10 GiB)")
    args = parser.parse_args()
    shapes = QUICK_SHAPES if args.quick else SHAPES
    cases = args.cases.split(",")
    print(machine(), "load", _load(), flush=True)
    for case in ("sibling", "exact"):
        if case not in cases:
            continue
        runs = [propose_case(case, shapes[case], None, args.timeout)]
        if args.against:
            runs.append(propose_case(case, shapes[case], args.against, args.timeout, args.cap_gib))
        for r in runs:
            status = "ok" if r["returncode"] == 0 else f"FAILED (exit {r['returncode']}) {r['stderr']!r}"
            solver = next((line for line in r["summary"].decode(errors="replace").splitlines()
                           if line.startswith("Solver:")), "")
            print(f"{case} {r['shape'][0]:,} x {r['shape'][1]:,} [{r['source']}]: {r['wall_s']:.1f} s, peak "
                  f"{r['peak_gib']:.2f} GiB, {status}, load {r['load'][0]} -> {r['load'][1]}; {solver}", flush=True)
        if len(runs) == 2 and runs[0]["returncode"] == 0 == runs[1]["returncode"]:
            print(f"   links identical: {runs[0]['links'] == runs[1]['links']}; summary identical: "
                  f"{runs[0]['summary'] == runs[1]['summary']}", flush=True)
    if "bytes" in cases:
        for line in bytes_case(shapes["exact"]):
            print(line, flush=True)


if __name__ == "__main__":
    main()
