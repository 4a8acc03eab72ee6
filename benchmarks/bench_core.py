"""The hot core (issue 14): exact matching on a region's own arcs.

    python -m benchmarks.bench_core [--quick] [--shapes 2000x20000 ...] [--repeat N] [--skip-slow]

For each region shape (``matcher generate``, seed 1, children x
households) the arcs ``propose`` solves (every eligible pair, weight =
the link weight) are computed once and cached in ``benchmarks/_data``.
Then, in one run, side by side:

- ``max_weight_matching`` with ``backend="auto"`` (what ``propose`` runs)
  and with every back end of the registry that fits (whole call on the arc
  arrays: validation, duplicate check, compaction, solve, read-back);
- peers, each where it fits in memory (dense: up to the machine's memory
  / 32 bytes cells): scipy's dense
  ``linear_sum_assignment`` on the ``-w`` matrix (built before the clock),
  scipy's ``min_weight_full_bipartite_matching`` on the matrix padded with
  one zero-weight stand-in column per row (**timed including building that
  matrix from the arcs**, the ordinary way: COO then CSR), ``lap.lapjv``
  with ``extend_cost`` on the dense matrix (only while the square it pads
  to has at most 25 M cells: hours beyond), and OR-Tools' min-cost flow
  (built and solved from the arcs).

Prints seconds (median of ``--repeat``; once when a run exceeds 20 s),
objectives and ``auto / fastest peer``.
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.common import AS_OF, DATA, clock, machine, region

REPEAT = 3


def _dense_cells() -> int:
    """The most cells a dense peer is given: a float64 matrix of rows x
    columns, scipy's working copy and ours (12 bytes a cell) must fit in
    the machine's memory with room to spare (32 bytes a cell in all)."""
    import os

    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 32


_DENSE_CELLS = _dense_cells()
_LAPJV_SQUARE_CELLS = 25_000_000


