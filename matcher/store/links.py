"""The link lifecycle: a unit-household pair moves through proposed ->
exploring -> linked -> matched -> placed, or ends declined or closed from
any open state; a declined or closed link may be re-opened (proposed
again, with a reason).

Every transition is one transaction that names the state it moves from and
the link's version read at the start, and is applied only if the link is
still there (``UPDATE links ... WHERE id = ? AND version = ? AND state = ?``,
its row count checked): of two family finders moving the same link at once,
the later is told what changed, never silently overwritten. Every
transition appends an event (who, acting for whom, when, why, from and to).

From linked on, the link holds the status of its unit's children and of
its household (``status_holds``; the rows' ``status`` is written, with a
row version, so hard rule 1 keeps them out of every other ranking and
proposal); a declined or closed link gives back the status they had
before. A declined pair is read as an exclusion until re-opened.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import URL

from matcher.errors import InputError, LookupInputError, option_problem
from matcher.store import schema
from matcher.store.audit import record_audit
from matcher.store.direct import links_for_region, who_words
from matcher.store.register import _as_utc, _bump, _exists, _now, _require_ready, _transaction

STATES = ("proposed", "exploring", "linked", "matched", "placed", "declined", "closed")
OPEN = ("proposed", "exploring", "linked", "matched")
"""States a link can still be declined or closed from (placed is where it ends well)."""

ACTIONS = {"propose": "proposed", "explore": "exploring", "link": "linked", "match": "matched", "place": "placed",
           "decline": "declined", "close": "closed", "reopen": "proposed"}
"""Each command's action and the state it moves a link to."""

MOVES = {
    None: ("propose",),
    "proposed": ("explore", "decline", "close"),
    "exploring": ("link", "decline", "close"),
    "linked": ("match", "decline", "close"),
    "matched": ("place", "decline", "close"),
    "placed": (),
    "declined": ("reopen", "propose"),
    "closed": ("reopen", "propose"),
}
"""The legal actions from each state (None: no link yet)."""

NEEDS_REASON = {"decline", "close", "reopen"}
"""Actions that need a reason (and ``propose`` when it re-opens a link)."""

CHILD_STATUS = {"linked": "linked", "matched": "matched", "placed": "placed"}
HOUSEHOLD_STATUS = {"linked": "linked", "matched": "matched", "placed": "matched"}
"""The status a link in each state holds on its children and its household
(CONTRACT.md has no ``placed`` for a household: it stays ``matched``)."""


def legal_actions(state: str | None) -> tuple[str, ...]:
    return MOVES[state]


class LinkRefused(LookupInputError):
    """A transition that is not legal from the link's state, or whose link
    changed since it was read: bad input (exit 2), saying what is."""

    def __init__(self, message: str, code: str = "illegal_transition"):
        super().__init__(message, code=code)


def _legal_words(state: str | None) -> str:
    moves = legal_actions(state)
    if not moves:
        return "no move is legal from here (placed is where a link ends)"
    return "legal from here: " + ", ".join(moves)


def _state_words(state: str | None) -> str:
    return "has no link yet" if state is None else f"is {state}"


_who_words = who_words


@dataclass(frozen=True)
class Unit:
    unit_id: str
    child_ids: tuple[str, ...]


def _unit_of(connection: sa.Connection, child_id: str) -> Unit:
    """The unit holding ``child_id``: its together sibling group, or the
    child alone (as :func:`features.units.unit_ids` says)."""
    kids = schema.children
    row = connection.execute(sa.select(kids.c.sibling_group_id, kids.c.sibling_plan)
                             .where(kids.c.child_id == child_id)).first()
    if row is None:
        raise LookupInputError(f"no child_id {child_id!r} in the store")
    group, plan = row
    if plan != "together" or group is None:
        return Unit(child_id, (child_id,))
    members = connection.execute(sa.select(kids.c.child_id).where(kids.c.sibling_group_id == group,
                                                                  kids.c.sibling_plan == "together")
                                 .order_by(kids.c.child_id)).scalars().all()
    return Unit(group, tuple(members))


def _link_row(connection: sa.Connection, unit_id: str, household_id: str):
    lk = schema.links
    return connection.execute(sa.select(lk).where(lk.c.unit_id == unit_id, lk.c.household_id == household_id)) \
        .mappings().first()


