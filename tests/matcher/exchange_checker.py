"""An exchange-day schedule checker written apart from the solver: it reads
the event as JSON and the schedule as rows, and decides eligibility and
pair weights with ``why-not`` (:func:`matcher.api.why_not`), the project's
one answer to "may this pair meet". It imports nothing of
``matcher.exchange`` or ``solvers.exchange``."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np

from matcher import api

COLUMNS = ["slot", "table_id", "unit_id", "household_id", "requested"]


class Day:
    """What the checker knows of an event in a region: eligibility and
    weights of every featured unit with every attending household."""

    def __init__(self, region, event: dict, absent=()):
        self.region, self.event = region, event
        self.absent = set(absent)
        self.attending = [h for h in event["household_ids"] if h not in self.absent]
        self.table_of = {u: t["table_id"] for t in event["tables"] for u in t["unit_ids"]}
        self.capacity = {t["table_id"]: t["capacity"] for t in event["tables"]}
        self.units = [u for t in event["tables"] for u in t["unit_ids"]]
        self.weight: dict[tuple[str, str], int] = {}
        for u in self.units:
            child = region.units.filter(region.units["unit_id"] == u)["child_ids"][0][0]
            for h in self.attending:
                answer = api.why_not(region, child, h)
                if answer["eligible"]:
                    self.weight[u, h] = int(answer["weight"])
        self.requested_unit = {}
        for r in event.get("requests", []):
            if r["household_id"] in self.absent:
                continue
            ordered = sorted(self.unit_ids_at(r["table_id"]))
            eligible = [u for u in ordered if (u, r["household_id"]) in self.weight]
            self.requested_unit[r["household_id"], r["table_id"]] = (eligible or ordered)[0]

    def unit_ids_at(self, table_id: str) -> list[str]:
        return next(t["unit_ids"] for t in self.event["tables"] if t["table_id"] == table_id)

    def eligible_count(self, unit_id: str) -> int:
        return sum(1 for h in self.attending if (unit_id, h) in self.weight)

    def arc_weight(self, unit_id: str, household_id: str) -> int:
        """A meeting's weight as README "Exchange days" defines it."""
        if (unit_id, household_id) in self.weight:
            w = self.weight[unit_id, household_id]
            return max(1, w) if self.requested_unit.get((household_id, self.table_of[unit_id])) == unit_id else w
        table = self.table_of[unit_id]
        pool = [w for (u, _), w in self.weight.items() if self.table_of[u] == table] or list(self.weight.values())
        return max(1, int(np.floor(np.median(pool) + 0.5))) if pool else 1

    def arcs(self) -> list[tuple[str, str, bool]]:
        """Every meeting that may happen: (unit, household, requested)."""
        out = {(u, h): False for (u, h) in self.weight}
        for (h, _), u in self.requested_unit.items():
            out[u, h] = True
        return sorted((u, h, r) for (u, h), r in out.items())


