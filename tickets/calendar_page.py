"""What the staff workspace's and the portal's calendar pages share (issue 14): the range a
view shows (a month of whole weeks, Monday first; a week; an agenda of days), the filter
form read from the query string (so a link is shareable), and the entries of
`scheduling.calendar_entries` laid out in days of the user's time zone.

Presentation only: which windows and freezes a user sees, and their conflicts, are the
scheduling module's; this file decides where each one is drawn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone

from .models import CalendarFeed, ChangeStatus, Component, Environment, Organization
from .scheduling import CalendarEntry, calendar_entries, conflicts_of
from .services import schedule
from .web import BoundedDateField, succeed

VIEWS = [("month", "Month"), ("week", "Week"), ("agenda", "Agenda")]
# A day shows at most this many entries (freezes first); "+k more" leads to its agenda.
MONTH_DAY_LIMIT = 4
WEEK_DAY_LIMIT = 12
AGENDA_DAYS = 7
AGENDA_MAX_DAYS = 31
# The agenda lists at most this many entries: a page stays readable and cheap however
# busy the range is (the filters narrow it).
AGENDA_LIMIT = 300
# Organisations offered when a typed name matches several.
ORG_SUGGESTIONS = 10


class CalendarFilterForm(forms.Form):
    """The query string of a calendar page: which view, around which day, filtered how.
    Shape only; an invalid value is dropped (the page still shows), never an error page."""

    view = forms.ChoiceField(choices=VIEWS, required=False)
    date = BoundedDateField(
        required=False, label="Go to", widget=forms.DateInput(attrs={"type": "date"})
    )
    days = forms.IntegerField(required=False, min_value=1, max_value=AGENDA_MAX_DAYS)
    organization = forms.CharField(
        required=False,
        max_length=200,
        label="Organisation",
        widget=forms.TextInput(attrs={"placeholder": "Name or id", "type": "search"}),
    )
    environment = forms.ModelChoiceField(
        queryset=Environment.objects.all(),
        required=False,
        empty_label="Any environment",
        label="Environment",
    )
    component = forms.TypedChoiceField(
        choices=[], coerce=int, required=False, empty_value=None, label="Component"
    )
    status = forms.ChoiceField(
        choices=[("", "Any but cancelled"), *ChangeStatus.choices],
        required=False,
        label="Status",
    )

    def __init__(
        self,
        data: Any,
        *,
        organizations: QuerySet[Organization] | None,
        components: QuerySet[Component],
    ) -> None:
        """`organizations`: those the organisation field may name (None: no such field,
        a customer's calendar); `components`: those the component field offers, once the
        organisation is known (a bounded list, never every component of every customer)."""
        super().__init__(data)
        self.organizations = organizations
        self.components = components
        self.suggestions: list[Organization] = []
        if organizations is None:
            del self.fields["organization"]

    def clean_organization(self) -> Organization | None:
        text = (self.cleaned_data.get("organization") or "").strip()
        if not text or self.organizations is None:
            return None
        qs = self.organizations
        if text.isdigit() and len(text) <= 18:
            found = qs.filter(pk=int(text)).first()
            if found is None:
                raise forms.ValidationError("No organisation has this id.")
            return found
        exact = list(qs.filter(name__iexact=text)[:2])
        if len(exact) == 1:
            return exact[0]
        matches = list(qs.filter(name__icontains=text).order_by("name")[: ORG_SUGGESTIONS + 1])
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise forms.ValidationError("No organisation matches this name.")
        self.suggestions = matches[:ORG_SUGGESTIONS]
        raise forms.ValidationError("Several organisations match: choose one below.")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        org = data.get("organization")
        if org is not None or self.organizations is None:
            choices = self.components
            if org is not None:
                choices = choices.filter(organization=org)
            self.fields["component"].choices = [  # type: ignore[attr-defined]
                ("", "Any component"),
                *((c.pk, c.name) for c in choices.order_by("name")[:500]),
            ]
            # Re-validate the component against the choices now known.
            raw = self.data.get("component")
            if raw:
                try:
                    data["component"] = self.fields["component"].clean(raw)
                except forms.ValidationError:
                    data["component"] = None
        return data

    @property
    def offers_components(self) -> bool:
        return len(self.fields["component"].choices) > 1  # type: ignore[attr-defined]

    def value(self, name: str) -> Any:
        """The cleaned value, or None when it was not valid (an invalid filter is dropped)."""
        if not hasattr(self, "cleaned_data"):
            self.is_valid()
        if name in self.errors:
            return None
        return self.cleaned_data.get(name)


@dataclass
class Day:
    day: date
    entries: list[CalendarEntry] = field(default_factory=list)
    in_month: bool = True
    today: bool = False
    limit: int = MONTH_DAY_LIMIT
    link: str = ""  # the agenda of this day

    @property
    def shown(self) -> list[CalendarEntry]:
        return self.entries[: self.limit]

    @property
    def more(self) -> int:
        return max(0, len(self.entries) - self.limit)

    @property
    def weekend(self) -> bool:
        return self.day.weekday() >= 5


@dataclass
class CalendarPage:
    view: str
    anchor: date
    first: date  # the first day shown
    last: date  # the last day shown
    heading: str
    previous: date
    following: date
    days: list[Day]
    query: dict[str, str]  # the filters, to keep in every navigation link
    truncated: int = 0  # entries the agenda left out
    span: int | None = None  # the agenda's number of days, when not the default
    # Organisations a typed name matched, each with the link that picks it.
    suggestions: list[tuple[Organization, str]] = field(default_factory=list)

    @property
    def weeks(self) -> list[list[Day]]:
        return [self.days[i : i + 7] for i in range(0, len(self.days), 7)]

    @property
    def busy_days(self) -> list[Day]:
        return [d for d in self.days if d.entries]

    @property
    def weekday_names(self) -> list[str]:
        return ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

    def link(self, **changes: Any) -> str:
        params = {**self.query, **{k: str(v) for k, v in changes.items() if v is not None}}
        return "?" + urlencode(sorted((k, v) for k, v in params.items() if v))

    @property
    def previous_link(self) -> str:
        return self.link(view=self.view, date=self.previous.isoformat(), days=self.span)

    @property
    def next_link(self) -> str:
        return self.link(view=self.view, date=self.following.isoformat(), days=self.span)

    @property
    def today_link(self) -> str:
        return self.link(view=self.view, days=self.span)

    def view_links(self) -> list[tuple[str, str, bool]]:
        return [
            (value, self.link(view=value, date=self.anchor.isoformat()), value == self.view)
            for value, _ in VIEWS
        ]

    def day_link(self, day: date) -> str:
        return self.link(view="agenda", date=day.isoformat(), days=1)


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _range(view: str, anchor: date, days: int | None) -> tuple[date, date, date, date, str]:
    """The first and last day shown, the anchors of the previous and next page, and the
    heading."""
    if view == "month":
        first_of_month = anchor.replace(day=1)
        next_month = (first_of_month + timedelta(days=32)).replace(day=1)
        first = first_of_month - timedelta(days=first_of_month.weekday())
        last_of_month = next_month - timedelta(days=1)
        last = last_of_month + timedelta(days=6 - last_of_month.weekday())
        previous = (first_of_month - timedelta(days=1)).replace(day=1)
        return first, last, previous, next_month, f"{first_of_month:%B %Y}"
    if view == "week":
        first = anchor - timedelta(days=anchor.weekday())
        last = first + timedelta(days=6)
        iso = first.isocalendar()
        heading = f"Week {iso.week}: {first.day} {first:%b} to {last.day} {last:%b %Y}"
        return first, last, first - timedelta(days=7), first + timedelta(days=7), heading
    span = days or AGENDA_DAYS
    last = anchor + timedelta(days=span - 1)
    heading = (
        f"{anchor:%A} {anchor.day} {anchor:%B %Y}"
        if span == 1
        else f"{anchor.day} {anchor:%b} to {last.day} {last:%b %Y}"
    )
    return anchor, last, anchor - timedelta(days=span), anchor + timedelta(days=span), heading


def _place(entries: list[CalendarEntry], days: dict[date, Day]) -> None:
    """Each entry in every day (of the user's time zone) it touches, freezes first."""
    first, last = min(days), max(days)
    for entry in entries:
        start = timezone.localtime(entry.start).date()
        end = timezone.localtime(entry.end - timedelta(microseconds=1)).date()
        day = max(start, first)
        while day <= min(end, last):
            days[day].entries.append(entry)
            day += timedelta(days=1)
    for d in days.values():
        d.entries.sort(key=lambda e: (e.kind != "freeze", e.start, e.title))


def build(user: Any, form: CalendarFilterForm, *, keep: tuple[str, ...]) -> CalendarPage:
    """The calendar page of `user` for the query string behind `form`; `keep` names the
    filters its navigation links carry along."""
    form.is_valid()
    view = form.value("view") or "month"
    today = timezone.localdate()
    anchor = form.value("date") or today
    days = form.value("days") if view == "agenda" else None
    first, last, previous, following, heading = _range(view, anchor, days)
    org = form.value("organization")
    environment = form.value("environment")
    status = form.value("status")
    found = calendar_entries(
        user,
        _midnight(first),
        _midnight(last + timedelta(days=1)),
        organization=org.pk if org else None,
        environment=environment.pk if environment else None,
        component=form.value("component"),
        statuses=[status] if status else None,
        with_conflicts=False,
    )
    limit = {"month": MONTH_DAY_LIMIT, "week": WEEK_DAY_LIMIT}.get(view, AGENDA_LIMIT)
    by_day = {
        first + timedelta(days=i): Day(
            day=first + timedelta(days=i),
            in_month=view != "month" or (first + timedelta(days=i)).month == anchor.month,
            today=first + timedelta(days=i) == today,
            limit=limit,
        )
        for i in range((last - first).days + 1)
    }
    _place(found, by_day)
    truncated = 0
    if view == "agenda":
        # One budget for the whole agenda, not per day.
        budget = AGENDA_LIMIT
        for d in by_day.values():
            d.limit = max(0, min(len(d.entries), budget))
            budget -= d.limit
            truncated += d.more
    # Conflicts of what is shown only (a busy month holds thousands of windows).
    shown = {e.change.pk: e for d in by_day.values() for e in d.shown if e.change is not None}
    for pk, items in conflicts_of([e.change for e in shown.values() if e.change]).items():
        shown[pk].conflicts = items
    query = {name: str(form.data.get(name, "")) for name in keep if form.data.get(name)}
    page = CalendarPage(
        view=view,
        anchor=anchor,
        first=first,
        last=last,
        heading=heading,
        previous=previous,
        following=following,
        days=list(by_day.values()),
        query=query,
        truncated=truncated,
        span=days if days and days != AGENDA_DAYS else None,
    )
    for d in page.days:
        d.link = page.day_link(d.day)
    page.suggestions = [
        (o, page.link(organization=o.pk, view=view, date=anchor.isoformat()))
        for o in form.suggestions
    ]
    return page


# --------------------------------------------------------------------------- the feed


def feed_of(user: Any) -> CalendarFeed | None:
    """The user's own feed (its dates; the URL itself is never shown again)."""
    return CalendarFeed.objects.filter(user=user).first()


def feed_post(
    request: HttpRequest,
    *,
    render: Callable[[dict[str, Any], int], HttpResponse],
    back: str,
) -> HttpResponse:
    """POST `revoke`: no feed any more; otherwise a new secret feed URL, shown in this
    response only (only its hash is kept), `render`ed by the front end; `back` is the
    URL name of its calendar."""
    user = request.user
    if "revoke" in request.POST:
        gone = schedule.calendar_feed_revoke(by=user)  # type: ignore[arg-type]
        return succeed(
            request,
            "Your calendar URL is revoked: calendars subscribed to it no longer update."
            if gone
            else "You had no calendar URL.",
            reverse(back),
        )
    token = schedule.calendar_feed_issue(by=user)  # type: ignore[arg-type]
    url = request.build_absolute_uri(reverse("calendar-feed", args=[token]))
    response = render({"nav": "calendar", "url": url, "back": back}, 201)
    response["Cache-Control"] = "no-store"  # the secret must not linger in any cache
    return response
