"""Who is acting and how, for the audit (kept free of SQLAlchemy so that
every command can set it without loading the store).

Who is the operating-system user; a name given with ``--user`` is recorded
only as ``acting_for``; how is the front end (``cli``, later ``web``).
"""

from __future__ import annotations

import contextvars
import os
from contextlib import contextmanager
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Actor:
    """How the application is being driven and for whom."""

    how: str = "api"
    acting_for: str | None = None


_ACTOR: contextvars.ContextVar[Actor] = contextvars.ContextVar("matcher_audit_actor", default=Actor())


@contextmanager
def acting(*, how: str | None = None, acting_for: str | None = None):
    """Within this block audit rows record ``how`` (the front end) and
    ``acting_for`` (a name given with ``--user``); unset ones are kept."""
    current = _ACTOR.get()
    changes = {}
    if how is not None:
        changes["how"] = how
    if acting_for is not None:
        changes["acting_for"] = acting_for
    token = _ACTOR.set(replace(current, **changes))
    try:
        yield
    finally:
        _ACTOR.reset(token)


def current_actor() -> Actor:
    """How the application is driven now, and for whom."""
    return _ACTOR.get()


def who_am_i() -> str:
    """The operating-system user running the command."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return f"uid {os.getuid()}"
