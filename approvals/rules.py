"""Who may give which approval, and when a round is complete: the one home of these rules.

Pure functions over plain values (a person's flags, the change's author, the approvals
already given this round): nothing here reads the database or imports `tickets`. The
change's transitions (guards and role checks), the services, the notifications ("whom do
we ask") and the pages all ask these functions, so a rule changes in one place.

WORKFLOW.md, "approve (role)": QA / Peer / Operations; role held; not the author for
Peer; not already an approver of this change in another role (segregation of duties).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from django.db.models import Q

# The roles, as stored on an Approval (`approvals.models.ApprovalRole` uses these values).
QA = "qa"
PEER = "peer"
OPERATIONS = "operations"
BUSINESS = "business"

#: The provider approvals every round needs, in the order they are shown.
ROUND_ROLES: tuple[str, ...] = (QA, PEER, OPERATIONS)

LABELS = {QA: "QA", PEER: "Peer", OPERATIONS: "Operations", BUSINESS: "Business"}


class Person(Protocol):
    """What the rules need to know of a user."""

    pk: Any
    is_active: bool
    is_qa: bool
    is_operations_manager: bool

    @property
    def is_provider(self) -> bool: ...

    def get_username(self) -> str: ...


@dataclass(frozen=True)
class Given:
    """An approval given in the current round: its role and who gave it."""

    role: str
    by_id: Any
    by_name: str = ""


def given_from(approvals: Iterable[Any]) -> list[Given]:
    """`Given` rows from Approval rows. The approver's name is taken only when the row
    was read with its `by` (select_related): never a query per row."""
    out = []
    for a in approvals:
        by = a._state.fields_cache.get("by")
        out.append(Given(role=str(a.role), by_id=a.by_id, by_name=by.get_username() if by else ""))
    return out


def holds(person: Person, role: str, *, author_id: Any) -> bool:
    """Whether `person` holds `role` on a change written by `author_id` (whatever was
    given already)."""
    if not getattr(person, "is_provider", False) or not person.is_active:
        return False
    if role == QA:
        return bool(person.is_qa)
    if role == PEER:
        # Four eyes: any provider engineer but the change's author.
        return person.pk != author_id
    if role == OPERATIONS:
        return bool(person.is_operations_manager)
    return False


def roles_held(person: Person, *, author_id: Any) -> list[str]:
    """The provider approval roles `person` could give on such a change at all."""
    return [r for r in ROUND_ROLES if holds(person, r, author_id=author_id)]


def could_approve_q(*, author_id: Any) -> Q:
    """The users who hold at least one approval role on a change by `author_id`, as a
    filter over the user model: whom an approval request goes to. Mirrors `holds`."""
    return Q(kind="provider", is_active=True) & (
        Q(is_qa=True) | Q(is_operations_manager=True) | ~Q(pk=author_id)
    )


def holds_q(person: Person, role: str, *, author_field: str = "author_id") -> Q:
    """`holds` as a filter over changes: those on which `person` holds `role` (whatever
    was given already). `approvals.selectors.approvable_by_q` adds the round. Mirrors
    `holds`."""
    never = Q(pk__in=[])
    if not getattr(person, "is_provider", False) or not person.is_active:
        return never
    if role == PEER:
        return ~Q(**{author_field: person.pk})
    return Q() if role in ROUND_ROLES and holds(person, role, author_id=None) else never


def roles_open(person: Person, *, author_id: Any, given: Iterable[Given]) -> list[str]:
    """The roles `person` may still give this round: none once they gave one (one person
    never gives two of a change's approvals), and none already given by someone else."""
    given = list(given)
    if any(g.by_id == person.pk for g in given):
        return []
    taken = {g.role for g in given}
    return [r for r in roles_held(person, author_id=author_id) if r not in taken]


def may_approve(person: Person, *, author_id: Any, given: Iterable[Given]) -> bool:
    """Whether `person` is, now, someone who may approve (in some role)."""
    given = list(given)
    return bool(roles_held(person, author_id=author_id)) and all(
        g.by_id != person.pk for g in given
    )


def role_refusal(person: Person, role: str, *, author_id: Any) -> str | None:
    """Why `person` may not give `role` by who they are (403), naming the rule; None if
    they hold it. Whether it is still free this round is `role_taken`'s question."""
    if not getattr(person, "is_provider", False):
        return (
            "Only provider staff give the QA, Peer and Operations approvals; "
            "the customer approves as Business."
        )
    if role == QA and not person.is_qa:
        return "Only a user with the QA role gives the QA approval."
    if role == OPERATIONS and not person.is_operations_manager:
        return "Only a user with the operations management role gives the Operations approval."
    if role == PEER and person.pk == author_id:
        return "You wrote this change; the Peer approval must come from someone else."
    if role not in ROUND_ROLES:
        return f"'{role}' is not an approval provider staff give; use qa, peer or operations."
    return None


def second_approval_refusal(person: Person, *, given: Iterable[Given]) -> str | None:
    """Segregation of duties: the refusal when `person` already gave an approval of
    this round, else None."""
    mine = next((g for g in given if g.by_id == person.pk), None)
    if mine is None:
        return None
    return (
        f"You already gave the {LABELS.get(mine.role, mine.role)} approval on this change; "
        "one person gives only one of its approvals."
    )


def role_taken(role: str, *, given: Iterable[Given]) -> Given | None:
    """The approval already given in `role` this round (a 409: the state, not the person)."""
    return next((g for g in given if g.role == role), None)


def refusal(person: Person, *, author_id: Any, given: Iterable[Given], role: str | None) -> str:
    """The sentence for a person who may not approve now, naming the rule that refuses:
    the role asked for if known, else why no role is open to them."""
    given = list(given)
    reason = role_refusal(person, role, author_id=author_id) if role else None
    if reason is None and not getattr(person, "is_provider", False):
        reason = role_refusal(person, QA, author_id=author_id)
    reason = reason or second_approval_refusal(person, given=given)
    if reason:
        return reason
    if role and (taken := role_taken(role, given=given)) is not None:
        return f"The {LABELS[role]} approval was already given by {taken.by_name or 'someone'}."
    if not person.is_active:
        return "Your account is inactive; an inactive account gives no approval."
    held = roles_held(person, author_id=author_id)
    if not held:
        return "You wrote this change; the Peer approval must come from someone else."
    return (
        "The approvals you may give are already given ("
        + ", ".join(
            f"{LABELS[g.role]} by {g.by_name or 'someone'}" for g in given if g.role in held
        )
        + ")."
    )


def round_complete(roles_given: Iterable[str]) -> bool:
    """A round is complete when every provider role has its approval."""
    return set(ROUND_ROLES) <= set(roles_given)


def needs_business_review(performer: str) -> bool:
    """§2.1: when the provider performs the change, the customer validates it (Business)
    after the provider approvals; a customer-performed change needs no such review."""
    return performer == "provider"


def reject_role(person: Person, *, author_id: Any, is_customer: bool) -> str:
    """The role a rejection is recorded under: Business for the customer, else the first
    approval role the person holds."""
    if is_customer:
        return BUSINESS
    held = roles_held(person, author_id=author_id)
    return held[0] if held else PEER


def may_reject(person: Person, *, author_id: Any, is_customer_of_change: bool) -> bool:
    """WORKFLOW.md, reject: any approver (someone holding an approval role), or the
    customer."""
    return is_customer_of_change or bool(roles_held(person, author_id=author_id))
