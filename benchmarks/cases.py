"""The suite's cases (see benchmarks/suite.py for the contract of a case).

Each reuses the code of an existing ``bench_*`` script where there is one;
regions are ``matcher generate`` regions (seed 1, as of 2026-06-30) cached
in ``benchmarks/_data``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import AS_OF, region
from benchmarks.suite import case


def _world(n_children: int, n_households: int):
    from matcher.api import region_from_files

    children, households = region(n_children, n_households)
    return region_from_files(str(children), str(households), AS_OF)


def _median_times(func, repeat: int):
    """Median seconds of ``func``: ``repeat`` runs, more (up to 50) while
    they add up to under 0.2 s, one only when the first takes over 20 s."""
    times, value = [], None
    while len(times) < max(1, repeat) or (sum(times) < 0.2 and len(times) < 50):
        start = time.perf_counter()
        value = func()
        times.append(time.perf_counter() - start)
        if times[0] > 20.0:  # a slow run is not repeated
            break
    return statistics.median(times), times, value


def _prepare_region(size: dict) -> None:
    region(size["children"], size["households"])


# -- eligibility + scoring -------------------------------------------------------------------------------------

def bytes_per_candidate_pair(tables) -> int:
    """Bytes the rules read per candidate pair, estimated: one row of each
    per-household table per unit (three rows of the unit vectors), plus the
    one-byte mask written."""
    from dataclasses import fields

    total = 1
    for f in fields(tables):
        array = getattr(tables, f.name)
        if isinstance(array, np.ndarray):
            total += array.itemsize * (array.shape[0] if f.name == "xyz_t" else 1)
    return total


@case("scoring", title="eligibility + scoring, in-process (units x every household)",
      n_label="candidate pairs (units x households)", throughput_unit="candidate pairs/s",
      sizes=[{"children": 3600, "households": 20000, "units": u} for u in (20, 200, 2000)],
      quick=[{"children": 360, "households": 2000, "units": u} for u in (2, 20, 200)],
      prepare=_prepare_region,
      notes="Issue 14 target: >= 250 M candidate pairs/s on 2,000 units x 20,000 households (40 M candidate "
            "pairs), beside the same-run numpy read bandwidth over the bytes the pass moves. Timed: what `scores` "
            "runs in-process (`queries.local_scores`: the fused compiled pass, two worker threads). Beside it, "
            "same run: the rules alone (`queries.eligible_pairs`), the two-step path (rules, then `score_pairs` "
            "on the pairs) and the numpy reference (`eligible_pairs_reference` + `score_pairs_reference`).")
def scoring(size: dict, repeat: int) -> dict:
    from benchmarks.bench_queries import WEIGHTS, plain_loop_rate
    from benchmarks.references import numpy_read_gbps
    from matcher.scoring.queries import eligible_pairs, eligible_pairs_reference, load_kernel, local_scores
    from matcher.scoring.scorer import score_pairs, score_pairs_reference

    from benchmarks import suite

    workers = 1 if suite.PROFILING else 2
    world = _world(size["children"], size["households"])
    rows = world.waiting_unit_rows[: size["units"]]
    n_households = len(world.households)
    candidates = len(rows) * n_households
    _ = world.tables
    load_kernel(world)  # a warm process: the compiled scorer loaded (`scores` on a large input loads it)
    pairs = eligible_pairs(world, rows, workers)  # warm

    def fused():
        return len(local_scores(world, WEIGHTS, rows, workers).weight)

    def two_step():
        u, h = eligible_pairs(world, rows, workers)
        score_pairs(world.unit_arrays, world.household_arrays, u, h, WEIGHTS, workers, cache=world.cache)

    def numpy_reference():
        u, h = eligible_pairs_reference(world, rows, workers)
        score_pairs_reference(world.unit_arrays, world.household_arrays, u, h, WEIGHTS, workers, cache=world.cache)

    wall, times, eligible = _median_times(fused, repeat)
    rules, _, _ = _median_times(lambda: eligible_pairs(world, rows, workers), repeat)
    scoring_s, _, _ = _median_times(lambda: score_pairs(world.unit_arrays, world.household_arrays, *pairs, WEIGHTS,
                                                        workers, cache=world.cache), repeat)
    two_step_s, _, _ = _median_times(two_step, repeat)
    reference_s, _, _ = _median_times(numpy_reference, repeat)
    peak = suite.peak_rss_mib()  # before the references' own arrays
    del pairs
    per_pair = bytes_per_candidate_pair(world.tables)
    moved = candidates * per_pair
    read_1t = numpy_read_gbps(max(moved, 64 << 20), 1)
    read_2t = numpy_read_gbps(max(moved, 64 << 20), 2)
    memory_bound = read_2t * 1e9 / per_pair  # candidate pairs/s if the pass only read its bytes
    loop = plain_loop_rate(world, n_units=2)
    rate = candidates / wall
    targets = []
    if candidates >= 40_000_000:
        targets.append({"name": ">= 250 M candidate pairs/s (issue 14)", "value": rate, "limit": 250e6,
                        "unit": "candidate pairs/s", "better": "higher",
                        "reference": {"name": "numpy-read-bound rate (2 threads)", "value": memory_bound}})
    return {"n": candidates, "wall_s": wall, "times_s": times, "throughput": rate, "peak_rss_mib": peak,
            "reference": {"name": "plain Python per-pair loop, same rules, 2 units (scaled)", "value": loop,
                          "unit": "candidate pairs/s"},
            "series": {"eligibility + scoring (fused)": wall, "eligibility alone": rules,
                       "scoring alone (given the pairs)": scoring_s, "two steps (rules, then scoring)": two_step_s,
                       "numpy reference": reference_s},
            "metrics": {"units": len(rows), "households": n_households, "eligible_pairs": eligible,
                        "fused_over_numpy_reference": wall / reference_s,
                        "eligible_pairs_per_s_scoring": eligible / scoring_s,
                        "candidate_pairs_per_s_rules": candidates / rules,
                        "bytes_per_candidate_pair": per_pair, "bytes_moved": moved,
                        "pass_gbps": moved / wall / 1e9,
                        "numpy_read_gbps_1t_same_bytes": read_1t, "numpy_read_gbps_2t_same_bytes": read_2t,
                        "share_of_read_bandwidth_2t": (moved / wall / 1e9) / read_2t,
                        "memory_bound_pairs_per_s_2t": memory_bound,
                        "python_loop_pairs_per_s": loop, "speedup_over_python_loop": rate / loop},
            "targets": targets}


# -- rank latency ---------------------------------------------------------------------------------------------

def _prepare_square(size: dict) -> None:
    region(size["households"], size["households"])


@case("rank", title="one unit x H households, warm: eligibility + scoring latency (p50 / p95)",
      n_label="households", throughput_unit="households/s (at p50)",
      sizes=[{"households": h} for h in (1000, 10_000, 100_000)],
      quick=[{"households": h} for h in (100, 1000, 10_000)],
      prepare=_prepare_square,
      notes="Region of H children x H households, in a warm process (the compiled scorer loaded, as `matcher "
            "serve` does at start-up). The timed query is what `rank` does per unit before sorting: "
            "`queries.all_scores` on the one unit (rules and scores against every household; the fused compiled "
            "pass from 50,000 candidate pairs on), 300 random waiting units after 20 warm-up queries. Beside it, "
            "same run: the numpy path a process takes when it has not loaded the kernel (the rule masks, then "
            "the scorer on the eligible households: bench_queries item 1), and `api.rank` (the whole answer, "
            "sorted, with explanations) on 50 units. Issue 14 target: p95 <= 5 ms at 100,000 households.")
def rank(size: dict, repeat: int) -> dict:
    from benchmarks.bench_queries import WEIGHTS, one_unit, plain_loop_rate, unit_query_times
    from matcher import api
    from matcher.scoring.queries import all_scores, load_kernel

    world = _world(size["households"], size["households"])
    load_kernel(world)
    samples = unit_query_times(world, lambda row: all_scores(world, WEIGHTS, np.array([row]), workers=1))
    numpy_path = one_unit(world, samples=300)
    p50 = float(np.percentile(samples, 50))
    p95 = float(np.percentile(samples, 95))
    waiting = world.children.filter(world.children["status"] == "waiting")["child_id"].to_list()
    rng = np.random.default_rng(1)
    picked = [waiting[i] for i in rng.integers(0, len(waiting), 60)]
    whole = []
    for i, child in enumerate(picked):
        start = time.perf_counter()
        api.rank(world, child_id=child)
        if i >= 10:
            whole.append(time.perf_counter() - start)
    from benchmarks.suite import peak_rss_mib

    peak = peak_rss_mib()  # before the plain loop's Python rows
    loop = plain_loop_rate(world, n_units=1)
    n = len(world.households)
    loop_s = n / loop  # the plain loop's time for one unit against every household
    targets = []
    if n >= 100_000:
        targets.append({"name": "p95 <= 5 ms (issue 14)", "value": p95, "limit": 0.005, "unit": "s",
                        "reference": {"name": "plain Python loop, one unit x H (scaled)", "value": loop_s}})
    return {"n": n, "wall_s": p50, "times_s": [float(x) for x in samples], "throughput": n / p50, "peak_rss_mib": peak,
            "reference": {"name": "plain Python per-pair loop, same rules (scaled)", "value": loop,
                          "unit": "households/s"},
            "series": {"p50": p50, "p95": p95, "numpy path p50": float(np.percentile(numpy_path, 50)),
                       "numpy path p95": float(np.percentile(numpy_path, 95)), "api.rank p50": float(np.median(whole))},
            "metrics": {"p50_s": p50, "p95_s": p95, "samples": len(samples), "api_rank_p50_s": float(np.median(whole)),
                        "numpy_path_p50_s": float(np.percentile(numpy_path, 50)),
                        "numpy_path_p95_s": float(np.percentile(numpy_path, 95)),
                        "api_rank_p95_s": float(np.percentile(whole, 95)), "python_loop_one_unit_s": loop_s,
                        "p50_speedup_over_python_loop": loop_s / p50},
            "targets": targets}


# -- exact matching against its peers -------------------------------------------------------------------------

def _prepare_arcs(size: dict) -> None:
    from benchmarks.bench_core import region_arcs

    region_arcs(size["children"], size["households"])


def ortools_assignment_peer(rows, cols, weights, n_rows, n_cols):
    """OR-Tools' linear_sum_assignment on the square matrix of the rows and
    columns with arcs, a zero-weight stand-in for every missing cell
    (cost = max weight - weight, so a stand-in is as good as no match)."""
    from ortools.graph.python import linear_sum_assignment as lsa

    row_ids, r = np.unique(rows, return_inverse=True)
    col_ids, c = np.unique(cols, return_inverse=True)
    side = max(row_ids.size, col_ids.size)
    top = int(weights.max())
    tails = np.repeat(np.arange(side), side)
    heads = np.tile(np.arange(side), side)
    cost = np.full((side, side), top, dtype=np.int64)
    cost[r, c] = top - weights
    solver = lsa.SimpleLinearSumAssignment()
    solver.add_arcs_with_cost(tails, heads, cost.ravel())
    assert solver.solve() == solver.OPTIMAL
    return int(top * side - solver.optimal_cost())


def networkx_peer(rows, cols, weights):
    import networkx as nx

    graph = nx.Graph()
    offset = int(rows.max()) + 1
    graph.add_weighted_edges_from((int(a), offset + int(b), int(w)) for a, b, w in zip(rows, cols, weights))
    matching = nx.max_weight_matching(graph)
    return sum(graph[a][b]["weight"] for a, b in matching)


@case("matching", title="max_weight_matching on a region's own arcs, against scipy, lap, OR-Tools, networkx",
      n_label="arcs (eligible pairs)", throughput_unit="arcs/s",
      sizes=[{"children": c, "households": h} for c, h in ((400, 600), (400, 4000), (2000, 20000))],
      quick=[{"children": c, "households": h} for c, h in ((40, 60), (100, 150), (400, 600))],
      prepare=_prepare_arcs,
      notes="The arcs `propose` hands to `max_weight_matching` (bench_core). Ours: `backend='auto'`, the whole "
            "call. Peers, each where it fits: scipy dense `linear_sum_assignment` (matrix built before the "
            "clock), scipy `min_weight_full_bipartite_matching` on the matrix padded with one stand-in column a "
            "row (timed with building the matrix from the arcs), `lap.lapjv(extend_cost)` (dense, <= 25 M "
            "cells), OR-Tools min-cost flow (built from the arcs), OR-Tools `linear_sum_assignment` on the "
            "padded square (<= 4 M cells), networkx `max_weight_matching` (<= 20,000 arcs). Issue 14 target: "
            "ours within 1.1x of the fastest peer.")
def matching(size: dict, repeat: int) -> dict:
    from scipy.optimize import linear_sum_assignment

    from benchmarks.bench_core import dense_matrix, flow_peer, padded_peer, region_arcs
    from solvers import max_weight_matching

    rows, cols, weights, n_rows, n_cols = region_arcs(size["children"], size["households"])
    max_weight_matching(np.array([0, 1]), np.array([1, 0]), np.array([2, 3]))
    padded_peer(np.array([0]), np.array([0]), np.array([1]), 1, 1)
    max_weight_matching(rows, cols, weights, n_rows=n_rows, n_cols=n_cols)  # warm
    wall, times, result = _median_times(lambda: max_weight_matching(rows, cols, weights, n_rows=n_rows,
                                                                     n_cols=n_cols), repeat)
    series, objectives = {"ours (auto)": wall}, {"ours (auto)": int(result.objective)}

    def peer(name, func, runs=repeat):
        seconds, _, objective = _median_times(func, runs)
        series[name], objectives[name] = seconds, int(objective)

    peer("scipy padded sparse (incl. building)", lambda: padded_peer(rows, cols, weights, n_rows, n_cols))
    row_ids, r = np.unique(rows, return_inverse=True)
    col_ids, c = np.unique(cols, return_inverse=True)
    cells = row_ids.size * col_ids.size
    if cells <= 300_000_000:
        matrix = dense_matrix(r, c, weights, row_ids.size, col_ids.size)

        def dense():
            a, b = linear_sum_assignment(matrix)
            return -matrix[a, b].sum()
        peer("scipy linear_sum_assignment (dense)", dense)
        if max(row_ids.size, col_ids.size) ** 2 <= 25_000_000:
            import lap

            def lapjv():
                x = np.asarray(lap.lapjv(matrix, extend_cost=True, return_cost=False)[0])
                chosen = np.flatnonzero(x >= 0)
                return -matrix[chosen, x[chosen]].sum()
            peer("lap.lapjv (dense, extend_cost)", lapjv)
        del matrix
    peer("OR-Tools min-cost flow", lambda: flow_peer(rows, cols, weights, n_rows, n_cols),
         1 if rows.size > 1_000_000 else repeat)
    if max(row_ids.size, col_ids.size) ** 2 <= 4_000_000:
        peer("OR-Tools linear_sum_assignment (padded square)",
             lambda: ortools_assignment_peer(rows, cols, weights, n_rows, n_cols))
    if rows.size <= 20_000:
        peer("networkx max_weight_matching", lambda: networkx_peer(rows, cols, weights), 1)
    peers = {k: v for k, v in series.items() if not k.startswith("ours")}
    fastest = min(peers, key=peers.get)
    return {"n": int(rows.size), "wall_s": wall, "times_s": times, "throughput": rows.size / wall,
            "reference": {"name": f"fastest peer ({fastest})", "value": rows.size / peers[fastest], "unit": "arcs/s"},
            "series": series,
            "metrics": {"units": int(row_ids.size), "households": int(col_ids.size), "backend": result.backend,
                        "objectives": objectives, "fastest_peer": fastest,
                        "same_objective": len(set(objectives.values())) == 1},
            "targets": [{"name": "ours / fastest peer <= 1.1 (issue 14)", "value": wall / peers[fastest],
                         "limit": 1.1, "unit": "ratio"}] if rows.size >= 1_000_000 else []}


# -- propose --------------------------------------------------------------------------------------------------

PROPOSE_SHAPES = [{"children": c, "households": h} for c, h in ((40, 60), (400, 600), (3000, 2000))]
PROPOSE_QUICK = [{"children": c, "households": h} for c, h in ((20, 30), (40, 60), (200, 300))]


@case("propose", title="`propose` in-process, no budgets", n_label="candidate pairs (children x households)",
      throughput_unit="candidate pairs/s", sizes=PROPOSE_SHAPES, quick=PROPOSE_QUICK, prepare=_prepare_region,
      notes="`matcher.proposals.propose.propose(region, make_request())` on a region already read; the "
            "reference is the eligibility + scoring pass over the same pairs, same run.")
def propose_plain(size: dict, repeat: int) -> dict:
    from matcher.options import make_request
    from matcher.proposals.propose import propose
    from matcher.scoring.queries import all_scores
    from matcher.scoring.weights import Weights

    world = _world(size["children"], size["households"])
    propose(world, make_request())  # warm: imports
    wall, times, proposal = _median_times(lambda: propose(world, make_request()), repeat)
    scoring_s, _, _ = _median_times(lambda: all_scores(world, Weights()), repeat)
    n = size["children"] * size["households"]
    candidates = len(world.waiting_unit_rows) * len(world.households)
    return {"n": n, "wall_s": wall, "times_s": times, "throughput": candidates / wall,
            "reference": {"name": "eligibility + scoring of the same pairs", "value": candidates / scoring_s,
                          "unit": "candidate pairs/s"},
            "series": {"propose": wall, "eligibility + scoring": scoring_s},
            "metrics": {"units": len(world.waiting_unit_rows), "households": len(world.households),
                        "links": proposal.links.height, "objective": proposal.objective, "status": proposal.status}}


@case("propose_budgets", title="`propose` with every agency budgeted at half its unconstrained spend",
      n_label="candidate pairs (children x households)", throughput_unit="candidate pairs/s",
      sizes=PROPOSE_SHAPES, quick=PROPOSE_QUICK, prepare=_prepare_region, repeat=1,
      notes="bench_propose's budgets: every agency at half of what its children's unconstrained proposal "
            "spends (every budget binds), 60 s limit, stop at a certified 0.1% gap; the reference is the "
            "unbudgeted `propose` on the same region in the same run. Issue 12 targets: 400 x 600 <= 5 s, "
            "3,000 x 2,000 <= 30 s, proven optimal or within a certified 0.1%.")
def propose_budgets(size: dict, repeat: int) -> dict:
    from benchmarks.bench_propose import _budgeted_world
    from matcher.options import make_request
    from matcher.proposals.propose import propose

    world, plain, budgets = _budgeted_world(size["children"], size["households"], 1)
    plain_s, _, _ = _median_times(lambda: propose(world, make_request()), 1)
    wall, times, capped = _median_times(lambda: propose(world, make_request(budgets=budgets, time_limit_s=60)),
                                        repeat)
    certified = capped.status == "optimal" or capped.gap <= 0.001
    n = size["children"] * size["households"]
    candidates = len(world.waiting_unit_rows) * len(world.households)
    limit = {(400, 600): 5.0, (3000, 2000): 30.0}.get((size["children"], size["households"]))
    targets = []
    if limit:
        targets.append({"name": f"<= {limit:.0f} s, certified 0.1% (issue 12)",
                        "value": wall, "limit": limit, "unit": "s", "condition": certified,
                        "condition_text": "certified within 0.1%",
                        "reference": {"name": "unbudgeted propose, same region", "value": plain_s}})
    return {"n": n, "wall_s": wall, "times_s": times, "throughput": candidates / wall,
            "reference": {"name": "unbudgeted propose, same region", "value": candidates / plain_s,
                          "unit": "candidate pairs/s"},
            "series": {"with budgets": wall, "without budgets": plain_s},
            "metrics": {"agencies": len(budgets), "status": capped.status, "gap": capped.gap,
                        "objective": capped.objective, "bound": capped.bound,
                        "unconstrained_objective": plain.objective, "certified": certified},
            "targets": targets}


# -- exchange day ---------------------------------------------------------------------------------------------

EVENTS = {
    "tiny": dict(n_units=6, n_households=12, n_tables=3, slots=3, max_meetings=2, min_meetings=1, n_requests=1,
                 capacities=(2, 2)),
    "demo": dict(n_units=12, n_households=24, n_tables=6, slots=4, max_meetings=3, min_meetings=2, n_requests=2,
                 capacities=(2, 2)),
    "mid": dict(n_units=24, n_households=48, n_tables=8, slots=5, max_meetings=3, min_meetings=1, n_requests=4),
    "issue 11": dict(n_units=60, n_households=120, n_tables=20, slots=6, max_meetings=4, min_meetings=1,
                     n_requests=10),
}


def _prepare_exchange(size: dict) -> None:
    region(400, 600)


@case("exchange", title="exchange-day schedule (CP-SAT)", n_label="tables x households x slots",
      throughput_unit="table-household-slot cells/s",
      sizes=[{"event": e} for e in ("tiny", "demo", "issue 11")],
      quick=[{"event": e} for e in ("tiny", "demo", "mid")], prepare=_prepare_exchange, repeat=1,
      notes="Events drawn by bench_exchange (seed 11) from the 400 x 600 region; `api.exchange_day` with a 60 s "
            "limit. Issue 11 target: the 60-unit event proven optimal within 60 s; the reference is the "
            "demo-sized event solved in the same child process.")
def exchange(size: dict, repeat: int) -> dict:
    from benchmarks.bench_exchange import draw_event, solve
    from matcher import api

    world = _world(400, 600)
    frame = api.scores(world).frame
    pairs = set(zip(frame["unit_id"].to_list(), frame["household_id"].to_list()))
    spec = EVENTS[size["event"]]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        reference, reference_s = solve(world, draw_event(world, pairs, seed=11, **EVENTS["demo"]), folder, "demo")
        event = draw_event(world, pairs, seed=11, **spec)
        times, day = [], None
        for _ in range(max(1, repeat)):
            day, seconds = solve(world, event, folder, "event")
            times.append(seconds)
    wall = statistics.median(times)
    n = spec["n_tables"] * spec["n_households"] * spec["slots"]
    targets = []
    if size["event"] == "issue 11":
        targets.append({"name": "proven optimal within 60 s (issue 11)",
                        "value": wall, "limit": 60.0, "unit": "s", "condition": day.status == "optimal",
                        "condition_text": "proven optimal",
                        "reference": {"name": "demo-sized event, same run", "value": reference_s}})
    return {"n": n, "wall_s": wall, "times_s": times, "throughput": n / wall,
            "reference": {"name": "demo-sized event, same run", "value": EVENTS["demo"]["n_tables"] *
                          EVENTS["demo"]["n_households"] * EVENTS["demo"]["slots"] / reference_s,
                          "unit": "cells/s"},
            "series": {"solve": wall},
            "metrics": {**{k: v for k, v in spec.items() if k != "capacities"}, "status": day.status,
                        "gap": day.gap, "meetings": len(day.meetings), "reference_s": reference_s,
                        "reference_status": reference.status},
            "targets": targets}


# -- import into the store ------------------------------------------------------------------------------------

@case("import", title="`import` of N children + N households into an empty SQLite store",
      n_label="rows (children + households)", throughput_unit="rows/s",
      sizes=[{"households": n} for n in (1000, 10_000, 100_000)],
      quick=[{"households": n} for n in (100, 1000, 10_000)], prepare=_prepare_square,
      notes="`api.init_store` then `api.import_files` (validation included) in-process, a fresh SQLite file "
            "each run; the reference is reading + validating the same files (`api.check_files`), same run. "
            "Issue 10 target: 100,000 + 100,000 rows <= 20 s.")
def import_store(size: dict, repeat: int) -> dict:
    from matcher import api

    children, households = region(size["households"], size["households"])
    api.check_files(str(children), str(households), AS_OF)  # warm imports and the file cache
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(max(1, repeat)):
            db = str(Path(tmp) / f"register-{i}.sqlite3")
            api.init_store(db)
            start = time.perf_counter()
            api.import_files(str(children), str(households), AS_OF, db)
            times.append(time.perf_counter() - start)
            api.close_store(db)
            if times[0] > 20.0:
                break
    wall = statistics.median(times)
    check_s, _, _ = _median_times(lambda: api.check_files(str(children), str(households), AS_OF), repeat)
    n = 2 * size["households"]
    targets = []
    if n >= 200_000:
        targets.append({"name": "<= 20 s (issue 10)", "value": wall, "limit": 20.0, "unit": "s",
                        "reference": {"name": "read + validate the same files", "value": check_s}})
    return {"n": n, "wall_s": wall, "times_s": times, "throughput": n / wall,
            "reference": {"name": "read + validate the same files", "value": n / check_s, "unit": "rows/s"},
            "series": {"import": wall, "read + validate": check_s}, "targets": targets}

