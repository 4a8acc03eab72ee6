"""Batch proposal benchmarks (issue 5).

    python -m benchmarks.bench_propose [--quick] [--profile FILE]

1. ``propose`` with a budget for every agency at half of what its
   children's unconstrained proposal spends, on 400 children x 600
   households (target <= 5 s) and 3,000 x 2,000 (target <= 30 s, not with
   ``--quick``): proven optimal or certified within 0.1%? Each problem is
   then given, in the same run, to each method compared for issue 12.
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
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from benchmarks.common import AS_OF, machine, region, repeated_runs


def _budgeted_world(n_children: int, n_households: int, seed: int):
    """A region and a budget for every agency at half of what its children's
    unconstrained proposal spends (so every budget binds)."""
    from matcher.options import make_request
    from matcher.proposals.propose import propose
    from matcher.api import region_from_files

    children, households = region(n_children, n_households, seed=seed)
    world = region_from_files(str(children), str(households), AS_OF)
    plain = propose(world, make_request())
    fees = plain.links.join(world.units.select("unit_id", "agency_id"), on="unit_id")
    spent = dict(fees.group_by("agency_id").agg(pl.col("fee").sum()).iter_rows())
    budgets = [f"{a}={int(spent.get(a, 0) // 2)}" for a in world.agencies]
    return world, plain, budgets


def budgets_case(n_children: int = 400, n_households: int = 600, seed: int = 1, target_s: float = 5.0) -> Iterator[str]:
    """Issue 12: `propose` with every agency budgeted, end to end in-process,
    then the same array problem given to each method in the same run (one
    line each, as soon as measured)."""
    import matcher.proposals.propose as proposing
    from matcher.options import make_request
    from matcher.proposals.checks import check_validity

    world, plain, budgets = _budgeted_world(n_children, n_households, seed)
    captured = {}
    solve = proposing.constrained_assignment

    def recording(*args, **kwargs):  # keeps the arrays propose builds
        captured["args"], captured["kwargs"] = args, kwargs
        return solve(*args, **kwargs)

    proposing.constrained_assignment = recording
    try:
        start = time.perf_counter()
        capped = proposing.propose(world, make_request(budgets=budgets, time_limit_s=60))
        wall = time.perf_counter() - start
    finally:
        proposing.constrained_assignment = solve
    assert check_validity(capped, world) == []
    certified = capped.status == "optimal" or capped.gap <= 0.001
    yield (f"{n_children} children x {n_households} households (seed {seed}), budget for each of "
           f"{len(budgets)} agencies at half the unconstrained spend: `propose` {wall:.1f} s, status "
           f"{capped.status}, gap {capped.gap:.5f} (objective {capped.objective:,.0f}, bound "
           f"{capped.bound:,.0f}, unconstrained {plain.objective:,.0f}) -> target <= {target_s:.0f} s "
           f"{'met' if certified and wall <= target_s else 'NOT met'}")
    for name, run in methods(captured["args"], captured["kwargs"]):
        start = time.perf_counter()
        result = run()
        yield (f"   {name}: {time.perf_counter() - start:.1f} s, status {result[0]}, objective "
               f"{result[1]:,.0f}, bound {result[2]:,.0f}, gap {result[3]:.5f}")


def methods(args, kwargs, limit_s: float = 60.0):
    """The methods compared on one budgeted problem: (name, run) pairs, run
    returning (status, objective, bound, gap)."""
    from solvers import SolverConfig, constrained_assignment
    from solvers.constrained import _solve_cp_sat
    from solvers._arcs import validate_arcs
    from solvers._side_constraints import validate_side_constraints

    def ours(gap):
        def run():
            r = constrained_assignment(*args, **{**kwargs, "config": SolverConfig(time_limit_s=limit_s,
                                                                                   relative_gap=gap)})
            return r.status, r.objective, r.bound, r.gap
        return run

    def cp_sat_alone():
        arcs = validate_arcs(*args, kwargs["n_rows"], kwargs["n_cols"])
        side = validate_side_constraints(arcs, kwargs["fees"], kwargs["fee_group"], kwargs["budgets"], None, None)
        r = _solve_cp_sat(arcs, side, None, SolverConfig(time_limit_s=limit_s), time.perf_counter())
        return r.status, r.objective, r.bound, r.gap

    return [("LP bound + hull rows + rounding + reduced CP-SAT, stop at 0.1% (the default)", ours(0.001)),
            ("the same, to proven optimality (relative_gap=0)", ours(0.0)),
            (f"CP-SAT alone on the full model, hinted with the repaired matching ({limit_s:.0f} s limit)",
             cp_sat_alone),
            (f"HiGHS MIP alone on the integer costs ({limit_s:.0f} s wall-clock limit)",
             lambda: highs_mip(args, kwargs, limit_s))]


def highs_mip(args, kwargs, limit_s: float):
    """The budgeted matching as one HiGHS MIP (one thread, integer costs,
    absolute gap below one unit): the reference for 'a MIP solver alone'."""
    import highspy
    import numpy as np

    rows, cols, weights = (np.asarray(a) for a in args)
    fees, groups, budgets = kwargs["fees"], kwargs["fee_group"], kwargs["budgets"]
    n_rows, n_cols = kwargs["n_rows"], kwargs["n_cols"]
    ids = np.flatnonzero(weights > 0)
    budgeted = (groups[ids] >= 0) & (fees[ids] > 0)
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("threads", 1)
    highs.setOptionValue("mip_rel_gap", 0.0)
    highs.setOptionValue("mip_abs_gap", 0.99)
    highs.setOptionValue("time_limit", limit_s)
    n = len(ids)
    highs.addVars(n, np.zeros(n), np.ones(n))
    highs.changeColsCost(n, np.arange(n, dtype=np.int32), weights[ids].astype(np.float64))
    highs.changeColsIntegrality(n, np.arange(n, dtype=np.int32), np.full(n, highspy.HighsVarType.kInteger))
    for ends in (rows[ids], cols[ids]):
        order = np.argsort(ends, kind="stable")
        for group in np.split(order, np.flatnonzero(np.diff(ends[order])) + 1):
            highs.addRow(-highspy.kHighsInf, 1.0, len(group), group.astype(np.int32), np.ones(len(group)))
    for g, budget in enumerate(budgets.tolist()):
        members = np.flatnonzero(budgeted & (groups[ids] == g))
        highs.addRow(-highspy.kHighsInf, float(budget), len(members), members.astype(np.int32),
                     fees[ids][members].astype(np.float64))
    highs.changeObjectiveSense(highspy.ObjSense.kMaximize)
    highs.run()
    info = highs.getInfo()
    x = np.asarray(highs.getSolution().col_value) > 0.5
    objective = int(weights[ids][x].sum())
    bound = float(info.mip_dual_bound)
    status = "optimal" if highs.getModelStatus() == highspy.HighsModelStatus.kOptimal else "feasible"
    return status, objective, bound, (bound - objective) / max(1.0, abs(bound))


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
    for line in budgets_case(400, 600, target_s=5.0):
        print(line, flush=True)
    if not args.quick:
        for line in budgets_case(3_000, 2_000, target_s=30.0):
            print(line, flush=True)
    scale = 10 if args.quick else 1
    for line in large_case(3_600 // scale, 20_000 // scale, args.profile):
        print(line)


if __name__ == "__main__":
    main()
