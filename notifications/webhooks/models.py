"""Webhook rows (imported by notifications/models.py, so they are the notifications app's):
the endpoints integrators subscribe, the events written in the transaction of what
happened (the outbox), and one delivery per endpoint and event, with its attempts."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class WebhookEventType(models.TextChoices):
    TICKET_CREATED = "ticket.created", "A ticket was raised"
    TICKET_TRANSITIONED = "ticket.transitioned", "A ticket moved in its workflow"
    TICKET_COMMENTED = "ticket.commented", "A comment on a ticket"
    CHANGE_CREATED = "change.created", "A change was written"
    CHANGE_UPDATED = "change.updated", "A change's sections were edited"
    CHANGE_TRANSITIONED = "change.transitioned", "A change moved in its workflow"
    CHANGE_APPROVAL = "change.approval", "An approval given or rejected"
    CHANGE_WINDOW = "change.window", "A deployment window proposed or agreed"
    COMMUNICATION_SENT = "communication.sent", "A communication was queued for sending"


class WebhookEndpoint(models.Model):
    """A receiver's URL and the events it wants. Without an organisation it receives every
    organisation's events (provider staff only); a customer's endpoint is always of their
    organisation and never receives internal comments."""

    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, help_text="Event types; every type when empty.")
    organization = models.ForeignKey(
        "tickets.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    active = models.BooleanField(default=True)
    # Shown once, at creation; signs every request (signing.py).
    secret = models.CharField(max_length=100)
    created = models.DateTimeField(default=timezone.now)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url

    @property
    def internal(self) -> bool:
        """Receives internal comments: an endpoint of provider staff."""
        return self.owner.is_provider


class WebhookEvent(models.Model):
    """What happened, written in its transaction: the payload sent to every endpoint that
    wants it. Events of one object (`object_key`) reach each endpoint in id order."""

    type = models.CharField(max_length=40, choices=WebhookEventType.choices)
    object_key = models.CharField(max_length=40)
    organization = models.ForeignKey(
        "tickets.Organization", on_delete=models.CASCADE, related_name="+"
    )
    # False for what only provider staff may see (an internal comment).
    public = models.BooleanField(default=True)
    payload = models.JSONField()
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.type} {self.object_key}"

    @property
    def message_id(self) -> str:
        return f"evt_{self.pk}"


class WebhookDeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"  # to be sent when due
    SENDING = "sending", "Sending"  # claimed by a worker
    SENT = "sent", "Sent"  # the receiver answered 2xx
    FAILED = "failed", "Failed"  # given up: attempts exhausted, or the endpoint disabled


class WebhookDelivery(models.Model):
    """One event for one endpoint; each attempt updates it (the delivery log shows the
    last status code, duration and error). A redelivery is a new row."""

    State = WebhookDeliveryState

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    # Copied from the event so that "an earlier one of this object is pending" is one
    # index lookup.
    object_key = models.CharField(max_length=40)
    state = models.CharField(
        max_length=10, choices=WebhookDeliveryState.choices, default=WebhookDeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claim_token = models.UUIDField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state="pending"),
                name="webhook_delivery_due",
            ),
            models.Index(
                fields=["endpoint", "object_key", "event"],
                condition=Q(state__in=["pending", "sending"]),
                name="webhook_delivery_unsettled",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} -> {self.endpoint}"