def read_schedule(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == COLUMNS, reader.fieldnames
        return [{"slot": int(r["slot"]), "table_id": r["table_id"], "unit_id": r["unit_id"],
                 "household_id": r["household_id"], "requested": {"true": True, "false": False}[r["requested"]]}
                for r in reader]


def problems(day: Day, rows: list[dict], locks: list[dict] = ()) -> list[str]:
    """Every rule the schedule ``rows`` breaks (empty when it is valid)."""
    event, found = day.event, []
    key = [(r["slot"], r["table_id"], r["unit_id"], r["household_id"]) for r in rows]
    if key != sorted(key):
        found.append("rows not sorted by slot, table, unit, household")
    busy, load, count, pairs = set(), {}, {}, set()
    for r in rows:
        s, t, u, h = r["slot"], r["table_id"], r["unit_id"], r["household_id"]
        if not 1 <= s <= event["slots"]:
            found.append(f"slot {s} outside 1..{event['slots']}")
        if h not in day.attending:
            found.append(f"household {h} is not attending")
        if day.table_of.get(u) != t:
            found.append(f"unit {u} is not at table {t}")
        if (h, s) in busy:
            found.append(f"household {h} twice in slot {s}")
        busy.add((h, s))
        if (u, h) in pairs:
            found.append(f"{u} and {h} meet twice")
        pairs.add((u, h))
        load[t, s] = load.get((t, s), 0) + 1
        count[h] = count.get(h, 0) + 1
        designated = day.requested_unit.get((h, t))
        if r["requested"]:
            if designated is None:
                found.append(f"{h} at {t} marked requested without a request")
            elif designated != u:
                found.append(f"{h}'s requested visit to {t} is written with {u}, not {designated}")
        else:
            if (u, h) not in day.weight:
                found.append(f"{u} and {h} meet but are not eligible")
            if designated == u:
                found.append(f"{h} meets {u}, the unit of its request, without the meeting marked requested")
    found += [f"table {t} holds {n} in slot {s}, over {day.capacity[t]}" for (t, s), n in load.items()
              if n > day.capacity[t]]
    found += [f"household {h} has {n} meetings, over {event['max_meetings']}" for h, n in count.items()
              if n > event["max_meetings"]]
    # Minimum meetings where feasible: a unit short of min_meetings has no
    # eligible household that is free in a slot where its table has room.
    got = {u: 0 for u in day.units}
    for r in rows:
        if (r["unit_id"], r["household_id"]) in day.weight:
            got[r["unit_id"]] += 1
    for u in day.units:
        if got[u] >= event["min_meetings"]:
            continue
        t = day.table_of[u]
        for h in day.attending:
            if (u, h) not in day.weight or (u, h) in pairs or count.get(h, 0) >= event["max_meetings"]:
                continue
            free = [s for s in range(1, event["slots"] + 1)
                    if (h, s) not in busy and load.get((t, s), 0) < day.capacity[t]]
            if free:
                found.append(f"unit {u} is short of min_meetings but {h} could meet it in slot {free[0]}")
    # Locks kept (those of absent households are dropped).
    placed = {(r["slot"], r["table_id"], r["unit_id"], r["household_id"]) for r in rows}
    for lock in locks:
        if lock["household_id"] in day.absent:
            continue
        if (lock["slot"], lock["table_id"], lock["unit_id"], lock["household_id"]) not in placed:
            found.append(f"locked meeting {lock} not kept")
    return found


def value(day: Day, rows) -> tuple[int, int]:
    """(total shortfall, weight plus reach bonus) of a schedule, as README
    "Exchange days" defines the objective (bonus: the largest meeting
    weight plus one)."""
    arcs = day.arcs()
    bonus = max((day.arc_weight(u, h) for u, h, _ in arcs), default=0) + 1
    got = {u: 0 for u in day.units}
    weight = 0
    for r in rows:
        weight += day.arc_weight(r["unit_id"], r["household_id"])
        if (r["unit_id"], r["household_id"]) in day.weight:
            got[r["unit_id"]] += 1
    short = sum(max(day.event["min_meetings"] - got[u], 0) for u in day.units if day.eligible_count(u))
    reached = sum(1 for u in day.units if got[u] and day.eligible_count(u))
    return short, weight + bonus * reached


def brute_force(day: Day) -> tuple[int, int]:
    """Least shortfall, then most objective, over every assignment of each
    possible meeting to no slot or to one slot."""
    arcs = day.arcs()
    best = None
    slots = day.event["slots"]
    for choice in itertools.product(range(0, slots + 1), repeat=len(arcs)):
        rows = sorted(({"slot": s, "table_id": day.table_of[u], "unit_id": u, "household_id": h, "requested": r}
                       for (u, h, r), s in zip(arcs, choice) if s), key=lambda r: (r["slot"], r["table_id"],
                                                                                  r["unit_id"], r["household_id"]))
        if _quick_invalid(day, rows):
            continue
        short, objective = value(day, rows)
        if best is None or (short, -objective) < (best[0], -best[1]):
            best = (short, objective)
    return best


def _quick_invalid(day: Day, rows) -> bool:
    busy, load, count = set(), {}, {}
    for r in rows:
        h, t, s = r["household_id"], r["table_id"], r["slot"]
        if (h, s) in busy:
            return True
        busy.add((h, s))
        load[t, s] = load.get((t, s), 0) + 1
        count[h] = count.get(h, 0) + 1
        if load[t, s] > day.capacity[t] or count[h] > day.event["max_meetings"]:
            return True
    return False
