"""The latest batch proposal recorded in the register (``propose
--record``), for the report.

``record_proposed`` gives every link it creates or re-opens one event at
the same instant, with a reason saying a recorded batch proposal made it;
the latest proposal is the set of links with such an event at the latest
such instant. A pair already open when the proposal was recorded was left
as it was and so has no event of that proposal: it is not counted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import URL

from matcher.store import schema
from matcher.store.register import _as_utc, _require_ready, _transaction

RECORDED_REASONS = ("proposed by a recorded batch proposal", "proposed again by a recorded batch proposal")


@dataclass(frozen=True)
class RecordedProposal:
    at: dt.datetime | None  # None: no proposal was ever recorded
    pairs: tuple[tuple[str, str, str], ...]  # (unit id, first child id, household id), by unit id


def latest_recorded_proposal(url: URL) -> RecordedProposal:
    """The links of the latest recorded proposal, whatever state they are
    in now."""
    lk, ev = schema.links, schema.link_events
    with _transaction(url, write=False) as connection:
        _require_ready(connection, url)
        at = connection.execute(sa.select(sa.func.max(ev.c.at)).where(ev.c.reason.in_(RECORDED_REASONS))).scalar()
        if at is None:
            return RecordedProposal(None, ())
        rows = connection.execute(sa.select(lk.c.unit_id, lk.c.child_ids, lk.c.household_id)
                                  .join(ev, ev.c.link_id == lk.c.id)
                                  .where(ev.c.at == at, ev.c.reason.in_(RECORDED_REASONS))
                                  .order_by(lk.c.unit_id, lk.c.household_id)).all()
    return RecordedProposal(_as_utc(at), tuple((u, list(c)[0], h) for u, c, h in rows))
