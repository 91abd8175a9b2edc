"""The deployment window's rule (WORKFLOW.md): it starts in the future, ends after it
starts, and stays within reason (CHANGE_WINDOW_MAX_DAYS_AHEAD, CHANGE_WINDOW_MAX_HOURS).
`window_problems` answers for every front end, field by field, at the exact limits;
`change_propose_window` refuses what it names and keeps the change as it was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings

from tests.factories import ChangeFactory
from tickets.errors import InvalidInput
from tickets.services import change_propose_window, window_problems

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
TICK = timedelta(microseconds=1)


def _ahead() -> timedelta:
    return timedelta(days=settings.CHANGE_WINDOW_MAX_DAYS_AHEAD)


def _longest() -> timedelta:
    return timedelta(hours=settings.CHANGE_WINDOW_MAX_HOURS)


def test_a_window_in_the_future_and_within_reason_has_no_problem() -> None:
    start = NOW + timedelta(days=2)
    assert window_problems(start, start + 2 * HOUR, now=NOW) == {}


def test_the_limits_themselves_are_accepted() -> None:
    """As far ahead as allowed, and as long as allowed, but not a tick more."""
    assert window_problems(NOW + _ahead(), NOW + _ahead() + HOUR, now=NOW) == {}
    assert window_problems(NOW + HOUR, NOW + HOUR + _longest(), now=NOW) == {}
    assert window_problems(NOW + TICK, NOW + 2 * TICK, now=NOW) == {}


@pytest.mark.parametrize(
    "value",
    [NOW.replace(tzinfo=None) + timedelta(days=2), "2027-01-04T09:00:00+00:00", None],
    ids=["naive", "text", "none"],
)
def test_each_end_must_be_a_date_and_time_with_its_timezone(value) -> None:
    good = NOW + timedelta(days=2)
    assert window_problems(value, good, now=NOW) == {
        "start": ["A date and time with its timezone."]
    }
    assert window_problems(good, value, now=NOW) == {"end": ["A date and time with its timezone."]}
    both = ["A date and time with its timezone."]
    assert window_problems(value, value, now=NOW) == {"start": both, "end": both}


@pytest.mark.parametrize("start", [NOW, NOW - HOUR], ids=["now", "past"])
def test_a_window_must_start_in_the_future(start) -> None:
    assert window_problems(start, start + HOUR, now=NOW) == {
        "start": ["The window must start in the future."]
    }


def test_a_window_must_start_within_the_days_allowed_ahead() -> None:
    start = NOW + _ahead() + TICK
    days = settings.CHANGE_WINDOW_MAX_DAYS_AHEAD
    assert window_problems(start, start + HOUR, now=NOW) == {
        "start": [f"The window must start within {days} days from now."]
    }


@pytest.mark.parametrize("end", [NOW + HOUR, NOW], ids=["at-the-start", "before-the-start"])
def test_a_window_must_end_after_it_starts(end) -> None:
    assert window_problems(NOW + HOUR, end, now=NOW) == {
        "end": ["The window must end after it starts."]
    }


def test_a_window_lasts_at_most_the_hours_allowed() -> None:
    start = NOW + HOUR
    hours = settings.CHANGE_WINDOW_MAX_HOURS
    assert window_problems(start, start + _longest() + TICK, now=NOW) == {
        "end": [f"A window lasts at most {hours} hours."]
    }


def test_both_ends_can_be_wrong_at_once() -> None:
    assert window_problems(NOW - HOUR, NOW - 2 * HOUR, now=NOW) == {
        "start": ["The window must start in the future."],
        "end": ["The window must end after it starts."],
    }


def test_proposing_a_window_that_ends_as_it_starts_is_refused(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    start = datetime.now(UTC) + timedelta(days=2)
    with pytest.raises(InvalidInput, match="must end after it starts") as refused:
        change_propose_window(change=change.pk, by=cast.agent, start=start, end=start)
    assert refused.value.fields == {"end": ["The window must end after it starts."]}
    change.refresh_from_db()
    assert (change.window_start, change.window_end) == (None, None)
