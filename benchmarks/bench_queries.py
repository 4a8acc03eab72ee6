"""Ranked-match query benchmarks (issue 4).

    python -m benchmarks.bench_queries [--quick]

1. eligibility + scoring of one unit against 100,000 households, warm
   (target p50 <= 5 ms, p95 <= 20 ms);
2. 2,000 units x 20,000 households (40 M candidate pairs) through
   eligibility and scoring in-process (target >= 100 M pairs/s), against a
   straightforward per-pair Python loop measured in the same run;
3. ``matcher scores`` end to end on that region, writing Parquet
   (target <= 10 s, <= 4 GiB);
4. ``matcher rank`` from a cold start on 10,000 households (target <= 1.5 s).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import AS_OF, machine, region, repeated_runs, summary, timed
from matcher.scoring.weights import Weights

WEIGHTS = Weights()


def world_for(n_children: int, n_households: int):
    from matcher.api import region_from_files

    children, households = region(n_children, n_households)
    return region_from_files(str(children), str(households), AS_OF)


def unit_query_times(world, query, samples: int = 300) -> list[float]:
    """Seconds of ``query(row)`` on ``samples`` random waiting units (seed
    0), after 20 untimed ones."""
    rows = np.random.default_rng(0).choice(world.waiting_unit_rows, size=samples)
    _ = world.tables  # warm: tables are built once per region
    for row in rows[:20]:
        query(row)
    out = []
    for row in rows:
        start = time.perf_counter()
        query(row)
        out.append(time.perf_counter() - start)
    return out


def one_unit(world, samples: int = 300) -> list[float]:
    """The numpy path of one unit's query: the rule masks, then the scorer
    on the eligible households."""
    from features.eligibility import eligible
    from matcher.scoring.scorer import score_pairs

    def query(row):
        hits = np.flatnonzero(eligible(world.unit_arrays, np.array([row]), world.tables)[0])
        score_pairs(world.unit_arrays, world.household_arrays, np.full(len(hits), row), hits, WEIGHTS, cache=world.cache)

    return unit_query_times(world, query, samples)


def plain_loop_rate(world, n_units: int = 3) -> float:
    """Pairs per second of a straightforward per-pair Python loop over the
    same rules and a simple score, on plain Python rows."""
    kids = world.children.to_dicts()
    homes = world.households.to_dicts()
    by_unit: dict[str, list[dict]] = {}
    for kid in kids:
        by_unit.setdefault(kid["unit_id"], []).append(kid)
    units = [by_unit[u] for u in world.unit_arrays.unit_ids[world.waiting_unit_rows[:n_units]]]
    needs = ["physical", "learning", "health", "developmental_uncertainty", "emotional", "prenatal_exposure"]

    def km(a_lat, a_lon, b_lat, b_lon):
        p1, p2 = math.radians(a_lat), math.radians(b_lat)
        h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(b_lon - a_lon) / 2) ** 2
        return 2 * 6371 * math.asin(math.sqrt(h))

    start = time.perf_counter()
    pairs = 0
    for unit in units:
        for home in homes:
            pairs += 1
            ok = home["status"] == "approved" and all(k["status"] == "waiting" for k in unit)
            ok = ok and home["min_children"] <= len(unit) <= home["max_children"]
            for kid in unit:
                ok = ok and home["min_age_months"] <= kid["age_months"] <= home["max_age_months"]
                ok = ok and kid["sex"] in home["sexes"]
                ok = ok and all(kid[f"need_{n}"] <= home[f"consider_{n}"] for n in needs)
                ok = ok and (not kid["early_permanence"] or home["dual_approved"])
                ok = ok and (kid["contact_plan"] != "direct" or home["accepts_direct_contact"])
                if ok and kid["min_distance_km"]:
                    ok = km(kid["birth_family_lat"], kid["birth_family_lon"], home["lat"], home["lon"]) \
                        >= kid["min_distance_km"]
            if ok:
                excess = sum(max(0, max(k[f"need_{n}"] for k in unit) - home[f"accept_{n}"]) for n in needs)
                _ = 100 - 5 * excess - km(unit[0]["lat"], unit[0]["lon"], home["lat"], home["lon"]) / 10
    return pairs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    print(machine())

    big = world_for(100_000 // scale, 100_000 // scale)
    samples = one_unit(big)
    print(f"1. one unit x {len(big.households):,} households, warm: {summary(samples)} "
          f"(target p50 <= 5 ms, p95 <= 20 ms)")

    from matcher.scoring.queries import eligible_pairs
    from matcher.scoring.scorer import score_pairs

    world = world_for(3_600 // scale, 20_000 // scale)
    rows = world.waiting_unit_rows[: 2_000 // scale]
    candidates = len(rows) * len(world.households)
    _ = world.tables

    def region_pass():
        u, h = eligible_pairs(world, rows)
        score_pairs(world.unit_arrays, world.household_arrays, u, h, WEIGHTS, cache=world.cache)
        return len(u)

    eligible_count = region_pass()
    seconds = timed(region_pass, repeat=5)
    best, median = min(seconds), statistics.median(seconds)
    rate = candidates / median
    loop_rate = plain_loop_rate(world)
    print(f"2. {len(rows):,} units x {len(world.households):,} households = {candidates / 1e6:.0f} M candidate pairs "
          f"({eligible_count:,} eligible): median {median:.3f} s (best {best:.3f} s) = {rate / 1e6:.0f} M pairs/s "
          f"(target >= 100 M/s); plain per-pair Python loop {loop_rate / 1e3:.0f} k pairs/s -> "
          f"{rate / loop_rate:,.0f}x faster")

    exe = str(Path(sys.executable).with_name("matcher"))
    children, households = region(3_600 // scale, 20_000 // scale)
    with tempfile.TemporaryDirectory() as tmp:
        walls, peaks = repeated_runs([exe, "scores", "--children", str(children), "--households", str(households),
                                      "--as-of", AS_OF.isoformat(), "--out", f"{tmp}/scores.parquet"])
    print(f"3. matcher scores end to end ({children.parent.name}, all waiting units, Parquet out): "
          f"median {statistics.median(walls):.2f} s, peak {max(peaks):.2f} GiB (target <= 10 s, <= 4 GiB)")

    children, households = region(3_000 // scale, 10_000 // scale)
    kid = world_for(3_000 // scale, 10_000 // scale)
    child_id = kid.children.filter(kid.children["status"] == "waiting")["child_id"][0]
    walls, _ = repeated_runs([exe, "rank", "--child", child_id, "--children", str(children), "--households",
                              str(households), "--as-of", AS_OF.isoformat(), "--format", "json"], repeat=7)
    print(f"4. matcher rank cold start, {len(kid.households):,} households: median {statistics.median(walls):.2f} s, "
          f"max {max(walls):.2f} s (target <= 1.5 s)")


if __name__ == "__main__":
    main()
