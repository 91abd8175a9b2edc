"""What a change says about itself, pinned to the sentence a person reads: the sections
that keep it from being complete, why a close cannot be successful, who edits it, who
records results, who approves. Written for the mutants `make mutation` left alive in
tickets/models/ (docs/process.md, "Mutation testing")."""

from __future__ import annotations

import pytest

from approvals.models import Approval, Decision
from tests.factories import ChangeFactory, CustomerUserFactory, TicketFactory, UserFactory
from tickets.models import (
    APPROVER,
    RESULT_RECORDER,
    SECTION_EDITOR,
    Change,
    Performer,
    ReleasedTicket,
    ScenarioResult,
    TransitionLog,
)
from tickets.services import change_transition

C = Change.S


def test_a_blank_change_lacks_every_section_but_the_tickets(cast) -> None:
    change = ChangeFactory(
        organization=cast.acme,
        sections=False,
        summary="",
        impact="",
        outage_expected=None,
        changelog="",
        deployment_procedure="",
        rollback_procedure="",
    )
    assert change.incomplete_sections() == [
        (1, "Summary", "a title and a summary"),
        (2, "Components impacted", "at least one component"),
        (3, "Impact", "whether an outage is expected, and what end users will notice"),
        (5, "Changelog", "a changelog"),
        (6, "Deployment procedure", "a deployment procedure"),
        (7, "Rollback procedure", "a rollback procedure"),
        (8, "Test scenarios", "at least one progression and one regression scenario"),
        (
            9,
            "Checklist",
            "the checklist items Unit tests, Regression testing, Progression testing, "
            "Performance testing",
        ),
    ]
    assert change.incomplete_message().startswith(
        "1. Summary: a title and a summary; 2. Components impacted: at least one component; "
    )


def test_a_complete_change_lacks_nothing(cast) -> None:
    change = ChangeFactory(organization=cast.acme)
    assert change.incomplete_sections() == []
    assert change.incomplete_message() == ""


def test_what_a_component_an_outage_a_scenario_and_a_check_miss(cast) -> None:
    change = ChangeFactory(organization=cast.acme, outage_expected=True)
    change.change_components.update(target_version=" ")
    change.scenarios.filter(kind="regression").delete()
    change.checklist.filter(standard="performance").delete()
    assert change.incomplete_sections() == [
        (2, "Components impacted", "the version to be released for every component"),
        (
            3,
            "Impact",
            "the outage's expected duration and "
            "a communication plan (audience, message and timing)",
        ),
        (8, "Test scenarios", "at least one regression scenario"),
        (9, "Checklist", "the checklist items Performance testing"),
    ]


def test_an_unsaved_change_is_incomplete_without_a_query(cast) -> None:
    change = Change(organization=cast.acme, title="T", summary="S", impact="I")
    assert [n for n, _, _ in change.incomplete_sections()] == [2, 3, 5, 6, 7, 8, 9]


def test_why_a_close_is_not_successful(cast) -> None:
    change = ChangeFactory(organization=cast.acme, status=C.IN_TESTING)
    first, second = change.scenarios.order_by("position")
    first.result = ScenarioResult.FAILED
    first.save()
    second.description = "x" * 70
    second.save()
    accepted = TicketFactory(organization=cast.acme, status="done", change=change)
    sent_back = TicketFactory(organization=cast.acme, status="waiting_for_support", change=change)
    moved = TicketFactory(organization=cast.acme, status="done")  # now in no change
    for t in (accepted, sent_back, moved):
        ReleasedTicket.objects.create(change=change, ticket=t)
    assert change.unsuccessful_reasons() == [
        f"scenarios not passed: #1 {first.description} (failed); #2 {'x' * 60} (not_run).",
        f"tickets not accepted: {sent_back.key} (Waiting for support), {moved.key} (Done).",
    ]
    change.scenarios.update(result=ScenarioResult.PASSED)
    for t in (sent_back, moved):
        t.change = change
        t.save()
    type(sent_back).objects.filter(pk=sent_back.pk).update(status="done")
    assert change.unsuccessful_reasons() == []


def test_only_this_rounds_approvals_make_an_edit_dismiss_them(cast) -> None:
    change = ChangeFactory(organization=cast.acme, status=C.AWAITING_APPROVAL)
    assert not change.edits_dismiss_approvals()
    Approval.objects.create(
        change=change,
        round=change.approval_round,
        role="qa",
        decision=Decision.APPROVED,
        by=cast.qa,
    )
    assert change.edits_dismiss_approvals()
    change.approval_round += 1
    assert not change.edits_dismiss_approvals()


def test_a_customer_performed_change_goes_to_an_active_customer_user(cast) -> None:
    gone = CustomerUserFactory(username="gone", organization=cast.acme, is_active=False)
    assert gone.pk < CustomerUserFactory(username="carol", organization=cast.acme).pk
    change = ChangeFactory(organization=cast.acme, performer=Performer.CUSTOMER, author=cast.agent)
    assert change.relevant_customer_user() == cast.alice
    cast.alice.is_active = False
    cast.alice.save()
    assert change.relevant_customer_user().username == "carol"


@pytest.mark.parametrize(
    ("performer", "who", "edits"),
    [
        (Performer.PROVIDER, "agent", True),
        (Performer.PROVIDER, "alice", False),
        (Performer.CUSTOMER, "agent", True),
        (Performer.CUSTOMER, "alice", True),
        (Performer.CUSTOMER, "bob", False),
    ],
)
def test_who_edits_the_sections(cast, performer, who, edits) -> None:
    change = ChangeFactory(organization=cast.acme, performer=performer)
    assert SECTION_EDITOR(change, getattr(cast, who)) is edits
    assert change.can_edit(getattr(cast, who)) is edits


def test_who_records_test_results(cast) -> None:
    change = ChangeFactory(organization=cast.acme)
    agent_only = UserFactory(username="agent_only", is_support_agent=True)
    for user, records in (
        (cast.alice, True),
        (cast.qa, True),
        (agent_only, True),
        (cast.peer, False),
        (cast.ops, False),
        (cast.bob, False),
    ):
        assert RESULT_RECORDER(change, user) is records, user


def test_the_author_is_no_approver_and_is_told_why(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.AWAITING_APPROVAL)
    assert APPROVER(change, cast.agent) is False
    assert APPROVER(change, cast.peer) is True
    assert APPROVER.refusal(change, cast.agent, {"role": "peer"}) == (
        "You wrote this change; the Peer approval must come from someone else."
    )


def test_the_history_says_why_it_cannot_change(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    change_transition(change=change.pk, by=cast.agent, name="submit")
    row = TransitionLog.objects.get(change=change)
    attempts = (
        row.save,
        row.delete,
        lambda: TransitionLog.objects.filter(pk=row.pk).update(comment=""),
        lambda: TransitionLog.objects.filter(pk=row.pk).delete(),
    )
    for attempt in attempts:
        with pytest.raises(TypeError) as refused:
            attempt()
        assert str(refused.value) == "The history is append-only."
