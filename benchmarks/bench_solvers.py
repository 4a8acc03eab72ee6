"""Time solvers.max_weight_matching against scipy, lap and networkx.

Run ``python -m benchmarks.bench_solvers [--quick] [--only NAME ...]
[--repeat N]``. Each case builds one synthetic instance (fixed seed), times
our solver on the arc arrays and every peer on the input form it needs (a
dense matrix or a CSR matrix, built before the clock starts), N times each
(median; once if a run exceeds 20 s), and prints seconds, objectives and the
ratio ours / fastest peer. The full run needs about 6 GiB and a few
minutes on two cores; ``--quick`` uses small sizes.

Peers that only solve *perfect* assignments (scipy's
``min_weight_full_bipartite_matching``, ``lap.lapmod``) are given the
unpadded sparse matrix, which asks a harder-constrained question (every row
matched); the table marks them ``perfect`` and shows their objective so the
difference is visible. See benchmarks/SOLVERS.md.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field

import numpy as np

from benchmarks.common import clock
from solvers import max_weight_matching


@dataclass
class Timing:
    """One solver's time and objective on a case."""

    solver: str
    seconds: float
    objective: float
    note: str = ""


@dataclass
class Case:
    """A benchmark instance and the timings measured on it."""

    name: str
    shape: str
    timings: list[Timing] = field(default_factory=list)


# Each solver runs this many times and the median is reported (set by
# --repeat); a run longer than benchmarks.common.ONCE_S is not repeated.
REPEAT = 3


def _clock(func):
    """Median seconds over REPEAT runs (one if the first is slow), last value."""
    return clock(func, REPEAT)


def dense_instance(n: int, seed: int = 0):
    """A complete n x n graph with integer weights 1..999."""
    rng = np.random.default_rng(seed)
    matrix = rng.integers(1, 1000, size=(n, n))
    rows, cols = np.indices(matrix.shape).reshape(2, -1)
    return rows, cols, matrix.ravel(), matrix


def random_arcs(n_rows: int, n_cols: int, n_arcs: int, seed: int = 0):
    """``n_arcs`` distinct random arcs with integer weights 1..999."""
    rng = np.random.default_rng(seed)
    keys = rng.choice(n_rows * n_cols, size=n_arcs, replace=False)
    return keys // n_cols, keys % n_cols, rng.integers(1, 1000, size=n_arcs)


def per_row_arcs(n: int, degree: int, seed: int = 0):
    """About ``degree`` random arcs per row of an n x n graph, shuffled."""
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(n), degree)
    keys = np.unique(rows * n + rng.integers(0, n, size=rows.size))
    keys = rng.permutation(keys)
    return keys // n, keys % n, rng.integers(1, 1000, size=keys.size)


def ours(case: Case, rows, cols, weights, **sizes) -> None:
    seconds, result = _clock(lambda: max_weight_matching(rows, cols, weights, **sizes))
    case.timings.append(Timing("ours", seconds, result.objective, result.backend))


def dense_case(n: int) -> Case:
    import lap
    from scipy.optimize import linear_sum_assignment

    case = Case("dense", f"{n} x {n} complete, int weights")
    rows, cols, weights, matrix = dense_instance(n)
    ours(case, rows, cols, weights)
    seconds, (r, c) = _clock(lambda: linear_sum_assignment(matrix, maximize=True))
    case.timings.append(Timing("scipy.linear_sum_assignment", seconds, matrix[r, c].sum()))
    negated = -matrix.astype(np.float64)
    seconds, out = _clock(lambda: lap.lapjv(negated))
    case.timings.append(Timing("lap.lapjv", seconds, -out[0]))
    return case


def wide_case(n_rows: int, n_cols: int, n_arcs: int) -> Case:
    import lap
    from scipy.optimize import linear_sum_assignment

    case = Case("wide", f"{n_rows} x {n_cols}, {n_arcs:,} arcs")
    rows, cols, weights = random_arcs(n_rows, n_cols, n_arcs)
    ours(case, rows, cols, weights, n_rows=n_rows, n_cols=n_cols)
    # A zero cell is as good as leaving the row unmatched: same problem.
    matrix = np.zeros((n_rows, n_cols))
    matrix[rows, cols] = weights
    seconds, (r, c) = _clock(lambda: linear_sum_assignment(matrix, maximize=True))
    case.timings.append(Timing("scipy.linear_sum_assignment", seconds, matrix[r, c].sum()))
    negated = -matrix
    seconds, out = _clock(lambda: lap.lapjv(negated, extend_cost=True))
    case.timings.append(Timing("lap.lapjv(extend_cost)", seconds, -out[0]))
    return case


