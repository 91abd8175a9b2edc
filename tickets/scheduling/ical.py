"""The iCalendar feed (RFC 5545, built with `icalendar`): a user's calendar of deployment
windows and freezes, as they may see them. Each change is one event whose UID never
changes and whose SEQUENCE rises when its window moves or it is cancelled (STATUS:CANCELLED),
so calendar clients update it in place; a recurring freeze is one event with its RRULE in
its own time zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from icalendar import Calendar, Event, vRecur

from ..models import Change, ChangeStatus, Freeze
from ..models.choices import WINDOW_LIVE
from ..selectors import freezes_visible_to
from .calendar import windows_visible_to
from .conflicts import ConflictItem, conflicts_of

PRODID = "-//changeprocess//change calendar//EN"


def _uid(kind: str, pk: int) -> str:
    return f"{kind}-{pk}@{settings.CALENDAR_UID_DOMAIN}"


def change_event(change: Change, *, url: str, conflicts: list[ConflictItem]) -> Event:
    event = Event()
    event.add("uid", _uid("change", change.pk))
    event.add("sequence", change.schedule_sequence)
    event.add("dtstamp", timezone.now())
    event.add("last-modified", change.updated)
    event.add("dtstart", change.window_start)
    event.add("dtend", change.window_end)
    event.add("summary", f"{change.key} {change.title}")
    if change.status == ChangeStatus.CANCELLED:
        event.add("status", "CANCELLED")
    elif change.window_agreed_at is not None:
        event.add("status", "CONFIRMED")
    else:
        event.add("status", "TENTATIVE")
    lines = [
        f"{change.get_status_display()} · {change.environment.name} · {change.organization.name}",
        "Window agreed by both sides." if change.window_agreed_at else "Window not agreed yet.",
    ]
    lines += [f"Conflict: {c.reason}" for c in conflicts]
    lines.append(url)
    event.add("description", "\n".join(lines))
    event.add("url", url)
    event.add("categories", ["change", change.environment.code])
    return event


def freeze_event(freeze: Freeze) -> Event:
    tz = ZoneInfo(freeze.timezone)
    event = Event()
    event.add("uid", _uid("freeze", freeze.pk))
    event.add("sequence", freeze.sequence)
    event.add("dtstamp", timezone.now())
    event.add("last-modified", freeze.updated)
    event.add("dtstart", freeze.start.astimezone(tz))
    event.add("dtend", freeze.end.astimezone(tz))
    if freeze.rrule:
        body = freeze.rrule[6:] if freeze.rrule.upper().startswith("RRULE:") else freeze.rrule
        event.add("rrule", vRecur.from_ical(body))
    event.add("summary", f"{freeze.kind}: {freeze.title}")
    event.add("description", freeze.reason or freeze.kind)
    event.add("transp", "OPAQUE")
    event.add("categories", ["freeze", "hard" if freeze.hard else "soft"])
    return event


def calendar_feed(user: Any, *, base_url: str, now: datetime | None = None) -> bytes:
    """What `user` may see from CALENDAR_FEED_PAST_DAYS ago to CALENDAR_FEED_FUTURE_DAYS
    ahead (at most CALENDAR_FEED_MAX_EVENTS windows, the nearest to now), cancelled windows
    included (so a subscribed client marks them cancelled). Eight queries whatever the
    number of changes."""
    now = now or timezone.now()
    start = now - timedelta(days=settings.CALENDAR_FEED_PAST_DAYS)
    end = now + timedelta(days=settings.CALENDAR_FEED_FUTURE_DAYS)
    windows = windows_visible_to(user, start, end)
    # At most CALENDAR_FEED_MAX_EVENTS windows, those nearest to now: what is coming
    # first, then the most recent past.
    most = settings.CALENDAR_FEED_MAX_EVENTS
    changes = list(windows.filter(window_end__gte=now).order_by("window_start", "id")[:most])
    if len(changes) < most:
        past = windows.filter(window_end__lt=now).order_by("-window_start", "-id")
        changes = list(reversed(past[: most - len(changes)])) + changes
    conflicts = conflicts_of([c for c in changes if c.status in WINDOW_LIVE])
    pages = base_url.rstrip("/") + ("/staff/changes/" if user.is_provider else "/portal/changes/")
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", "changeprocess: changes and freezes")
    for change in changes:
        cal.add_component(
            change_event(
                change, url=f"{pages}{change.key}/", conflicts=conflicts.get(change.pk, [])
            )
        )
    freezes = freezes_visible_to(user).filter(
        Q(last_end__isnull=True) | Q(last_end__gt=start), start__lt=end
    )
    for freeze in freezes:
        cal.add_component(freeze_event(freeze))
    cal.add_missing_timezones()
    return cal.to_ical()


def outage_ics(
    *,
    change_id: int,
    start: datetime,
    end: datetime,
    summary: str,
    description: str,
    decided: datetime,
    sequence: int,
    cancelled: bool = False,
) -> bytes:
    """The window of an outage communication as an `.ics` attachment: one event per change
    (its UID stable across the announcement, corrections and the cancellation), so an end
    user's calendar moves or cancels the event it already holds; `sequence` counts the
    messages about it before this one."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", "CANCEL" if cancelled else "PUBLISH")
    event = Event()
    event.add("uid", _uid("outage-change", change_id))
    event.add("sequence", sequence)
    event.add("dtstamp", decided)
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", summary)
    event.add("description", description)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    cal.add_component(event)
    return cal.to_ical()
