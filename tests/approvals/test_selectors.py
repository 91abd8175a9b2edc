"""`approvable_by_q`, the SQL form of `rules.roles_open`: for every person and change, the
changes it selects are exactly those on which the rules leave the person a role open."""

from __future__ import annotations

from approvals.models import Approval
from approvals.selectors import approvable_by_q, approval_roles_open_to
from tests.factories import ChangeFactory, UserFactory
from tickets.models import Change
from tickets.services import change_transition

C = Change.S


def test_approvable_by_q_mirrors_roles_open(cast) -> None:
    qa_ops = UserFactory(username="qa_ops", is_qa=True, is_operations_manager=True)
    gone = UserFactory(username="gone", is_qa=True, is_active=False)
    people = [cast.agent, cast.agent2, cast.qa, cast.peer, cast.ops, qa_ops, gone, cast.alice]
    changes = [
        ChangeFactory(organization=cast.acme, author=author, status=C.AWAITING_APPROVAL)
        for author in (cast.agent, cast.qa, cast.ops, qa_ops)
    ]
    # Rounds part given: QA on one, Peer on another, QA and Peer on a third, and a round
    # given by someone then dismissed (a past round does not count).
    change_transition(change=changes[0].pk, by=cast.qa, name="approve", role="qa")
    change_transition(change=changes[1].pk, by=cast.peer, name="approve", role="peer")
    change_transition(change=changes[2].pk, by=qa_ops, name="approve", role="qa")
    change_transition(change=changes[2].pk, by=cast.agent2, name="approve", role="peer")
    changes[3].approval_round += 1
    changes[3].save(update_fields=["approval_round"])
    Approval.objects.create(change=changes[3], round=1, role="qa", decision="approved", by=cast.qa)

    for person in people:
        selected = set(Change.objects.filter(approvable_by_q(person)).values_list("pk", flat=True))
        expected = {
            c.pk
            for c in Change.objects.filter(pk__in=[c.pk for c in changes])
            if approval_roles_open_to(change=c, user=person)
        }
        assert selected == expected, person.username
