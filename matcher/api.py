"""The domain API: the one door every front end (the CLI now; the store, the
web service and reports later) goes through.

Data flows top to bottom, and nothing imports upward::

    features/contract.py   the contract's columns and codes, declared once
    features/              encoders and the hard rules (arrays in, masks out)
    solvers/               matchings and CP-SAT (arrays in, frozen results out)
    matcher/validation.py  tables from any source -> every problem, or typed tables
    matcher/files/         CSV / Parquet readers (add file names and lines), atomic writers
    matcher/region.py      the frozen region: units, encoded arrays, rule tables
    matcher/scoring/       scorer, weights, explanations, rank, why-not
    matcher/proposals/     propose, check_validity, the summary
    matcher/api.py         this module
    matcher/cli/           parse, call this API, render

Each function takes a frozen :class:`~matcher.region.Region` and frozen
options (:class:`~matcher.options.QueryOptions`,
:class:`~matcher.options.ProposalOptions`) and returns a frozen result.
Bad input of any kind raises :class:`~matcher.errors.InputError`, whose
problems carry a code and where the problem is (table or file, row and
column; or option and value) and never a command-line word; a proposal the
solver could not finish in time raises :class:`~matcher.errors.SolverTimeout`.

Every number a caller gives is checked against its range in
:data:`~matcher.options.NUMBERS` where the options are built (text such as
``"10"`` or a number, with the same message either way), and every path
before it is read or written (:func:`plan_output`,
:func:`check_output_folder`; readers check their inputs): a folder, a named
pipe, a path under a file or a name too long is bad input, not a hang or a
traceback.

>>> import datetime as dt
>>> from matcher import api
>>> children, households = api.generate(1, 30, 40, dt.date(2026, 6, 30))
>>> region = api.region_from_frames(children, households, as_of=dt.date(2026, 6, 30))
>>> waiting = region.children.filter(region.children["status"] == "waiting")["child_id"][0]
>>> answer = api.rank(region, child_id=waiting, options=api.QueryOptions(top=3))
>>> len(answer["results"]) <= 3
True
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from features.contract import EARLIEST_DATE
from matcher.frozen import FrozenDict
from matcher.errors import OPTIONS, InputError, LoginRefused, LookupInputError, Problem, SolverTimeout, name_options, option_problem
from matcher.options import NUMBERS, ProposalOptions, QueryOptions, RegionRequest, iso_date, number

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

    from matcher.files.manifest import Provenance
    from matcher.files.write import OutputPaths
    from matcher.proposals.propose import Proposal
    from matcher.region import Region
    from matcher.scoring.scorer import PairScores
    from matcher.scoring.weights import Weights
    from matcher.validation import RegionTables

__all__ = [
    "EARLIEST_DATE", "NUMBERS", "OPTIONS", "InputError", "LookupInputError", "Problem", "ProposalFilesCheck",
    "ProposalOptions", "QueryOptions", "RegionRequest", "SolverTimeout", "ScoresResult", "check_files",
    "check_output_folder", "check_proposal_files", "check_region_folder", "check_validity", "close_store",
    "acting", "audit_log", "audit_read", "backup_store", "record_audit", "restore_store",
    "counts_against", "describe_weights", "exclude", "export_store", "generate", "history", "import_files",
    "init_store", "iso_date", "LINK_ACTIONS", "LINK_STATES", "list_links", "move_link", "record_proposal",
    "show_link", "load_weights", "manifest_path", "money", "name_options", "query_store",
    "region_from_store", "store_location", "store_provenance",
    "near_misses", "number", "option_problem", "options_record", "parse_scheduler", "plan_output", "propose", "provenance", "rank",
    "region_files", "region_from_files", "region_from_frames", "region_from_tables", "region_summary", "scores",
    "weights_sha256", "why_not", "write_proposal", "write_region", "write_scores",
    "add_user", "set_user_disabled", "web_login", "web_session", "web_logout", "child_record", "household_record",
    "LoginRefused", "csrf_matches", "child_in_scope",
]


_CONTAINERS = (dict, list)


def _freeze(value):
    """Dicts as :class:`FrozenDict` and lists as tuples, all the way down
    (leaves are passed over without a call: a rank answer holds thousands)."""
    if type(value) is dict:
        return FrozenDict({k: _freeze(v) if type(v) in _CONTAINERS else v for k, v in value.items()})
    if type(value) is list:
        return tuple([_freeze(v) if type(v) in _CONTAINERS else v for v in value])
    return value


# --- web accounts and records ---------------------------------------------------------------------------------

def add_user(db: str | os.PathLike | None, username: str, role: str, agency_id: str | None, password: str):
    """Add a web account (argon2 hash of ``password``; roles
    ``family_finder``, ``agency_manager``, ``admin``), audited."""
    from matcher.store.accounts import add_user as add
    from matcher.store.engine import store_url

    return add(store_url(db), username, role, agency_id, password)


def set_user_disabled(db: str | os.PathLike | None, username: str, disabled: bool) -> None:
    """Disable an account (its sessions end at once) or enable it again."""
    from matcher.store.accounts import set_disabled
    from matcher.store.engine import store_url

    set_disabled(store_url(db), username, disabled)


def web_login(db: str | os.PathLike | None, username: str, password: str):
    """Open a web session (:class:`matcher.store.accounts.Session`) or raise
    :class:`matcher.store.accounts.LoginRefused`."""
    from matcher.store.accounts import login
    from matcher.store.engine import store_url

    return login(store_url(db), username, password)


def web_session(db: str | os.PathLike | None, token: str | None):
    """The account and CSRF token of a live session, or None."""
    from matcher.store.accounts import session_account
    from matcher.store.engine import store_url

    return session_account(store_url(db), token)


def csrf_matches(expected: str, given: str | None) -> bool:
    """Whether a request's CSRF token is the session's (constant time)."""
    import hmac

    return given is not None and hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def web_logout(db: str | os.PathLike | None, token: str) -> None:
    """End a web session."""
    from matcher.store.accounts import logout
    from matcher.store.engine import store_url

    logout(store_url(db), token)


def _record(frame, id_column: str, row_id: str, what: str) -> FrozenDict:
    from features.contract import CHILDREN, HOUSEHOLDS

    table = CHILDREN if id_column == "child_id" else HOUSEHOLDS
    rows = frame.filter(frame[id_column] == row_id)
    if rows.height == 0:
        raise LookupInputError(f"no {what} {row_id!r} in the region")
    row = rows.select(table.names).row(0, named=True)
    return _freeze({name: (value.isoformat() if isinstance(value, dt.date) else
                           list(value) if isinstance(value, (list, tuple)) else value)
                    for name, value in row.items()})


def child_record(region: Region, child_id: str) -> FrozenDict:
    """A child's row in the contract's fields (dates as ISO text, lists of
    codes as lists, defaults filled in)."""
    return _record(region.children, "child_id", child_id, "child_id")


def child_in_scope(region: Region, child_id: str, agency_id: str | None) -> FrozenDict | None:
    """The child's record when the region holds the child and the child
    belongs to ``agency_id`` (None: any agency, as for an admin); None
    otherwise, an unknown child and another agency's alike, so that the
    front ends answer both the same way and ids cannot be probed."""
    try:
        record = child_record(region, child_id)
    except LookupInputError:
        return None
    return record if agency_id is None or record["agency_id"] == agency_id else None


def household_record(region: Region, household_id: str) -> FrozenDict:
    """A household's row in the contract's fields."""
    return _record(region.households, "household_id", household_id, "household_id")


# --- sources of a region ------------------------------------------------------------------------------------------

def region_from_tables(tables: RegionTables, as_of: dt.date, exclusions=()) -> Region:
    """A frozen region from validated tables (any source), at ``as_of`` (a
    date from 1900 on, checked as the option ``as_of``), with the pairs
    excluded by hand (:class:`matcher.region.Exclusion`; store mode)."""
    from matcher.region import Region

    return Region.build(tables, iso_date("as_of", as_of), exclusions)


def region_from_files(children: str | os.PathLike, households: str | os.PathLike, as_of: dt.date) -> Region:
    """Read, validate and build a region from the contract's files (CSV or
    Parquet); an :class:`InputError` listing every problem otherwise."""
    from matcher.files.read import read_region

    as_of = iso_date("as_of", as_of)
    return region_from_tables(read_region(children, households, as_of=as_of), as_of)


def region_from_frames(children: pl.DataFrame, households: pl.DataFrame, as_of: dt.date) -> Region:
    """Validate in-memory polars frames in the contract's columns (typed or
    text) exactly as files are validated, and build a region."""
    from matcher.validation import tables_from_frames

    as_of = iso_date("as_of", as_of)
    return region_from_tables(tables_from_frames(children, households, as_of=as_of), as_of)


def load_scorer() -> None:
    """Load the compiled scorer into this process now (numba and its
    machine code from the on-disk cache, about half a second), by scoring a
    tiny generated region. A long-running process calls it once at
    start-up (``matcher serve`` does), so that its queries use the compiled
    pass from the first: a process that has not loaded it keeps queries
    below :data:`matcher.scoring.queries.KERNEL_COLD_MIN_CANDIDATES`
    candidate pairs on the numpy path, so that a one-off ``rank`` never
    pays for numba (benchmarks/README.md: one unit x 100,000 households
    warm, p95 1.7 ms compiled against 5.2 ms in numpy)."""
    from matcher.generate import generate_region
    from matcher.scoring.queries import load_kernel

    as_of = dt.date(2026, 1, 1)
    children, households = generate_region(0, 12, 12, as_of)
    load_kernel(region_from_frames(children, households, as_of))


# --- the case register (store mode) -------------------------------------------------------------------------------
#
# ``db`` is what ``--db`` gives: a file path (SQLite) or a postgresql:// URL;
# None means ``MATCHER_DB``, and for the store commands then the embedded
# default file in the user's data folder (see matcher/store/engine.py).

STORE_REGIONS_KEPT = 4
"""Regions built from stores kept per process (least recently used first
out), keyed by store, data version and as-of date: any write to children,
households or exclusions bumps the data version, so a cached region is never
stale."""

_STORE_REGIONS = None


def _store_regions():
    global _STORE_REGIONS
    if _STORE_REGIONS is None:
        from matcher.region import BoundedCache

        _STORE_REGIONS = BoundedCache(STORE_REGIONS_KEPT)
    return _STORE_REGIONS


def query_store(db: str | os.PathLike | None) -> str | None:
    """The store a query command reads when given no files: ``db``, else
    ``MATCHER_DB``; None when neither is set."""
    from matcher.store.direct import ENVIRONMENT

    if db is not None:
        return os.fspath(db)
    return os.environ.get(ENVIRONMENT) or None


def store_location(db: str | os.PathLike | None) -> str:
    """Where the store ``db`` is (as commands say it: no password)."""
    from matcher.store.engine import shown, store_url

    return shown(store_url(db))


def close_store(db: str | os.PathLike | None) -> None:
    """Close this process's connections to a store (before its file is
    removed or replaced, say)."""
    from matcher.store import direct
    from matcher.store.engine import dispose, store_url

    given = query_store(db)
    if given is not None and direct.target(given) is not None:
        direct.close(direct.target(given))
    dispose(store_url(db))


def init_store(db: str | os.PathLike | None) -> tuple[str | None, str]:
    """Create the store, or migrate it to the newest schema; the schema
    revision before (None for a new store) and after."""
    from matcher.store.engine import store_url
    from matcher.store.register import migrate

    return migrate(store_url(db))


def region_from_store(db: str | os.PathLike | None, as_of: dt.date) -> Region:
    """A frozen region from the store's tables, validated and built exactly
    as files are (:func:`region_from_frames`), with the store's exclusions
    as excluded pairs. Regions are cached per store, data version and date
    (:data:`STORE_REGIONS_KEPT`).

    A store named by a file path or a ``postgresql://`` URL is read through
    the driver (:mod:`matcher.store.direct`: a cold command need not load
    SQLAlchemy); any other form, and any store that path cannot read as it
    is (missing, not migrated, unreachable), through SQLAlchemy, which says
    what is wrong."""
    from matcher.region import Exclusion
    from matcher.store import direct

    cache = _store_regions()
    given = query_store(db)
    if given is not None:
        found = _cached_or_read(cache, f"direct {given}", as_of, lambda held: direct.read_region(given, held=held))
        if found is not None:
            region, read, key = found
            if region is not None:
                return region
            return _store_region(cache, key, read, [Exclusion(*e) for e in read.exclusions], as_of)

    from matcher.store.engine import store_url
    from matcher.store.register import read_region

    url = store_url(db)
    region, read, key = _cached_or_read(cache, url.render_as_string(hide_password=False), as_of,
                                        lambda held: read_region(url, held=held))
    if region is not None:
        return region
    exclusions = [Exclusion(e.child_id, e.household_id, e.reason, e.who, e.at) for e in read.exclusions]
    return _store_region(cache, key, read, exclusions, as_of)


def _cached_or_read(cache, where: str, as_of: dt.date, read):
    """(the cached region, None, key) when ``cache`` holds the store
    ``where`` at its current data version and ``as_of``; else (None, what
    ``read`` read, key); None when ``read`` cannot read the store.
    ``read(held)`` reads only the data version when ``held(version)``."""
    got = read(lambda version: cache.peek((where, version, as_of)) is not None)
    if got is None:
        return None
    if isinstance(got, int):
        region = cache.peek((where, got, as_of))
        if region is not None:
            return region, None, (where, got, as_of)
        got = read(None)  # evicted in between: read it all
        if got is None:
            return None
    return None, got, (where, got.data_version, as_of)


def _store_region(cache, key, read, exclusions, as_of: dt.date) -> Region:
    from matcher.validation import tables_from_frames

    tables = tables_from_frames(read.children, read.households, as_of=as_of)
    region = dataclasses.replace(region_from_tables(tables, as_of, exclusions), exploring=read.exploring,
                                 data_version=read.data_version)
    return cache.get_or_make(key, lambda: region)


def store_provenance(db: str | os.PathLike | None) -> str:
    """The store as a manifest records it: where (no password) and its data
    version."""
    from matcher.store.engine import shown, store_url
    from matcher.store.register import data_version

    url = store_url(db)
    return f"{shown(url)} (data version {data_version(url)})"


@dataclass(frozen=True)
class StoreImport:
    """What ``import`` did: per table, rows added, updated, unchanged and
    left out (kept: an import never deletes), and the files' warnings."""

    children: object
    households: object
    warnings: tuple[str, ...]


