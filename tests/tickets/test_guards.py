"""Every guard of WORKFLOW.md refuses with a reason a person can act on."""

from __future__ import annotations

import pytest

from tests.factories import (
    ChangeFactory,
    TicketFactory,
    complete_checklist,
    propose_window,
)
from tickets.errors import GuardFailed, InvalidInput
from tickets.models import Change, ScenarioResult, Ticket, TransitionLog
from tickets.services import (
    change_set_tickets,
    change_transition,
    change_update,
    checklist_item_update,
)

C = Change.S


def _draft(cast, **kwargs):
    return ChangeFactory(organization=cast.acme, author=cast.agent, **kwargs)


@pytest.mark.parametrize(
    ("missing", "section"),
    [
        ({"summary": ""}, "1. Summary"),
        ({"impact": ""}, "3. Impact"),
        ({"outage_expected": None}, "3. Impact"),
        ({"changelog": ""}, "5. Changelog"),
        ({"deployment_procedure": ""}, "6. Deployment procedure"),
        ({"rollback_procedure": ""}, "7. Rollback procedure"),
    ],
)
def test_incomplete_section_blocks_submit(cast, missing, section) -> None:
    change = _draft(cast, **missing)
    with pytest.raises(GuardFailed, match=section):
        change_transition(change=change.pk, by=cast.agent, name="submit")
    assert Change.objects.get(pk=change.pk).status == C.DRAFT


def test_missing_components_and_scenarios_block_submit(cast) -> None:
    change = _draft(cast, sections=False)
    with pytest.raises(GuardFailed) as refused:
        change_transition(change=change.pk, by=cast.agent, name="submit")
    assert "2. Components impacted" in refused.value.message
    assert "8. Test scenarios" in refused.value.message


def test_component_without_target_version_blocks_submit(cast) -> None:
    change = _draft(cast)
    change.change_components.update(target_version="")
    with pytest.raises(GuardFailed, match="version to be released"):
        change_transition(change=change.pk, by=cast.agent, name="submit")


def test_attached_tickets_are_optional(cast) -> None:
    change = _draft(cast)
    assert not change.tickets.exists()
    change_transition(change=change.pk, by=cast.agent, name="submit")
    assert Change.objects.get(pk=change.pk).status == C.AWAITING_APPROVAL


def test_outage_needs_duration_and_communication_plan(cast) -> None:
    change = _draft(cast, outage_expected=True)
    with pytest.raises(GuardFailed, match="duration and a communication plan"):
        change_transition(change=change.pk, by=cast.agent, name="submit")
    change_update(change=change.pk, by=cast.agent, outage_duration_minutes=30)
    with pytest.raises(GuardFailed, match="communication plan"):
        change_transition(change=change.pk, by=cast.agent, name="submit")
    change_update(
        change=change.pk,
        by=cast.agent,
        communication_audience="All end users",
        communication_message="Billing is down for 30 minutes.",
        communication_timing="When agreed, and one hour before",
    )
    change_transition(change=change.pk, by=cast.agent, name="submit")
    assert Change.objects.get(pk=change.pk).status == C.AWAITING_APPROVAL


def test_perform_needs_an_agreed_window(cast) -> None:
    change = _draft(cast, status=C.TO_BE_RELEASED)
    complete_checklist(change, cast.agent)
    with pytest.raises(GuardFailed, match="window has not been agreed"):
        change_transition(change=change.pk, by=cast.agent, name="perform")
    propose_window(change, cast.agent)
    with pytest.raises(GuardFailed, match="window has not been agreed"):
        change_transition(change=change.pk, by=cast.agent, name="perform")
    change_transition(change=change.pk, by=cast.alice, name="agree_window")
    change_transition(change=change.pk, by=cast.agent, name="perform")
    assert Change.objects.get(pk=change.pk).status == C.IN_TESTING


def test_perform_blocked_by_a_pending_checklist_item(cast) -> None:
    change = _draft(cast, status=C.TO_BE_RELEASED)
    propose_window(change, cast.agent, agreed_by=cast.alice)
    complete_checklist(change, cast.agent)
    item = change.checklist.get(label="Performance testing")
    checklist_item_update(item=item.pk, by=cast.agent, state="pending")
    with pytest.raises(GuardFailed, match="pending: Performance testing"):
        change_transition(change=change.pk, by=cast.agent, name="perform")
    with pytest.raises(InvalidInput, match="does not apply"):
        checklist_item_update(item=item.pk, by=cast.agent, state="not_applicable")
    checklist_item_update(
        item=item.pk, by=cast.agent, state="not_applicable", reason="No load change."
    )
    change_transition(change=change.pk, by=cast.agent, name="perform")
    assert Change.objects.get(pk=change.pk).status == C.IN_TESTING


