"""How long a text and how far a date may go, and which characters no text may hold: the
one place the staff forms, the portal forms and the API serializers take their caps from
(each front end's field classes read these; a cap's message always states it), and where
`changeprocess.guard` (every request) and the contact import (a file's cells) learn what
to refuse.

The database would take far more (a `TextField` has no limit, PostgreSQL timestamps run to
the year 294276), but every page that shows the value, every e-mail that quotes it and
every conversion into a person's timezone would pay for it; Python's `datetime` stops at
the year 9999, so a window typed at 23:00 on 31 December 9999 in a timezone behind UTC is
stored as the year 10000 and can no longer be read back.
"""

from __future__ import annotations

import re
from datetime import datetime

# A summary, a description, a comment, a procedure: some pages of text. A changelog built
# from a hundred attached tickets' titles stays well under it.
TEXT_MAX = 50_000
# A test result's note, why a checklist item does not apply: a few sentences.
NOTE_MAX = 2_000
# One-line fields keep their columns' lengths (titles 200, versions 100, ...), which the
# forms and serializers name where they declare the field.

# Dates a person may type: within these years, converted into any timezone, a date stays
# inside what Python, PostgreSQL and every page can hold.
YEAR_MIN = 1900
YEAR_MAX = 2200

YEAR_RANGE_MESSAGE = f"Give a date between the years {YEAR_MIN} and {YEAR_MAX}."


def datetime_in_range(value: datetime) -> bool:
    """Whether `value` (naive or aware, as typed) lies within the years allowed. Checked on
    the value as typed, before any conversion that could overflow."""
    return YEAR_MIN <= value.year <= YEAR_MAX


# A surrogate left in a str after decoding is always unpaired: a JSON "\ud83d\ude00" pair
# decodes to one character, and Django replaces bytes that are not UTF-8. PostgreSQL text
# cannot hold a NUL; an unpaired surrogate cannot even be encoded to send it.
_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """What in `value` no text may hold ("a NUL character", ...), or None when nothing."""
    found = _FORBIDDEN.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "a NUL character"
    return f"an unpaired surrogate (\\u{ord(found.group()):04x}), which is not a character"


def without_forbidden(value: str) -> str:
    """`value` with each character `text_problem` names replaced by U+FFFD, for quoting a
    refused value (or a field's name) back to whoever sent it."""
    return _FORBIDDEN.sub("\ufffd", value)
