"""Planning an exchange day: the candidate meetings of an event (eligible
pairs and requested visits), the locked meetings of a re-plan, the CP-SAT
schedule (:func:`solvers.exchange.exchange_schedule`) and what came of it.

Eligibility is the project's one decision (:func:`matcher.scoring.queries.
eligible_pairs`, the same rules and exclusions as rank, why-not, scores and
propose), and a meeting's weight is the pair's link ``weight`` from the
scorer, the coefficient ``propose`` maximises.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass

import numpy as np

from matcher.errors import InputError, Problem, SolverTimeout, option_problem
from matcher.exchange.event import Event
from matcher.files.paths import input_file_problem
from matcher.region import Region
from matcher.scoring.queries import all_scores
from matcher.scoring.weights import Weights
from solvers import SolverConfig
from solvers.exchange import exchange_schedule

SCHEDULE_COLUMNS = ("slot", "table_id", "unit_id", "household_id", "requested")


@dataclass(frozen=True)
class Meeting:
    """One meeting of the schedule (slots numbered from 1)."""

    slot: int
    table_id: str
    unit_id: str
    household_id: str
    requested: bool
    eligible: bool
    weight: int
    locked: bool


@dataclass(frozen=True)
class UnitOutcome:
    """What the day gave one featured unit."""

    unit_id: str
    table_id: str
    eligible_households: int
    """Eligible households attending (absent ones left out)."""
    meetings: int
    """Meetings with eligible households (requested or not): what counts."""
    requested_visits: int
    """Requested visits from households that are not eligible for it."""
    short: int
    """How many meetings short of ``min_meetings`` (0 when it got them, or
    when no eligible household attends)."""
    why: str | None


@dataclass(frozen=True)
class RequestOutcome:
    """A household's request to visit a table."""

    household_id: str
    table_id: str
    unit_id: str
    """The unit the visit is written with (CONTRACT.md)."""
    eligible: bool
    slot: int | None
    """The slot of the visit, or None when it went unmet."""
    why: str | None


@dataclass(frozen=True)
class DroppedLock:
    """A locked meeting of a household that did not come."""

    row: int
    slot: int
    table_id: str
    unit_id: str
    household_id: str


@dataclass(frozen=True)
class ExchangeDay:
    """A planned exchange day: the schedule and everything said about it."""

    event: Event
    absent: tuple[str, ...]
    meetings: tuple[Meeting, ...]
    units: tuple[UnitOutcome, ...]
    requests: tuple[RequestOutcome, ...]
    dropped_locks: tuple[DroppedLock, ...]
    status: str
    objective: int
    bound: int | float
    gap: float
    reach_bonus: int
    shortfall_proven: bool
    wall_time_s: float
    pair_scores: dict
    """(unit_id, household_id) -> (unit row, household row, score, PairScores index) for eligible meetings."""
    scores: object
    """The :class:`~matcher.scoring.scorer.PairScores` of the eligible pairs."""

    @property
    def locked(self) -> int:
        return sum(m.locked for m in self.meetings)


@dataclass(frozen=True)
class _Arcs:
    unit: np.ndarray  # index into the event's featured units
    household: np.ndarray  # index into the attending households
    weight: np.ndarray
    eligible: np.ndarray
    requested: np.ndarray
    score_index: np.ndarray  # index into the PairScores, -1 for a visit that is not eligible


def _absent(event: Event, absent) -> tuple[str, ...]:
    listed = set(event.household_ids)
    out = []
    for household_id in absent:
        if household_id not in listed:
            raise InputError(option_problem("absent", household_id, "households listed in the event's "
                                                                    "household_ids", code="unknown_id"))
        if household_id not in out:
            out.append(household_id)
    return tuple(out)


def _requested_unit(table_units: list[str], eligible_for: set[str]) -> tuple[str, bool]:
    """The unit a requested visit is written with: the table's first unit
    (by unit_id) the household is eligible for, else its first unit."""
    ordered = sorted(table_units)
    for unit_id in ordered:
        if unit_id in eligible_for:
            return unit_id, True
    return ordered[0], False