def _last_event(connection: sa.Connection, link_id: int):
    ev = schema.link_events
    return connection.execute(sa.select(ev).where(ev.c.link_id == link_id).order_by(ev.c.version.desc()).limit(1)) \
        .mappings().first()


def _event_words(event) -> str:
    return (f"moved to {event['to_state']} by {_who_words(event['who'], event['acting_for'])} on "
            f"{_as_utc(event['at']):%Y-%m-%d %H:%M:%S} UTC")


def _changed_since(connection: sa.Connection, link_id: int, expected: str | None) -> LinkRefused:
    lk = schema.links
    current = connection.execute(sa.select(lk.c.state).where(lk.c.id == link_id)).scalar_one()
    event = _last_event(connection, link_id)
    then = "it had no link" if expected is None else f"it was {expected}"
    return LinkRefused(f"the link changed since it was read ({then}): it is now {current}, {_event_words(event)}; "
                       f"nothing was changed. {_legal_words(current).capitalize()}", code="stale_link")


# --- statuses that links hold ----------------------------------------------------------------------------------

def _set_status(connection: sa.Connection, name: str, row_id: str, status: str, who: str, at: dt.datetime) -> None:
    """Write a row's status with a new row version (so ``history`` shows it)."""
    contract, table = schema.REGISTER_TABLES[name]
    key = table.c[contract.id_column]
    old = connection.execute(sa.select(table).where(key == row_id)).mappings().first()
    if old is None or old["status"] == status:
        return
    version = old["version"] + 1
    connection.execute(sa.update(table).where(key == row_id).values(status=status, version=version))
    values = {c: _json(old[c]) for c in contract.names}
    values["status"] = status
    connection.execute(sa.insert(schema.row_versions).values(
        table_name=name, row_id=row_id, version=version, who=who, at=at,
        changed={"status": [old["status"], status]}, row_values=values))


