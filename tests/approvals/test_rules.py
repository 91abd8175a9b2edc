"""The approval rules (approvals/rules.py) as plain functions over fake people.

No database except where a rule is a query (`could_approve_q`). Each test names the
sentence of WORKFLOW.md ("approve (role)", "reject", "(last provider approval)") it pins;
`make mutation` checks that these tests fail when the rule is taken out (docs/process.md,
"Mutation testing")."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from approvals import rules
from approvals.rules import BUSINESS, OPERATIONS, PEER, QA, ROUND_ROLES, Given

AUTHOR = 1


@dataclass(frozen=True)
class Person:
    """What `rules.Person` asks of a user, and nothing else."""

    pk: int
    name: str = ""
    is_active: bool = True
    is_qa: bool = False
    is_operations_manager: bool = False
    is_provider: bool = True

    def get_username(self) -> str:
        return self.name or f"user{self.pk}"


author = Person(AUTHOR, "author")  # a provider engineer without a role: wrote the change
qa = Person(2, "qa", is_qa=True)
ops = Person(3, "ops", is_operations_manager=True)
peer = Person(4, "peer")
qa_ops = Person(5, "qa_ops", is_qa=True, is_operations_manager=True)
customer = Person(6, "alice", is_provider=False)
# A customer account whose role flags are set anyway: being a customer must still win.
customer_flags = Person(7, "mallory", is_qa=True, is_operations_manager=True, is_provider=False)
author_qa = Person(AUTHOR, "author_qa", is_qa=True)


def given(*pairs: tuple[str, Person]) -> list[Given]:
    return [Given(role=r, by_id=p.pk, by_name=p.get_username()) for r, p in pairs]


# --------------------------------------------------------------------------- the round


def test_a_round_needs_qa_peer_and_operations() -> None:
    """§2.1: "Approval from Maestrano Quality Assurance, from a Maestrano Peer, from
    Maestrano Operations Management". Dropping QA (or any role) from the round fails here."""
    assert ROUND_ROLES == (QA, PEER, OPERATIONS)
    assert rules.round_complete([QA, PEER, OPERATIONS])
    assert rules.round_complete([OPERATIONS, QA, PEER, BUSINESS])


@pytest.mark.parametrize("missing", [QA, PEER, OPERATIONS])
def test_a_round_without_one_provider_approval_is_not_complete(missing: str) -> None:
    assert not rules.round_complete([r for r in (QA, PEER, OPERATIONS) if r != missing])


def test_an_empty_round_or_business_alone_is_not_complete() -> None:
    assert not rules.round_complete([])
    assert not rules.round_complete([BUSINESS])


def test_business_review_only_when_the_provider_performs() -> None:
    assert rules.needs_business_review("provider") is True
    assert rules.needs_business_review("customer") is False


# --------------------------------------------------------------------------- who holds


def test_qa_approval_needs_the_qa_role() -> None:
    assert rules.holds(qa, QA, author_id=AUTHOR)
    assert not rules.holds(peer, QA, author_id=AUTHOR)
    assert not rules.holds(ops, QA, author_id=AUTHOR)


def test_operations_approval_needs_the_operations_role() -> None:
    """WORKFLOW.md: Operations approval by operations management only. Removing the
    Operations-role check from the approval rules fails here."""
    assert rules.holds(ops, OPERATIONS, author_id=AUTHOR)
    assert not rules.holds(peer, OPERATIONS, author_id=AUTHOR)
    assert not rules.holds(qa, OPERATIONS, author_id=AUTHOR)
    assert rules.roles_held(peer, author_id=AUTHOR) == [PEER]
    assert OPERATIONS not in rules.roles_open(qa, author_id=AUTHOR, given=[])


def test_operations_approval_is_refused_to_anyone_without_the_role() -> None:
    for person in (peer, qa):
        assert rules.role_refusal(person, OPERATIONS, author_id=AUTHOR) == (
            "Only a user with the operations management role gives the Operations approval."
        )
    assert rules.role_refusal(ops, OPERATIONS, author_id=AUTHOR) is None


