"""Reads of approvals, always through the change's visibility (the caller fetched the
change for the user). Who may approve is `approvals.rules`; these only gather its input."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce

from . import rules
from .models import Approval, ApprovalRole, Decision, prefetched

if TYPE_CHECKING:
    from tickets.models import Change


def with_approvals(*, who: bool = True) -> Prefetch:
    """For `prefetch_related` on a change's page: every approval of the change, every
    round, with who gave it, in one query. The panel, the approve option and its refusal
    then read these rows (`models.prefetched`) instead of a query each. `who=False` for a
    page that reads the people afterwards (`tickets.selectors.read_people`)."""
    approvals = Approval.objects.all()
    return Prefetch("approvals", queryset=approvals.select_related("by") if who else approvals)


def given_now_count() -> Coalesce:
    """For an annotation over changes: how many approvals count now on each (`Approval.
    objects.current`, for the outer change), 0 for none. PostgreSQL counts them per row
    shown through the index of one approval per role and round; a list that shows only
    the number builds no approval."""
    given = (
        Approval.objects.standing()
        .filter(change=OuterRef("pk"), round=OuterRef("approval_round"))
        .order_by()
        .values("change")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(given), 0)


def current_approvals(*, change: Change) -> list[Approval]:
    """The approvals that count now: approved, in the change's current round."""
    return Approval.objects.current_rows(change)


def approval_roles_open_to(
    *, change: Change, user: Any, given: list[Approval] | None = None
) -> list[str]:
    """The roles this user may still approve in the current round. `given`: the change's
    `current_approvals`, when a list of many changes has read them in bulk."""
    rows = current_approvals(change=change) if given is None else given
    return rules.roles_open(user, author_id=change.author_id, given=rules.given_from(rows))


def approvable_by_q(user: Any) -> Q:
    """`rules.roles_open` as a filter over changes: those on which `user` may still give
    an approval this round (a role they hold and nobody gave yet, and none given by them).
    Lists of changes to approve filter and count with it in SQL, then ask
    `approval_roles_open_to` for the few rows they show."""
    current = Approval.objects.filter(
        change=OuterRef("pk"), round=OuterRef("approval_round"), decision=Decision.APPROVED
    )
    held = [
        rules.holds_q(user, role) & Q(~Exists(current.filter(role=role)))
        for role in rules.ROUND_ROLES
    ]
    open_role = held[0]
    for q in held[1:]:
        open_role |= q
    return open_role & Q(~Exists(current.filter(by_id=user.pk)))


def approval_refusal(*, change: Change, user: Any, role: str | None = None) -> str:
    """Why this user may not approve (in `role`, if named) now, naming the rule."""
    return rules.refusal(
        user, author_id=change.author_id, given=Approval.objects.given(change), role=role
    )


@dataclass(frozen=True)
class RoleSlot:
    """One line of a change's approvals panel: a role, and where it stands this round."""

    role: str
    label: str
    approval: Approval | None  # given this round
    dismissed: tuple[Approval, ...]  # given in earlier rounds, then dismissed


def approvals_panel(*, change: Change) -> list[RoleSlot]:
    """The approvals a change needs (Business only when the customer reviews it), in one
    query (none when the change was read `with_approvals`)."""
    rows = prefetched(change)
    if rows is None:
        rows = list(Approval.objects.filter(change=change).select_related("by"))
    roles = list(rules.ROUND_ROLES)
    if rules.needs_business_review(change.performer):
        roles.append(rules.BUSINESS)
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
        label = ApprovalRole(role).label
        slots.append(RoleSlot(role=role, label=label, approval=current, dismissed=dismissed))
    return slots
