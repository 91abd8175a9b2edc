"""Helpers of the scheduling tests: windows set directly on changes, freezes made through
the service (so the stored helpers `last_end` and `all_components` are right)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from tests.factories import ChangeFactory
from tickets.models import Change, ChangeComponent, Component, Freeze
from tickets.services import schedule

SOON = timedelta(days=10)


def at(hours: float) -> datetime:
    """A moment `hours` after a fixed point ten days ahead (rounded to the hour)."""
    base = (timezone.now() + SOON).replace(minute=0, second=0, microsecond=0)
    return base + timedelta(hours=hours)


def windowed(
    cast: Any,
    start: float,
    end: float,
    *,
    components: list[Component] | None = None,
    agreed: bool = False,
    **kwargs: Any,
) -> Change:
    """A change of Acme (unless told) with a window from at(start) to at(end), on the
    components given (or a new one of its own)."""
    kwargs.setdefault("organization", cast.acme)
    kwargs.setdefault("author", cast.agent)
    change = ChangeFactory(sections=components is None, **kwargs)
    for component in components or []:
        ChangeComponent.objects.create(change=change, component=component, target_version="2")
    Change.objects.filter(pk=change.pk).update(
        window_start=at(start),
        window_end=at(end),
        window_proposed_by=cast.agent,
        window_proposed_at=timezone.now(),
        window_agreed_by=cast.alice if agreed else None,
        window_agreed_at=timezone.now() if agreed else None,
    )
    change.refresh_from_db()
    return change


def freeze(cast: Any, start: float, end: float, **data: Any) -> Freeze:
    data.setdefault("title", "Quarter close")
    return schedule.freeze_create(by=cast.ops, start=at(start), end=at(end), **data)