def test_qa_approval_is_refused_to_anyone_without_the_role() -> None:
    for person in (peer, ops):
        assert rules.role_refusal(person, QA, author_id=AUTHOR) == (
            "Only a user with the QA role gives the QA approval."
        )
    assert rules.role_refusal(qa, QA, author_id=AUTHOR) is None


def test_peer_is_anyone_but_the_author() -> None:
    """Four eyes: the Peer approval never comes from the author, whatever roles they hold."""
    for person in (peer, qa, ops):
        assert rules.holds(person, PEER, author_id=AUTHOR)
        assert rules.role_refusal(person, PEER, author_id=AUTHOR) is None
    assert not rules.holds(author, PEER, author_id=AUTHOR)
    assert not rules.holds(author_qa, PEER, author_id=AUTHOR)
    assert rules.role_refusal(author_qa, PEER, author_id=AUTHOR) == (
        "You wrote this change; the Peer approval must come from someone else."
    )


def test_the_author_may_still_give_a_role_they_hold() -> None:
    assert rules.roles_held(author_qa, author_id=AUTHOR) == [QA]
    assert rules.role_refusal(author_qa, QA, author_id=AUTHOR) is None


def test_customers_and_inactive_users_hold_no_approval_role() -> None:
    for person in (customer, customer_flags):
        for role in ROUND_ROLES:
            assert not rules.holds(person, role, author_id=AUTHOR)
            assert rules.role_refusal(person, role, author_id=AUTHOR) == (
                "Only provider staff give the QA, Peer and Operations approvals; "
                "the customer approves as Business."
            )
    gone = Person(8, "gone", is_active=False, is_qa=True, is_operations_manager=True)
    assert rules.roles_held(gone, author_id=AUTHOR) == []
    # Something that is not a user at all (no `is_provider`) holds nothing either.
    nobody = SimpleNamespace(pk=9, is_active=True, is_qa=True, is_operations_manager=True)
    assert rules.roles_held(nobody, author_id=AUTHOR) == []  # type: ignore[arg-type]
    assert rules.role_refusal(nobody, QA, author_id=AUTHOR) is not None  # type: ignore[arg-type]


def test_business_is_not_a_role_provider_staff_hold() -> None:
    assert not rules.holds(qa_ops, BUSINESS, author_id=AUTHOR)
    assert rules.role_refusal(qa_ops, BUSINESS, author_id=AUTHOR) == (
        "'business' is not an approval provider staff give; use qa, peer or operations."
    )
    assert rules.role_refusal(qa_ops, "boss", author_id=AUTHOR) == (
        "'boss' is not an approval provider staff give; use qa, peer or operations."
    )


def test_roles_held_in_the_order_shown() -> None:
    assert rules.roles_held(qa_ops, author_id=AUTHOR) == [QA, PEER, OPERATIONS]
    assert rules.roles_held(qa, author_id=AUTHOR) == [QA, PEER]
    assert rules.roles_held(ops, author_id=AUTHOR) == [PEER, OPERATIONS]
    assert rules.roles_held(author, author_id=AUTHOR) == []


# --------------------------------------------------------------------------- this round


def test_one_person_gives_only_one_approval_of_a_round() -> None:
    """Segregation of duties: once qa_ops gave QA, Peer and Operations are closed to them."""
    round_ = given((QA, qa_ops))
    assert rules.roles_open(qa_ops, author_id=AUTHOR, given=round_) == []
    assert not rules.may_approve(qa_ops, author_id=AUTHOR, given=round_)
    assert rules.second_approval_refusal(qa_ops, given=round_) == (
        "You already gave the QA approval on this change; "
        "one person gives only one of its approvals."
    )
    assert rules.second_approval_refusal(peer, given=round_) is None


def test_second_approval_refusal_names_the_role_given() -> None:
    assert rules.second_approval_refusal(ops, given=given((QA, qa), (OPERATIONS, ops))) == (
        "You already gave the Operations approval on this change; "
        "one person gives only one of its approvals."
    )
    odd = [Given(role="custom", by_id=ops.pk)]
    assert "the custom approval" in (rules.second_approval_refusal(ops, given=odd) or "")


