"""Reads of approvals, always through the change's visibility."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .models import Approval, ApprovalRole, Decision

if TYPE_CHECKING:
    from tickets.models import Change


@dataclass(frozen=True)
class RoleSlot:
    """One line of a change's approvals panel: a role, and where it stands this round."""

    role: str
    label: str
    approval: Approval | None  # given this round
    dismissed: tuple[Approval, ...]  # given in earlier rounds, then dismissed


def approvals_panel(*, change: Change) -> list[RoleSlot]:
    """The four approvals a change needs (Business only for provider-performed changes),
    in one query."""
    rows = list(Approval.objects.filter(change=change).select_related("by"))
    roles = [ApprovalRole.QA, ApprovalRole.PEER, ApprovalRole.OPERATIONS]
    if change.performer == "provider":
        roles.append(ApprovalRole.BUSINESS)
    slots = []
    for role in roles:
        current = next(
            (
                a
                for a in rows
                if a.role == role
                and a.round == change.approval_round
                and a.decision == Decision.APPROVED
            ),
            None,
        )
        dismissed = tuple(a for a in rows if a.role == role and a.dismissed_at is not None)
        slots.append(RoleSlot(role=role, label=role.label, approval=current, dismissed=dismissed))
    return slots
