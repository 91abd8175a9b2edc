"""The calendar: deployment windows and freeze periods in a range, as a user may see them
(a customer: their organisation's changes and the freezes that apply to it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from ..errors import InvalidInput
from ..limits import YEAR_RANGE_MESSAGE, datetime_in_range
from ..models import Change, ChangeStatus, Freeze
from ..selectors import changes_visible_to, freezes_visible_to
from .conflicts import ConflictItem, conflicts_of, freezes_over

MAX_RANGE_DAYS = 92


@dataclass
class CalendarEntry:
    kind: str  # "change" | "freeze"
    start: datetime
    end: datetime
    title: str
    change: Change | None = None
    freeze: Freeze | None = None
    conflicts: list[ConflictItem] = field(default_factory=list)

    @property
    def hard(self) -> bool:
        return bool(self.freeze and self.freeze.hard)

    @property
    def has_conflict(self) -> bool:
        return bool(self.conflicts)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "start": self.start,
            "end": self.end,
            "title": self.title,
        }
        if self.change is not None:
            c = self.change
            out.update(
                change=c.pk,
                key=c.key,
                status=c.status,
                organization=c.organization_id,
                environment=c.environment.code,
                window_agreed=c.window_agreed_at is not None,
                conflicts=[i.as_dict() for i in self.conflicts],
            )
        if self.freeze is not None:
            f = self.freeze
            out.update(
                freeze=f.pk,
                hard=f.hard,
                reason=f.reason,
                organization=f.organization_id,
                environment=f.environment.code if f.environment_id else None,  # type: ignore[union-attr]
            )
        return out


# What a calendar entry or a feed event shows of a change (the status too: django-fsm
# reads it from every instance it builds).
WINDOW_FIELDS = (
    "id",
    "title",
    "status",
    "performer",
    "updated",
    "schedule_sequence",
    "organization_id",
    "organization__name",
    "environment_id",
    "environment__code",
    "environment__name",
    "window_start",
    "window_end",
    "window_agreed_at",
)


def windows_visible_to(user: Any, start: datetime, end: datetime) -> Any:
    """The changes `user` may see whose window overlaps [start, end), with what a calendar
    shows of them."""
    return (
        changes_visible_to(user)
        .filter(window_start__lt=end, window_end__gt=start)
        .select_related("environment", "organization")
        .only(*WINDOW_FIELDS)
    )


def _moment(value: Any, name: str, *, end: bool = False) -> datetime:
    """A date (the whole day: its midnight, or the next one for an end) or a date and time
    (naive ones in the active time zone), within the years a page can show."""
    text = str(value or "").strip()
    if not text:
        raise InvalidInput(f"'{name}' is required.", fields={name: ["Required."]})
    try:
        # A plain date first: parse_datetime reads "2026-12-01" as its midnight too.
        day: date | None = parse_date(text) if len(text) <= 10 else None
        moment = (
            datetime.combine(day + timedelta(days=1) if end else day, time.min)
            if day is not None
            else parse_datetime(text)
        )
    except ValueError:
        moment = None
    if moment is None:
        raise InvalidInput(
            f"'{name}' must be a date (2026-12-01) or a date and time (2026-12-01T08:00:00Z).",
            fields={name: ["A date or a date and time."]},
        )
    if not datetime_in_range(moment):
        raise InvalidInput(YEAR_RANGE_MESSAGE, fields={name: [YEAR_RANGE_MESSAGE]})
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def parse_range(start: Any, end: Any) -> tuple[datetime, datetime]:
    """`?start=&end=` of the calendar: dates (the end day included) or times, at most
    MAX_RANGE_DAYS apart."""
    begin, finish = _moment(start, "start"), _moment(end, "end", end=True)
    if finish <= begin:
        raise InvalidInput("'end' must be after 'start'.", fields={"end": ["After the start."]})
    if finish - begin > timedelta(days=MAX_RANGE_DAYS + 1):
        raise InvalidInput(
            f"The range is at most {MAX_RANGE_DAYS} days.",
            fields={"end": [f"At most {MAX_RANGE_DAYS} days after the start."]},
        )
    return begin, finish


def calendar_entries(
    user: Any,
    start: datetime,
    end: datetime,
    *,
    organization: int | None = None,
    environment: int | None = None,
    component: int | None = None,
    statuses: list[str] | None = None,
    freezes: bool = True,
    with_conflicts: bool = True,
) -> list[CalendarEntry]:
    """Every window and freeze period of [start, end) the user may see, in order of start,
    filtered; each change with its conflicts (unless `with_conflicts` is off: a page that
    shows a few of many entries asks `conflicts_of` for those). A bounded number of
    queries."""
    changes = windows_visible_to(user, start, end).order_by("window_start", "id")
    if statuses:
        changes = changes.filter(status__in=statuses)
    else:
        changes = changes.exclude(status=ChangeStatus.CANCELLED)
    if organization:
        changes = changes.filter(organization_id=organization)
    if environment:
        changes = changes.filter(environment_id=environment)
    if component:
        changes = changes.filter(change_components__component_id=component).distinct()
    found = list(changes)
    conflicts = conflicts_of(found) if with_conflicts else {}
    entries = [
        CalendarEntry(
            kind="change",
            start=c.window_start,  # type: ignore[arg-type]
            end=c.window_end,  # type: ignore[arg-type]
            title=f"{c.key} {c.title}",
            change=c,
            conflicts=conflicts.get(c.pk, []),
        )
        for c in found
    ]
    if freezes:
        visible = _freeze_filter(freezes_visible_to(user), organization, environment, component)
        for freeze, periods in freezes_over(start, end, visible):
            entries += [
                CalendarEntry(
                    kind="freeze", start=p.start, end=p.end, title=freeze.title, freeze=freeze
                )
                for p in periods
            ]
    entries.sort(key=lambda e: (e.start, e.kind != "freeze", e.title))
    return entries


def _freeze_filter(
    qs: Any, organization: int | None, environment: int | None, component: int | None
) -> Any:
    if organization:
        qs = qs.filter(Q(organization__isnull=True) | Q(organization_id=organization))
    if environment:
        qs = qs.filter(Q(environment__isnull=True) | Q(environment_id=environment))
    if component:
        qs = qs.filter(Q(all_components=True) | Q(components=component))
    return qs