def test_roles_taken_by_others_are_not_open() -> None:
    round_ = given((QA, qa), (PEER, peer))
    assert rules.roles_open(qa_ops, author_id=AUTHOR, given=round_) == [OPERATIONS]
    assert rules.roles_open(ops, author_id=AUTHOR, given=round_) == [OPERATIONS]
    assert rules.roles_open(qa_ops, author_id=AUTHOR, given=iter(round_)) == [OPERATIONS]
    assert rules.roles_open(qa_ops, author_id=AUTHOR, given=[]) == [QA, PEER, OPERATIONS]
    # Never Peer for the author, even with nothing given yet.
    assert rules.roles_open(author_qa, author_id=AUTHOR, given=[]) == [QA]


def test_may_approve_while_holding_a_role_and_having_given_none() -> None:
    round_ = given((QA, qa))
    assert rules.may_approve(ops, author_id=AUTHOR, given=round_)
    # Whether the role is still free is the state's question (409), not the person's.
    assert rules.may_approve(qa_ops, author_id=AUTHOR, given=given((QA, qa), (PEER, peer)))
    assert rules.may_approve(ops, author_id=AUTHOR, given=iter(round_))
    assert not rules.may_approve(qa, author_id=AUTHOR, given=iter(round_))
    assert not rules.may_approve(author, author_id=AUTHOR, given=[])
    assert not rules.may_approve(customer, author_id=AUTHOR, given=[])


def test_role_taken() -> None:
    round_ = given((QA, qa), (PEER, peer))
    assert rules.role_taken(PEER, given=round_) == round_[1]
    assert rules.role_taken(OPERATIONS, given=round_) is None


# --------------------------------------------------------------------------- the refusal


def test_refusal_names_the_role_asked_for() -> None:
    assert rules.refusal(peer, author_id=AUTHOR, given=[], role=OPERATIONS) == (
        "Only a user with the operations management role gives the Operations approval."
    )
    assert rules.refusal(peer, author_id=AUTHOR, given=[], role=QA) == (
        "Only a user with the QA role gives the QA approval."
    )
    assert rules.refusal(author_qa, author_id=AUTHOR, given=[], role=PEER) == (
        "You wrote this change; the Peer approval must come from someone else."
    )


def test_refusal_for_a_customer_without_a_role_asked() -> None:
    assert rules.refusal(customer, author_id=AUTHOR, given=[], role=None) == (
        "Only provider staff give the QA, Peer and Operations approvals; "
        "the customer approves as Business."
    )


def test_refusal_for_someone_not_signed_in() -> None:
    """An anonymous user has no `is_provider` at all: refused as not provider staff."""
    from django.contrib.auth.models import AnonymousUser

    anonymous = AnonymousUser()
    expected = (
        "Only provider staff give the QA, Peer and Operations approvals; "
        "the customer approves as Business."
    )
    assert rules.refusal(anonymous, author_id=AUTHOR, given=[], role=None) == expected
    assert rules.refusal(anonymous, author_id=AUTHOR, given=[], role=QA) == expected
    assert not rules.may_approve(anonymous, author_id=AUTHOR, given=[])


def test_refusal_for_a_second_approval() -> None:
    round_ = given((QA, qa))
    expected = (
        "You already gave the QA approval on this change; "
        "one person gives only one of its approvals."
    )
    assert rules.refusal(qa, author_id=AUTHOR, given=iter(round_), role=PEER) == expected
    assert rules.refusal(qa, author_id=AUTHOR, given=round_, role=None) == expected


def test_refusal_for_a_role_already_given() -> None:
    round_ = given((QA, qa), (PEER, peer))
    assert rules.refusal(qa_ops, author_id=AUTHOR, given=round_, role=PEER) == (
        "The Peer approval was already given by peer."
    )
    anonymous = [Given(role=PEER, by_id=peer.pk)]
    assert rules.refusal(qa_ops, author_id=AUTHOR, given=anonymous, role=PEER) == (
        "The Peer approval was already given by someone."
    )


def test_refusal_for_the_author_without_a_role() -> None:
    assert rules.refusal(author, author_id=AUTHOR, given=[], role=None) == (
        "You wrote this change; the Peer approval must come from someone else."
    )