def _candidate_meetings(region: Region, event: Event, attending: list[str], weights: Weights):
    units = [u for t in event.tables for u in t.unit_ids]
    unit_index = {u: i for i, u in enumerate(units)}
    household_index = {h: i for i, h in enumerate(attending)}
    unit_rows = np.array([region.unit_row_of_id[u] for u in units], dtype=np.int64)
    scores = all_scores(region, weights, unit_rows, workers=1)
    ids_u = region.unit_arrays.unit_ids[scores.units] if len(scores.units) else np.empty(0, object)
    ids_h = region.household_arrays.household_ids[scores.households] if len(scores.households) else \
        np.empty(0, object)
    arcs: dict[tuple[int, int], list] = {}
    for k, (u, h) in enumerate(zip(ids_u.tolist(), ids_h.tolist())):
        if h in household_index:
            arcs[unit_index[u], household_index[h]] = [int(scores.weight[k]), True, False, k]
    eligible_units_of: dict[str, set[str]] = {}
    for (u, h) in arcs:
        eligible_units_of.setdefault(attending[h], set()).add(units[u])
    table_of = event.unit_table
    # The table's median weight prices a visit by a household not eligible
    # for it: what a meeting at that table is typically worth.
    by_table: dict[str, list[int]] = {}
    for (u, _), (w, *_rest) in arcs.items():
        by_table.setdefault(table_of[units[u]], []).append(w)
    every = [w for (w, *_rest) in arcs.values()]
    designated = {}
    for household_id, table_id in event.requests:
        if household_id not in household_index:
            continue
        unit_id, ok = _requested_unit(list(event.table(table_id).unit_ids),
                                      eligible_units_of.get(household_id, set()))
        key = (unit_index[unit_id], household_index[household_id])
        designated[household_id, table_id] = unit_id
        if ok:
            arcs[key][0] = max(1, arcs[key][0])
            arcs[key][2] = True
        else:
            pool = by_table.get(table_id) or every
            median = int(np.floor(np.median(pool) + 0.5)) if pool else 1
            arcs[key] = [max(1, median), False, True, -1]
    keys = sorted(arcs)
    made = _Arcs(
        unit=np.array([k[0] for k in keys], dtype=np.int64),
        household=np.array([k[1] for k in keys], dtype=np.int64),
        weight=np.array([arcs[k][0] for k in keys], dtype=np.int64),
        eligible=np.array([arcs[k][1] for k in keys], dtype=bool),
        requested=np.array([arcs[k][2] for k in keys], dtype=bool),
        score_index=np.array([arcs[k][3] for k in keys], dtype=np.int64),
    )
    return units, unit_index, household_index, made, {k: i for i, k in enumerate(keys)}, designated, scores


# --- locked meetings ------------------------------------------------------------------------------------------------

def _lock_rows(path: str) -> list[tuple[int, dict]]:
    unusable = input_file_problem(path, "lock file (a schedule CSV)")
    if unusable is not None:
        raise InputError(Problem(path, None, None, None, unusable))
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            missing = [c for c in SCHEDULE_COLUMNS if c not in header]
            if missing:
                raise InputError([Problem(path, 1, c, None, "the schedule's column (slot, table_id, unit_id, "
                                                            "household_id, requested)") for c in missing])
            return [(i + 2, row) for i, row in enumerate(reader)]
    except UnicodeDecodeError:
        raise InputError(Problem(path, None, None, None, "a UTF-8 CSV file")) from None
    except csv.Error as error:
        raise InputError(Problem(path, None, None, None, f"a CSV file ({error})")) from None
    except OSError as error:
        raise InputError(Problem(path, None, None, None, f"a file that can be read ({error.strerror})")) from None


