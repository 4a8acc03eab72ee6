"""``matcher report`` (issue 11): end to end on the demo's size (400 x 600)
and on 2,000 x 4,000, against ``matcher scores`` on the same files in the
same run (the scoring of every eligible pair, which the report also does),
and where the report's time goes in process.

``python -m benchmarks.bench_report [--quick]`` (``--quick``: one run each).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import AS_OF, machine, region, repeated_runs

SIZES = ((400, 600), (2_000, 4_000))


def _in_process(children: Path, households: Path, links: Path) -> dict[str, float]:
    from matcher import api

    start = time.perf_counter()
    built = api.region_from_files(children, households, AS_OF)
    read = time.perf_counter()
    proposal = api.proposal_from_file(built, links)
    data = api.report_data(built, data="bench", proposal=proposal)
    computed = time.perf_counter()
    html = api.render_report(data)
    rendered = time.perf_counter()
    return {"read": read - start, "compute": computed - read, "render": rendered - computed,
            "html_mib": len(html.encode("utf-8")) / 2**20}


def main() -> int:
    repeat = 1 if "--quick" in sys.argv[1:] else 3
    matcher = str(Path(sys.executable).with_name("matcher"))
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        for n_children, n_households in SIZES:
            children, households = region(n_children, n_households)
            files = ["--children", str(children), "--households", str(households), "--as-of", AS_OF.isoformat()]
            links = Path(tmp) / f"links-{n_children}.csv"
            repeated_runs([matcher, "propose", "--out", str(links), *files], repeat=1)
            report_walls, report_peaks = repeated_runs(
                [matcher, "report", "--out", str(Path(tmp) / f"r-{n_children}.html"), "--proposal", str(links),
                 *files], repeat)
            scores_walls, _ = repeated_runs(
                [matcher, "scores", "--out", str(Path(tmp) / f"s-{n_children}.parquet"), *files], repeat)
            inside = _in_process(children, households, links)
            report, scores = statistics.median(report_walls), statistics.median(scores_walls)
            print(f"{n_children} x {n_households}: matcher report {report:.2f} s (median of {repeat}; peak "
                  f"{max(report_peaks):.2f} GiB), matcher scores {scores:.2f} s, ratio {report / scores:.2f}; "
                  f"in process: read {inside['read']:.2f} s, compute {inside['compute']:.2f} s, render "
                  f"{inside['render']:.2f} s, HTML {inside['html_mib']:.2f} MiB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
