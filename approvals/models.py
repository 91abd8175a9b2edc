"""Approvals of a change: QA, Peer, Operations (provider) and Business (customer)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from . import rules


class ApprovalRole(models.TextChoices):
    QA = rules.QA, "QA"  # provider Quality Assurance
    PEER = rules.PEER, "Peer"  # any provider engineer other than the author (four eyes)
    OPERATIONS = rules.OPERATIONS, "Operations"  # provider operations management
    BUSINESS = rules.BUSINESS, "Business"  # the customer's validation (§2.1)


PROVIDER_ROLES = tuple(ApprovalRole(r) for r in rules.ROUND_ROLES)


class Decision(models.TextChoices):
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


def prefetched(change: Any) -> list[Approval] | None:
    """Every approval of `change` (every round, with `by`) if the change was read with
    them (`approvals.selectors.with_approvals`), else None: a page asks several questions
    of the same rows and reads them once."""
    read = getattr(change, "_prefetched_objects_cache", {}).get("approvals")
    return None if read is None else list(read)


class ApprovalQuerySet(models.QuerySet["Approval"]):
    def standing(self) -> ApprovalQuerySet:
        """Approvals given and not dismissed. Closing a round dismisses its approvals and
        moves the change to the next round, so these are of each change's current round."""
        return self.filter(decision=Decision.APPROVED, dismissed_at__isnull=True)

    def current(self, change: Any) -> ApprovalQuerySet:
        """The approvals that count now: approved, in the change's current round."""
        return self.standing().filter(change=change, round=change.approval_round)

    def current_rows(self, change: Any) -> list[Approval]:
        """`current(change)` with who gave each, as a list. Call it on `Approval.objects`:
        when the caller read the change with its approvals (`approvals.selectors.
        with_approvals`), they are taken from there, no query; else one query."""
        read = prefetched(change)
        if read is None:
            return list(self.current(change).select_related("by"))
        return [
            a
            for a in read
            if a.round == change.approval_round
            and a.decision == Decision.APPROVED
            and a.dismissed_at is None
        ]

    def given(self, change: Any) -> list[rules.Given]:
        """The current round's approvals as the rules read them (at most one query)."""
        return rules.given_from(self.current_rows(change))

    def close_round(self, change: Any, *, reason: str) -> None:
        """End the change's round: its approvals stay for the record, dismissed. The
        caller holds the change's row lock and saves the change."""
        self.filter(change=change, round=change.approval_round, dismissed_at__isnull=True).update(
            dismissed_at=timezone.now(), dismissed_reason=reason[:300]
        )
        change.approval_round += 1


class Approval(models.Model):
    """One decision in one approval round of one change.

    A round ends when the change is rejected or a section is edited after an approval;
    its approvals then stay here for the record with `dismissed_at` set, and the change's
    `approval_round` moves on.
    """

    change = models.ForeignKey("tickets.Change", on_delete=models.CASCADE, related_name="approvals")
    round = models.PositiveIntegerField()
    role = models.CharField(max_length=12, choices=ApprovalRole.choices)
    decision = models.CharField(max_length=10, choices=Decision.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    comment = models.TextField(blank=True)
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_reason = models.CharField(max_length=300, blank=True)

    objects = ApprovalQuerySet.as_manager()

    class Meta:
        ordering = ["round", "at", "id"]
        constraints = [
            # The database itself refuses a second approval of a role within a round, and
            # a second approval by one person within a round (segregation of duties).
            models.UniqueConstraint(
                fields=["change", "round", "role"],
                condition=Q(decision="approved"),
                name="approval_one_per_role_per_round",
            ),
            models.UniqueConstraint(
                fields=["change", "round", "by"],
                condition=Q(decision="approved"),
                name="approval_one_per_person_per_round",
            ),
        ]
        indexes = [models.Index(fields=["change", "round"], name="approval_change_round")]

    def __str__(self) -> str:
        return f"{self.get_role_display()} {self.decision} by {self.by} (round {self.round})"
