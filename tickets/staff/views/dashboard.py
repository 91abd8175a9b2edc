"""The staff dashboard: what waits on this person now, and their notices."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from approvals.models import Approval, ApprovalRole
from approvals.selectors import approvable_by_q, approval_roles_open_to

from ... import pagination, web
from ...models import (
    CHANGE_CLOSED,
    Change,
    ChangeStatus,
    Ticket,
    User,
)
from ...pagination import capped_counts
from ...selectors import (
    changes_visible_to,
    tickets_visible_to,
)
from .common import DASHBOARD_ROWS, StaffRequest, live_approvals, staff_view

WEEK_WINDOWS = 25  # the week's windows shown; the board and the list show the rest
# What each panel shows (templates/staff/dashboard.html, staff/tickets/_workitem.html).
WORKITEM_FIELDS = ("id", "title", "status", "priority", "updated", "organization__name")
IN_FLIGHT_FIELDS = (
    "id",
    "title",
    "status",
    "performer",
    "updated",
    "organization__name",
    "environment__name",
)
# A notice shows its subject and links to what it is about: not its text, nor that
# change's or ticket's sections.
NOTICE_FIELDS = (
    "id",
    "created",
    "read_at",
    "notification__subject",
    "notification__change__id",
    "notification__change__status",  # django-fsm reads the state of every instance
    "notification__ticket__id",
    "notification__ticket__status",
)
# The rules (`approval_roles_open_to`) read the author and the round's approvals.
TO_APPROVE_FIELDS = (
    "id",
    "title",
    "status",
    "approval_round",
    "updated",
    "organization__name",
    "environment__name",
    "author__username",
    "author__first_name",
    "author__last_name",
)
WINDOW_FIELDS = (
    "id",
    "title",
    "status",
    "window_start",
    "window_end",
    "window_agreed_at",
    "organization__name",
    "environment__name",
)


def _week(now: datetime) -> tuple[datetime, datetime]:
    local = timezone.localtime(now)
    monday = (local - timedelta(days=local.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return monday, monday + timedelta(days=7)


def _given(change: Change) -> list[Approval]:
    return [a for a in change.live_approvals if a.round == change.approval_round]  # type: ignore[attr-defined]


@staff_view
def dashboard(request: StaffRequest) -> HttpResponse:
    user = request.user
    # Every panel is bounded: at most DASHBOARD_ROWS rows, and a count that stops at
    # pagination.PANEL_COUNT_CAP (all the panels' counts in one query), whatever the desk
    # holds; "see all" goes to the list.
    waiting = (
        tickets_visible_to(user)
        .filter(Ticket.waiting_on_provider_q())
        .select_related("organization")
        .only(*WORKITEM_FIELDS)
        .order_by("-updated", "-pk")
    )
    mine = waiting.filter(assignee=user)
    unassigned = waiting.filter(assignee__isnull=True)

    # Changes awaiting an approval this user may still give, chosen in SQL by the rules
    # (`approvable_by_q`); the domain then names the open roles of the few shown.
    approvable = (
        changes_visible_to(user)
        .filter(status=ChangeStatus.AWAITING_APPROVAL)
        .filter(approvable_by_q(user))
        .order_by("updated", "pk")
    )
    # The rows shown are chosen first and joined to their names after: PostgreSQL planned
    # the rules' two anti-joins together with the three joins in about 2 ms (0.7 ms so).
    shown = (
        Change.objects.filter(pk__in=approvable.values("pk")[:DASHBOARD_ROWS])
        .select_related("organization", "environment", "author")
        .only(*TO_APPROVE_FIELDS)
        .prefetch_related(live_approvals())
        .order_by("updated", "pk")
    )
    to_approve = []
    for change in shown:
        given = _given(change)
        roles = approval_roles_open_to(change=change, user=user, given=given)
        to_approve.append(
            {"change": change, "roles": [ApprovalRole(r).label for r in roles], "given": given}
        )

    in_flight = (
        changes_visible_to(user)
        .filter(author=user)
        .exclude(status__in=CHANGE_CLOSED)
        .select_related("organization", "environment")
        .only(*IN_FLIGHT_FIELDS)
        .order_by("-updated", "-pk")
    )
    start, end = _week(timezone.now())
    windows = (
        changes_visible_to(user)
        # A window lasts at most CHANGE_WINDOW_MAX_HOURS (`window_problems`): the lower
        # bound lets PostgreSQL walk `change_window_start` from there, not from the first
        # window ever.
        .filter(
            window_start__lt=end,
            window_end__gt=start,
            window_start__gte=start - timedelta(hours=settings.CHANGE_WINDOW_MAX_HOURS),
        )
        .exclude(status=ChangeStatus.CANCELLED)
        .select_related("organization", "environment")
        .only(*WINDOW_FIELDS)
        .order_by("window_start", "pk")
    )
    notices, unread = _notices(user)
    counts = capped_counts(
        {
            "mine_count": mine,
            "unassigned_count": unassigned,
            "to_approve_count": approvable,
            "in_flight_count": in_flight,
            "windows_count": windows,
            **({"unread_notices": unread} if unread is not None else {}),
        },
        cap=pagination.PANEL_COUNT_CAP,
    )
    context = {
        "nav": "dashboard",
        # "Updated 5 minutes ago" is drawn against the start of this minute, so that a
        # work item's row is the same all minute long and kept (`{% rows %}`, keyed by it).
        "minute": timezone.now().replace(second=0, microsecond=0),
        "mine": list(mine[:DASHBOARD_ROWS]),
        "unassigned": list(unassigned[:DASHBOARD_ROWS]),
        "to_approve": to_approve,
        "in_flight": list(in_flight[:DASHBOARD_ROWS]),
        "windows": list(windows[:WEEK_WINDOWS]),
        **counts,
        "week_start": start,
        "week_end": end - timedelta(days=1),
        "notices": notices,
    }
    return web.render_page(request, "staff/dashboard.html", context)


def _notices(user: User) -> tuple[list[Any] | None, QuerySet | None]:
    """The user's latest action notices, and the unread ones to count with the panels,
    when the notifications app offers them."""
    try:
        from notifications.selectors import notices_for, unread_notices_for
    except ImportError:
        return None, None
    return list(notices_for(user).only(*NOTICE_FIELDS)[:DASHBOARD_ROWS]), unread_notices_for(user)


@require_POST
@staff_view
def notice_read(request: StaffRequest, notice: int) -> HttpResponse:
    """One of the user's own notices, marked read (anyone else's is a 404)."""
    from notifications.services import notice_mark_read

    notice_mark_read(user=request.user, notice=notice)
    return redirect(f"{reverse('staff:dashboard')}#h-notices")


@require_POST
@staff_view
def notices_read(request: StaffRequest) -> HttpResponse:
    from notifications.services import notices_mark_all_read

    count = notices_mark_all_read(user=request.user)
    return web.succeed(
        request,
        f"{count} notice{'' if count == 1 else 's'} marked as read.",
        f"{reverse('staff:dashboard')}#h-notices",
    )
