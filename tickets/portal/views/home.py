"""The portal home: what needs the customer's action, and their notices."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import F
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone

from ... import web
from ...models import (
    Change,
)
from ...selectors import (
    changes_visible_to,
    changes_waiting_on_customer,
    tickets_waiting_on_customer,
)
from ...typing import AuthenticatedRequest
from .common import _asked, _page, customer_portal

# What the home's rows show (templates/portal/home.html); a change's environment by its
# name, a value of the row rather than an instance more per change.
TICKET_FIELDS = ("id", "title", "status", "updated", "change_id")
CHANGE_FIELDS = (
    "id",
    "title",
    "status",
    "updated",
    "window_start",
    "window_end",
    "window_agreed_at",
)
ENVIRONMENT_NAME = {"environment_name": F("environment__name")}


@customer_portal
def home(request: AuthenticatedRequest) -> HttpResponse:
    user = request.user
    tickets = list(
        tickets_waiting_on_customer(user).only(*TICKET_FIELDS).order_by("-updated", "-pk")[:50]
    )
    changes = list(
        changes_waiting_on_customer(user)
        .only(*CHANGE_FIELDS)
        .annotate(**ENVIRONMENT_NAME)
        .order_by("window_start", "-updated", "-pk")[:50]
    )
    upcoming = list(
        changes_visible_to(user)
        .filter(
            status__in=[Change.S.TO_BE_REVIEWED_BY_BUSINESS, Change.S.TO_BE_RELEASED],
            window_start__gte=timezone.now(),
        )
        .only(*CHANGE_FIELDS)
        .annotate(**ENVIRONMENT_NAME)
        .order_by("window_start", "pk")[:5]
    )
    return _page(
        request,
        "home.html",
        {
            "nav": "home",
            "action_tickets": [(t, _asked("ticket", t)) for t in tickets],
            "action_changes": [(c, _asked("change", c)) for c in changes],
            "upcoming": upcoming,
        },
    )


@customer_portal
def notifications(request: AuthenticatedRequest) -> HttpResponse:
    from notifications.selectors import notices_for

    page = web.paginate(request, notices_for(request.user))
    return _page(request, "notifications.html", {"nav": "notifications", "page": page})


@customer_portal
def notification_read(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    from notifications.selectors import notices_for
    from notifications.services import notice_mark_read

    # A GET shows nothing of the notice, but still answers 404 for anyone else's.
    if not notices_for(request.user).filter(pk=pk).exists():
        raise Http404("No such notification.")
    if request.method == "POST":
        notice_mark_read(user=request.user, notice=pk)
    return redirect("portal:notifications")


@customer_portal
def notifications_read_all(request: AuthenticatedRequest) -> HttpResponse:
    from notifications.services import notices_mark_all_read

    if request.method == "POST":
        n = notices_mark_all_read(user=request.user)
        messages.success(request, f"{n} notification{'s' if n != 1 else ''} marked as read.")
    return redirect("portal:notifications")