def test_successful_close_needs_every_scenario_passed(cast) -> None:
    change = _draft(cast, status=C.IN_TESTING)
    scenario = change.scenarios.get(kind="progression")
    with pytest.raises(GuardFailed, match=r"not passed.*not_run"):
        change_transition(change=change.pk, by=cast.alice, name="close", resolution="successful")
    scenario.result = ScenarioResult.FAILED
    scenario.save()
    with pytest.raises(GuardFailed, match="failed"):
        change_transition(change=change.pk, by=cast.alice, name="close", resolution="successful")
    assert Change.objects.get(pk=change.pk).status == C.IN_TESTING
    with pytest.raises(InvalidInput, match="Unknown resolution"):
        change_transition(change=change.pk, by=cast.alice, name="close", resolution="great")
    change.scenarios.update(result=ScenarioResult.PASSED)
    change_transition(change=change.pk, by=cast.alice, name="close", resolution="successful")
    assert Change.objects.get(pk=change.pk).resolution == "successful"


def test_roll_back_needs_a_comment(cast) -> None:
    change = _draft(cast, status=C.IN_TESTING)
    with pytest.raises(InvalidInput, match="comment"):
        change_transition(change=change.pk, by=cast.agent, name="roll_back")


def test_only_to_be_released_tickets_of_the_same_organisation_attach(cast) -> None:
    change = _draft(cast)
    ready = TicketFactory(organization=cast.acme, status=Ticket.S.TO_BE_RELEASED)
    in_progress = TicketFactory(organization=cast.acme, status=Ticket.S.IN_PROGRESS)
    globex = TicketFactory(organization=cast.globex, status=Ticket.S.TO_BE_RELEASED)
    elsewhere = TicketFactory(organization=cast.acme, status=Ticket.S.TO_BE_RELEASED)
    other_change = _draft(cast)
    change_set_tickets(change=other_change.pk, by=cast.agent, tickets=[elsewhere.pk])
    with pytest.raises(InvalidInput) as refused:
        change_set_tickets(
            change=change.pk,
            by=cast.agent,
            tickets=[ready.pk, in_progress.key, globex.pk, elsewhere.pk, 999999],
        )
    problems = refused.value.fields["tickets"]
    assert any(in_progress.key in p and "In progress" in p for p in problems)
    assert any(globex.key in p and "another organisation" in p for p in problems)
    assert any(elsewhere.key in p and other_change.key in p for p in problems)
    assert any("SUP-999999" in p for p in problems)
    assert not change.tickets.exists()  # nothing half-done
    change_set_tickets(change=change.pk, by=cast.agent, tickets=[ready.key])
    assert list(change.tickets.all()) == [ready]
    assert TransitionLog.objects.get(ticket=ready).transition == "attach"


def test_a_ticket_sent_back_goes_into_a_follow_up_change(cast) -> None:
    from tickets.services import ticket_transition

    first = _draft(cast)
    ticket = TicketFactory(organization=cast.acme, status=Ticket.S.TO_BE_RELEASED)
    change_set_tickets(change=first.pk, by=cast.agent, tickets=[ticket.pk])
    Change.objects.filter(pk=first.pk).update(status=C.TO_BE_RELEASED)
    propose_window(first, cast.agent, agreed_by=cast.alice)
    complete_checklist(first, cast.agent)
    change_transition(change=first.pk, by=cast.agent, name="perform")
    ticket_transition(ticket=ticket.pk, by=cast.alice, name="send_back", comment="Still wrong.")
    for name in ("needs_work", "start", "ready_for_release"):
        ticket_transition(ticket=ticket.pk, by=cast.agent, name=name)
    follow_up = _draft(cast)
    change_set_tickets(change=follow_up.pk, by=cast.agent, tickets=[ticket.key])
    assert Ticket.objects.get(pk=ticket.pk).change_id == follow_up.pk
