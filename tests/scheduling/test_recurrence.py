"""Freeze periods (tickets/models/freezes.py): half-open overlap, RFC 5545 recurrences
expanded on the freeze's own wall clock across summer time, and refusals of what is not a
recurrence we accept. No database: freezes are built in memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tickets.models import Freeze, overlaps, parse_rrule

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def freeze(start: datetime, hours: float, rrule: str = "", tz: str = "UTC") -> Freeze:
    return Freeze(
        title="Freeze", start=start, end=start + timedelta(hours=hours), rrule=rrule, timezone=tz
    )


def periods(f: Freeze, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    return [(o.start, o.end) for o in f.occurrences(start, end)]


# --------------------------------------------------------------------------- overlap


def test_touching_periods_do_not_overlap() -> None:
    a, b, c = utc(2027, 1, 4, 8), utc(2027, 1, 4, 10), utc(2027, 1, 4, 12)
    assert not overlaps(a, b, b, c)  # one ends as the other starts
    assert not overlaps(b, c, a, b)
    assert overlaps(a, b + timedelta(seconds=1), b, c)
    assert overlaps(a, c, b, b + timedelta(minutes=1))  # one inside the other
    assert not overlaps(a, b, c, c + timedelta(hours=1))


def test_a_one_off_freeze_touching_the_range_is_not_in_it() -> None:
    f = freeze(utc(2027, 3, 1, 0), 24)
    assert periods(f, utc(2027, 3, 2), utc(2027, 3, 3)) == []  # starts as the freeze ends
    assert periods(f, utc(2027, 2, 28), utc(2027, 3, 1)) == []  # ends as the freeze starts
    assert periods(f, utc(2027, 2, 28), utc(2027, 3, 1, 0, 1)) == [(f.start, f.end)]


# --------------------------------------------------------------------------- summer time


@pytest.mark.parametrize(
    ("tz", "before", "after"),
    [
        # Europe/London leaves summer time on Sunday 25 October 2026: 18:00 is 17:00 UTC
        # before, 18:00 UTC after.
        ("Europe/London", 17, 18),
        # America/New_York on Sunday 1 November 2026: 18:00 is 22:00 UTC, then 23:00.
        ("America/New_York", 22, 23),
    ],
)
def test_a_weekly_friday_freeze_keeps_its_wall_clock_across_the_autumn_change(
    tz: str, before: int, after: int
) -> None:
    zone = ZoneInfo(tz)
    first = datetime(2026, 10, 2, 18, 0, tzinfo=zone)  # a Friday, summer time
    f = freeze(first, 4, "FREQ=WEEKLY;BYDAY=FR", tz)
    got = periods(f, utc(2026, 10, 1), utc(2026, 11, 21))
    fridays = [2, 9, 16, 23, 30, 6, 13, 20]
    months = [10, 10, 10, 10, 10, 11, 11, 11]
    assert [s.astimezone(zone).timetuple()[:5] for s, _ in got] == [
        (2026, m, d, 18, 0) for m, d in zip(months, fridays, strict=True)
    ]
    assert [e.astimezone(zone).hour for _, e in got] == [22] * 8  # four hours on the wall
    changed = datetime(2026, 10, 25 if tz == "Europe/London" else 11, 1, tzinfo=UTC)
    if tz == "America/New_York":
        changed = utc(2026, 11, 1, 6)
    assert {s.hour for s, _ in got if s < changed} == {before}
    assert {s.hour for s, _ in got if s > changed} == {after}


def test_a_period_across_the_change_of_clocks_lasts_its_wall_clock_duration() -> None:
    # Saturday 22:00 to Sunday 06:00 in London, the night the clocks go back: eight hours
    # on the wall, nine in fact.
    start = datetime(2026, 10, 24, 22, 0, tzinfo=LONDON)
    f = freeze(start, 8, "FREQ=WEEKLY;BYDAY=SA", "Europe/London")
    first = next(iter(f.occurrences(utc(2026, 10, 24), utc(2026, 10, 26))))
    assert first.start == utc(2026, 10, 24, 21)
    assert first.end == utc(2026, 10, 25, 6)
    assert first.end.astimezone(LONDON).hour == 6


# --------------------------------------------------------------------------- a year


def test_a_weekly_freeze_expands_to_every_friday_of_a_year() -> None:
    # 2027 starts on a Friday: 53 Fridays.
    f = freeze(datetime(2027, 1, 1, 18, tzinfo=LONDON), 4, "FREQ=WEEKLY;BYDAY=FR", "Europe/London")
    got = periods(f, utc(2027, 1, 1), utc(2028, 1, 1))
    assert len(got) == 53
    assert all(s.astimezone(LONDON).weekday() == 4 for s, _ in got)
    assert all(s.astimezone(LONDON).hour == 18 for s, _ in got)
    assert got[0][0] == utc(2027, 1, 1, 18) and got[-1][0] == utc(2027, 12, 31, 18)
    # Summer time in 2027: 28 March to 31 October.
    summer = [s for s, _ in got if utc(2027, 3, 28, 1) < s < utc(2027, 10, 31, 1)]
    assert {s.hour for s in summer} == {17} and len(summer) == 31


def test_a_quarter_close_freeze_falls_on_the_last_day_of_each_quarter() -> None:
    f = freeze(
        datetime(2027, 3, 31, 0, tzinfo=NEW_YORK),
        24,
        "FREQ=MONTHLY;BYMONTH=3,6,9,12;BYMONTHDAY=-1",
        "America/New_York",
    )
    got = periods(f, utc(2027, 1, 1), utc(2028, 1, 2))
    assert [s.astimezone(NEW_YORK).date().isoformat() for s, _ in got] == [
        "2027-03-31",
        "2027-06-30",
        "2027-09-30",
        "2027-12-31",
    ]
    assert all(e - s == timedelta(hours=24) for s, e in got)


def test_the_last_working_day_of_each_month() -> None:
    f = freeze(
        datetime(2027, 1, 29, 12, tzinfo=UTC),
        6,
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
    )
    got = [s.date().isoformat() for s, _ in periods(f, utc(2027, 1, 1), utc(2028, 1, 1))]
    assert got == [
        "2027-01-29",
        "2027-02-26",
        "2027-03-31",
        "2027-04-30",
        "2027-05-31",
        "2027-06-30",
        "2027-07-30",
        "2027-08-31",
        "2027-09-30",
        "2027-10-29",
        "2027-11-30",
        "2027-12-31",
    ]


def test_a_period_that_started_before_the_range_is_in_it() -> None:
    f = freeze(utc(2027, 1, 1, 20), 12, "FREQ=DAILY")
    got = periods(f, utc(2027, 1, 5, 0), utc(2027, 1, 5, 6))
    assert got == [(utc(2027, 1, 4, 20), utc(2027, 1, 5, 8))]


def test_the_recurrence_ends_with_count_or_until() -> None:
    f = freeze(utc(2027, 1, 1, 8), 2, "FREQ=WEEKLY;COUNT=3")
    assert f.compute_last_end() == utc(2027, 1, 15, 10)
    assert len(periods(f, utc(2026, 1, 1), utc(2028, 1, 1))) == 3
    f = freeze(utc(2027, 1, 1, 8), 2, "RRULE:FREQ=DAILY;UNTIL=20270103T080000Z")
    assert f.compute_last_end() == utc(2027, 1, 3, 10)
    assert freeze(utc(2027, 1, 1, 8), 2, "FREQ=DAILY").compute_last_end() is None
    assert freeze(utc(2027, 1, 1, 8), 2).compute_last_end() == utc(2027, 1, 1, 10)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("FREQ=HOURLY", "A freeze repeats at most daily: FREQ=DAILY, WEEKLY, MONTHLY or YEARLY."),
        (
            "FREQ=MINUTELY;INTERVAL=5",
            "A freeze repeats at most daily: FREQ=DAILY, WEEKLY, MONTHLY or YEARLY.",
        ),
        ("BYDAY=FR", "This is not an RFC 5545 recurrence rule: "),
        ("FREQ=WEEKLY;BYDAY=XX", "This is not an RFC 5545 recurrence rule: "),
        ("every friday", "This is not an RFC 5545 recurrence rule: "),
        ("FREQ=DAILY;UNTIL=20270103T080000", "This is not an RFC 5545 recurrence rule: "),
        ("  ", "The recurrence is empty."),
        ("RRULE:", "The recurrence is empty."),
        ("rrule: ", "The recurrence is empty."),
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL must be 1 or more."),
        ("FREQ=MONTHLY;BYMONTH=4;BYMONTHDAY=31", "This recurrence does not occur in the 5 years"),
    ],
)
def test_what_is_not_a_recurrence_we_accept_is_refused_with_a_sentence(
    text: str, says: str
) -> None:
    with pytest.raises(ValueError) as refused:
        parse_rrule(text, utc(2027, 1, 1), "UTC")
    assert str(refused.value).startswith(says), str(refused.value)


@pytest.mark.parametrize(
    "text",
    [
        "DTSTART:20270101T000000Z\nRRULE:FREQ=DAILY",  # two lines with a start
        "FREQ=DAILY\nFREQ=WEEKLY",  # two lines
        "FREQ=DAILY;DTSTART=20270101T000000Z",  # a start inside the rule
        "FREQ=DAILY;dtstart=20270101T000000Z",
    ],
)
def test_a_start_or_a_second_line_is_refused(text: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_rrule(text, utc(2027, 1, 1), "UTC")
    assert str(refused.value) == (
        "Give only the recurrence rule (FREQ=...); the first occurrence is the start."
    )


@pytest.mark.parametrize("prefix", ["", "RRULE:", "rrule:", "  RRule:"])
def test_the_rrule_prefix_is_optional_in_any_case(prefix: str) -> None:
    rule = parse_rrule(f"{prefix}FREQ=WEEKLY;COUNT=2", utc(2027, 1, 1), "UTC")
    assert list(rule) == [utc(2027, 1, 1), utc(2027, 1, 8)]


def test_one_freeze_yields_at_most_max_occurrences_in_any_range() -> None:
    from tickets.models.freezes import MAX_OCCURRENCES

    f = freeze(utc(2027, 1, 1, 1), 1, "FREQ=DAILY")
    got = list(f.occurrences(utc(2027, 1, 1), utc(2031, 1, 1)))  # 1,461 days
    assert len(got) == MAX_OCCURRENCES
    assert all(o.freeze is f for o in got)
    assert got[-1].start == utc(2027, 1, 1, 1) + timedelta(days=MAX_OCCURRENCES - 1)


def test_a_recurrence_that_ends_before_it_starts_lasts_its_first_period() -> None:
    f = freeze(utc(2027, 6, 1, 8), 2, "FREQ=DAILY;UNTIL=20270101T000000Z")
    assert f.compute_last_end() == utc(2027, 6, 1, 10)
