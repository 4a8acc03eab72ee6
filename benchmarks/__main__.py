"""The benchmark suite: ``python -m benchmarks`` (``make bench``).

Runs every case (or those given with ``--case``) at its sizes, one child
process per size, writes ``RESULTS/CASE.json`` and then renders the tables
and scaling plots. ``--help`` lists the options; the older one-topic
scripts (``python -m benchmarks.bench_*``) still run on their own, and
``--scripts`` runs them all as before.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODULES = ("benchmarks.bench_io", "benchmarks.bench_queries", "benchmarks.bench_solvers", "benchmarks.bench_propose",
           "benchmarks.bench_core", "benchmarks.bench_exchange", "benchmarks.bench_report", "benchmarks.bench_store",
           "benchmarks.bench_memory", "benchmarks.bench_web_load")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run the benchmark suite: each case at 3+ sizes in fresh processes, JSON results with machine, "
                    "date, load, versions, wall time, peak memory, throughput beside a same-run reference, and the "
                    "fitted growth exponent; then render benchmarks/README.md's generated block and SVG plots.")
    p.add_argument("--quick", action="store_true", help="CI-sized cases (small sizes only)")
    p.add_argument("--case", action="append", metavar="NAME", help="run this case (repeatable); default: all")
    p.add_argument("--list", action="store_true", help="list the cases and their sizes, then exit")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for the JSON, SVG and profile (default benchmarks/results, with --quick "
                        "benchmarks/results/quick); with another folder the tables go to OUT/README.md, never to "
                        "benchmarks/README.md")
    p.add_argument("--repeat", type=int, default=None, help="runs per size (median reported; default per case)")
    p.add_argument("--profile", metavar="CASE",
                   help="write a pyinstrument profile of CASE at its largest size to OUT/CASE-profile.{html,txt}")
    p.add_argument("--size", type=int, default=None, metavar="I",
                   help="with --profile: profile the I-th size (0-based) instead of the largest")
    p.add_argument("--render", action="store_true", help="only render tables and plots from the JSON in OUT")
    p.add_argument("--no-render", action="store_true", help="do not render after the run")
    p.add_argument("--scripts", action="store_true", help="run the older one-topic scripts one after the other")
    return p


def run_scripts(quick: bool) -> int:
    failed = 0
    for module in MODULES:
        print(f"== {module}", flush=True)
        args = ["--quick"] if quick else []
        if module == "benchmarks.bench_io":
            args = ["--rows", "10000"] if quick else []
        failed += subprocess.run([sys.executable, "-m", module, *args]).returncode != 0
    return failed


def profile(spec, size: dict, out: Path, repeat: int) -> list[Path]:
    from pyinstrument import Profiler

    from benchmarks import suite

    suite.PROFILING = True
    if spec.prepare is not None:
        spec.prepare(size)
    profiler = Profiler()
    profiler.start()
    spec.measure(size, repeat)
    profiler.stop()
    out.mkdir(parents=True, exist_ok=True)
    html = out / f"{spec.name}-profile.html"
    text = out / f"{spec.name}-profile.txt"
    html.write_text(profiler.output_html(), encoding="utf-8")
    text.write_text(profiler.output_text(unicode=False, color=False, show_all=False), encoding="utf-8")
    return [html, text]


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.scripts:
        return run_scripts(args.quick)
    from benchmarks import suite

    cases = suite.load_cases()
    if args.list:
        for name, spec in cases.items():
            sizes = "; ".join(suite.json.dumps(s) for s in spec.sizes)
            quick = "; ".join(suite.json.dumps(s) for s in spec.quick)
            print(f"{name}: {spec.title}\n    n = {spec.n_label}\n    full: {sizes}\n    quick: {quick}")
        return 0
    # A quick run never replaces the committed full results: by default it goes to results/quick.
    out = args.out or (suite.RESULTS / "quick" if args.quick and not args.render and not args.profile
                       else suite.RESULTS)
    default_out = args.out is None or out.resolve() == suite.RESULTS.resolve()
    readme = HERE / "README.md" if default_out else out / "README.md"
    if args.render:
        from benchmarks.render import render

        for path in render(out, readme, list(cases), svg_prefix="results/" if default_out else ""):
            print(f"wrote {path}")
        return 0
    unknown = [n for n in (args.case or []) + ([args.profile] if args.profile else []) if n not in cases]
    if unknown:
        print(f"unknown case(s): {', '.join(unknown)}; known: {', '.join(cases)}", file=sys.stderr)
        return 2
    if args.profile:
        spec = cases[args.profile]
        sizes = spec.quick if args.quick else spec.sizes
        size = sizes[-1 if args.size is None else args.size]
        for path in profile(spec, size, out, args.repeat or 1):
            print(f"wrote {path}")
        return 0
    failed = 0
    for name in args.case or list(cases):
        path = suite.run_case(cases[name], quick=args.quick, repeat=args.repeat, out_dir=out,
                              log=lambda s: print(s, flush=True))
        doc = suite.json.loads(path.read_text())
        failed += any("error" in r for r in doc["sizes"])
        print(f"   wrote {path}", flush=True)
    if not args.no_render:
        from benchmarks.render import render

        for path in render(out, readme, list(cases), svg_prefix="results/" if default_out else ""):
            print(f"wrote {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
