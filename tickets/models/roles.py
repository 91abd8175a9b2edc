"""Who may take a transition or make an edit: the `Role` objects the state machines
and the services ask, each with the sentence that refuses. Approval rules themselves
live in `approvals.rules`; these only read the change and ask them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from approvals import rules as approval_rules
from approvals.models import Approval

from ..workflow import Role
from .choices import Performer
from .people import User

if TYPE_CHECKING:
    from .changes import Change


def _is_provider(user: Any) -> bool:
    return bool(getattr(user, "kind", None) == User.Kind.PROVIDER)


def _is_customer_of(instance: Any, user: Any) -> bool:
    return bool(
        getattr(user, "kind", None) == User.Kind.CUSTOMER
        and user.organization_id == instance.organization_id
    )


PROVIDER = Role("provider staff", lambda i, u: _is_provider(u), "Only provider staff may do this.")
CUSTOMER = Role(
    "customer",
    _is_customer_of,
    "Only a user of the customer organisation may do this.",
)
PROVIDER_OR_CUSTOMER = Role(
    "provider staff or the customer",
    lambda i, u: _is_provider(u) or _is_customer_of(i, u),
    "Only provider staff or the customer may do this.",
)


def _performer_side(change: Change, user: Any) -> bool:
    if change.performer == Performer.CUSTOMER:
        return _is_customer_of(change, user)
    return _is_provider(user)


def _rollback_side(change: Change, user: Any) -> bool:
    return _is_provider(user) or (
        change.performer == Performer.CUSTOMER and _is_customer_of(change, user)
    )


def _window_agreeing_side(change: Change, user: Any) -> bool:
    proposer = change.window_proposed_by
    if proposer is None:
        return _is_provider(user) or _is_customer_of(change, user)
    if proposer.is_provider:
        return _is_customer_of(change, user)
    return _is_provider(user)


def _given(change: Change) -> list[approval_rules.Given]:
    return Approval.objects.given(change)


def _approver(change: Change, user: Any) -> bool:
    # Whether a role is still free this round is a matter of state (409), not of who the
    # user is (403): the `approve` transition answers that one.
    return approval_rules.may_approve(user, author_id=change.author_id, given=_given(change))


def _approver_refusal(change: Change, user: Any, params: dict[str, Any]) -> str:
    return approval_rules.refusal(
        user, author_id=change.author_id, given=_given(change), role=params.get("role")
    )


def _may_reject(change: Change, user: Any) -> bool:
    return approval_rules.may_reject(
        user, author_id=change.author_id, is_customer_of_change=_is_customer_of(change, user)
    )


def _section_editor(change: Change, user: Any) -> bool:
    return _is_provider(user) or (
        change.performer == Performer.CUSTOMER and _is_customer_of(change, user)
    )


def _result_recorder(change: Change, user: Any) -> bool:
    # The customer tests (§2.2), "+ Maestrano QA if needed"; support agents record what
    # the customer reports on their behalf.
    return _is_customer_of(change, user) or (
        _is_provider(user) and (user.is_qa or user.is_support_agent)
    )


SUBMITTER = Role(
    "provider staff (or the customer, for a customer-performed change)",
    lambda c, u: _is_provider(u) or (c.performer == Performer.CUSTOMER and _is_customer_of(c, u)),
    "Only provider staff may submit this change; the customer submits only changes they perform.",
)
APPROVER = Role("approver (QA, Peer or Operations)", _approver, _approver_refusal)
REJECTER = Role(
    "approver or the customer",
    _may_reject,
    "Only an approver (QA, Peer, Operations) or the customer may reject this change.",
)
PERFORMER_SIDE = Role(
    "performer's side",
    _performer_side,
    lambda c, u: (
        f"This change is performed by the customer; only a user of {c.organization} may perform it."
        if c.performer == Performer.CUSTOMER
        else "This change is performed by the provider; only provider staff may perform it."
    ),
)
ROLLBACK_SIDE = Role(
    "provider (or the customer, for a customer-performed change)",
    _rollback_side,
    "Only provider staff may roll back a change the provider performs.",
)
SECTION_EDITOR = Role(
    "provider staff (or the customer, for a customer-performed change)",
    _section_editor,
    "Only provider staff edit this change; the customer edits only changes they perform.",
)
# The checklist is filled in by whoever may edit the sections: provider staff, and the
# customer for a change they perform themselves.
CHECKLIST_FILLER = Role(
    "side that performs the change",
    _section_editor,
    "Only the side that performs the change (or provider staff) fills in its checklist.",
)
WINDOW_PROPOSER = Role(
    "provider staff or the customer",
    lambda c, u: _is_provider(u) or _is_customer_of(c, u),
    "Only provider staff or the customer propose a window.",
)
RESULT_RECORDER = Role(
    "customer, QA or a support agent",
    _result_recorder,
    "Only the customer, QA or a support agent record test results.",
)
WINDOW_AGREER = Role(
    "side that did not propose the window",
    _window_agreeing_side,
    lambda c, u: (
        "The window must be agreed by the other side than the one that proposed it "
        f"({c.window_proposed_by.get_kind_display() if c.window_proposed_by else 'nobody'})."
    ),
)