def _locks(path: str, event: Event, absent: tuple[str, ...], units, unit_index, household_index, arc_of,
           arcs: _Arcs, designated) -> tuple[list[tuple[int, int]], list[DroppedLock]]:
    """Locked meetings as (arc, slot 0-based), each checked; those of absent
    households dropped. A row that cannot be kept is bad input naming the
    file, row and column."""
    problems: list[Problem] = []
    kept: list[tuple[int, int]] = []
    dropped: list[DroppedLock] = []
    table_of = event.unit_table
    capacity = {t.table_id: t.capacity for t in event.tables}
    busy: dict[tuple[str, int], int] = {}
    load: dict[tuple[str, int], int] = {}
    count: dict[str, int] = {}
    pairs: dict[tuple[str, str], int] = {}

    def bad(row, column, value, expected):
        problems.append(Problem(path, row, column, value, expected))

    for row, cells in _lock_rows(path):
        text = {c: (cells.get(c) or "").strip() for c in SCHEDULE_COLUMNS}
        slot_text, table_id, unit_id, household_id = text["slot"], text["table_id"], text["unit_id"], \
            text["household_id"]
        # A schedule written by matcher neutralises cells a spreadsheet would run; take them back.
        table_id, unit_id, household_id = (v[1:] if v[:2] in ("'=", "'+", "'-", "'@") else v
                                           for v in (table_id, unit_id, household_id))
        ok = True
        if not slot_text.isdigit() or not 1 <= int(slot_text) <= event.slots:
            bad(row, "slot", slot_text, f"a slot from 1 to {event.slots}")
            ok = False
        if table_id not in capacity:
            bad(row, "table_id", table_id, "a table_id of the event")
            ok = False
        if unit_id not in table_of:
            bad(row, "unit_id", unit_id, "a unit featured at the event")
            ok = False
        elif table_id in capacity and table_of[unit_id] != table_id:
            bad(row, "unit_id", unit_id, f"a unit featured at table {table_id} (this one is at table "
                                         f"{table_of[unit_id]})")
            ok = False
        if household_id not in event.household_ids:
            bad(row, "household_id", household_id, "a household listed in the event")
            ok = False
        requested_text = text["requested"].lower()
        if requested_text not in ("true", "false"):
            bad(row, "requested", text["requested"], "true or false")
            ok = False
        if not ok:
            continue
        slot = int(slot_text)
        if household_id in absent:
            dropped.append(DroppedLock(row, slot, table_id, unit_id, household_id))
            continue
        key = (unit_index[unit_id], household_index[household_id])
        arc = arc_of.get(key)
        requested = requested_text == "true"
        if arc is None:
            if requested:
                bad(row, "requested", text["requested"],
                    f"a visit the event's requests hold (household {household_id} asked to visit table {table_id} "
                    f"with unit {designated.get((household_id, table_id), 'none: no request')})")
            else:
                bad(row, "unit_id", unit_id, f"a unit household {household_id} is eligible for (why-not explains "
                                             "the rule that excludes the pair)")
            continue
        if bool(arcs.requested[arc]) != requested:
            bad(row, "requested", text["requested"],
                f"{str(bool(arcs.requested[arc])).lower()}: " + (
                    "the event holds this household's request to visit the table, written with this unit"
                    if arcs.requested[arc] else "the event holds no request for this visit"))
            continue
        if (unit_id, household_id) in pairs:
            bad(row, "household_id", household_id, f"a pair that meets once (row {pairs[unit_id, household_id]} "
                                                   "holds the same meeting)")
            continue
        if (household_id, slot) in busy:
            bad(row, "slot", slot_text, f"a slot where household {household_id} has no other meeting (row "
                                        f"{busy[household_id, slot]} holds one)")
            continue
        if load.get((table_id, slot), 0) >= capacity[table_id]:
            bad(row, "slot", slot_text, f"a slot where table {table_id} has room (it holds {capacity[table_id]} "
                                        "meeting(s) per slot, already locked in rows before)")
            continue
        if count.get(household_id, 0) >= event.max_meetings:
            bad(row, "household_id", household_id, f"a household with at most max_meetings "
                                                   f"({event.max_meetings}) meetings")
            continue
        pairs[unit_id, household_id] = row
        busy[household_id, slot] = row
        load[table_id, slot] = load.get((table_id, slot), 0) + 1
        count[household_id] = count.get(household_id, 0) + 1
        kept.append((arc, slot - 1))
    if problems:
        raise InputError(problems)
    return kept, dropped


# --- planning -------------------------------------------------------------------------------------------------------

def plan_exchange_day(region: Region, event: Event, *, weights: Weights, absent=(), lock: str | None = None,
                      config: SolverConfig = SolverConfig()) -> ExchangeDay:
    """Plan (or re-plan, with ``lock`` and ``absent``) an exchange day."""
    absent = _absent(event, absent)
    attending = [h for h in event.household_ids if h not in absent]
    units, unit_index, household_index, arcs, arc_of, designated, scores = _candidate_meetings(
        region, event, attending, weights)
    locked, dropped = ([], []) if lock is None else _locks(os.fspath(lock), event, absent, units, unit_index,
                                                           household_index, arc_of, arcs, designated)
    table_ids = [t.table_id for t in event.tables]
    table_position = {t: i for i, t in enumerate(table_ids)}
    unit_table = np.array([table_position[event.unit_table[u]] for u in units], dtype=np.int64)
    capacity = np.array([t.capacity for t in event.tables], dtype=np.int64)
    eligible_count = np.bincount(arcs.unit[arcs.eligible], minlength=len(units))
    unit_min = np.where(eligible_count > 0, event.min_meetings, 0)
    # Reach bonus (README, "Exchange days"): larger than any meeting's
    # weight, so a unit's first meeting always outweighs another unit's
    # next one.
    reach_bonus = int(arcs.weight.max()) + 1 if len(arcs.weight) else 1
    result = exchange_schedule(
        arcs.unit, arcs.household, arcs.weight, arcs.eligible, unit_table, capacity,
        n_households=len(attending), n_slots=event.slots, max_meetings=event.max_meetings, unit_min=unit_min,
        reach_bonus=reach_bonus, locked_arc=[a for a, _ in locked], locked_slot=[s for _, s in locked],
        config=config)
    if result.status == "unknown":
        raise SolverTimeout(f"the solver found no schedule within {{option:time_limit_s}} "
                            f"{config.time_limit_s:g} s; allow more time")
    if result.status == "infeasible":  # pragma: no cover - locks are checked to fit before solving
        raise RuntimeError("the locked meetings cannot all be kept")
    locked_set = set(locked)
    meetings = sorted(
        (Meeting(int(s) + 1, table_ids[unit_table[arcs.unit[a]]], units[arcs.unit[a]], attending[arcs.household[a]],
                 bool(arcs.requested[a]), bool(arcs.eligible[a]), int(arcs.weight[a]), (int(a), int(s)) in locked_set)
         for a, s in zip(result.arcs.tolist(), result.slots.tolist())),
        key=lambda m: (m.slot, m.table_id, m.unit_id, m.household_id))
    return ExchangeDay(
        event=event, absent=absent, meetings=tuple(meetings),
        units=_unit_outcomes(event, units, arcs, attending, meetings, result, eligible_count),
        requests=_request_outcomes(event, absent, designated, meetings, arcs, arc_of, unit_index, household_index),
        dropped_locks=tuple(dropped), status=result.status, objective=result.objective, bound=result.bound,
        gap=result.gap, reach_bonus=reach_bonus, shortfall_proven=result.shortfall_proven,
        wall_time_s=result.wall_time_s,
        pair_scores={(units[arcs.unit[a]], attending[arcs.household[a]]): int(arcs.score_index[a])
                     for a in range(len(arcs.unit)) if arcs.eligible[a]},
        scores=scores)


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {many or word + 's'}"


