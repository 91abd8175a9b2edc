"""Approvals on a change, through the services: who may give which (the rules of
`approvals/rules.py` as the `approve` transition applies them), one approval per person
and per role in a round, and how a rejection or an edit ends the round."""

from __future__ import annotations

import pytest

from approvals.models import Approval, Decision
from tests.factories import ChangeFactory, approve_all
from tickets.errors import Conflict, InvalidInput, PermissionRefused
from tickets.models import Change, TransitionLog
from tickets.services import change_transition, change_update

C = Change.S


def _draft(cast, **kwargs):
    return ChangeFactory(organization=cast.acme, author=cast.agent, **kwargs)


def test_author_peer_approval_is_refused(cast) -> None:
    change = _draft(cast, status=C.AWAITING_APPROVAL)
    cast.agent.is_qa = True
    cast.agent.save()
    with pytest.raises(PermissionRefused, match="You wrote this change; the Peer approval"):
        change_transition(change=change.pk, by=cast.agent, name="approve", role="peer")
    assert not Approval.objects.filter(change=change).exists()


def test_one_person_gives_one_approval_per_change(cast) -> None:
    change = _draft(cast, status=C.AWAITING_APPROVAL)
    cast.qa.is_operations_manager = True
    cast.qa.save()
    change_transition(change=change.pk, by=cast.qa, name="approve", role="qa")
    with pytest.raises(PermissionRefused, match="already gave the QA approval"):
        change_transition(change=change.pk, by=cast.qa, name="approve", role="operations")
    assert Approval.objects.filter(change=change).count() == 1


def test_a_role_is_approved_once_per_round(cast) -> None:
    change = _draft(cast, status=C.AWAITING_APPROVAL)
    change_transition(change=change.pk, by=cast.peer, name="approve", role="peer")
    with pytest.raises(Conflict, match="Peer approval was already given by peer"):
        change_transition(change=change.pk, by=cast.agent2, name="approve", role="peer")


def test_approval_role_must_be_held(cast) -> None:
    change = _draft(cast, status=C.AWAITING_APPROVAL)
    with pytest.raises(PermissionRefused, match="QA role"):
        change_transition(change=change.pk, by=cast.peer, name="approve", role="qa")
    with pytest.raises(InvalidInput, match="Unknown approval role"):
        change_transition(change=change.pk, by=cast.peer, name="approve", role="boss")


def test_rejection_clears_the_round(cast) -> None:
    change = _draft(cast, status=C.AWAITING_APPROVAL)
    change_transition(change=change.pk, by=cast.qa, name="approve", role="qa")
    change_transition(change=change.pk, by=cast.peer, name="approve", role="peer")
    with pytest.raises(InvalidInput, match="comment"):
        change_transition(change=change.pk, by=cast.ops, name="reject")
    change_transition(change=change.pk, by=cast.ops, name="reject", comment="No rollback test.")
    change.refresh_from_db()
    assert change.status == C.DRAFT
    assert change.approval_round == 2
    old = Approval.objects.filter(change=change, round=1, decision=Decision.APPROVED)
    assert old.count() == 2
    assert all(a.dismissed_at is not None for a in old)
    # The next round starts empty: the same people approve again.
    change_transition(change=change.pk, by=cast.agent, name="submit")
    change_transition(change=change.pk, by=cast.qa, name="approve", role="qa")
    assert Approval.objects.filter(change=change, round=2, decision=Decision.APPROVED).count() == 1


def test_customer_rejects_in_business_review_with_a_comment(cast) -> None:
    change = _draft(cast, status=C.TO_BE_REVIEWED_BY_BUSINESS)
    approve_all(change, qa=cast.qa, peer=cast.peer, ops=cast.ops)
    change_transition(change=change.pk, by=cast.alice, name="reject", comment="Not in December.")
    change.refresh_from_db()
    assert change.status == C.DRAFT
    rejection = Approval.objects.get(change=change, decision=Decision.REJECTED)
    assert (rejection.role, rejection.by, rejection.comment) == (
        "business",
        cast.alice,
        "Not in December.",
    )


def test_edit_after_approval_dismisses_the_round(cast) -> None:
    change = _draft(cast, status=C.AWAITING_APPROVAL)
    change_transition(change=change.pk, by=cast.qa, name="approve", role="qa")
    change_update(
        change=change.pk,
        by=cast.agent,
        deployment_procedure="1. Deploy. 2. Migrate. 3. Warm caches.",
    )
    change.refresh_from_db()
    assert change.status == C.AWAITING_APPROVAL
    assert change.approval_round == 2
    assert Approval.objects.get(change=change).dismissed_at is not None
    log = TransitionLog.objects.get(change=change, transition="dismiss_approvals")
    assert "6. Deployment procedure" in log.comment
    assert log.actor == cast.agent


def test_edit_before_any_approval_keeps_the_round(cast) -> None:
    change = _draft(cast, status=C.AWAITING_APPROVAL)
    change_update(change=change.pk, by=cast.agent, changelog="Bug fixes:\n- VAT")
    change.refresh_from_db()
    assert change.approval_round == 1
    assert not TransitionLog.objects.filter(change=change).exists()
    assert change.edits.get().field == "changelog"


def test_a_closed_round_keeps_why_it_ended(cast) -> None:
    """The dismissed approvals say why their round ended: the rejection, or the edit and
    the sections it touched."""
    rejected = _draft(cast, status=C.AWAITING_APPROVAL)
    change_transition(change=rejected.pk, by=cast.qa, name="approve", role="qa")
    change_transition(change=rejected.pk, by=cast.ops, name="reject", comment="No rollback.")
    reasons = set(
        Approval.objects.filter(change=rejected).values_list("dismissed_reason", flat=True)
    )
    assert reasons == {"Rejected by ops"}

    edited = _draft(cast, status=C.AWAITING_APPROVAL)
    change_transition(change=edited.pk, by=cast.qa, name="approve", role="qa")
    change_update(change=edited.pk, by=cast.agent, rollback_procedure="1. Restore the backup.")
    assert Approval.objects.get(change=edited).dismissed_reason == (
        "Edited after approval: 7. Rollback procedure."
    )


def test_closing_a_round_leaves_other_changes_approvals_alone(cast) -> None:
    """Two changes in their first round: rejecting one dismisses only its own approvals."""
    rejected = _draft(cast, status=C.AWAITING_APPROVAL)
    other = _draft(cast, status=C.AWAITING_APPROVAL)
    change_transition(change=rejected.pk, by=cast.qa, name="approve", role="qa")
    change_transition(change=other.pk, by=cast.qa, name="approve", role="qa")
    change_transition(change=rejected.pk, by=cast.ops, name="reject", comment="No rollback.")
    kept = Approval.objects.get(change=other)
    assert (kept.dismissed_at, kept.dismissed_reason) == (None, "")
    other.refresh_from_db()
    assert [a.role for a in Approval.objects.current(other)] == ["qa"]
