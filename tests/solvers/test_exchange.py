"""The exchange-day schedule solver: every result passes a checker written
here, apart from the model, and on tiny instances its lexicographic optimum
(least shortfall, then most weight plus reach bonus) equals an exhaustive
search over every assignment of arcs to slots."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solvers import SolverConfig
from solvers.exchange import exchange_schedule


def schedule_problems(inst: dict, arcs, slots) -> list[str]:
    """Every rule a schedule (chosen arcs and their 0-based slots) breaks."""
    found = []
    arcs, slots = list(arcs), list(slots)
    if len(set(arcs)) != len(arcs):
        found.append("a pair meets twice")
    busy, load, count = set(), {}, {}
    for a, s in zip(arcs, slots):
        if not 0 <= s < inst["n_slots"]:
            found.append(f"slot {s} out of range")
        h, t = inst["household"][a], inst["unit_table"][inst["unit"][a]]
        if (h, s) in busy:
            found.append(f"household {h} twice in slot {s}")
        busy.add((h, s))
        load[t, s] = load.get((t, s), 0) + 1
        count[h] = count.get(h, 0) + 1
    found += [f"table {t} over capacity in slot {s}" for (t, s), n in load.items() if n > inst["capacity"][t]]
    found += [f"household {h} over max_meetings" for h, n in count.items() if n > inst["max_meetings"]]
    chosen = set(zip(arcs, slots))
    found += [f"locked arc {a} not kept in slot {s}" for a, s in zip(inst["locked_arc"], inst["locked_slot"])
              if (a, s) not in chosen]
    return found


def value_of(inst: dict, arcs) -> tuple[int, int]:
    """(total shortfall, weight plus reach bonus) of a set of chosen arcs."""
    got = [0] * len(inst["unit_table"])
    for a in arcs:
        if inst["counts"][a]:
            got[inst["unit"][a]] += 1
    short = sum(max(m - g, 0) for m, g in zip(inst["unit_min"], got))
    weight = sum(inst["weight"][a] for a in arcs)
    has_arc = {inst["unit"][a] for a in range(len(inst["unit"])) if inst["counts"][a]}
    reached = sum(1 for u in has_arc if got[u] > 0)
    return short, weight + inst["reach_bonus"] * reached


def brute_force(inst: dict) -> tuple[int, int] | None:
    """Least shortfall, then most objective, over every assignment of each
    arc to no slot or one slot (None when no assignment keeps the locks)."""
    n_arcs, n_slots = len(inst["unit"]), inst["n_slots"]
    best = None
    for choice in itertools.product(range(-1, n_slots), repeat=n_arcs):
        arcs = [a for a in range(n_arcs) if choice[a] >= 0]
        slots = [choice[a] for a in arcs]
        if schedule_problems(inst, arcs, slots):
            continue
        short, objective = value_of(inst, arcs)
        if best is None or (short, -objective) < (best[0], -best[1]):
            best = (short, objective)
    return best


@st.composite
def instances(draw, max_arcs: int = 6):
    n_units = draw(st.integers(1, 3))
    n_households = draw(st.integers(1, 3))
    n_tables = draw(st.integers(1, 2))
    n_slots = draw(st.integers(1, 3))
    pairs = draw(st.lists(st.tuples(st.integers(0, n_units - 1), st.integers(0, n_households - 1)),
                          unique=True, max_size=max_arcs))
    n = len(pairs)
    weight = draw(st.lists(st.integers(0, 20), min_size=n, max_size=n))
    counts = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    inst = {
        "unit": [p[0] for p in pairs], "household": [p[1] for p in pairs], "weight": weight, "counts": counts,
        "unit_table": draw(st.lists(st.integers(0, n_tables - 1), min_size=n_units, max_size=n_units)),
        "capacity": draw(st.lists(st.integers(1, 2), min_size=n_tables, max_size=n_tables)),
        "n_households": n_households, "n_slots": n_slots, "max_meetings": draw(st.integers(1, 3)),
        "unit_min": draw(st.lists(st.integers(0, 2), min_size=n_units, max_size=n_units)),
        "reach_bonus": max(weight, default=0) + 1,
    }
    locked = draw(st.lists(st.tuples(st.integers(0, max(n - 1, 0)), st.integers(0, n_slots - 1)),
                           unique_by=lambda x: x[0], max_size=2)) if n else []
    inst["locked_arc"] = [a for a, _ in locked]
    inst["locked_slot"] = [s for _, s in locked]
    if schedule_problems({**inst, "locked_arc": [], "locked_slot": []}, inst["locked_arc"], inst["locked_slot"]):
        inst["locked_arc"], inst["locked_slot"] = [], []
    return inst


def solve(inst: dict):
    return exchange_schedule(inst["unit"], inst["household"], inst["weight"], inst["counts"], inst["unit_table"],
                             inst["capacity"], n_households=inst["n_households"], n_slots=inst["n_slots"],
                             max_meetings=inst["max_meetings"], unit_min=inst["unit_min"],
                             reach_bonus=inst["reach_bonus"], locked_arc=inst["locked_arc"],
                             locked_slot=inst["locked_slot"], config=SolverConfig(time_limit_s=10))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_schedule_is_valid_and_lexicographically_optimal(inst):
    result = solve(inst)
    assert result.status == "optimal"
    assert schedule_problems(inst, result.arcs, result.slots) == []
    short, objective = value_of(inst, result.arcs.tolist())
    assert short == int(result.shortfall.sum())
    assert objective == result.objective == result.bound and result.gap == 0
    assert (short, objective) == brute_force(inst)


def test_a_second_unit_first_meeting_beats_a_first_unit_fourth():
    # One household slot left: unit 0 already has three meetings, unit 1 none.
    # The heavier pair (unit 0) loses to unit 1's first meeting.
    inst = {"unit": [0, 0, 0, 0, 1], "household": [0, 1, 2, 3, 3], "weight": [9, 9, 9, 10, 1],
            "counts": [True] * 5, "unit_table": [0, 1], "capacity": [4, 1], "n_households": 4, "n_slots": 1,
            "max_meetings": 1, "unit_min": [0, 0], "reach_bonus": 11, "locked_arc": [], "locked_slot": []}
    result = solve(inst)
    assert 4 in result.arcs.tolist() and 3 not in result.arcs.tolist()


def test_shortfall_comes_before_weight():
    # Household 0 can meet unit 0 (heavy) or unit 1 (light); unit 1 needs a meeting.
    inst = {"unit": [0, 1, 0], "household": [0, 0, 1], "weight": [50, 1, 3], "counts": [True] * 3,
            "unit_table": [0, 1], "capacity": [1, 1], "n_households": 2, "n_slots": 1, "max_meetings": 1,
            "unit_min": [1, 1], "reach_bonus": 51, "locked_arc": [], "locked_slot": []}
    result = solve(inst)
    assert sorted(result.arcs.tolist()) == [1, 2] and result.shortfall.tolist() == [0, 0]


def test_locked_meeting_kept_in_its_slot():
    inst = {"unit": [0, 1], "household": [0, 0], "weight": [1, 9], "counts": [True, True], "unit_table": [0, 0],
            "capacity": [1], "n_households": 1, "n_slots": 2, "max_meetings": 1, "unit_min": [0, 0],
            "reach_bonus": 10, "locked_arc": [0], "locked_slot": [1]}
    result = solve(inst)
    assert list(zip(result.arcs.tolist(), result.slots.tolist())) == [(0, 1)]


def test_same_input_same_schedule():
    rng = np.random.default_rng(4)
    pairs = sorted({(int(u), int(h)) for u, h in zip(rng.integers(0, 12, 120), rng.integers(0, 30, 120))})
    args = ([p[0] for p in pairs], [p[1] for p in pairs], rng.integers(1, 100, len(pairs)), np.ones(len(pairs), bool),
            np.arange(12) // 2, np.full(6, 2))
    kwargs = dict(n_households=30, n_slots=4, max_meetings=3, unit_min=np.full(12, 2), reach_bonus=100)
    first, second = exchange_schedule(*args, **kwargs), exchange_schedule(*args, **kwargs)
    assert first.status == "optimal"
    assert first.arcs.tolist() == second.arcs.tolist() and first.slots.tolist() == second.slots.tolist()


@pytest.mark.parametrize("change, message", [
    ({"unit": [0, 0], "household": [1, 1]}, "appears twice"),
    ({"weight": [-1, 2]}, "arc_weight"),
    ({"household": [0, 5]}, "arc_household"),
    ({"capacity": [0]}, "at least 1"),
    ({"locked_arc": [0, 0], "locked_slot": [0, 1]}, "locked twice"),
    ({"locked_slot": [3], "locked_arc": [0]}, "locked_slot"),
])
def test_malformed_arrays_raise_value_error(change, message):
    inst = {"unit": [0, 1], "household": [0, 1], "weight": [1, 2], "counts": [True, True], "unit_table": [0, 0],
            "capacity": [1], "n_households": 2, "n_slots": 2, "max_meetings": 1, "unit_min": [0, 0],
            "reach_bonus": 3, "locked_arc": [], "locked_slot": []}
    inst.update(change)
    with pytest.raises(ValueError, match=message):
        solve(inst)