def _json(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return list(value) if isinstance(value, tuple) else value


def _rows_of(link) -> list[tuple[str, str]]:
    return [("children", c) for c in link["child_ids"]] + [("households", link["household_id"])]


def _hold(connection: sa.Connection, link, state: str, who: str, at: dt.datetime) -> None:
    """Make the link's children and household carry the status of ``state``
    (linked, matched, placed), refusing if another link holds any of them or
    any is not free (waiting, approved)."""
    holds = schema.status_holds
    for name, row_id in sorted(_rows_of(link)):
        contract, table = schema.REGISTER_TABLES[name]
        # Lock the row (PostgreSQL; SQLite writers are serialised already) before looking at its holds.
        row = connection.execute(sa.select(table.c.status).where(table.c[contract.id_column] == row_id)
                                 .with_for_update()).first()
        if row is None:
            raise LinkRefused(f"{contract.id_column} {row_id} of this link is no longer in the store",
                              code="unknown_id")
        held = connection.execute(sa.select(holds).where(holds.c.table_name == name, holds.c.row_id == row_id)) \
            .mappings().first()
        status = (CHILD_STATUS if name == "children" else HOUSEHOLD_STATUS)[state]
        if held is not None and held["link_id"] != link["id"]:
            other = connection.execute(sa.select(schema.links).where(schema.links.c.id == held["link_id"])) \
                .mappings().first()
            raise LinkRefused(f"{contract.id_column} {row_id} is {held['status']} through the link of unit "
                              f"{other['unit_id']} and household {other['household_id']} ({other['state']}); "
                              "decline or close that link first", code="held_elsewhere")
        if held is None:
            free = "waiting" if name == "children" else "approved"
            if row[0] != free:
                raise LinkRefused(f"{contract.id_column} {row_id} is {row[0]}, not {free}: only a {free} "
                                  f"{'child' if name == 'children' else 'household'} can be linked",
                                  code="not_free")
            connection.execute(sa.insert(holds).values(table_name=name, row_id=row_id, link_id=link["id"],
                                                       status=status, before_status=row[0]))
        else:
            connection.execute(sa.update(holds).where(holds.c.table_name == name, holds.c.row_id == row_id)
                               .values(status=status))
        _set_status(connection, name, row_id, status, who, at)


def _release(connection: sa.Connection, link, who: str, at: dt.datetime) -> None:
    """Give the link's children and household back the status they had
    before it held them."""
    holds = schema.status_holds
    for held in connection.execute(sa.select(holds).where(holds.c.link_id == link["id"])).mappings().all():
        _set_status(connection, held["table_name"], held["row_id"], held["before_status"], who, at)
    connection.execute(sa.delete(holds).where(holds.c.link_id == link["id"]))


# --- transitions ------------------------------------------------------------------------------------------------

def _check_reason(action: str, reason: str | None, state: str | None) -> str | None:
    text = (reason or "").strip() or None
    needed = action in NEEDS_REASON or (action == "propose" and state in ("declined", "closed"))
    if needed and text is None:
        what = "re-opening a link" if action in ("propose", "reopen") else f"{action} (it ends the link)"
        raise InputError(option_problem("reason", reason, f"a reason, in words, for {what}: it is recorded with "
                                                          "who and when"))
    return text


def _excluded(connection: sa.Connection, child_ids, household_id: str):
    ex = schema.exclusions
    return connection.execute(sa.select(ex).where(ex.c.child_id.in_(list(child_ids)),
                                                  ex.c.household_id == household_id,
                                                  ex.c.lifted_at.is_(None))).mappings().first()


def _apply(connection: sa.Connection, link, action: str, expected_state: str, expected_version: int,
           reason: str | None, who: str, acting_for: str | None, at: dt.datetime) -> dict:
    """Move an existing link, checking its state and version in the same
    UPDATE; a :class:`LinkRefused` naming what changed if it moved."""
    lk = schema.links
    target = ACTIONS[action]
    done = connection.execute(sa.update(lk).where(lk.c.id == link["id"], lk.c.version == expected_version,
                                                  lk.c.state == expected_state)
                              .values(state=target, version=expected_version + 1))
    if done.rowcount != 1:
        raise _changed_since(connection, link["id"], expected_state)
    connection.execute(sa.insert(schema.link_events).values(
        link_id=link["id"], version=expected_version + 1, action=action, from_state=expected_state,
        to_state=target, who=who, acting_for=acting_for, at=at, reason=reason))
    row_who = _who_words(who, acting_for)
    if target in CHILD_STATUS:
        _hold(connection, link, target, row_who, at)
    elif target in ("declined", "closed"):
        _release(connection, link, row_who, at)
    _bump(connection)
    return {"link_id": link["id"], "unit_id": link["unit_id"], "child_ids": list(link["child_ids"]),
            "household_id": link["household_id"], "action": action, "from_state": expected_state,
            "state": target, "version": expected_version + 1, "who": who, "acting_for": acting_for,
            "at": at.isoformat(), "reason": reason}


def _create(connection: sa.Connection, unit: Unit, household_id: str, reason: str | None, who: str,
            acting_for: str | None, at: dt.datetime) -> dict:
    lk = schema.links
    link_id = connection.execute(sa.insert(lk).values(unit_id=unit.unit_id, child_ids=list(unit.child_ids),
                                                      household_id=household_id, state="proposed", version=1)
                                 .returning(lk.c.id)).scalar_one()
    connection.execute(sa.insert(schema.link_events).values(
        link_id=link_id, version=1, action="propose", from_state=None, to_state="proposed", who=who,
        acting_for=acting_for, at=at, reason=reason))
    return {"link_id": link_id, "unit_id": unit.unit_id, "child_ids": list(unit.child_ids),
            "household_id": household_id, "action": "propose", "from_state": None, "state": "proposed",
            "version": 1, "who": who, "acting_for": acting_for, "at": at.isoformat(), "reason": reason}


def read_link(url: URL, child_id: str, household_id: str) -> dict:
    """The link of the unit holding ``child_id`` and ``household_id`` as it
    is now: its unit, state (None: no link) and version."""
    with _transaction(url, write=False) as connection:
        _require_ready(connection, url)
        unit = _unit_of(connection, child_id)
        if not _exists(connection, "households", household_id):
            raise LookupInputError(f"no household_id {household_id!r} in the store")
        link = _link_row(connection, unit.unit_id, household_id)
    return {"unit_id": unit.unit_id, "child_ids": unit.child_ids, "state": None if link is None else link["state"],
            "version": None if link is None else link["version"]}


def transition(url: URL, action: str, child_id: str, household_id: str, *, reason: str | None, who: str,
               acting_for: str | None = None, from_state: str | None = None, read: dict | None = None) -> dict:
    """Move the link of the unit holding ``child_id`` and ``household_id``
    by ``action`` (a key of :data:`ACTIONS`), in one transaction.

    The move is from ``from_state`` (default: the state ``read`` at the
    start, :func:`read_link`) and from the version read then; it is applied
    only if the link is still there, else a :class:`LinkRefused` says what
    it is now, who moved it and when. A move not legal from that state is
    refused, naming the legal ones."""
    if action not in ACTIONS:
        raise InputError(option_problem("action", action, "one of " + ", ".join(ACTIONS)))
    if from_state is not None and from_state not in STATES:
        raise InputError(option_problem("from_state", from_state, "one of " + ", ".join(STATES)))
    acting_for = (acting_for or "").strip() or None
    read = read if read is not None else read_link(url, child_id, household_id)
    expected = read["state"]
    if from_state is not None and from_state != expected:
        with _transaction(url, write=False) as connection:
            link = _link_row(connection, read["unit_id"], household_id)
            event = None if link is None else _last_event(connection, link["id"])
        now = "it has no link" if event is None else f"it is {expected} ({_event_words(event)})"
        raise LinkRefused(f"the link is not {from_state}: {now}; nothing was changed. "
                          f"{_legal_words(expected).capitalize()}", code="stale_link")
    if action not in legal_actions(expected):
        raise LinkRefused(f"cannot {action} the link of unit {read['unit_id']} and household {household_id}: it "
                          f"{_state_words(expected)}; {_legal_words(expected)}")
    reason = _check_reason(action, reason, expected)
    at = _now()
    with _transaction(url, write=True) as connection:
        _require_ready(connection, url)
        if expected is None:
            found = _excluded(connection, read["child_ids"], household_id)
            if found is not None:
                raise LinkRefused(f"the pair {found['child_id']}, {household_id} is excluded (by {found['who']}: "
                                  f"{found['reason']}); lift the exclusion first", code="excluded")
            if _link_row(connection, read["unit_id"], household_id) is not None:
                raise _changed_since_creation(connection, read["unit_id"], household_id)
            try:
                with connection.begin_nested():
                    done = _create(connection, Unit(read["unit_id"], tuple(read["child_ids"])), household_id,
                                   reason, who, acting_for, at)
            except sa.exc.IntegrityError:  # another writer proposed the same pair first
                raise _changed_since_creation(connection, read["unit_id"], household_id) from None
            _bump(connection)
        else:
            link = _link_row(connection, read["unit_id"], household_id)
            done = _apply(connection, link, action, expected, read["version"], reason, who, acting_for, at)
        # In the move's own transaction: the audit has the move exactly when the link does.
        record_audit(connection, f"link {action}",
                     f"unit {read['unit_id']} and household {household_id}: {expected or 'new'} -> {done['state']}"
                     + (f" ({reason})" if reason else ""), child_id=child_id, household_id=household_id)
        return done


def _changed_since_creation(connection: sa.Connection, unit_id: str, household_id: str) -> LinkRefused:
    link = _link_row(connection, unit_id, household_id)
    if link is None:  # the other writer's insert is not visible yet: it was refused all the same
        return LinkRefused("another writer proposed this link at the same moment; nothing was changed",
                           code="stale_link")
    return _changed_since(connection, link["id"], None)


# --- reading links ----------------------------------------------------------------------------------------------

def _event_record(event) -> dict:
    return {"version": event["version"], "action": event["action"], "from_state": event["from_state"],
            "to_state": event["to_state"], "who": event["who"], "acting_for": event["acting_for"],
            "at": _as_utc(event["at"]).isoformat(), "reason": event["reason"]}


def list_links(url: URL, child_id: str | None = None, state: str | None = None) -> list[dict]:
    """Every link (of the unit holding ``child_id``; in ``state``), oldest
    first, each with its last move."""
    if state is not None and state not in STATES:
        raise InputError(option_problem("state", state, "one of " + ", ".join(STATES)))
    lk = schema.links
    with _transaction(url, write=False) as connection:
        _require_ready(connection, url)
        query = sa.select(lk).order_by(lk.c.id)
        if child_id is not None:
            query = query.where(lk.c.unit_id == _unit_of(connection, child_id).unit_id)
        if state is not None:
            query = query.where(lk.c.state == state)
        rows = connection.execute(query).mappings().all()
        return [{"link_id": r["id"], "unit_id": r["unit_id"], "child_ids": list(r["child_ids"]),
                 "household_id": r["household_id"], "state": r["state"], "version": r["version"],
                 "last": _event_record(_last_event(connection, r["id"]))} for r in rows]


def show_link(url: URL, child_id: str, household_id: str) -> dict:
    """One link and its whole history (who, acting for whom, when, why)."""
    ev = schema.link_events
    with _transaction(url, write=False) as connection:
        _require_ready(connection, url)
        unit = _unit_of(connection, child_id)
        link = _link_row(connection, unit.unit_id, household_id)
        if link is None:
            raise LookupInputError(f"no link of unit {unit.unit_id} and household {household_id} in the store",
                                   code="no_link")
        events = connection.execute(sa.select(ev).where(ev.c.link_id == link["id"]).order_by(ev.c.version)) \
            .mappings().all()
    return {"link_id": link["id"], "unit_id": link["unit_id"], "child_ids": list(link["child_ids"]),
            "household_id": link["household_id"], "state": link["state"], "version": link["version"],
            "history": [_event_record(e) for e in events]}


@dataclass(frozen=True)
class StoredLinks:
    """What a region read from the store needs of the links: the declined
    pairs (read as exclusions) and the links being explored."""

    declined: tuple[tuple[str, str, str, str, dt.datetime], ...]
    """(first child id, household id, reason, who, when) of each declined link."""
    exploring: tuple[dict, ...]


def read_for_region(connection: sa.Connection) -> StoredLinks:
    lk, ev = schema.links, schema.link_events
    rows = connection.execute(sa.select(lk.c.id, lk.c.unit_id, lk.c.child_ids, lk.c.household_id, lk.c.state,
                                        ev.c.who, ev.c.acting_for, ev.c.at, ev.c.reason)
                              .join(ev, sa.and_(ev.c.link_id == lk.c.id, ev.c.version == lk.c.version))
                              .where(lk.c.state.in_(("declined", "exploring"))).order_by(lk.c.id)).mappings().all()
    return StoredLinks(*links_for_region(
        (r["unit_id"], r["child_ids"], r["household_id"], r["state"], r["who"], r["acting_for"], r["at"], r["reason"])
        for r in rows))


def record_proposed(url: URL, pairs, data_version: int, who: str, acting_for: str | None = None) -> dict:
    """Record a proposal's (child id, household id) pairs as ``proposed``
    links in one transaction, only if the store is still at ``data_version``
    (checked and bumped in one UPDATE). A pair with no link gets one, a
    closed link is re-opened, an open or placed one is left as it is."""
    state = schema.register_state
    acting_for = (acting_for or "").strip() or None
    at = _now()
    made, reopened, left = [], [], []
    with _transaction(url, write=True) as connection:
        _require_ready(connection, url)
        done = connection.execute(sa.update(state).where(state.c.name == "data_version",
                                                         state.c.value == data_version)
                                  .values(value=state.c.value + 1))
        if done.rowcount != 1:
            raise LinkRefused("the store changed since the proposal was made (another import, exclusion or link "
                              "move); nothing was recorded: run propose again", code="stale_proposal")
        for child_id, household_id in pairs:
            unit = _unit_of(connection, child_id)
            link = _link_row(connection, unit.unit_id, household_id)
            if link is None:
                made.append(_create(connection, unit, household_id, "proposed by a recorded batch proposal", who,
                                    acting_for, at))
            elif link["state"] == "closed":
                reopened.append(_apply(connection, link, "reopen", "closed", link["version"],
                                       "proposed again by a recorded batch proposal", who, acting_for, at))
            else:
                left.append({"unit_id": unit.unit_id, "household_id": household_id, "state": link["state"]})
        record_audit(connection, "record proposal", f"{len(made)} links recorded as proposed, {len(reopened)} "
                                                     f"re-opened, {len(left)} left as they were")
    return {"recorded": made, "reopened": reopened, "left": left, "who": who, "acting_for": acting_for,
            "at": at.isoformat()}
