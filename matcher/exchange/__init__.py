"""Exchange days: the event file, the meeting schedule (CP-SAT), and the
pages for households and tables.

>>> from matcher.exchange import page_name
>>> page_name("H000001"), page_name("T/1")[:4]
('H000001.html', 'T_1-')
"""

from matcher.exchange.event import Event, Table, parse_event, read_event
from matcher.exchange.pages import (household_page, output_paths, page_name, schedule_frame, summary_lines,
                                    table_page, unit_profile, units_frame, write_exchange_day)
from matcher.exchange.plan import (SCHEDULE_COLUMNS, DroppedLock, ExchangeDay, Meeting, RequestOutcome, UnitOutcome,
                                   plan_exchange_day)

__all__ = [
    "SCHEDULE_COLUMNS", "DroppedLock", "Event", "ExchangeDay", "Meeting", "RequestOutcome", "Table", "UnitOutcome",
    "household_page", "output_paths", "page_name", "parse_event", "plan_exchange_day", "read_event",
    "schedule_frame", "summary_lines", "table_page", "unit_profile", "units_frame", "write_exchange_day",
]
