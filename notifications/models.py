"""Communications (WORKFLOW.md, "Communications"): what was decided to be said, and to
whom, with the state of each delivery.

A Notification is written in the same transaction as the event that causes it, with one
Delivery per recipient; workers claim deliveries and send them after commit
(`notifications/sending.py`). The rows are the outbox: nothing is lost if the broker or a
worker is down, and the unique (notification, recipient) pair plus the claim token keep a
recipient from getting the same message twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class NotificationKind(models.TextChoices):
    # Outage communications, to the organisation's end-user contacts.
    ANNOUNCEMENT = "announcement", "Outage announcement"  # a window with an outage is agreed
    REMINDER = "reminder", "Outage reminder"  # the announced window starts soon
    CORRECTION = "correction", "Correction"  # the announced window moved
    CANCELLATION = "cancellation", "Cancellation"  # the announced change will not happen
    COMPLETION = "completion", "Completion notice"  # performed or rolled back: it is over
    # Action notices, to people with a login.
    ACTION = "action", "Action needed"  # the ticket or change now waits on the recipient


OUTAGE_KINDS = (
    NotificationKind.ANNOUNCEMENT,
    NotificationKind.REMINDER,
    NotificationKind.CORRECTION,
    NotificationKind.CANCELLATION,
    NotificationKind.COMPLETION,
)


class Notification(models.Model):
    """One message decided once (subject and bodies rendered when the event happened) and
    sent to many recipients, one Delivery each."""

    Kind = NotificationKind

    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    change = models.ForeignKey(
        "tickets.Change",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="notifications",
    )
    ticket = models.ForeignKey(
        "tickets.Ticket",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="notifications",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Whoever caused it; empty for the scheduler.",
    )
    subject = models.CharField(max_length=300)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    # The window the message speaks of, as it was then: what a reminder or a correction is
    # about, even after the change's window moved on.
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    # Set for messages that must exist at most once (a reminder per window); the database
    # refuses a second one even if two schedulers race.
    dedupe_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    # When a task is next due to look at deliveries waiting for a retry: one scheduled
    # wake-up per notification rather than one per failed batch (`sending.schedule_wake`).
    wake_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(change__isnull=False) | Q(ticket__isnull=False),
                name="notification_has_subject",
            )
        ]
        indexes = [
            models.Index(fields=["change", "kind", "-created"], name="notification_change_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject}"

    @property
    def is_outage_communication(self) -> bool:
        return self.kind in OUTAGE_KINDS


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"  # waiting for a worker, or for its next attempt
    SENDING = "sending", "Sending"  # claimed by a worker; back to pending if its lease ends
    SENT = "sent", "Sent"  # accepted by the mail server
    FAILED = "failed", "Failed"  # given up on; last_error says why
    SKIPPED = "skipped", "Shown in the app only"  # a user without an e-mail address


class Delivery(models.Model):
    """One recipient of one notification: an end-user contact, or a user (whose action
    notices are also listed in the app, with `read_at`)."""

    State = DeliveryState

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries"
    )
    recipient = models.CharField(max_length=254, help_text="E-mail address, lower case.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notices",
    )
    contact = models.ForeignKey(
        "tickets.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # A fresh token per claim: only the worker holding the current one may mark the
    # delivery sent, so a worker whose lease ran out cannot send after another took over.
    claim_token = models.UUIDField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "recipient"],
                condition=~Q(recipient=""),
                name="delivery_once_per_recipient",
            ),
            models.UniqueConstraint(
                fields=["notification", "user"],
                condition=Q(user__isnull=False),
                name="delivery_once_per_user",
            ),
        ]
        indexes = [
            models.Index(fields=["notification", "state"], name="delivery_notification_state"),
            # What the sweep looks for: pending ones overdue, sending ones past their lease.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state="pending"),
                name="delivery_pending_due",
            ),
            models.Index(
                fields=["claimed_at"], condition=Q(state="sending"), name="delivery_sending_lease"
            ),
            # A user's notices in the app, newest first.
            models.Index(
                fields=["user", "-created"],
                condition=Q(user__isnull=False),
                name="delivery_user_created",
            ),
            # A user's unread notices (the count on every page): a few rows per user,
            # where the user's deliveries are thousands. The notification is included
            # so the count joins it without reading the deliveries themselves.
            models.Index(
                fields=["user", "notification"],
                condition=Q(user__isnull=False, read_at__isnull=True),
                name="delivery_user_unread",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recipient or self.user} ({self.state})"

    # As a notice in the app (`selectors.notices_for` selects the notification along).
    @property
    def subject(self) -> str:
        return self.notification.subject

    @property
    def body(self) -> str:
        return self.notification.body_text

    @property
    def about(self) -> models.Model | None:
        """The change or ticket the notice is about."""
        return self.notification.change or self.notification.ticket

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


# The webhook rows are this app's models too (one migration history).
from .webhooks.models import (  # noqa: E402
    WebhookDelivery,
    WebhookDeliveryState,
    WebhookEndpoint,
    WebhookEvent,
    WebhookEventType,
)

__all__ = [
    "OUTAGE_KINDS",
    "Delivery",
    "DeliveryState",
    "Notification",
    "NotificationKind",
    "WebhookDelivery",
    "WebhookDeliveryState",
    "WebhookEndpoint",
    "WebhookEvent",
    "WebhookEventType",
]