def _unit_outcomes(event, units, arcs, attending, meetings, result, eligible_count) -> tuple[UnitOutcome, ...]:
    got = {u: 0 for u in units}
    visits = {u: 0 for u in units}
    busy = {(m.household_id, m.slot) for m in meetings}
    count: dict[str, int] = {}
    load: dict[tuple[str, int], int] = {}
    for m in meetings:
        count[m.household_id] = count.get(m.household_id, 0) + 1
        load[m.table_id, m.slot] = load.get((m.table_id, m.slot), 0) + 1
        if m.eligible:
            got[m.unit_id] += 1
        else:
            visits[m.unit_id] += 1
    table_of = event.unit_table
    out = []
    for i, unit_id in enumerate(units):
        table = event.table(table_of[unit_id])
        short = int(result.shortfall[i])
        n = int(eligible_count[i])
        why = None
        if n == 0:
            why = "no eligible attending household"
        elif short:
            mins = event.min_meetings * sum(1 for u in table.unit_ids if eligible_count[units.index(u)])
            places = table.capacity * event.slots
            homes = [attending[h] for h in arcs.household[(arcs.unit == i) & arcs.eligible].tolist()]
            met = {m.household_id for m in meetings if m.unit_id == unit_id}
            free = [h for h in homes if h not in met and count.get(h, 0) < event.max_meetings and any(
                (h, s) not in busy and load.get((table.table_id, s), 0) < table.capacity
                for s in range(1, event.slots + 1))]
            if n < event.min_meetings:
                why = f"only {_plural(n, 'eligible attending household')}"
            elif places < mins:
                why = (f"its table {table.table_id} holds {_plural(places, 'meeting')} in all ({table.capacity} a "
                       f"slot), for units that need {mins}")
            elif not free:
                why = f"its {_plural(n, 'eligible household')} are fully booked (at max_meetings, or busy whenever " \
                      f"its table has room)"
            else:
                why = "the solver stopped before it could give it more (see the status)"
        out.append(UnitOutcome(unit_id, table.table_id, n, got[unit_id], visits[unit_id], short, why))
    return tuple(out)


def _request_outcomes(event, absent, designated, meetings, arcs, arc_of, unit_index, household_index):
    slot_of = {(m.unit_id, m.household_id): m.slot for m in meetings}
    count: dict[str, int] = {}
    for m in meetings:
        count[m.household_id] = count.get(m.household_id, 0) + 1
    out = []
    for household_id, table_id in event.requests:
        if household_id in absent:
            first = sorted(event.table(table_id).unit_ids)[0]
            out.append(RequestOutcome(household_id, table_id, first, False, None, "the household is absent"))
            continue
        unit_id = designated[household_id, table_id]
        arc = arc_of[unit_index[unit_id], household_index[household_id]]
        slot = slot_of.get((unit_id, household_id))
        why = None
        if slot is None:
            why = ("the household's meetings reached max_meetings with meetings that weigh more"
                   if count.get(household_id, 0) >= event.max_meetings else
                   "capacity is short: the table was full whenever the household was free")
        out.append(RequestOutcome(household_id, table_id, unit_id, bool(arcs.eligible[arc]), slot, why))
    return tuple(out)
