"""Scheduling (API.md, "Scheduling"): conflicts between changes and with freezes, the
calendar of windows and freezes a user may see, and its iCalendar feed.

Between the services and the selectors: it reads (through the selectors, so a customer
sees their organisation only) and never writes. Every function answers in a bounded number
of queries however many changes it is given.
"""

from .calendar import CalendarEntry, calendar_entries, parse_range
from .conflicts import ConflictItem, conflicts_of, conflicts_of_one

__all__ = [
    "CalendarEntry",
    "ConflictItem",
    "calendar_entries",
    "conflicts_of",
    "conflicts_of_one",
    "parse_range",
]