def import_files(children: str | os.PathLike, households: str | os.PathLike, as_of: dt.date,
                 db: str | os.PathLike | None) -> StoreImport:
    """Validate both files exactly as file mode does (an :class:`InputError`
    naming file, row and column, and the store untouched), then load them in
    one transaction: rows updated by id, every previous version kept, rows
    the files leave out kept."""
    from matcher.files.read import read_region
    from matcher.store.engine import store_url
    from matcher.store.actor import who_am_i
    from matcher.store.register import import_tables

    url = store_url(db)
    tables = read_region(children, households, as_of=as_of)
    done = import_tables(url, tables.children, tables.households, who_am_i(),
                         f"import {os.fspath(children)} and {os.fspath(households)}")
    return StoreImport(done[0], done[1], tables.warnings)


def export_store(db: str | os.PathLike | None, folder: str | os.PathLike) -> tuple[Path, Path]:
    """Write the register as the contract's ``children.csv`` and
    ``households.csv`` (defaults written out, rows in the order first
    imported; each with its manifest), all or nothing: importing them gives
    the same rows."""
    from matcher.files.manifest import Provenance
    from matcher.store.engine import shown, store_url
    from matcher.store.register import audit, read_region

    url = store_url(db)
    read = read_region(url)
    made = Provenance("export", store=f"{shown(url)} (data version {read.data_version})")
    written = write_region(read.children, read.households, folder, "csv", made)
    audit(url, "export", f"exported every record to {os.fspath(folder)}")
    return written


