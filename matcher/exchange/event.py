"""The exchange-day event file (CONTRACT.md, "exchange-day event"): read,
checked against the region, and held as a frozen :class:`Event`.

Every problem is collected before anything is raised, each naming the file
and the entry (``tables[3].capacity``), as the other readers name file, row
and column.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

from features.contract import ID_FORMULA_STARTS, ID_MAX_CHARS, id_key
from matcher.errors import InputError, Problem
from matcher.files.paths import input_file_problem
from matcher.region import Region

# The largest numbers an event may hold: a day has few slots, a table few
# chairs; anything larger is a typing slip, not an event.
MAX_SLOTS = 48
MAX_CAPACITY = 100
MAX_MEETINGS = 48

KEYS = ("slots", "max_meetings", "min_meetings", "tables", "household_ids", "requests")
TABLE_KEYS = ("table_id", "capacity", "unit_ids")
REQUEST_KEYS = ("household_id", "table_id")


@dataclass(frozen=True)
class Table:
    """A table at the event: its id, the meetings it holds per slot and
    the units it features (in the order the event lists them)."""

    table_id: str
    capacity: int
    unit_ids: tuple[str, ...]


@dataclass(frozen=True)
class Event:
    """An exchange day, checked against a region: every unit featured is a
    waiting unit of the region, every household an approved one."""

    source: str
    slots: int
    max_meetings: int
    min_meetings: int
    tables: tuple[Table, ...]
    household_ids: tuple[str, ...]
    requests: tuple[tuple[str, str], ...]
    """(household_id, table_id) pairs, in the event's order."""

    def table(self, table_id: str) -> Table:
        return next(t for t in self.tables if t.table_id == table_id)

    @property
    def unit_table(self) -> dict[str, str]:
        """The table of each featured unit."""
        return {u: t.table_id for t in self.tables for u in t.unit_ids}


class _Problems:
    """Problems of one event file, each naming an entry."""

    def __init__(self, source: str):
        self.source = source
        self.found: list[Problem] = []

    def add(self, entry: str, value, expected: str, code: str = "invalid") -> None:
        shown = None if value is _MISSING else value if isinstance(value, str) else \
            json.dumps(value, ensure_ascii=False)[:200]
        self.found.append(Problem(self.source, None, entry or None, shown, expected, kind="entry", code=code))


_MISSING = object()


def _no_duplicate_keys(pairs):
    keys = [k for k, _ in pairs]
    doubled = sorted({k for k in keys if keys.count(k) > 1})
    if doubled:
        raise _DuplicateKey(doubled[0])
    return dict(pairs)


class _DuplicateKey(ValueError):
    pass


def read_event_json(path: str | os.PathLike) -> object:
    """The JSON value of an event file; an input error naming the file (and
    the line) when it cannot be read or is not JSON."""
    source = os.fspath(path)
    unusable = input_file_problem(source, "event file")
    if unusable is not None:
        raise InputError(Problem(source, None, None, None, unusable))
    try:
        text = open(source, encoding="utf-8-sig").read()
    except UnicodeDecodeError:
        raise InputError(Problem(source, None, None, None, "a UTF-8 JSON file")) from None
    except OSError as error:
        raise InputError(Problem(source, None, None, None, f"a file that can be read ({error.strerror})")) from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except _DuplicateKey as error:
        raise InputError(Problem(source, None, str(error), None, "each key once in an object", kind="key")) from None
    except json.JSONDecodeError as error:
        raise InputError(Problem(source, error.lineno, None, None,
                                 f"JSON ({error.msg} at line {error.lineno}, column {error.colno})")) from None


def _whole(problems: _Problems, entry: str, value, low: int, high: int) -> int | None:
    """``value`` as a whole number in [low, high], else a problem (JSON
    true/false and 2.0 are not whole numbers)."""
    if value is _MISSING:
        problems.add(entry, value, f"a whole number from {low} to {high} (the key is missing)")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(entry, value, f"a whole number from {low} to {high}, not {json_type(value)}")
        return None
    if not low <= value <= high:
        problems.add(entry, value, f"a whole number from {low} to {high}")
        return None
    return value


