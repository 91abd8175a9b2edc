"""Approval rules: who may give which approval, segregation of duties, rounds.

These functions are called from the `Change` transitions (`approve`, `reject`,
`business_approve`, `dismiss_approvals`) while the change row is locked by the service
that runs the transition; they write Approval rows and move `change.approval_round` on,
and the caller saves the change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils import timezone

from tickets.errors import Conflict, InvalidInput, PermissionRefused

from .models import PROVIDER_ROLES, Approval, ApprovalRole, Decision

if TYPE_CHECKING:
    from tickets.models import Change, User


def current_approvals(*, change: Change) -> list[Approval]:
    """The approvals that count now: approved, in the change's current round."""
    return list(
        Approval.objects.filter(
            change=change, round=change.approval_round, decision=Decision.APPROVED
        ).select_related("by")
    )


def approval_roles_held_by(*, change: Change, user: User) -> list[str]:
    """The provider approval roles this user could give on this change at all."""
    if not getattr(user, "is_provider", False) or not user.is_active:
        return []
    roles: list[str] = []
    if user.is_qa:
        roles.append(ApprovalRole.QA)
    if user.pk != change.author_id:
        roles.append(ApprovalRole.PEER)
    if user.is_operations_manager:
        roles.append(ApprovalRole.OPERATIONS)
    return roles


def approval_roles_open_to(
    *, change: Change, user: User, given: list[Approval] | None = None
) -> list[str]:
    """The roles this user may still approve in the current round (none once they have
    given one: one person never gives two of the approvals a change needs). `given`: the
    change's `current_approvals`, when a list of many changes has read them in bulk."""
    held = approval_roles_held_by(change=change, user=user)
    if not held:
        return []
    if given is None:
        given = current_approvals(change=change)
    if any(a.by_id == user.pk for a in given):
        return []
    taken = {a.role for a in given}
    return [r for r in held if r not in taken]


def approval_refusal(*, change: Change, user: User) -> str:
    """Why `approval_roles_open_to` is empty for this user, in a sentence."""
    if not getattr(user, "is_provider", False):
        return (
            "Only provider staff give the QA, Peer and Operations approvals; "
            "the customer approves as Business."
        )
    given = current_approvals(change=change)
    mine = next((a for a in given if a.by_id == user.pk), None)
    if mine is not None:
        return (
            f"You already gave the {mine.get_role_display()} approval on this change; "
            "one person gives only one of its approvals."
        )
    held = approval_roles_held_by(change=change, user=user)
    if not held:
        return "You wrote this change; the Peer approval must come from someone else."
    by_role = {a.role: a for a in given}
    taken = ", ".join(
        f"{ApprovalRole(r).label} by {by_role[r].by.get_username()}" for r in held if r in by_role
    )
    return f"The approvals you may give are already given ({taken})."


def approval_give(*, change: Change, by: User, role: str, comment: str = "") -> bool:
    """Record `by`'s approval in `role`; answer whether all provider approvals are in."""
    if role not in [r.value for r in PROVIDER_ROLES]:
        raise InvalidInput(
            f"Unknown approval role '{role}'; use qa, peer or operations.",
            fields={"role": [f"'{role}' is not one of qa, peer, operations."]},
        )
    label = ApprovalRole(role).label
    if role == ApprovalRole.PEER and by.pk == change.author_id:
        raise PermissionRefused(
            "You wrote this change; the Peer approval must come from someone else."
        )
    if role == ApprovalRole.QA and not by.is_qa:
        raise PermissionRefused("Only a user with the QA role gives the QA approval.")
    if role == ApprovalRole.OPERATIONS and not by.is_operations_manager:
        raise PermissionRefused(
            "Only a user with the operations management role gives the Operations approval."
        )
    given = current_approvals(change=change)
    mine = next((a for a in given if a.by_id == by.pk), None)
    if mine is not None:
        raise PermissionRefused(
            f"You already gave the {mine.get_role_display()} approval on this change; "
            "one person gives only one of its approvals."
        )
    other = next((a for a in given if a.role == role), None)
    if other is not None:
        raise Conflict(f"The {label} approval was already given by {other.by.get_username()}.")
    Approval.objects.create(
        change=change,
        round=change.approval_round,
        role=role,
        decision=Decision.APPROVED,
        by=by,
        comment=comment,
    )
    return {a.role for a in given} | {role} >= {r.value for r in PROVIDER_ROLES}


def approval_give_business(*, change: Change, by: User, comment: str = "") -> None:
    Approval.objects.create(
        change=change,
        round=change.approval_round,
        role=ApprovalRole.BUSINESS,
        decision=Decision.APPROVED,
        by=by,
        comment=comment,
    )


def _close_round(*, change: Change, reason: str) -> None:
    Approval.objects.filter(
        change=change, round=change.approval_round, dismissed_at__isnull=True
    ).update(dismissed_at=timezone.now(), dismissed_reason=reason[:300])
    change.approval_round += 1


def approval_reject_round(*, change: Change, by: User, comment: str) -> None:
    """Record the rejection and clear every approval of the round."""
    role: str
    if getattr(by, "is_customer", False):
        role = ApprovalRole.BUSINESS
    else:
        held = approval_roles_held_by(change=change, user=by)
        role = held[0] if held else ApprovalRole.PEER
    Approval.objects.create(
        change=change,
        round=change.approval_round,
        role=role,
        decision=Decision.REJECTED,
        by=by,
        comment=comment,
    )
    _close_round(change=change, reason=f"Rejected by {by.get_username()}")


def approval_dismiss_round(*, change: Change, by: User, reason: str) -> None:
    """A section changed after approvals were given: they were given to another text."""
    _close_round(change=change, reason=reason or f"Edited by {by.get_username()}")