def history(db: str | os.PathLike | None, *, child_id: str | None = None,
            household_id: str | None = None) -> dict:
    """Every version of a child's or a household's row (exactly one of the
    two), oldest first: version, when (UTC), who, what changed."""
    from matcher.store.engine import store_url
    from matcher.store.register import history as versions

    if (child_id is None) == (household_id is None):
        raise InputError(option_problem("child_id/household_id", None, "exactly one of a child or a household"))
    table, row_id = ("children", child_id) if child_id is not None else ("households", household_id)
    return _freeze({"table": table, "id": row_id, "versions": versions(store_url(db), table, row_id)})


def exclude(db: str | os.PathLike | None, child_id: str, household_id: str, reason: str, *,
            undo: bool = False) -> dict:
    """Exclude a child-household pair by hand (never ranked or proposed;
    why-not reports rule 0), or lift the exclusion with ``undo``; the OS
    user, the time and the reason are recorded."""
    from matcher.store.engine import store_url
    from matcher.store.actor import who_am_i
    from matcher.store.register import exclude as record

    return _freeze(record(store_url(db), child_id, household_id, reason, who_am_i(), undo=undo))


# --- the link lifecycle -------------------------------------------------------------------------------------------

LINK_ACTIONS = ("propose", "explore", "link", "match", "place", "decline", "close", "reopen")
LINK_STATES = ("proposed", "exploring", "linked", "matched", "placed", "declined", "closed")


def move_link(db: str | os.PathLike | None, action: str, child_id: str, household_id: str, *,
              reason: str | None = None, acting_for: str | None = None, from_state: str | None = None) -> dict:
    """Move the link of the unit holding ``child_id`` and ``household_id``
    (proposed -> exploring -> linked -> matched -> placed; declined or
    closed from any open state; re-opened from declined or closed), from
    ``from_state`` (default: the state read first), recording the OS user,
    ``acting_for``, the time and the reason (needed to decline, close or
    re-open). An illegal move, or a link that changed since it was read,
    is bad input saying what is legal or what changed."""
    from matcher.store.actor import current_actor
    from matcher.store.engine import store_url
    from matcher.store.links import transition
    from matcher.store.actor import who_am_i

    acting_for = acting_for or current_actor().acting_for
    return _freeze(transition(store_url(db), action, child_id, household_id, reason=reason, who=who_am_i(),
                              acting_for=acting_for, from_state=from_state))


def list_links(db: str | os.PathLike | None, *, child_id: str | None = None, state: str | None = None) -> tuple:
    """Every link (of the unit holding ``child_id``; in ``state``), each with its last move."""
    from matcher.store.engine import store_url
    from matcher.store.links import list_links as listed

    return _freeze(listed(store_url(db), child_id, state))


def show_link(db: str | os.PathLike | None, child_id: str, household_id: str) -> dict:
    """One link and every move it made: who, acting for whom, when, why."""
    from matcher.store.engine import store_url
    from matcher.store.links import show_link as shown_link

    return _freeze(shown_link(store_url(db), child_id, household_id))


def record_proposal(db: str | os.PathLike | None, region: Region, proposal: Proposal, *,
                    acting_for: str | None = None) -> dict:
    """Record a proposal made from the store's ``region`` as ``proposed``
    links, in one transaction: only if the store is still at the data
    version the region was read at. A pair with an open link is left as it
    is; a closed one is re-opened."""
    from matcher.store.engine import store_url
    from matcher.store.links import record_proposed
    from matcher.store.actor import who_am_i

    if region.data_version is None:
        raise InputError(option_problem("record", None, "a proposal made from a store ({option:db})"))
    pairs = [(c.split(";")[0], h) for c, h in proposal.links.select("child_ids", "household_id").iter_rows()]
    from matcher.store.actor import current_actor

    acting_for = acting_for or current_actor().acting_for
    return _freeze(record_proposed(store_url(db), pairs, region.data_version, who_am_i(), acting_for))


def acting(*, how: str | None = None, acting_for: str | None = None):
    """A context in which the store's audit records ``how`` the application
    is driven (``cli``, ``web``) and for whom (``acting_for``: a name given
    with ``--user``; the operating-system user is always recorded as who)."""
    from matcher.store.actor import acting as context

    return context(how=how, acting_for=acting_for)


def record_audit(session, action: str, what: str, child_id: str | None = None,
                 household_id: str | None = None) -> None:
    """Append an audit row on ``session`` (the store connection of a write,
    inside its transaction): for writers such as the link lifecycle."""
    from matcher.store.audit import record_audit as append

    append(session, action, what, child_id, household_id)


def audit_read(db: str | os.PathLike | None, action: str, what: str, *, child_id: str | None = None,
               household_id: str | None = None) -> None:
    """Record in the store's audit that a child's record or ranking was read
    (store mode): call it before showing the answer. Through the driver
    where :mod:`matcher.store.direct` can, else through SQLAlchemy."""
    from matcher.store import direct

    given = query_store(db)
    if given is not None and direct.audit(given, action, what, child_id, household_id):
        return
    from matcher.store.engine import store_url
    from matcher.store.register import audit

    audit(store_url(db), action, what, child_id, household_id)


@dataclass(frozen=True)
class AuditRead:
    """The audit row of one read, taken when the read happened (by
    :func:`audit_entry`) and written later with others
    (:func:`audit_reads`)."""

    at: dt.datetime
    acting_for: str | None
    how: str
    action: str
    what: str
    child_id: str | None = None
    household_id: str | None = None


def audit_entry(action: str, what: str, *, child_id: str | None = None,
                household_id: str | None = None) -> AuditRead:
    """The audit row of a read, now, for whom and how the caller acts
    (:func:`acting`)."""
    from matcher.store.actor import current_actor

    actor = current_actor()
    return AuditRead(dt.datetime.now(dt.timezone.utc), actor.acting_for, actor.how, action, what, child_id,
                     household_id)


def audit_reads(db: str | os.PathLike | None, reads) -> None:
    """Record several reads (:class:`AuditRead`) in the store's audit in one
    transaction where the driver path can (one commit for all), else one
    by one through SQLAlchemy, each with its own user and how."""
    from matcher.store import direct

    reads = list(reads)
    if not reads:
        return
    given = query_store(db)
    rows = [(r.at, r.acting_for, r.how, r.action, r.what, r.child_id, r.household_id) for r in reads]
    if given is not None and direct.audit_rows(given, rows):
        return
    from matcher.store.engine import store_url
    from matcher.store.register import audit

    for read in reads:
        with acting(how=read.how, acting_for=read.acting_for):
            audit(store_url(db), read.action, read.what, read.child_id, read.household_id)


def audit_log(db: str | os.PathLike | None, *, child_id: str | None = None, user: str | None = None,
              since: dt.date | dt.datetime | None = None) -> tuple:
    """The store's audit rows, oldest first: about one child, by one user
    (who or acting for), at or after a date (UTC midnight) or time."""
    from matcher.store.engine import store_url
    from matcher.store.register import audit_log as rows

    if since is not None and not isinstance(since, dt.datetime):
        since = dt.datetime.combine(since, dt.time(), tzinfo=dt.timezone.utc)
    return _freeze(rows(store_url(db), child_id=child_id, user=user, since=since))