def json_type(value) -> str:
    """What a JSON value is, in words ("text", "true or false", "a list")."""
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, str):
        return "text"
    if isinstance(value, float):
        return "a number with a fraction" if not value.is_integer() else "a number written with a decimal point"
    if value is None:
        return "null"
    return {list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def id_problem(value) -> str | None:
    """Why ``value`` is no usable id (CONTRACT.md's id rules), or None."""
    if not isinstance(value, str):
        return f"an id as JSON text, not {json_type(value)}"
    if not value.strip():
        return "a non-empty id"
    if len(value) > ID_MAX_CHARS:
        return f"an id of at most {ID_MAX_CHARS} characters"
    if re.search(r"[;\x00-\x1f\x7f]", value):
        return "an id without ';', line breaks or control characters"
    if value.startswith(ID_FORMULA_STARTS):
        return "an id that does not begin with =, +, - or @"
    return None


def _list(problems: _Problems, entry: str, value, required: bool = True) -> list:
    if value is _MISSING and not required:
        return []
    if not isinstance(value, list):
        problems.add(entry, value, "a JSON list" + (" (the key is missing)" if value is _MISSING else
                                                    f", not {json_type(value)}"))
        return []
    return value


def _object(problems: _Problems, entry: str, value, keys: tuple[str, ...]) -> dict | None:
    if not isinstance(value, dict):
        problems.add(entry, value, f"a JSON object with {', '.join(keys)}, not {json_type(value)}")
        return None
    for key in value:
        if key not in keys:
            problems.add(f"{entry}.{key}" if entry else key, _MISSING, f"only the keys {', '.join(keys)} "
                                                                       "(an unknown key; a misspelt one?)")
    return value


def parse_event(value, source: str, region: Region) -> Event:
    """Check an event's JSON value against the contract and the region;
    an :class:`InputError` listing every problem otherwise."""
    problems = _Problems(source)
    top = _object(problems, "", value, KEYS)
    if top is None:
        raise InputError(problems.found)
    slots = _whole(problems, "slots", top.get("slots", _MISSING), 1, MAX_SLOTS)
    most = _whole(problems, "max_meetings", top.get("max_meetings", _MISSING), 1, MAX_MEETINGS)
    least = _whole(problems, "min_meetings", top.get("min_meetings", _MISSING), 0, MAX_MEETINGS)
    if most is not None and least is not None and least > most:
        problems.add("min_meetings", least, f"at most max_meetings ({most})")

    units = region.units
    waiting = dict(zip(units["unit_id"].to_list(), units["waiting"].to_list()))
    unit_of_child = {c: units["unit_id"][row] for c, row in region.unit_row_of_child.items()}
    tables: list[Table] = []
    seen_tables: dict[str, str] = {}
    seen_units: dict[str, str] = {}
    for i, raw in enumerate(_list(problems, "tables", top.get("tables", _MISSING))):
        entry = f"tables[{i}]"
        table = _object(problems, entry, raw, TABLE_KEYS)
        if table is None:
            continue
        table_id = table.get("table_id", _MISSING)
        bad = "an id (the key is missing)" if table_id is _MISSING else id_problem(table_id)
        if bad:
            problems.add(f"{entry}.table_id", table_id, bad)
            table_id = None
        elif id_key(table_id) in seen_tables:
            problems.add(f"{entry}.table_id", table_id, f"a table id used once (also {seen_tables[id_key(table_id)]})")
            table_id = None
        else:
            seen_tables[id_key(table_id)] = f"{entry}.table_id"
        capacity = _whole(problems, f"{entry}.capacity", table.get("capacity", _MISSING), 1, MAX_CAPACITY)
        unit_ids = []
        for j, unit_id in enumerate(_list(problems, f"{entry}.unit_ids", table.get("unit_ids", _MISSING))):
            where = f"{entry}.unit_ids[{j}]"
            bad = id_problem(unit_id)
            if bad:
                problems.add(where, unit_id, bad)
            elif unit_id not in waiting:
                hint = ""
                if unit_id in unit_of_child:
                    hint = f"; child {unit_id} is placed with its sibling group, unit {unit_of_child[unit_id]}"
                problems.add(where, unit_id, "a unit_id of the children file (a together group's "
                                             f"sibling_group_id, else a child_id){hint}", code="unknown_id")
            elif not waiting[unit_id]:
                problems.add(where, unit_id, "a waiting unit (every child of it waiting): only waiting children "
                                             "are featured", code="not_waiting")
            elif unit_id in seen_units:
                problems.add(where, unit_id, f"a unit featured once (also at {seen_units[unit_id]})")
            else:
                seen_units[unit_id] = where
                unit_ids.append(unit_id)
        if isinstance(table.get("unit_ids"), list) and not table["unit_ids"]:
            problems.add(f"{entry}.unit_ids", [], "at least one featured unit")
        if table_id is not None and capacity is not None:
            tables.append(Table(table_id, capacity, tuple(unit_ids)))

    statuses = dict(zip(region.households["household_id"].to_list(), region.households["status"].to_list()))
    households: list[str] = []
    seen_households: dict[str, str] = {}
    for i, household_id in enumerate(_list(problems, "household_ids", top.get("household_ids", _MISSING))):
        where = f"household_ids[{i}]"
        bad = id_problem(household_id)
        if bad:
            problems.add(where, household_id, bad)
        elif household_id not in statuses:
            problems.add(where, household_id, "a household_id of the households file", code="unknown_id")
        elif statuses[household_id] != "approved":
            problems.add(where, household_id, f"an approved household (this one is "
                                              f"{statuses[household_id].replace('_', ' ')})", code="not_waiting")
        elif household_id in seen_households:
            problems.add(where, household_id, f"a household listed once (also {seen_households[household_id]})")
        else:
            seen_households[household_id] = where
            households.append(household_id)

    table_ids = {t.table_id for t in tables}
    requests: list[tuple[str, str]] = []
    seen_requests: dict[tuple[str, str], str] = {}
    for i, raw in enumerate(_list(problems, "requests", top.get("requests", _MISSING), required=False)):
        entry = f"requests[{i}]"
        request = _object(problems, entry, raw, REQUEST_KEYS)
        if request is None:
            continue
        household_id = request.get("household_id", _MISSING)
        table_id = request.get("table_id", _MISSING)
        ok = True
        if household_id is _MISSING or household_id not in seen_households:
            problems.add(f"{entry}.household_id", household_id, "a household listed in household_ids",
                         code="unknown_id")
            ok = False
        if table_id is _MISSING or table_id not in table_ids:
            if isinstance(table_id, str) and id_key(table_id) in seen_tables:
                ok = False  # a table that is itself bad: already named
            else:
                problems.add(f"{entry}.table_id", table_id, "a table_id of tables", code="unknown_id")
                ok = False
        if ok:
            if (household_id, table_id) in seen_requests:
                problems.add(entry, raw, f"a request made once (also {seen_requests[household_id, table_id]})")
            else:
                seen_requests[household_id, table_id] = entry
                requests.append((household_id, table_id))

    if problems.found:
        raise InputError(problems.found)
    return Event(source, slots, most, least, tuple(tables), tuple(households), tuple(requests))


def read_event(path: str | os.PathLike, region: Region) -> Event:
    """Read and check an event file (see :func:`parse_event`)."""
    return parse_event(read_event_json(path), os.fspath(path), region)