def test_refusal_when_every_role_held_is_taken() -> None:
    round_ = [*given((QA, qa), (PEER, peer)), Given(role=OPERATIONS, by_id=ops.pk)]
    assert rules.refusal(qa_ops, author_id=AUTHOR, given=round_, role=None) == (
        "The approvals you may give are already given "
        "(QA by qa, Peer by peer, Operations by someone)."
    )
    # Only the roles this person holds are listed.
    ops2 = Person(10, "ops2", is_operations_manager=True)
    assert rules.refusal(ops2, author_id=AUTHOR, given=round_, role=None) == (
        "The approvals you may give are already given (Peer by peer, Operations by someone)."
    )


# --------------------------------------------------------------------------- rejecting


def test_reject_is_for_approvers_and_the_customer() -> None:
    for person in (qa, ops, peer):
        assert rules.may_reject(person, author_id=AUTHOR, is_customer_of_change=False)
    assert rules.may_reject(customer, author_id=AUTHOR, is_customer_of_change=True)
    assert not rules.may_reject(customer, author_id=AUTHOR, is_customer_of_change=False)
    assert not rules.may_reject(author, author_id=AUTHOR, is_customer_of_change=False)


def test_a_rejection_is_recorded_under_business_or_the_first_role_held() -> None:
    assert rules.reject_role(customer, author_id=AUTHOR, is_customer=True) == BUSINESS
    assert rules.reject_role(qa_ops, author_id=AUTHOR, is_customer=False) == QA
    assert rules.reject_role(ops, author_id=AUTHOR, is_customer=False) == PEER
    assert rules.reject_role(author_qa, author_id=AUTHOR, is_customer=False) == QA
    # The author holds no Peer role: an author in operations rejects as Operations.
    author_ops = Person(AUTHOR, "author_ops", is_operations_manager=True)
    assert rules.reject_role(author_ops, author_id=AUTHOR, is_customer=False) == OPERATIONS


# --------------------------------------------------------------------------- reading rows


def _row(role: Any, by: Person, *, with_by: bool) -> SimpleNamespace:
    cache = {"by": by} if with_by else {}
    return SimpleNamespace(role=role, by_id=by.pk, _state=SimpleNamespace(fields_cache=cache))


def test_given_from_reads_the_name_only_when_the_row_carries_it() -> None:
    from approvals.models import ApprovalRole

    rows = [_row(ApprovalRole.QA, qa, with_by=True), _row("peer", peer, with_by=False)]
    assert rules.given_from(rows) == [
        Given(role="qa", by_id=qa.pk, by_name="qa"),
        Given(role="peer", by_id=peer.pk, by_name=""),
    ]
    assert type(rules.given_from(rows)[0].role) is str


# --------------------------------------------------------------------------- whom to ask


@pytest.mark.django_db
def test_could_approve_q_selects_exactly_who_holds_a_role() -> None:
    """The notification's "whom do we ask" query mirrors `holds`, user by user."""
    from tests.factories import CustomerUserFactory, UserFactory
    from tickets.models import User

    writer = UserFactory(username="writer")
    people = [
        writer,
        UserFactory(username="writer_qa_twin", is_qa=True),
        UserFactory(username="q", is_qa=True),
        UserFactory(username="o", is_operations_manager=True),
        UserFactory(username="p"),
        UserFactory(username="gone", is_qa=True, is_active=False),
        CustomerUserFactory(username="c"),
    ]
    chosen = set(
        User.objects.filter(rules.could_approve_q(author_id=writer.pk)).values_list(
            "username", flat=True
        )
    )
    assert chosen == {"writer_qa_twin", "q", "o", "p"}
    assert chosen == {p.username for p in people if rules.roles_held(p, author_id=writer.pk)}
    # The author is asked too when they hold QA or Operations themselves.
    writer.is_qa = True
    writer.save()
    assert User.objects.filter(rules.could_approve_q(author_id=writer.pk), pk=writer.pk).exists()
    writer.is_qa, writer.is_operations_manager = False, True
    writer.save()
    assert User.objects.filter(rules.could_approve_q(author_id=writer.pk), pk=writer.pk).exists()