def backup_store(db: str | os.PathLike | None, out: str | os.PathLike, *, force: bool = False) -> Path:
    """Back the whole store up to the file ``out`` (SQLite: the online
    backup API; PostgreSQL: pg_dump in custom format); recorded in the
    audit. An existing ``out`` is replaced only with ``force``."""
    from matcher.store.backup import backup
    from matcher.store.engine import store_url
    from matcher.store.register import audit

    url = store_url(db)
    path = Path(out)
    if path.is_dir() or (path.exists() and not force):
        raise InputError(option_problem("out", os.fspath(out), "a new file (give {option:force} to replace one)"))
    if not path.parent.is_dir():
        raise InputError(option_problem("out", os.fspath(out), "a file in an existing folder"))
    audit(url, "db backup", f"backup of every record to {os.fspath(out)}")
    backup(url, path)
    return path


def restore_store(db: str | os.PathLike | None, backup_file: str | os.PathLike, *, force: bool = False) -> str:
    """Replace the store with a backup made by :func:`backup_store`, all at
    once, then migrate it to the newest schema; refused when the store holds
    data unless ``force``. Returns the schema revision it is at."""
    from matcher.store.backup import restore
    from matcher.store.engine import store_url
    from matcher.store.register import audit, migrate

    url = store_url(db)
    restore(url, Path(backup_file), force=force)
    _, after = migrate(url)
    audit(url, "db restore", f"restored from {os.fspath(backup_file)}" + (" (replacing data)" if force else ""))
    return after


@dataclass(frozen=True)
class FileCheck:
    """What ``validate`` found: every problem and warning in both files, and
    the region's counts when there is no problem."""

    problems: tuple[Problem, ...]
    warnings: tuple[str, ...]
    counts: dict | None


def check_files(children: str | os.PathLike, households: str | os.PathLike, as_of: dt.date) -> FileCheck:
    """Check both files against the contract without raising for bad input."""
    from features.contract import CHILDREN, HOUSEHOLDS
    from matcher.files.read import read_table
    from matcher.summary import region_summary as summarise
    from matcher.validation import RegionTables, check_across

    kids = read_table(children, CHILDREN, as_of=as_of)
    homes = read_table(households, HOUSEHOLDS, as_of=as_of)
    check_across(kids, homes)
    problems = tuple(kids.problems + homes.problems)
    counts = None if problems else summarise(RegionTables(kids.frame, homes.frame), as_of)
    return FileCheck(problems, tuple(kids.warnings + homes.warnings), counts)


def region_summary(region: Region) -> dict:
    """Counts a family finder reads first: children, units by size,
    households."""
    from matcher.summary import region_summary as summarise
    from matcher.validation import RegionTables

    return summarise(RegionTables(region.children, region.households), region.as_of)


# --- queries -------------------------------------------------------------------------------------------------------

def rank(region: Region, *, child_id: str | None = None, household_id: str | None = None,
         options: QueryOptions = QueryOptions()) -> dict:
    """The best households for the unit holding ``child_id``, or the best
    units for ``household_id`` (exactly one of the two), with scores,
    per-factor contributions and reasons. For a child whose unit has fewer
    than ``options.top`` eligible households, ``near_misses`` lists up to as
    many households that break exactly one hard rule as it takes to make up
    ``top`` (see :func:`near_misses`); they are never in ``results``."""
    from matcher.scoring.near_misses import near_misses_for_child
    from matcher.scoring.queries import rank_for_child, rank_for_household

    if (child_id is None) == (household_id is None):
        raise InputError(option_problem("child_id/household_id", None, "exactly one of a child or a household"))
    if child_id is None:
        return _freeze(_note_exploring(region, rank_for_household(region, household_id, options.top,
                                                                  options.weights), "unit_id"))
    answer = rank_for_child(region, child_id, options.top, options.weights)
    short = None if options.top is None else options.top - answer["eligible_households"]
    if short is not None and short > 0:
        answer["near_misses"] = near_misses_for_child(region, child_id, short, options.weights)["results"]
    return _freeze(_note_exploring(region, answer, "household_id"))


def _note_exploring(region: Region, answer: dict, key: str) -> dict:
    """Add ``exploring`` to each result whose household (or unit) is in a
    link being explored (store mode): the links, with since when and by
    whom. A result with none has no such key."""
    if not region.exploring:
        return answer
    by_key: dict[str, list] = {}
    for note in region.exploring:
        if key == "household_id":
            by_key.setdefault(note["household_id"], []).append(note)
        else:
            row = region.unit_row_of_child.get(note["child_ids"][0])
            if row is not None:
                by_key.setdefault(str(region.unit_arrays.unit_ids[row]), []).append(note)
    for result in answer["results"]:
        if result[key] in by_key:
            result["exploring"] = [{k: v for k, v in note.items() if k != "state"} for note in by_key[result[key]]]
    return answer


def near_misses(region: Region, child_id: str, options: QueryOptions = QueryOptions()) -> dict:
    """Approved households that break exactly one hard rule for the unit
    holding ``child_id`` (one rule number, however many children or needs
    break it), each with the rule, its name and by how much; the links that
    would score highest first, at most ``options.top`` (CONTRACT.md's
    near-misses answer). Only a waiting unit is asked about."""
    from matcher.scoring.near_misses import near_misses_for_child

    return _freeze(near_misses_for_child(region, child_id, options.top, options.weights))


def why_not(region: Region, child_id: str, household_id: str, options: QueryOptions = QueryOptions()) -> dict:
    """Every hard rule that excludes the pair, or its score if none does
    (CONTRACT.md's why-not answer)."""
    from matcher.scoring.queries import why_not as explain_pair

    return _freeze(explain_pair(region, child_id, household_id, options.weights))


@dataclass(frozen=True)
class ScoresResult:
    """Every eligible pair's scores and the contract's ``scores`` table."""

    pairs: PairScores
    frame: pl.DataFrame


def scores(region: Region, options: QueryOptions = QueryOptions(), progress=None, blocks=None) -> ScoresResult:
    """Every eligible unit-household pair with score, weight and factors.
    ``progress``, if given, is called with the number of units done; with
    ``options.scheduler`` the pairs are scored on Dask by unit blocks (the
    same table) and ``blocks`` is called with (blocks done, blocks)."""
    from matcher.scoring.distributed import session
    from matcher.scoring.queries import all_scores
    from matcher.scoring.results import scores_frame

    with session(options.scheduler, on_block=blocks):
        pairs = all_scores(region, options.weights, workers=options.workers, progress=progress)
    return ScoresResult(pairs, scores_frame(region, pairs))


def propose(region: Region, options: ProposalOptions = ProposalOptions(), progress=None, blocks=None) -> Proposal:
    """A batch proposal. Raises :class:`InputError` (code ``infeasible``)
    when no proposal meets the request and :class:`SolverTimeout` when the
    solver found none in time. With ``options.scheduler`` the pairs are
    scored on Dask (the same proposal); ``blocks`` as for :func:`scores`."""
    from matcher.proposals.propose import propose as solve
    from matcher.scoring.distributed import session

    with session(options.scheduler, on_block=blocks):
        proposal = solve(region, options, progress=progress)
    if proposal.status == "infeasible":
        raise InputError(Problem(OPTIONS, None, None, None,
                                 "a request that can be met; no proposal satisfies it (fixed links over a budget, "
                                 "or fixed siblings too far apart)", code="infeasible"))
    if proposal.status == "unknown":
        raise SolverTimeout(f"the solver found no proposal within {{option:time_limit_s}} "
                            f"{options.config.time_limit_s:g} s; allow more time")
    return proposal


def check_validity(proposal: Proposal, region: Region) -> list[str]:
    """Every broken rule, capacity, budget, fixed or excluded link of a
    proposal (empty when it is valid)."""
    from matcher.proposals.checks import check_validity as check

    return [name_options(problem) for problem in check(proposal, region)]


