"""The change calendar in the portal (issue 14): the organisation's deployment windows and
the freezes that apply to it (`scheduling.calendar_entries` scopes both to the user), by
month, week or agenda; and the user's secret calendar feed."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import redirect

from ... import calendar_page
from ...selectors import components_visible_to
from ...typing import AuthenticatedRequest
from .common import _page, customer_portal

FILTERS = ("environment", "component", "status")


@customer_portal
def calendar(request: AuthenticatedRequest) -> HttpResponse:
    user = request.user
    form = calendar_page.CalendarFilterForm(
        request.GET, organizations=None, components=components_visible_to(user)
    )
    context = {
        "nav": "calendar",
        "cal": calendar_page.build(user, form, keep=FILTERS),
        "form": form,
        "change_url": "portal:change",
        "feed_url": "portal:calendar_feed",
        "feed": calendar_page.feed_of(user),
    }
    return _page(request, "calendar/calendar.html", context)


@customer_portal
def calendar_feed(request: AuthenticatedRequest) -> HttpResponse:
    if request.method != "POST":
        return redirect("portal:calendar")
    return calendar_page.feed_post(
        request,
        render=lambda context, status: _page(request, "calendar/feed.html", context, status),
        back="portal:calendar",
    )
