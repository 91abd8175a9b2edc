"""Freezes (API.md, "Scheduling"): periods when nothing may change, one-off or recurring,
for every organisation or one, for every environment or one, for every component or some.
Hard freezes refuse `perform` (an operations manager may override one with a reason);
soft ones warn wherever a window is proposed, agreed or performed.

The recurrence is an RFC 5545 RRULE read by `python-dateutil`, expanded in the freeze's
own time zone, so "every Friday 18:00 to 22:00 in Europe/London" stays 18:00 on the wall
clock across the change to and from summer time. Pure apart from the ORM fields.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING, cast
from zoneinfo import ZoneInfo

from dateutil import rrule as recurrence
from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrulestr
from django.conf import settings
from django.db import models
from django.db.models import Q

from .people import TIMEZONE_CHOICES, Component, Environment, Organization

if TYPE_CHECKING:
    from .changes import Change

# A recurrence repeats at most daily (a freeze every hour is a closed platform), and one
# freeze yields at most this many occurrences in any range asked for.
RRULE_FREQUENCIES = {DAILY: "daily", WEEKLY: "weekly", MONTHLY: "monthly", YEARLY: "yearly"}
MAX_OCCURRENCES = 1000
MAX_FREEZE_HOURS = 24 * 62
# A recurrence's first period comes within this many years of its start.
FIRST_PERIOD_YEARS = 5
# How many periods a COUNT or UNTIL is walked to find the last; beyond, never ending.
LAST_END_SCAN = 10_000


def freeze_kind(hard: bool) -> str:
    """How a freeze is named wherever it shows: hard refuses perform, soft warns."""
    return "Hard freeze" if hard else "Soft freeze"


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """Two half-open periods share a moment: touching ones (one ends as the other starts)
    do not."""
    return a_start < b_end and b_start < a_end


def parse_rrule(text: str, start: datetime, tz: str) -> recurrence.rrule:
    """The recurrence `text` (`FREQ=WEEKLY;BYDAY=FR`, with or without `RRULE:`) from the
    wall-clock `start` in `tz`. Raises ValueError with a sentence a person can act on."""
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    if not body:
        raise ValueError("The recurrence is empty.")
    if "\n" in body or "DTSTART" in body.upper():
        raise ValueError(
            "Give only the recurrence rule (FREQ=...); the first occurrence is the start."
        )
    local = start.astimezone(ZoneInfo(tz))
    try:
        # One line without DTSTART: rrulestr answers an rrule (a set needs several lines).
        rule = cast(recurrence.rrule, rrulestr(body, dtstart=local))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"This is not an RFC 5545 recurrence rule: {exc}.") from exc
    if rule._freq not in RRULE_FREQUENCIES:
        raise ValueError("A freeze repeats at most daily: FREQ=DAILY, WEEKLY, MONTHLY or YEARLY.")
    if rule._interval < 1:
        raise ValueError("INTERVAL must be 1 or more.")
    # A rule that never (or hardly ever) fires would be walked to the year 9999 by every
    # calendar that asks for its periods: it must fire within a few years of its start.
    horizon = rule.replace(until=local + timedelta(days=366 * FIRST_PERIOD_YEARS), count=None)
    if next(iter(horizon), None) is None:
        raise ValueError(
            f"This recurrence does not occur in the {FIRST_PERIOD_YEARS} years from its start."
        )
    return rule


@dataclass(frozen=True)
class Occurrence:
    """One period of a freeze, in UTC."""

    freeze: Freeze
    start: datetime
    end: datetime


class FreezeQuerySet(models.QuerySet["Freeze"]):
    def touching(self, start: datetime, end: datetime) -> FreezeQuerySet:
        """Freezes with a period that may overlap [start, end): the first occurrence
        starts before `end` and the last ends after `start` (unbounded when it repeats
        for ever). The occurrences themselves are expanded in Python."""
        return self.filter(Q(last_end__isnull=True) | Q(last_end__gt=start), start__lt=end)

    def current(self, now: datetime) -> FreezeQuerySet:
        """Freezes with a period still to come or under way (a recurrence without end is
        always current)."""
        return self.filter(Q(last_end__isnull=True) | Q(last_end__gt=now))

    def past(self, now: datetime) -> FreezeQuerySet:
        return self.filter(last_end__lte=now)

    def applying_to(
        self, *, organization_id: int, environment_id: int, component_ids: list[int]
    ) -> FreezeQuerySet:
        """Freezes that apply to a change: its organisation's or everyone's, its
        environment's or every environment's, on one of its components or on all."""
        scope = Q(organization__isnull=True) | Q(organization_id=organization_id)
        scope &= Q(environment__isnull=True) | Q(environment_id=environment_id)
        scope &= Q(all_components=True) | Q(components__in=component_ids)
        return self.filter(scope).distinct()


class Freeze(models.Model):
    """A period when changes may not (hard) or should not (soft) be performed."""

    title = models.CharField(max_length=200)
    reason = models.TextField(blank=True, help_text="Why nothing may change (shown to everyone).")
    start = models.DateTimeField(help_text="The start of the (first) period.")
    end = models.DateTimeField(help_text="The end of the (first) period.")
    timezone = models.CharField(
        max_length=64,
        choices=TIMEZONE_CHOICES,
        default="UTC",
        help_text="The wall clock a recurring freeze follows (summer time included).",
    )
    rrule = models.CharField(
        "recurrence",
        max_length=500,
        blank=True,
        help_text="An RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=FR. Empty: once.",
    )
    hard = models.BooleanField(
        default=True, help_text="Hard: performing is refused. Soft: a warning only."
    )
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="freezes",
        help_text="Empty: every organisation.",
    )
    environment = models.ForeignKey(
        Environment,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="freezes",
        help_text="Empty: every environment.",
    )
    components = models.ManyToManyField(Component, blank=True, related_name="freezes")
    # Denormalised from `components` (no components = all), so "applies to" is one query.
    all_components = models.BooleanField(default=True, editable=False)
    # The end of the last period (null: repeats for ever); what range queries filter on.
    last_end = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    # Bumped on every edit: the iCalendar SEQUENCE of the freeze's event.
    sequence = models.PositiveIntegerField(default=0, editable=False)

    objects = FreezeQuerySet.as_manager()

    class Meta:
        ordering = ["start", "id"]
        indexes = [models.Index(fields=["start", "last_end"], name="freeze_range")]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="freeze_ends_after")
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def kind(self) -> str:
        return freeze_kind(self.hard)

    def rule(self) -> recurrence.rrule | None:
        return parse_rrule(self.rrule, self.start, self.timezone) if self.rrule else None

    def compute_last_end(self) -> datetime | None:
        """The end of the last period; None when the recurrence never ends."""
        rule = self.rule()
        if rule is None:
            return self.end
        if rule._count is None and rule._until is None:
            return None
        periods = list(islice(rule, LAST_END_SCAN + 1))
        if len(periods) > LAST_END_SCAN:
            return None  # ends so far ahead that it is read as never ending
        return self._end_of(periods[-1]) if periods else self.end

    def _wall_duration(self) -> timedelta:
        tz = ZoneInfo(self.timezone)
        s, e = self.start.astimezone(tz), self.end.astimezone(tz)
        return e.replace(tzinfo=None) - s.replace(tzinfo=None)

    def _end_of(self, local_start: datetime) -> datetime:
        # Aware + timedelta is wall-clock arithmetic: 18:00 + 4h is 22:00 on that day.
        return (local_start + self._wall_duration()).astimezone(UTC)

    def occurrences(self, start: datetime, end: datetime) -> Iterator[Occurrence]:
        """Every period of this freeze overlapping [start, end), in order."""
        rule = self.rule()
        if rule is None:
            if overlaps(self.start, self.end, start, end):
                yield Occurrence(self, self.start, self.end)
            return
        tz = ZoneInfo(self.timezone)
        duration = self._wall_duration() + timedelta(hours=3)  # slack for summer time
        after = (start - duration).astimezone(tz)
        count = 0
        for local in rule.xafter(after, inc=True):
            begin = local.astimezone(UTC)
            if begin >= end or count >= MAX_OCCURRENCES:
                return
            finish = self._end_of(local)
            if overlaps(begin, finish, start, end):
                count += 1
                yield Occurrence(self, begin, finish)


def feed_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class CalendarFeed(models.Model):
    """A user's secret iCalendar URL (what they may see). Only a hash of its token is
    kept: the URL is shown once, when issued. Issuing a new one replaces the old; a
    revoked or replaced URL answers 404."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Calendar feed of {self.user}"

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(32)


def freeze_occurrences_for(
    change: Change, start: datetime, end: datetime, *, hard_only: bool
) -> list[Occurrence]:
    """The periods of the freezes that apply to `change` (its organisation, environment
    and components) overlapping [start, end), in order of start."""
    component_ids = [cc.component_id for cc in change.change_components.all()]
    qs = Freeze.objects.touching(start, end).applying_to(
        organization_id=change.organization_id,
        environment_id=change.environment_id,
        component_ids=component_ids,
    )
    if hard_only:
        qs = qs.filter(hard=True)
    found = [o for f in qs for o in f.occurrences(start, end)]
    return sorted(found, key=lambda o: (o.start, o.freeze.pk))


def hard_freezes_in_force(change: Change, at: datetime) -> list[Occurrence]:
    """The hard freezes applying to `change` at the moment `at`."""
    return freeze_occurrences_for(change, at, at + timedelta(microseconds=1), hard_only=True)
