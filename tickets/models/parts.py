"""The parts of a change that are rows of their own: components (section 2), test
scenarios (8), checklist items (9), and the tickets a performed change released."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .changes import Change
from .choices import ChecklistState, ScenarioKind, ScenarioResult, StandardCheck
from .people import Component, Organization
from .support import Ticket


class ChangeComponent(models.Model):
    """Section 2: a component the change touches, and the version it releases."""

    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="change_components")
    component = models.ForeignKey(Component, on_delete=models.PROTECT, related_name="+")
    target_version = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["change", "component"], name="change_component_unique")
        ]

    def __str__(self) -> str:
        return f"{self.component.name} -> {self.target_version}"


class TestScenario(models.Model):
    """Section 8: a scenario to run after the release, with its recorded result."""

    __test__ = False  # not a pytest test class

    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="scenarios")
    position = models.PositiveIntegerField(default=1)
    kind = models.CharField(max_length=12, choices=ScenarioKind.choices)
    description = models.TextField()
    result = models.CharField(
        max_length=10, choices=ScenarioResult.choices, default=ScenarioResult.NOT_RUN
    )
    result_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    result_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.position}"


class ChecklistTemplateItem(models.Model):
    """An item every new change's checklist starts with: for everyone, or one organisation."""

    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="checklist_items",
        help_text="Empty: added to every organisation's changes.",
    )
    label = models.CharField(max_length=200)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.label


class ChecklistItem(models.Model):
    """Section 9: a pre-release confirmation on one change."""

    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="checklist")
    position = models.PositiveIntegerField(default=0)
    label = models.CharField(max_length=200)
    standard = models.CharField(
        max_length=20,
        choices=StandardCheck.choices,
        blank=True,
        help_text="Which of the four checks of the process document this is; empty for "
        "items an organisation or an admin added.",
    )
    state = models.CharField(
        max_length=20, choices=ChecklistState.choices, default=ChecklistState.PENDING
    )
    reason = models.TextField(blank=True, help_text="Why it does not apply.")
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["change", "standard"],
                condition=~Q(standard=""),
                name="checklist_one_standard_item_each",
            )
        ]

    def __str__(self) -> str:
        return self.label


class ReleasedTicket(models.Model):
    """Section 4 as it was performed: a ticket the change released to testing. Kept when
    the ticket, sent back, moves on to a follow-up change, so the close still knows the
    change's testing did not accept it."""

    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="released")
    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="releases")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["change", "ticket"], name="released_ticket_unique")
        ]

    def __str__(self) -> str:
        return f"{self.ticket.key} released by {self.change.key}"
