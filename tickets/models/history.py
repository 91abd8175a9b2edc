"""The append-only history: one row per transition taken, and the edits of the nine
sections."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .changes import Change
from .sections import SECTIONS
from .support import Ticket


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise TypeError("The history is append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("The history is append-only.")


class AppendOnly(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("The history is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("The history is append-only.")


class TransitionLog(AppendOnly):
    """One row per transition taken: who, when, from, to, which transition, the comment."""

    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.PROTECT, related_name="log"
    )
    change = models.ForeignKey(
        Change, null=True, blank=True, on_delete=models.PROTECT, related_name="log"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    transition = models.CharField(max_length=40)
    source = models.CharField(max_length=30)
    target = models.CharField(max_length=30)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ticket__isnull=True, change__isnull=False)
                | Q(ticket__isnull=False, change__isnull=True),
                name="log_exactly_one_subject",
            )
        ]
        indexes = [
            models.Index(fields=["ticket", "at"], name="log_ticket_at"),
            models.Index(fields=["change", "at"], name="log_change_at"),
        ]

    def __str__(self) -> str:
        subject = self.ticket or self.change
        return f"{subject}: {self.transition} {self.source} -> {self.target}"


class SectionEdit(AppendOnly):
    """The edit history of the nine sections: who changed which field, when, from what."""

    change = models.ForeignKey(Change, on_delete=models.PROTECT, related_name="edits")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    section = models.PositiveSmallIntegerField()
    field = models.CharField(max_length=60)
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["change", "at"], name="edit_change_at")]

    def __str__(self) -> str:
        return f"{self.change}: section {self.section} {self.field}"

    @property
    def section_name(self) -> str:
        return SECTIONS.get(self.section, ("?", ()))[0]


class FreezeOverride(AppendOnly):
    """An operations manager performed a change inside a hard freeze, with a reason."""

    change = models.ForeignKey(Change, on_delete=models.PROTECT, related_name="freeze_overrides")
    freeze = models.ForeignKey(
        "tickets.Freeze", null=True, on_delete=models.SET_NULL, related_name="overrides"
    )
    freeze_title = models.CharField(max_length=200)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    reason = models.TextField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.change}: {self.freeze_title} overridden"
