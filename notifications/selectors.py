"""Reads of communications and notices.

`communications_for_change` expects a change the caller already fetched for the user
(`tickets.selectors.access_change`): visibility is decided there. `notices_for` scopes by
itself: a user's own notices, and for a customer only those of their organisation.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import (
    Count,
    Exists,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    prefetch_related_objects,
)

from tickets.models import Change, ChangeStatus, User

from .models import Delivery, DeliveryState, Notification, NotificationKind

# Failed recipients listed per communication; the counts cover all of them.
FAILURES_SHOWN = 20


def communications_for_change(
    *, change: Change, include_notices: bool = False
) -> QuerySet[Notification]:
    """Every communication queued or sent for the change, newest first, each with
    `n_pending` (pending or being sent), `n_sent` and `n_failed`; `show_failures` on the
    rows read adds the failed recipients. One query whatever the number of communications
    and recipients.

    Outage communications only, unless `include_notices`: action notices are addressed to
    people, not to the customer's end users."""
    qs = Notification.objects.filter(change=change)
    if not include_notices:
        qs = qs.exclude(kind=NotificationKind.ACTION)
    return qs.annotate(
        n_pending=Count(
            "deliveries",
            filter=Q(deliveries__state__in=[DeliveryState.PENDING, DeliveryState.SENDING]),
        ),
        n_sent=Count("deliveries", filter=Q(deliveries__state=DeliveryState.SENT)),
        n_failed=Count("deliveries", filter=Q(deliveries__state=DeliveryState.FAILED)),
    ).order_by("-created", "-id")


def show_failures(communications: list[Notification]) -> list[Notification]:
    """`communications` (read through `communications_for_change`), each with
    `failures_shown`: up to FAILURES_SHOWN of its failed deliveries, with their reason. One
    query for those that have any (`n_failed`), none when nothing failed (most changes:
    the change page stays within its bound of queries)."""
    failed = [m for m in communications if m.n_failed]  # type: ignore[attr-defined]
    for message in communications:
        if not message.n_failed:  # type: ignore[attr-defined]
            message.failures_shown = []  # type: ignore[attr-defined]
    if failed:
        shown = Delivery.objects.filter(state=DeliveryState.FAILED).order_by("id")
        prefetch_related_objects(
            failed,
            Prefetch("deliveries", queryset=shown[:FAILURES_SHOWN], to_attr="failures_shown"),
        )
    return communications


def notices_for(user: Any) -> QuerySet[Delivery]:
    """The action notices addressed to `user`, newest first (for a customer, only those
    about their organisation's tickets and changes). Each row has `subject`, `body`,
    `created`, `read_at` and `notification` (with its change or ticket)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Delivery.objects.none()
    qs = Delivery.objects.filter(user=user, notification__kind=NotificationKind.ACTION)
    if user.kind == User.Kind.CUSTOMER:
        org = user.organization_id
        qs = qs.filter(
            Q(notification__change__organization_id=org)
            | Q(notification__ticket__organization_id=org)
        )
    return qs.select_related(
        "notification", "notification__change", "notification__ticket"
    ).order_by("-created", "-id")


def unread_notices_for(user: Any) -> QuerySet[Delivery]:
    """The action notices of `user` not read yet (`notices_for`)."""
    return notices_for(user).filter(read_at__isnull=True)


def unread_notice_count(user: Any) -> int:
    return unread_notices_for(user).count()


def changes_due_for_reminder(*, now: datetime, lead: timedelta) -> QuerySet[Change]:
    """Approved changes with an agreed outage window that starts within `lead` of `now`,
    whose window end users heard of (announced or corrected) before the lead time began
    (otherwise that message came late enough to be the reminder), without a reminder for
    that window yet. Only an approved change with an agreed window is ever reminded."""
    reminded = Notification.objects.filter(
        change=OuterRef("pk"),
        kind=NotificationKind.REMINDER,
        window_start=OuterRef("window_start"),
    )
    announced_early = Notification.objects.filter(
        change=OuterRef("pk"),
        kind__in=[NotificationKind.ANNOUNCEMENT, NotificationKind.CORRECTION],
        window_start=OuterRef("window_start"),
        window_end=OuterRef("window_end"),
        created__lt=OuterRef("window_start") - lead,
    )
    return (
        Change.objects.filter(
            outage_expected=True,
            status=ChangeStatus.TO_BE_RELEASED,
            window_agreed_at__isnull=False,
            window_start__gt=now,
            window_start__lte=now + lead,
        )
        .filter(Exists(announced_early))
        .exclude(Exists(reminded))
        .order_by("window_start", "pk")
    )
