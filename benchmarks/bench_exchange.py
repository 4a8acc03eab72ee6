"""Exchange-day schedule benchmark (issue 11).

    python -m benchmarks.bench_exchange [--quick]

1. An event of 60 units on 20 tables (capacity 1-2), 120 households, 6
   slots, max_meetings 4, min_meetings 1 and 10 requests, drawn with a fixed
   seed from a generated region of 400 children and 600 households: proven
   optimal within 60 s? Compared with the demo-sized event (12 units, 6
   tables, 24 households, 4 slots) solved in the same run.
2. The re-plan of the same event on the day: the first two slots locked,
   three households absent.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import AS_OF, machine, region

TARGET_S = 60.0


def draw_event(world, pairs, *, n_units, n_households, n_tables, slots, max_meetings, min_meetings, n_requests,
               seed, capacities=(1, 2)) -> dict:
    """An event drawn with ``seed``: households at random among the approved,
    units at random among the waiting units eligible for one of them."""
    rng = np.random.default_rng(seed)
    approved = world.households.filter(world.households["status"] == "approved")["household_id"].to_list()
    households = sorted(rng.choice(approved, n_households, replace=False).tolist())
    chosen = set(households)
    candidates = sorted({u for u, h in pairs if h in chosen})
    units = sorted(rng.choice(candidates, n_units, replace=False).tolist())
    order = rng.permutation(n_units)
    tables = [{"table_id": f"T{t + 1:02d}", "capacity": int(rng.integers(capacities[0], capacities[1] + 1)),
               "unit_ids": sorted(units[i] for i in order[t::n_tables])} for t in range(n_tables)]
    requests, seen = [], set()
    while len(requests) < n_requests:
        key = (households[int(rng.integers(n_households))], tables[int(rng.integers(n_tables))]["table_id"])
        if key not in seen:
            seen.add(key)
            requests.append({"household_id": key[0], "table_id": key[1]})
    return {"slots": slots, "max_meetings": max_meetings, "min_meetings": min_meetings, "tables": tables,
            "household_ids": households, "requests": requests}


def solve(world, event: dict, folder: Path, name: str, **kwargs):
    from matcher import api

    path = folder / f"{name}.json"
    api.write_exchange_event(event, path)
    parsed = api.read_exchange_event(path, world)
    start = time.perf_counter()
    day = api.exchange_day(world, parsed, time_limit_s=TARGET_S, **kwargs)
    return day, time.perf_counter() - start


def main() -> None:
    from matcher import api

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the same cases (they are quick)")
    parser.parse_args()
    print(machine())
    children, households = region(400, 600)
    world = api.region_from_files(str(children), str(households), AS_OF)
    frame = api.scores(world).frame
    pairs = set(zip(frame["unit_id"].to_list(), frame["household_id"].to_list()))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        small = draw_event(world, pairs, n_units=12, n_households=24, n_tables=6, slots=4, max_meetings=3,
                           min_meetings=2, n_requests=2, seed=11, capacities=(2, 2))
        reference, reference_s = solve(world, small, folder, "small")
        event = draw_event(world, pairs, n_units=60, n_households=120, n_tables=20, slots=6, max_meetings=4,
                           min_meetings=1, n_requests=10, seed=11)
        day, wall = solve(world, event, folder, "event")
        met = sum(r.slot is not None for r in day.requests)
        print(f"1. 60 units on 20 tables (capacity 1-2), 120 households, 6 slots, max 4, min 1, 10 requests "
              f"(seed 11, region 400 x 600 seed 1): {len(day.meetings)} meetings, "
              f"{sum(u.meetings > 0 for u in day.units)} units reached, {sum(u.short > 0 for u in day.units)} short, "
              f"requests {met} met; status {day.status}, gap {day.gap:.4f}, {wall:.1f} s (solver {day.wall_time_s:.1f}"
              f" s) -> target {'met' if day.status == 'optimal' and wall <= TARGET_S else 'NOT met'}")
        print(f"   reference in the same run: the demo-sized event (12 units, 6 tables, 24 households, 4 slots): "
              f"status {reference.status}, {reference_s:.2f} s; ratio {wall / reference_s:.1f}x")
        # On the day: slots 1 and 2 held, three households with later meetings absent.
        lock = folder / "lock.csv"
        held = [m for m in day.meetings if m.slot <= 2]
        lock.write_text("slot,table_id,unit_id,household_id,requested\n" + "".join(
            f"{m.slot},{m.table_id},{m.unit_id},{m.household_id},{str(m.requested).lower()}\n" for m in held),
            encoding="utf-8")
        later = sorted({m.household_id for m in day.meetings if m.slot > 2})
        absent = later[:3]
        again, again_s = solve(world, event, folder, "event-again", lock=str(lock), absent=absent)
        print(f"2. re-plan: slots 1-2 locked ({len(held)} meetings), 3 households absent: {len(again.meetings)} "
              f"meetings, status {again.status}, gap {again.gap:.4f}, {again_s:.1f} s "
              f"(ratio {again_s / wall:.2f}x the first plan)")


if __name__ == "__main__":
    main()