def sparse_case(n: int, degree: int) -> Case:
    import lap
    import scipy.sparse as sp
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    rows, cols, weights = per_row_arcs(n, degree)
    case = Case("sparse", f"{n} x {n}, {degree} arcs per row ({len(rows):,} arcs)")
    ours(case, rows, cols, weights, n_rows=n, n_cols=n)
    matrix = sp.csr_matrix((weights.astype(np.float64), (rows, cols)), shape=(n, n))
    try:
        seconds, (r, c) = _clock(
            lambda: min_weight_full_bipartite_matching(matrix, maximize=True))
        objective = float(np.asarray(matrix[r, c]).sum())
        case.timings.append(Timing("scipy.min_weight_full_bipartite_matching", seconds,
                                   objective, "perfect"))
    except ValueError as error:  # no perfect matching exists
        case.timings.append(Timing("scipy.min_weight_full_bipartite_matching", float("nan"),
                                   float("nan"), f"failed: {error}"))
    # lapmod minimises: cost 1000 - w > 0 keeps the optimum of a perfect assignment.
    costs = sp.csr_matrix((1000.0 - weights, (rows, cols)), shape=(n, n))
    costs.sort_indices()
    # return_cost=False: lapmod's own cost sum is a Python loop; sum outside.
    seconds, (x, _) = _clock(lambda: lap.lapmod(n, costs.data, costs.indptr, costs.indices,
                                                 return_cost=False))
    objective = _csr_sum(costs, x)
    objective = 1000.0 * n - objective if np.isfinite(objective) else float("nan")
    case.timings.append(Timing("lap.lapmod", seconds, objective, "perfect"))
    return case


def _csr_sum(matrix, col_of_row) -> float:
    """Sum of the chosen cells of a CSR matrix (inf if one is not stored)."""
    col_of_row = np.asarray(col_of_row)
    if col_of_row.min() < 0:
        return float("inf")
    rows = np.arange(matrix.shape[0])
    keys = rows.repeat(np.diff(matrix.indptr)) * matrix.shape[1] + matrix.indices
    wanted = rows * matrix.shape[1] + col_of_row
    order = np.argsort(keys)
    found = np.minimum(np.searchsorted(keys[order], wanted), keys.size - 1)
    if not np.array_equal(keys[order][found], wanted):
        return float("inf")
    return float(matrix.data[order][found].sum())


def networkx_case(n: int, density: float) -> Case:
    import networkx as nx

    rng = np.random.default_rng(0)
    mask = rng.random((n, n)) < density
    rows, cols = np.nonzero(mask)
    weights = rng.integers(1, 1000, size=rows.size)
    case = Case("networkx", f"{n} x {n}, density {density} ({rows.size:,} arcs)")
    ours(case, rows, cols, weights, n_rows=n, n_cols=n)
    graph = nx.Graph()
    graph.add_weighted_edges_from(
        (int(r), n + int(c), int(w)) for r, c, w in zip(rows, cols, weights))
    seconds, matching = _clock(lambda: nx.max_weight_matching(graph))
    objective = sum(graph[a][b]["weight"] for a, b in matching)
    case.timings.append(Timing("networkx.max_weight_matching", seconds, objective))
    return case


def cases(quick: bool) -> dict:
    """The benchmark cases, by name, at full or quick size."""
    if quick:
        return {
            "dense": lambda: dense_case(1000),
            "wide": lambda: wide_case(400, 4000, 400_000),
            "sparse": lambda: sparse_case(10_000, 50),
            "networkx": lambda: networkx_case(100, 0.2),
        }
    return {
        "dense": lambda: dense_case(5000),
        "wide": lambda: wide_case(2000, 20_000, 10_000_000),
        "sparse": lambda: sparse_case(100_000, 50),
        "networkx": lambda: networkx_case(300, 0.2),
    }


def ratio(case: Case) -> float:
    """Our time over the fastest peer's (peers that failed are skipped)."""
    ours_time = next(t.seconds for t in case.timings if t.solver == "ours")
    peers = [t.seconds for t in case.timings if t.solver != "ours" and np.isfinite(t.seconds)]
    return ours_time / min(peers) if peers else float("nan")


def report(case: Case) -> str:
    lines = [f"## {case.name}: {case.shape}"]
    for t in case.timings:
        note = f"  [{t.note}]" if t.note else ""
        lines.append(f"  {t.solver:42s} {t.seconds:9.3f} s  objective {t.objective:,.0f}{note}")
    lines.append(f"  ratio ours / fastest peer: {ratio(case):.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--only", nargs="*", help="case names to run")
    parser.add_argument("--json", help="also write the timings to this file")
    parser.add_argument("--repeat", type=int, default=REPEAT,
                        help="runs per solver, median reported (default %(default)s)")
    args = parser.parse_args(argv)
    globals()["REPEAT"] = max(1, args.repeat)
    results = []
    for name, run in cases(args.quick).items():
        if args.only and name not in args.only:
            continue
        case = run()
        results.append(case)
        print(report(case), flush=True)
    if args.json:
        with open(args.json, "w") as out:
            json.dump([{"name": c.name, "shape": c.shape, "ratio": ratio(c),
                        "timings": [t.__dict__ for t in c.timings]} for c in results],
                      out, indent=2, default=float)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