# --- writing results -----------------------------------------------------------------------------------------------
#
# Every file a command writes gets a manifest beside it (``X.manifest.json``,
# CONTRACT.md) saying how it was made; files that belong together (links,
# their summary, their manifest) are written all or nothing (see
# :class:`matcher.files.write.FileSet`).

def check_output_folder(path: str | os.PathLike, option: str = "out") -> Path:
    """``path`` as a folder files can be written into (existing, or one
    that can be made); an :class:`InputError` naming ``option`` otherwise."""
    from matcher.files.paths import output_folder_problem

    expected = output_folder_problem(path)
    if expected is not None:
        raise InputError(option_problem(option, os.fspath(path), expected))
    return Path(path)


def weights_sha256(weights: Weights) -> str:
    """The SHA-256 of the weights' content (every factor and parameter, as
    canonical JSON): equal weights, equal hash, whether they came from the
    defaults or from a file."""
    import dataclasses
    import hashlib
    import json

    content = json.dumps(dataclasses.asdict(weights), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def parse_scheduler(address, tls_ca_file=None, tls_cert=None, tls_key=None, timeout_s=10.0):
    """``--scheduler`` and its TLS files as the options' ``scheduler``
    (None when no address is given); see
    :func:`matcher.scoring.distributed.parse_scheduler`."""
    from matcher.scoring.distributed import parse_scheduler as parse

    return parse(address, tls_ca_file, tls_cert, tls_key, timeout_s)


def options_record(options: ProposalOptions | QueryOptions | None) -> dict:
    """Every option of a request by its domain name, as JSON values (what
    a manifest records)."""
    if isinstance(options, ProposalOptions):
        return {
            "budgets": dict(sorted(options.budgets.items())),
            "min_score": options.min_score,
            "fixed": [f"{u}={h}" for u, h in options.fixed],
            "excluded": [f"{u}={h}" for u, h in options.excluded],
            "sibling_contact_km": options.sibling_contact_km,
            "shortlist": options.shortlist,
            "time_limit_s": options.config.time_limit_s,
            "workers": options.config.workers,
            "seed": options.config.seed,
            **({"candidates": options.candidates} if options.candidates is not None else {}),
        }
    return {}


def provenance(command: str, *, children: str | os.PathLike | None = None,
               households: str | os.PathLike | None = None, as_of: dt.date | None = None,
               options: ProposalOptions | QueryOptions | dict | None = None, weights: Weights | None = None,
               weights_file: str | os.PathLike | None = None, store: str | None = None) -> Provenance:
    """How a command's files are made: its input files, date, options and
    weights, recorded in the manifest and the summary."""
    from matcher.files.manifest import Provenance

    inputs = tuple((role, os.fspath(path)) for role, path in
                   (("children", children), ("households", households), ("weights", weights_file))
                   if path is not None)
    record = dict(options) if isinstance(options, dict) else options_record(options)
    return Provenance(command, inputs, as_of, record, weights_sha256(weights) if weights is not None else None,
                      os.fspath(weights_file) if weights_file is not None else None, store)


def plan_output(path: str | os.PathLike, *, inputs: dict[str, str | os.PathLike | None],
                summary: bool = False) -> OutputPaths:
    """Where a result (``.csv`` or ``.parquet``) and its companions (its
    summary, if ``summary``, and its manifest) will go, checked before any
    work: an input error (option ``out``) if the folder is missing, a name
    is too long for its companions, or any of them is a folder or one of the
    ``inputs`` (role -> path; the same file through a link counts)."""
    from matcher.files.write import plan_output as plan

    return plan(path, inputs=inputs, summary=summary)


SCORES_PARQUET_COMPRESSION = "lz4"


def write_scores(result: ScoresResult, path: str | os.PathLike | OutputPaths, made: Provenance | None = None) -> Path:
    """Write the scores table (CSV or Parquet by extension) and its
    manifest, all or nothing (the table is renamed into place first, the
    manifest second); returns the manifest's path."""
    from matcher.files.manifest import Provenance, manifest, manifest_text
    from matcher.files.write import FileSet, manifest_path

    out = Path(path.result if hasattr(path, "result") else path)
    made = made or Provenance("scores")
    inputs = made.input_hashes()
    with FileSet() as files:
        # LZ4: the scores table is the largest output (millions of rows);
        # it writes in about two thirds of zstd's CPU time, for a file
        # about 1.7 times larger (benchmarks/README.md, issue 14).
        digest = files.stage_frame(result.frame, out, compression=SCORES_PARQUET_COMPRESSION)
        files.stage_text(manifest_text(manifest(made, inputs, [(out, digest)])), manifest_path(out))
        files.commit()
    return manifest_path(out)


def write_proposal(region: Region, proposal: Proposal, path: str | os.PathLike | OutputPaths,
                   made: Provenance | None = None, names: dict | None = None) -> tuple[str, Path]:
    """Check the proposal, then write its links, its summary and its
    manifest beside them, all or nothing; returns the summary text and its
    path. ``names`` render option names in the summary (a front end's own,
    such as CLI flags)."""
    from matcher.proposals.report import write_proposal as write

    return write(region, proposal, path.result if hasattr(path, "result") else path, made, names)


@dataclass(frozen=True)
class ProposalFilesCheck:
    """What ``validate-proposal`` found: every way the links file, its
    summary, its manifest and the inputs they name disagree (empty when
    they belong together), and what was checked."""

    problems: tuple[Problem, ...]
    checked: tuple[str, ...]


def check_proposal_files(links: str | os.PathLike) -> ProposalFilesCheck:
    """Whether a links file, its summary and its manifest belong together:
    the summary and the manifest record the SHA-256 of the links file they
    describe, the manifest that of the summary, and the inputs' hashes are
    compared with the files if they are still there."""
    from matcher.proposals.consistency import check_proposal_files as check

    problems, checked = check(links)
    return ProposalFilesCheck(tuple(problems), tuple(checked))


# --- synthetic regions and weights ----------------------------------------------------------------------------------

def generate(seed: int, n_children: int, n_households: int, as_of: dt.date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A synthetic region's children and households, deterministic per seed
    and date; each number is checked as :class:`RegionRequest` checks it."""
    from matcher.generate import generate_region

    request = RegionRequest(seed, n_children, n_households)
    return generate_region(request.seed, request.n_children, request.n_households, as_of)


def manifest_path(result: str | os.PathLike) -> Path:
    """Where the manifest of a result file ``X.csv`` goes: ``X.manifest.json``."""
    from matcher.files.write import manifest_path as path_of

    return path_of(result)


def region_files(folder: str | os.PathLike, fmt: str = "csv") -> tuple[Path, Path]:
    """Where a region's two files go in ``folder``."""
    from matcher.files.write import region_files as paths

    return paths(folder, fmt)


def check_region_folder(folder: str | os.PathLike, *, replace: bool, made_by: str | None = None) -> None:
    """An input error (option ``out``) if ``folder`` is a file, or already
    holds a region (children or households, CSV or Parquet) and ``replace``
    (option ``force``) is not given. A region whose manifests say command
    ``made_by`` wrote it may be replaced (the demo replaces its own)."""
    from matcher.files.write import region_folder_problem

    expected = region_folder_problem(folder, replace=replace, made_by=made_by)
    if expected is not None:
        raise InputError(option_problem("out", os.fspath(folder), expected))


def write_region(children: pl.DataFrame, households: pl.DataFrame, folder: str | os.PathLike,
                 fmt: str = "csv", made: Provenance | None = None) -> tuple[Path, Path]:
    """Write both tables in the contract's format into ``folder``, each with
    its manifest (both manifests list both files), all or nothing."""
    from features.contract import CHILDREN, HOUSEHOLDS
    from matcher.files.manifest import Provenance, manifest, manifest_text
    from matcher.files.write import FileSet, for_writing, manifest_path

    paths = region_files(folder, fmt)
    made = made or Provenance("generate")
    with FileSet() as files:
        digests = [files.stage_frame(for_writing(frame, table, path), path)
                   for frame, table, path in ((children, CHILDREN, paths[0]), (households, HOUSEHOLDS, paths[1]))]
        text = manifest_text(manifest(made, made.input_hashes(), list(zip(paths, digests))))
        for path in paths:
            files.stage_text(text, manifest_path(path))
        files.commit()
    return paths


def load_weights(path: str | None) -> Weights:
    """Scorer weights: the defaults, or a TOML file's (checked)."""
    from matcher.scoring.weights import load_weights as load

    return load(path)


def describe_weights(weights: Weights) -> str:
    """The weights as TOML with a sentence for each."""
    from matcher.scoring.weights import describe_weights as describe

    return describe(weights)


def counts_against(points: float, max_points: float) -> bool:
    """Whether a reason's factor (``points`` of ``max_points``) counts
    against its link rather than for it."""
    from matcher.scoring.explain import counts_against as against

    return against(points, max_points)


def money(amount: int) -> str:
    """An amount in pounds as a family finder writes it."""
    from matcher.scoring.explain import money as pounds

    return pounds(amount)


# --- exchange days --------------------------------------------------------------------------------------------------
#
# An exchange day's event file names featured units (by table), attending
# households, slots and requests (CONTRACT.md, "exchange-day event"); the
# schedule is chosen by CP-SAT (solvers/exchange.py) and written with a page
# per household and per table (matcher/exchange/).

EXCHANGE_FILES = ("schedule.csv", "units.csv", "summary.txt", "schedule.manifest.json")
"""The files an exchange day writes into its folder, beside ``households/``
and ``tables/`` (one page each)."""


def read_exchange_event(path: str | os.PathLike, region: Region):
    """Read an event file and check it against ``region``: an
    :class:`InputError` naming the file and each bad entry
    (``tables[3].capacity``) otherwise."""
    from matcher.exchange.event import read_event

    return read_event(path, region)


def exchange_day(region: Region, event, *, weights: Weights | None = None, absent=(),
                 lock: str | os.PathLike | None = None, time_limit_s=60, seed=0):
    """Plan an exchange day (see :func:`matcher.exchange.plan_exchange_day`):
    ``absent`` households removed, ``lock`` (a schedule CSV) kept in its
    slots. Bad input (an unknown absent household, a locked row that cannot
    be kept) raises :class:`InputError`; a solver that found no schedule in
    time raises :class:`SolverTimeout`."""
    from matcher.exchange.plan import plan_exchange_day
    from matcher.scoring.weights import Weights as DefaultWeights
    from solvers import SolverConfig

    config = SolverConfig(time_limit_s=float(number("time_limit_s", time_limit_s)), workers=1,
                          seed=int(number("solver_seed", seed)))
    return plan_exchange_day(region, event, weights=weights or DefaultWeights(), absent=tuple(absent), lock=lock,
                             config=config)


def exchange_day_summary(day) -> list[str]:
    """The day in a few lines: meetings, units reached and short (and why),
    requests met and unmet, solver status, objective, bound and gap."""
    from matcher.exchange.pages import summary_lines

    return summary_lines(day)


def check_exchange_output(out: str | os.PathLike, inputs: dict[str, str | os.PathLike | None]) -> Path:
    """``out`` as a folder the day's files can go to, none of them one of
    the ``inputs`` (role -> path); an :class:`InputError` (option ``out``)
    otherwise. Checked before any work."""
    from matcher.files.write import check_not_inputs

    folder = check_output_folder(out)
    fixed = {name: folder / name for name in EXCHANGE_FILES}
    check_not_inputs(fixed, inputs, os.fspath(out))
    for name, path in fixed.items():
        if path.is_dir():
            raise InputError(option_problem("out", os.fspath(out), f"a folder where {name} can be written; "
                                                                  "it is a folder"))
    return folder


def write_exchange_day(region: Region, day, out: str | os.PathLike, made: Provenance,
                       inputs: dict[str, str | os.PathLike | None], weights: Weights | None = None) -> dict:
    """Write the schedule, the meetings per unit, the summary, a page per
    attending household and per table, and the manifest into ``out``, all
    or nothing (the folder is made if needed); returns the paths by role."""
    from matcher.exchange.pages import write_exchange_day as write
    from matcher.scoring.weights import Weights as DefaultWeights

    folder = check_exchange_output(out, inputs)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise InputError(option_problem("out", os.fspath(out), f"a folder that can be made ({exc.strerror})")) \
            from None
    return write(region, day, weights or DefaultWeights(), folder, made,
                 {k: v for k, v in inputs.items() if v is not None})


def exchange_provenance(*, event: str | os.PathLike, lock: str | os.PathLike | None = None,
                        children: str | os.PathLike | None = None, households: str | os.PathLike | None = None,
                        as_of: dt.date | None = None, options: dict | None = None, weights: Weights | None = None,
                        store: str | None = None) -> Provenance:
    """How an exchange day's files are made: the region files (or store),
    the event and lock files, the date, the options and the weights."""
    made = provenance("exchange-day", children=children, households=households, as_of=as_of, options=options or {},
                      weights=weights, store=store)
    extra = tuple((role, os.fspath(path)) for role, path in (("event", event), ("lock", lock)) if path is not None)
    return dataclasses.replace(made, inputs=made.inputs + extra)


def write_exchange_event(event: dict, path: str | os.PathLike) -> Path:
    """Write an event (the contract's JSON) to ``path`` atomically."""
    import json

    from matcher.files.write import FileSet

    with FileSet() as files:
        files.stage_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n", path)
        files.commit()
    return Path(path)


__all__ += ["EXCHANGE_FILES", "check_exchange_output", "exchange_day", "exchange_day_summary", "exchange_provenance",
            "read_exchange_event", "write_exchange_day", "write_exchange_event"]
# --- the pool report (issue 11) ---------------------------------------------------------------------------------------
#
# ``matcher report``: pool sufficiency, waiting against the scorecard, the fees a
# proposal would commit against budgets, and fairness (matcher/reports/).

__all__ += ["latest_proposal", "plan_report", "proposal_from_file", "read_budgets", "render_report", "report_data",
            "report_screenshot_problem", "screenshot_report",
            "write_report"]


def read_budgets(path: str | os.PathLike, already: dict[str, int] | None = None) -> dict[str, int]:
    """A budgets file (CSV ``agency_id,amount``) merged with the budgets
    ``already`` given (``--budget`` flags): an agency given twice, or any
    bad cell, is an :class:`InputError` naming file, row and column."""
    from matcher.proposals.budgets import read_budgets as read

    return read(path, already)


def proposal_from_file(region: Region, path: str | os.PathLike, weights: Weights | None = None):
    """The links of a links file written by ``propose``, checked against
    ``region`` (bad input names file, row and column)."""
    from matcher.reports.fees import read_proposal_links
    from matcher.scoring.weights import Weights

    return read_proposal_links(path, region, weights or Weights())


def latest_proposal(db: str | os.PathLike | None, region: Region):
    """The store's latest recorded proposal (``propose --record``) as the
    report reads it, or None when none was recorded."""
    from matcher.reports.fees import links_from_pairs
    from matcher.store.engine import store_url
    from matcher.store.recorded import latest_recorded_proposal

    recorded = latest_recorded_proposal(store_url(db))
    if recorded.at is None:
        return None
    source = (f"the store's latest recorded proposal ({recorded.at:%Y-%m-%d %H:%M:%S} UTC, "
              f"{len(recorded.pairs)} link{'' if len(recorded.pairs) == 1 else 's'})")
    return links_from_pairs(region, source, [(c, h) for _, c, h in recorded.pairs])


def plan_report(path: str | os.PathLike, *, inputs: dict[str, str | os.PathLike | None]) -> Path:
    """Where the report goes, checked before any work (option ``out``): an
    ``.html`` file name in an existing folder, none of the ``inputs``."""
    from matcher.reports.output import plan_report as plan

    return plan(path, inputs)


def report_data(region: Region, options: QueryOptions = QueryOptions(), *, data: str, proposal=None,
                budgets: dict[str, int] | None = None, seed: int = 0,
                weights_file: str | os.PathLike | None = None):
    """Every figure of the pool report (frozen), from ``region`` with the
    options' weights (read from ``weights_file``, if given: the report names
    it); ``data`` says where the region came from, ``proposal`` is what
    :func:`proposal_from_file` or :func:`latest_proposal` gave."""
    from matcher.files.manifest import matcher_version
    from matcher.reports.report import Provenance, report_data as compute

    name = "the defaults" if weights_file is None else os.fspath(weights_file)
    made = Provenance(region.as_of.isoformat(), data, name, weights_sha256(options.weights),
                      describe_weights(options.weights), matcher_version(),
                      None if proposal is None else proposal.source)
    return compute(region, options.weights, made, proposal, budgets, seed=seed, workers=options.workers)


def render_report(data) -> str:
    """The report's self-contained HTML (the same data, the same bytes)."""
    from matcher.reports.render import render_report as render

    return render(data)


def write_report(data, path: str | os.PathLike) -> Path:
    """Render the report and write it atomically to ``path`` (checked with
    :func:`plan_report` first)."""
    from matcher.reports.output import write_report as write

    return write(render_report(data), path)


def report_screenshot_problem() -> str | None:
    """Why a report page cannot be pictured here (Chromium or Playwright
    missing, with how to install them), or None."""
    from matcher.reports.screenshot import missing_browser

    return missing_browser()


def screenshot_report(page: str | os.PathLike, png: str | os.PathLike) -> Path:
    """A full-page PNG of a report page taken with headless Chromium."""
    from matcher.reports.screenshot import screenshot

    return screenshot(page, png)


def parse_budgets(values) -> dict[str, int]:
    """``AGENCY=AMOUNT`` texts (``--budget`` flags) as agency -> whole
    pounds; an input error (option ``budgets``) for a bad one or an agency
    given twice."""
    from matcher.options import parse_budgets as parse

    return parse(values)


__all__ += ["parse_budgets"]


# --- waiting units for the web pages -------------------------------------------------------------------------------
#
# The web pages' list of waiting units: each unit's groups (as the pool
# report groups them) and its longest wait against the scorecard thresholds.

def waiting_filters() -> dict[str, tuple[str, ...]]:
    """The labels a waiting unit can be filtered by: ``need`` (highest need
    level), ``age`` (the eldest child's age band), ``size`` (group size)."""
    from matcher.reports.profiles import AGE_BANDS, NEED_LEVELS, SIZE_BANDS

    return {"need": NEED_LEVELS, "age": tuple(label for label, _, _ in AGE_BANDS), "size": SIZE_BANDS}


def waiting_table(region: Region, options: QueryOptions = QueryOptions(), *, agency_id: str | None = None) -> dict:
    """Every waiting unit (of ``agency_id`` when given; a unit's agency is its
    first child's), longest in care first: its children, groups, the most
    days any of its children has been in care and since a placement order
    (None without one), and whether each is over the weights' scorecard
    threshold (strictly more days: ``care_threshold_days``,
    ``order_threshold_days``)."""
    import polars as pl

    from matcher.reports.profiles import waiting_units

    units = waiting_units(region)
    days = (region.children.filter(pl.col("status") == "waiting")
            .select("unit_id", (pl.lit(region.as_of) - pl.col("entered_care_date")).dt.total_days().alias("care"),
                    (pl.lit(region.as_of) - pl.col("placement_order_date")).dt.total_days().alias("order"))
            .group_by("unit_id").agg(pl.col("care").max(), pl.col("order").max()))
    by_unit = {u: (c, o) for u, c, o in days.iter_rows()}
    care_t = options.weights.care_threshold_days
    order_t = options.weights.order_threshold_days
    rows = []
    for i, unit_id in enumerate(units.unit_ids):
        if agency_id is not None and units.agency_ids[i] != agency_id:
            continue
        care, order = by_unit.get(unit_id, (None, None))
        rows.append({"unit_id": unit_id, "child_ids": list(units.child_ids[i]), "agency_id": units.agency_ids[i],
                     "age": units.age_bands[i], "size": units.size_bands[i], "need": units.need_levels[i],
                     "care_days": None if care is None else int(care),
                     "order_days": None if order is None else int(order),
                     "over_care": care is not None and care > care_t,
                     "over_order": order is not None and order > order_t})
    rows.sort(key=lambda r: (-(r["care_days"] or 0), r["unit_id"]))
    return _freeze({"as_of": region.as_of.isoformat(), "care_threshold_days": int(care_t),
                    "order_threshold_days": int(order_t), "units": rows})


def unit_agency(region: Region, unit_id: str) -> str | None:
    """The agency of a unit (its first child's), or None for no such unit."""
    import polars as pl

    rows = region.units.filter(pl.col("unit_id") == unit_id)
    return None if rows.height == 0 else rows["agency_id"][0]


def agency_children(region: Region, agency_id: str | None) -> frozenset[str]:
    """The ids of every child of ``agency_id`` in the region (every child
    when None)."""
    import polars as pl

    kids = region.children if agency_id is None else region.children.filter(pl.col("agency_id") == agency_id)
    return frozenset(kids["child_id"].to_list())


# --- batch proposals, exchange days and the report on the web pages (issue 13) -------------------------------------
#
# The managers' pages run these in a background process (matcher/web/jobs.py):
# the proposal's summary in the words ``propose`` writes, the links of one
# agency's children, and an exchange day built from a form rather than a file.

def waiting_unit_count(region: Region) -> int:
    """How many waiting units a proposal scores (its progress's total)."""
    return int(len(region.waiting_unit_rows))


def proposal_summary(region: Region, proposal: Proposal, names: dict | None = None) -> str:
    """The proposal's summary in the words ``propose`` writes beside its
    links (without the lines on how the files were made); ``names`` render
    option names (a front end's own)."""
    from matcher.proposals.report import proposal_summary as summary

    return summary(region, proposal, names=names)


def proposal_for_agency(proposal: Proposal, agency_id: str | None) -> Proposal:
    """The proposal with only the links of ``agency_id``'s children (every
    link when None) and without its candidate pairs (what recording it as
    ``proposed`` links needs, small enough to pass between processes)."""
    import polars as pl

    links = proposal.links if agency_id is None else proposal.links.filter(pl.col("child_agency_id") == agency_id)
    return dataclasses.replace(proposal, links=links, candidates=None)


def hide_other_agencies_units(region: Region, text: str, agency_id: str | None) -> str:
    """``text`` with every unit id and child id of agencies other than
    ``agency_id`` replaced by "(a unit of another agency)" (unchanged when
    None): a manager reads the whole proposal's summary without learning
    the ids of other agencies' children."""
    import re

    import polars as pl

    if agency_id is None:
        return text
    others = region.units.filter(pl.col("agency_id") != agency_id)
    hidden = set(others["unit_id"].to_list())
    for ids in others["child_ids"].to_list():
        hidden.update(ids)

    def swap(match) -> str:
        token = match.group(0)
        core = token.rstrip(".")
        if core.endswith("'s") and core[:-2] in hidden:  # "C000059's needs are..."
            return "(a unit of another agency)'s" + token[len(core):]
        return "(a unit of another agency)" + token[len(core):] if core in hidden else token

    return re.sub(r"[^\s,;:()=]+", swap, text)


def hide_other_agencies_units_in_page(region: Region, page: str, agency_id: str | None) -> str:
    """An HTML document (the pool report) with every unit id and child id of
    agencies other than ``agency_id`` replaced as
    :func:`hide_other_agencies_units` does, in its text and in the CSV
    downloads it carries as ``data:text/csv;base64,`` links (unchanged when
    None)."""
    import base64
    import html
    import re

    if agency_id is None:
        return page

    def csv_link(match) -> str:
        text = base64.b64decode(match.group(1)).decode("utf-8")
        return "data:text/csv;base64," + base64.b64encode(
            hide_other_agencies_units(region, text, agency_id).encode("utf-8")).decode("ascii")

    page = re.sub(r"data:text/csv;base64,([A-Za-z0-9+/=]+)", csv_link, page)
    # Text between tags, one piece at a time (tags and attributes are left alone).
    return re.sub(r">([^<]+)<", lambda m: ">" + html.escape(hide_other_agencies_units(
        region, html.unescape(m.group(1)), agency_id), quote=False) + "<", page)


def likely_households(region: Region, unit_ids, limit: int, per_unit: int = 5) -> list[str]:
    """Up to ``limit`` approved households to invite to an exchange day
    featuring ``unit_ids``: each unit's best-ranked eligible households in
    turn (its best first, then every unit's second...)."""
    import polars as pl

    ranked = []
    for unit_id in unit_ids:
        row = region.unit_row_of_id.get(unit_id)
        if row is None:
            raise LookupInputError(f"there is no unit {unit_id!r}")
        first_child = region.units["child_ids"][row][0]
        answer = rank(region, child_id=first_child, options=QueryOptions(top=per_unit))
        ranked.append([r["household_id"] for r in answer["results"]])
    chosen: list[str] = []
    for place in range(per_unit):
        for households in ranked:
            if place < len(households) and households[place] not in chosen:
                chosen.append(households[place])
    if len(chosen) < limit:
        approved = region.households.filter(pl.col("status") == "approved")["household_id"].sort().to_list()
        chosen += [h for h in approved if h not in set(chosen)][:limit - len(chosen)]
    return chosen[:limit]


def exchange_event_value(*, unit_ids, household_ids, slots, tables, capacity, max_meetings, min_meetings) -> dict:
    """An exchange day's event (the contract's JSON value) with the units
    dealt to ``tables`` tables in turn (``T1``, ``T2``...), each holding
    ``capacity`` meetings a slot; check it with :func:`exchange_event`."""
    unit_ids = list(unit_ids)
    n_tables = max(1, min(int(tables), len(unit_ids) or 1))
    dealt = [{"table_id": f"T{i + 1}", "capacity": capacity, "unit_ids": unit_ids[i::n_tables]}
             for i in range(n_tables)]
    return {"slots": slots, "max_meetings": max_meetings, "min_meetings": min_meetings, "tables": dealt,
            "household_ids": list(household_ids), "requests": []}


def exchange_event(value, region: Region, source: str = "the exchange-day form"):
    """An event's JSON value checked against ``region`` as an event file is
    (:func:`read_exchange_event`): an :class:`InputError` naming each bad
    entry otherwise."""
    from matcher.exchange.event import parse_event

    return parse_event(value, source, region)


def exchange_household_page(region: Region, day, household_id: str, weights: Weights | None = None) -> str:
    """The printable page of one attending household's meetings."""
    from matcher.exchange.pages import household_page
    from matcher.scoring.weights import Weights as DefaultWeights

    return household_page(region, day, weights or DefaultWeights(), household_id)


def exchange_table_page(day, table_id: str) -> str:
    """The printable page of one table's meetings, slot by slot."""
    from matcher.exchange.pages import table_page

    return table_page(day, table_id)


def exchange_schedule_rows(day) -> list[dict]:
    """The schedule's meetings in the contract's columns (slot, table,
    unit, household, requested), in slot and table order."""
    return [dict(row) for row in _exchange_schedule(day).iter_rows(named=True)]


def _exchange_schedule(day):
    from matcher.exchange.pages import schedule_frame

    return schedule_frame(day)


__all__ += ["waiting_unit_count", "proposal_summary", "proposal_for_agency", "hide_other_agencies_units",
            "hide_other_agencies_units_in_page",
            "likely_households", "exchange_event_value", "exchange_event", "exchange_household_page",
            "exchange_table_page", "exchange_schedule_rows"]


# --- web accounts: passwords, the admin's list; the link page's moves and the exclusions in force ---------------

def change_password(db: str | os.PathLike | None, token: str | None, current: str, new: str):
    """Set a new password for the account of the live web session ``token``
    (its current password given; the rules of ``user add``): the account's
    other sessions end, this one stays; audited. Bad input when the current
    password is wrong (counted against the login limit) or the new one is
    refused."""
    from matcher.store.accounts import change_password as change
    from matcher.store.engine import store_url

    return change(store_url(db), token, current, new)


def reset_password(db: str | os.PathLike | None, username: str, temporary: str) -> None:
    """An admin's reset of ``username``'s password to ``temporary``: the
    account's sessions end and it must set a new password at its next
    login; audited."""
    from matcher.store.accounts import reset_password as reset
    from matcher.store.engine import store_url

    reset(store_url(db), username, temporary)


def list_users(db: str | os.PathLike | None) -> tuple:
    """Every web account (no password hash): role, agency, disabled, must
    set a new password, created, last login, password last set, live
    sessions."""
    from matcher.store.accounts import list_users as listed
    from matcher.store.engine import store_url

    return _freeze(listed(store_url(db)))


def link_moves(state: str | None) -> tuple[str, ...]:
    """The legal moves of a link in ``state`` (None: no link yet), as
    ``matcher link`` takes them."""
    from matcher.store.links import legal_actions

    return tuple(legal_actions(state))


def link_needs_reason(action: str) -> bool:
    """Whether a move needs a reason (decline, close, re-open)."""
    from matcher.store.links import NEEDS_REASON

    return action in NEEDS_REASON


def move_link_seen(db: str | os.PathLike | None, action: str, child_id: str, household_id: str, *,
                   from_state: str, from_version: int, reason: str | None = None,
                   acting_for: str | None = None) -> dict:
    """:func:`move_link` from the link as a page showed it: ``from_state``
    at ``from_version``. When the link has moved since (even back to the
    same state), nothing changes and bad input says what it is now, who
    moved it and when; the move itself is applied only if the link is still
    at the version read here (as ``matcher link --from`` does)."""
    from matcher.store.actor import current_actor, who_am_i
    from matcher.store.direct import who_words
    from matcher.store.engine import store_url
    from matcher.store.links import LinkRefused, read_link, show_link as shown_link, transition

    url = store_url(db)
    read = read_link(url, child_id, household_id)
    if read["state"] != from_state or read["version"] != from_version:
        if read["state"] is None:
            now = "it has no link now"
        else:
            last = shown_link(url, child_id, household_id)["history"][-1]
            now = (f"it is now {read['state']} (moved to {last['to_state']} by "
                   f"{who_words(last['who'], last['acting_for'])} at {last['at']}"
                   + (f": {last['reason']}" if last["reason"] else "") + ")")
        moves = link_moves(read["state"])
        raise LinkRefused(f"the link changed since the page was read (it was {from_state}, version {from_version}): "
                          f"{now}; nothing was changed. "
                          + ("Legal from here: " + ", ".join(moves) if moves else "No move is legal from here"),
                          code="stale_link")
    acting_for = acting_for or current_actor().acting_for
    return _freeze(transition(url, action, child_id, household_id, reason=reason, who=who_am_i(),
                              acting_for=acting_for, from_state=from_state, read=read))


def exclusions_in_force(db: str | os.PathLike | None, child_ids=None) -> tuple:
    """The exclusions made by hand and not lifted (of ``child_ids`` when
    given), oldest first."""
    from matcher.store.engine import store_url
    from matcher.store.register import exclusions_in_force as in_force

    return _freeze(in_force(store_url(db), child_ids))
