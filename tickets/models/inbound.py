"""E-mail received (`manage.py receive_email`): one row per message, by its Message-ID, so
that a message the mail server hands over twice (it retries when it did not hear our
answer) is posted once."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from .support import Ticket, TicketComment


class InboundEmail(models.Model):
    class Outcome(models.TextChoices):
        # Posted as a comment (or a new ticket) on `ticket`.
        ACCEPTED = "accepted", "accepted"
        # Deliberately not posted: `reason` says why (an auto-reply, an unknown sender...).
        REFUSED = "refused", "refused"

    message_id = models.CharField(max_length=300, unique=True)
    received = models.DateTimeField(default=timezone.now)
    sender = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=300, blank=True)
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    comment = models.ForeignKey(
        TicketComment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-received", "-id"]

    def __str__(self) -> str:
        return f"{self.message_id} {self.outcome}"