def region_arcs(n_children: int, n_households: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Rows (unit), columns (household), int64 weights of every eligible
    pair, in the order ``propose`` hands them to the solver, and the
    region's unit and household counts; cached on disk."""
    path = DATA / f"arcs-r1-{n_children}-{n_households}.npz"
    if not path.exists():
        from matcher.api import region_from_files
        from matcher.scoring.queries import all_scores
        from matcher.scoring.weights import Weights

        children, households = region(n_children, n_households, fmt="parquet")
        world = region_from_files(str(children), str(households), AS_OF)
        scores = all_scores(world, Weights())
        np.savez(path, rows=scores.units, cols=scores.households, weights=scores.weight,
                 n=np.array([len(world.unit_arrays), len(world.household_arrays)]))
        del scores, world
    saved = np.load(path)
    n_rows, n_cols = (int(x) for x in saved["n"])
    return saved["rows"], saved["cols"], saved["weights"], n_rows, n_cols


def padded_peer(rows, cols, weights, n_rows, n_cols):
    """scipy's sparse full matching on the arcs plus one stand-in column a
    row, built from the arcs the ordinary way (COO to CSR). Stand-ins get
    cost -1 and arcs -1 - w (scipy drops explicit zeros; every row is
    matched once, so the shift is the same for every answer)."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    stand = np.arange(n_rows)
    data = np.concatenate([-1.0 - weights, np.full(n_rows, -1.0)])
    matrix = sp.coo_array((data, (np.concatenate([rows, stand]), np.concatenate([cols, n_cols + stand]))),
                          shape=(n_rows, n_cols + n_rows)).tocsr()
    r, c = min_weight_full_bipartite_matching(matrix)
    real = c < n_cols
    mate = np.full(n_rows, -1)
    mate[r[real]] = c[real]
    return int(weights[mate[rows] == cols].sum())


def dense_matrix(rows, cols, weights, n_rows, n_cols) -> np.ndarray:
    matrix = np.zeros((n_rows, n_cols))
    matrix[rows, cols] = -weights.astype(np.float64)
    return matrix


def flow_peer(rows, cols, weights, n_rows, n_cols):
    """OR-Tools' min-cost flow built from the arcs: source -> unit ->
    household -> sink, plus a source -> sink bypass."""
    from ortools.graph.python import min_cost_flow

    source, sink = n_rows + n_cols, n_rows + n_cols + 1
    supply = min(n_rows, n_cols)
    tails = np.concatenate([rows, np.full(n_rows, source), n_rows + np.arange(n_cols), [source]]).astype(np.int32)
    heads = np.concatenate([n_rows + cols, np.arange(n_rows), np.full(n_cols, sink), [sink]]).astype(np.int32)
    caps = np.concatenate([np.ones(rows.size + n_rows + n_cols, np.int64), [supply]])
    costs = np.concatenate([-weights, np.zeros(n_rows + n_cols + 1, np.int64)]).astype(np.int64)
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    flow.set_nodes_supplies(np.array([source, sink], np.int32), np.array([supply, -supply], np.int64))
    assert flow.solve() == flow.OPTIMAL
    return -int(flow.optimal_cost())


def run_shape(n_children: int, n_households: int, repeat: int, skip_slow: bool) -> list[str]:
    from scipy.optimize import linear_sum_assignment

    from solvers import max_weight_matching
    from solvers.matching import REGISTRY

    rows, cols, weights, n_rows, n_cols = region_arcs(n_children, n_households)
    # Import every solver's modules before any clock starts.
    for name in REGISTRY:
        max_weight_matching(np.array([0, 1]), np.array([1, 0]), np.array([2, 3]), backend=name)
    padded_peer(np.array([0]), np.array([0]), np.array([1]), 1, 1)
    units, homes = np.unique(rows).size, np.unique(cols).size
    lines = [f"## {n_children:,} children x {n_households:,} households: {units:,} units with arcs x "
             f"{homes:,} households with arcs, {rows.size:,} arcs (density {rows.size / (units * homes):.3f})"]
    ours, peers = {}, {}

    print(lines[0], flush=True)

    def note(group: dict, name: str, seconds: float, objective, extra: str = "") -> None:
        group[name] = seconds
        lines.append(f"  {name:44s} {seconds:8.3f} s  objective {objective:,}{extra}")
        print(lines[-1], flush=True)

    # One untimed run on these arcs first, at every size: every solver is timed
    # warm (a first call on 70 M arcs measured 13.9 s against 9.7 s after it).
    max_weight_matching(rows, cols, weights, n_rows=n_rows, n_cols=n_cols)
    seconds, result = clock(lambda: max_weight_matching(rows, cols, weights, n_rows=n_rows, n_cols=n_cols), repeat)
    note(ours, "ours: auto", seconds, result.objective, f"  [{result.backend}]")
    dense_fits = units * homes <= _DENSE_CELLS
    for name in REGISTRY:
        if REGISTRY[name].dense and not dense_fits:
            continue
        if name == "min_cost_flow" and rows.size > 1_000_000:
            continue  # the same OR-Tools solver as the flow peer below
        if name == "linear_sum_assignment" and rows.size > 1_000_000:
            continue  # the doubled OR-Tools assignment: minutes at this size (SOLVERS.md)
        if name in ("lapmod", "lapjv") and units != homes:
            continue  # square input only (lapmod is the flow again; lapjv pads to a square: minutes)
        seconds, result = clock(lambda: max_weight_matching(rows, cols, weights, n_rows=n_rows, n_cols=n_cols,
                                                             backend=name), repeat)
        note(ours, f"ours: {name}", seconds, result.objective, f"  [{result.backend}]")

    seconds, objective = clock(lambda: padded_peer(rows, cols, weights, n_rows, n_cols), repeat)
    note(peers, "peer: scipy padded sparse (incl. building)", seconds, objective)
    if dense_fits:
        # Compacted to the rows and columns with arcs, as ours works.
        row_ids, r = np.unique(rows, return_inverse=True)
        col_ids, c = np.unique(cols, return_inverse=True)
        matrix = dense_matrix(r, c, weights, row_ids.size, col_ids.size)
        seconds, (a, b) = clock(lambda: linear_sum_assignment(matrix), repeat)
        note(peers, "peer: scipy linear_sum_assignment (dense)", seconds, int(-matrix[a, b].sum()))
        # lapjv pads a rectangle to a square of the longer side: 16 s on
        # 247 x 3,214 (a 10 M-cell square), hours past that.
        if max(row_ids.size, col_ids.size) ** 2 <= _LAPJV_SQUARE_CELLS:
            import lap

            seconds, out = clock(lambda: lap.lapjv(matrix, extend_cost=True, return_cost=False), 1)
            x = np.asarray(out[0])
            chosen = np.flatnonzero(x >= 0)
            note(peers, "peer: lap.lapjv(extend_cost) (dense)", seconds, int(-matrix[chosen, x[chosen]].sum()))
        del matrix
    if not (skip_slow and rows.size > 5_000_000):  # once: seconds to minutes
        seconds, objective = clock(lambda: flow_peer(rows, cols, weights, n_rows, n_cols), 1)
        note(peers, "peer: OR-Tools min-cost flow", seconds, objective)
    fastest = min(peers, key=peers.get)
    lines.append(f"  auto / fastest peer ({fastest}): {ours['ours: auto'] / peers[fastest]:.2f}")
    print(lines[-1], flush=True)
    return lines


SHAPES = {"full": [(400, 600), (400, 4_000), (2_000, 20_000), (20_000, 40_000)],
          "quick": [(400, 600), (400, 4_000)]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--shapes", nargs="*", help="children x households, e.g. 2000x20000")
    parser.add_argument("--repeat", type=int, default=REPEAT)
    parser.add_argument("--skip-slow", action="store_true",
                        help="leave out the OR-Tools flow on arc sets above 5 M arcs")
    parser.add_argument("--scorer", action="store_true",
                        help="also run the fused scorer's figures (benchmarks.bench_scorer: eligibility + scoring "
                             "against the numpy reference and numpy's read bandwidth, same run)")
    args = parser.parse_args(argv)
    if args.scorer:
        from benchmarks import bench_scorer

        bench_scorer.main(["--quick"] if args.quick else ["--repeat", str(max(1, args.repeat))])
    shapes = [tuple(int(x) for x in s.split("x")) for s in args.shapes] if args.shapes else \
        SHAPES["quick" if args.quick else "full"]
    print(machine(), flush=True)
    for n_children, n_households in shapes:
        run_shape(n_children, n_households, max(1, args.repeat), args.skip_slow)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
