"""Files attached to a ticket (optionally to one of its comments) or to a change, and the
append-only record of their coming and going.

The bytes live in Django's default storage (`STORAGES["default"]`: the file system under
MEDIA_ROOT, or an S3-compatible bucket, docs/deploy.md) under a random name; the name a
person gave the file is kept, sanitised, in `name`, and is only ever sent back as a
download's file name. `content_type` is what the bytes are (`tickets.services.attachments`
sniffs it), never what the uploading client claimed.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .changes import Change
from .history import AppendOnly
from .support import Ticket, TicketComment


def _stored_name(instance: Any, filename: str) -> str:
    # Never the uploader's name in the storage path: no traversal, no collisions, and no
    # guessing another organisation's files from a name.
    return f"attachments/{timezone.now():%Y/%m}/{uuid.uuid4().hex}"


def _one_subject() -> Q:
    return Q(ticket__isnull=True, change__isnull=False) | Q(
        ticket__isnull=False, change__isnull=True
    )


class Attachment(models.Model):
    """A file on a ticket or a change. `internal` ones (attached by provider staff, or to
    an internal comment) are seen by provider staff only, like internal comments."""

    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    change = models.ForeignKey(
        Change, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    comment = models.ForeignKey(
        TicketComment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="attachments",
    )
    internal = models.BooleanField(default=False)
    file = models.FileField(upload_to=_stored_name, max_length=200)
    name = models.CharField(max_length=200)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created", "id"]
        constraints = [
            models.CheckConstraint(condition=_one_subject(), name="attachment_one_subject")
        ]
        indexes = [
            models.Index(fields=["ticket", "created"], name="attachment_ticket"),
            models.Index(fields=["change", "created"], name="attachment_change"),
        ]

    def __str__(self) -> str:
        return f"{self.name} on {self.subject_key}"

    def deletable_by(self, user: Any) -> bool:
        """Who may delete a file: whoever attached it, or provider staff."""
        return bool(user.is_provider or self.uploaded_by_id == user.pk)

    @property
    def subject_key(self) -> str:
        return f"SUP-{self.ticket_id}" if self.ticket_id else f"CHG-{self.change_id}"


class AttachmentEvent(AppendOnly):
    """A file added to or removed from a ticket or a change: who, when, which file. Kept
    when the file itself is deleted, so the history says what was there."""

    class Action(models.TextChoices):
        # The file was attached and can be downloaded.
        ADDED = "added", "added"
        # The file was deleted; only this record of it remains.
        REMOVED = "removed", "removed"

    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.CASCADE, related_name="attachment_events"
    )
    change = models.ForeignKey(
        Change, null=True, blank=True, on_delete=models.CASCADE, related_name="attachment_events"
    )
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=10, choices=Action.choices)
    name = models.CharField(max_length=200)
    size = models.PositiveBigIntegerField()
    internal = models.BooleanField(default=False)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(condition=_one_subject(), name="attachment_event_one_subject")
        ]
        indexes = [
            models.Index(fields=["ticket", "at"], name="attachment_event_ticket"),
            models.Index(fields=["change", "at"], name="attachment_event_change"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.action}"
