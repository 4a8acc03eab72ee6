"""``propose --candidates K`` against the exact proposal (issue 12, items 2
and 5): weight kept, arcs kept against eligible pairs, wall time and peak
memory, each case in its own process (peak RSS is ``ru_maxrss`` of that
process alone).

    python -m benchmarks.bench_candidates [--shapes 2000x20000 10000x20000] [--k 50]
    python -m benchmarks.bench_candidates --national   # 100,000 x 60,000, --candidates 50 only

Regions are ``matcher generate`` seed 1 (national: seed 12), as of
2026-06-30, cached in ``benchmarks/_data``. The domain call
(:func:`matcher.api.propose`) is timed after the region is read; the
national run is the whole ``matcher propose`` command.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

from benchmarks.common import AS_OF, DATA, region


def _case(children: str, households: str, k: int | None) -> dict:
    """One proposal in this process; what it measured, as a dict."""
    from matcher import api
    from matcher.files.read import read_region
    from matcher.region import Region

    region_ = Region.build(read_region(children, households, as_of=AS_OF), AS_OF)
    options = api.ProposalOptions.parse(candidates=k)
    start = time.perf_counter()
    proposal = api.propose(region_, options)
    wall = time.perf_counter() - start
    pruning = getattr(proposal.candidates, "pruning", None)
    return {
        "k": k, "objective": proposal.objective, "links": proposal.links.height, "wall_s": round(wall, 2),
        "method": proposal.method,
        "arcs": pruning.arcs_kept if pruning else len(proposal.candidates.units),
        "eligible": pruning.eligible_pairs if pruning else len(proposal.candidates.units),
        "bound": pruning.bound if pruning else None,
        "peak_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }


def _in_child(children, households, k: int | None) -> dict:
    argv = [sys.executable, "-m", "benchmarks.bench_candidates", "--one", str(children), str(households),
            "--k", "0" if k is None else str(k)]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _load() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def compare(shape: str, k: int) -> list[str]:
    n_c, n_h = (int(x) for x in shape.split("x"))
    children, households = region(n_c, n_h)
    load = _load()
    exact = _in_child(children, households, None)
    pruned = _in_child(children, households, k)
    kept = pruned["objective"] / exact["objective"] if exact["objective"] else 1.0
    share = pruned["arcs"] / pruned["eligible"] if pruned["eligible"] else 0.0
    return [
        f"{n_c:,} x {n_h:,} (load {load} before, {_load()} after): {pruned['eligible']:,} eligible pairs",
        f"  exact:     weight {exact['objective']:,.0f}, {exact['wall_s']} s, peak {exact['peak_gib']} GiB "
        f"({exact['method']})",
        f"  K={k}: weight {pruned['objective']:,.0f} = {kept:.4%} of exact; {pruned['arcs']:,} arcs = {share:.2%} "
        f"of the eligible pairs; {pruned['wall_s']} s, peak {pruned['peak_gib']} GiB; bound {pruned['bound']:,} "
        f"(exact optimum at {exact['objective'] / pruned['bound']:.2%} of it) ({pruned['method']})",
    ]


def national(k: int) -> list[str]:
    """``matcher generate`` 100,000 x 60,000 then ``matcher propose
    --candidates K``, timed end to end in a child process."""
    folder = DATA / "national"
    matcher = os.path.join(os.path.dirname(sys.executable), "matcher")
    if not (folder / "children.csv").exists():
        subprocess.run([matcher, "generate", "--seed", "12", "--children", "100000", "--households", "60000",
                        "--out", str(folder), "--as-of", AS_OF.isoformat()], check=True)
    out = DATA / "national_out"
    argv = ["/usr/bin/time", "-v", matcher, "propose", "--children", str(folder / "children.csv"),
            "--households", str(folder / "households.csv"), "--as-of", AS_OF.isoformat(),
            "--out", str(out / "links.csv"), "--candidates", str(k)]
    load = _load()
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    peak = next(line for line in done.stderr.splitlines() if "Maximum resident" in line)
    return [f"national 100,000 x 60,000, --candidates {k}: {wall:.0f} s, {peak.strip()} (load {load} before, "
            f"{_load()} after)", done.stdout.splitlines()[1] if len(done.stdout.splitlines()) > 1 else ""]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shapes", nargs="*", default=["2000x20000", "10000x20000"])
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--national", action="store_true")
    parser.add_argument("--one", nargs=2, metavar=("CHILDREN", "HOUSEHOLDS"))
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_case(args.one[0], args.one[1], args.k or None)))
        return
    if args.national:
        lines = national(args.k)
    else:
        lines = [line for shape in args.shapes for line in compare(shape, args.k)]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
