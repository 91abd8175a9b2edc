"""The deployment window: what makes one acceptable, and proposing it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..errors import InvalidInput, PermissionRefused, WrongState
from ..models import (
    EDITABLE,
    WINDOW_PROPOSER,
    Change,
    User,
)
from ..selectors import (
    access_change,
)


def window_problems(start: Any, end: Any, *, now: datetime | None = None) -> dict[str, list[str]]:
    """WORKFLOW.md: a proposed window starts in the future and ends after it starts; and
    within reason (CHANGE_WINDOW_MAX_DAYS_AHEAD, CHANGE_WINDOW_MAX_HOURS), so no front end
    can store a date another cannot show. Empty when the window is acceptable."""
    errors: dict[str, list[str]] = {}
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, datetime) or timezone.is_naive(value):
            errors[name] = ["A date and time with its timezone."]
    if errors:
        return errors
    now = now or timezone.now()
    ahead = timedelta(days=settings.CHANGE_WINDOW_MAX_DAYS_AHEAD)
    longest = timedelta(hours=settings.CHANGE_WINDOW_MAX_HOURS)
    if start <= now:
        errors["start"] = ["The window must start in the future."]
    elif start - now > ahead:
        errors["start"] = [f"The window must start within {ahead.days} days from now."]
    if end <= start:
        errors["end"] = ["The window must end after it starts."]
    elif end - start > longest:
        errors["end"] = [f"A window lasts at most {settings.CHANGE_WINDOW_MAX_HOURS} hours."]
    return errors


@transaction.atomic
def change_propose_window(
    *, change: Change | int | str, by: User, start: datetime, end: datetime
) -> Change:
    """Propose the deployment window. Replaces an unagreed proposal; re-proposing an agreed
    window un-agrees it (the other side agrees again)."""
    obj = access_change(by, change, lock=True)
    if not WINDOW_PROPOSER(obj, by):
        raise PermissionRefused(WINDOW_PROPOSER.refusal(obj, by))
    if obj.status not in EDITABLE:
        raise WrongState(
            f"{obj.key} is {obj.get_status_display()}; its window can no longer change."
        )
    errors = window_problems(start, end)
    if errors:
        raise InvalidInput(
            "The window is not valid: " + " ".join(m for ms in errors.values() for m in ms),
            fields=errors,
        )
    from notifications.services import window_proposed

    if (obj.window_start, obj.window_end) != (start, end):
        obj.schedule_sequence += 1  # calendar clients update the event in place
    obj.window_start, obj.window_end = start, end
    obj.window_proposed_by, obj.window_proposed_at = by, timezone.now()
    obj.window_agreed_by, obj.window_agreed_at = None, None
    obj.save()
    window_proposed(change=obj, by=by)
    return obj
