"""The moves WORKFLOW.md makes without anyone asking for them."""

from __future__ import annotations

from approvals.models import Approval
from tests.factories import (
    ChangeFactory,
    ComponentVersionFactory,
    TicketFactory,
    approve_all,
    complete_checklist,
    propose_window,
)
from tickets.models import Change, ComponentVersion, Ticket, TicketComment, TransitionLog
from tickets.services import (
    change_set_tickets,
    change_transition,
    change_update,
    scenario_record_result,
    ticket_comment,
    ticket_transition,
)

C = Change.S
T = Ticket.S


def test_public_provider_reply_moves_to_waiting_for_customer(cast) -> None:
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    ticket_comment(ticket=ticket.pk, by=cast.agent, body="Internal note", public=False)
    assert Ticket.objects.get(pk=ticket.pk).status == T.WAITING_FOR_SUPPORT
    ticket_comment(ticket=ticket.pk, by=cast.agent, body="Could you send a screenshot?")
    ticket.refresh_from_db()
    assert ticket.status == T.WAITING_FOR_CUSTOMER
    log = TransitionLog.objects.get(ticket=ticket)
    assert (log.transition, log.actor) == ("reply", cast.agent)


def test_customer_reply_moves_back_to_waiting_for_support(cast) -> None:
    ticket = TicketFactory(
        organization=cast.acme, reporter=cast.alice, status=T.WAITING_FOR_CUSTOMER
    )
    comment = ticket_comment(ticket=ticket.pk, by=cast.alice, body="Here it is.", public=False)
    assert comment.public  # a customer's comment is always public
    ticket.refresh_from_db()
    assert ticket.status == T.WAITING_FOR_SUPPORT
    assert TransitionLog.objects.get(ticket=ticket).transition == "customer_reply"


def test_comments_elsewhere_do_not_move_the_ticket(cast) -> None:
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice, status=T.IN_PROGRESS)
    ticket_comment(ticket=ticket.pk, by=cast.agent, body="Working on it.")
    ticket_comment(ticket=ticket.pk, by=cast.alice, body="Thanks.")
    assert Ticket.objects.get(pk=ticket.pk).status == T.IN_PROGRESS
    assert not TransitionLog.objects.filter(ticket=ticket).exists()


def test_perform_moves_attached_tickets_to_testing(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    tickets = TicketFactory.create_batch(3, organization=cast.acme, status=T.TO_BE_RELEASED)
    change_set_tickets(change=change.pk, by=cast.agent, tickets=[t.pk for t in tickets])
    Change.objects.filter(pk=change.pk).update(status=C.TO_BE_RELEASED)
    propose_window(change, cast.agent, agreed_by=cast.alice)
    complete_checklist(change, cast.agent)
    change_transition(change=change.pk, by=cast.agent, name="perform")
    for t in tickets:
        t.refresh_from_db()
        assert t.status == T.IN_TESTING
        log = TransitionLog.objects.get(ticket=t, transition="release")
        assert (log.source, log.target, log.actor) == (T.TO_BE_RELEASED, T.IN_TESTING, cast.agent)


def test_last_provider_approval_moves_to_business_review(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.AWAITING_APPROVAL)
    change_transition(change=change.pk, by=cast.qa, name="approve", role="qa")
    change_transition(change=change.pk, by=cast.ops, name="approve", role="operations")
    assert Change.objects.get(pk=change.pk).status == C.AWAITING_APPROVAL
    change_transition(change=change.pk, by=cast.peer, name="approve", role="peer")
    assert Change.objects.get(pk=change.pk).status == C.TO_BE_REVIEWED_BY_BUSINESS
    last = TransitionLog.objects.filter(change=change).last()
    assert (last.source, last.target, last.actor) == (
        C.AWAITING_APPROVAL,
        C.TO_BE_REVIEWED_BY_BUSINESS,
        cast.peer,
    )


def test_last_provider_approval_of_a_customer_change_moves_to_be_released(cast) -> None:
    change = ChangeFactory(
        organization=cast.acme, author=cast.agent, performer="customer", status=C.AWAITING_APPROVAL
    )
    for user, role in ((cast.qa, "qa"), (cast.ops, "operations"), (cast.peer, "peer")):
        change_transition(change=change.pk, by=user, name="approve", role=role)
    change.refresh_from_db()
    assert change.status == C.TO_BE_RELEASED
    # §2.1: the customer user becomes the reporter on To be released.
    assert change.reporter == cast.alice


def test_customer_change_reporter_is_who_requested_it(cast) -> None:
    from tests.factories import CustomerUserFactory

    carol = CustomerUserFactory(username="carol", organization=cast.acme)
    request = TicketFactory(organization=cast.acme, reporter=carol, type="change_request")
    change = ChangeFactory(
        organization=cast.acme,
        author=cast.agent,
        performer="customer",
        status=C.AWAITING_APPROVAL,
        source_ticket=request,
    )
    for user, role in ((cast.qa, "qa"), (cast.ops, "operations"), (cast.peer, "peer")):
        change_transition(change=change.pk, by=user, name="approve", role=role)
    assert Change.objects.get(pk=change.pk).reporter == carol


def test_edit_in_business_review_returns_to_awaiting_approval(cast) -> None:
    change = ChangeFactory(
        organization=cast.acme, author=cast.agent, status=C.TO_BE_REVIEWED_BY_BUSINESS
    )
    approve_all(change, qa=cast.qa, peer=cast.peer, ops=cast.ops)
    change_update(change=change.pk, by=cast.agent2, summary="Upgrade billing to 2.4.1 instead.")
    change.refresh_from_db()
    assert change.status == C.AWAITING_APPROVAL
    assert change.approval_round == 2
    assert Approval.objects.filter(change=change, dismissed_at__isnull=True).count() == 0
    edit = change.edits.get()
    assert (edit.section, edit.field, edit.actor) == (1, "summary", cast.agent2)
    assert edit.new_value == "Upgrade billing to 2.4.1 instead."


def test_successful_close_records_released_versions(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.IN_TESTING)
    cc = change.change_components.get()
    ComponentVersionFactory(component=cc.component, environment=change.environment, version="2.3.9")
    for s in change.scenarios.all():
        scenario_record_result(scenario=s.pk, by=cast.alice, result="passed")
    change_transition(change=change.pk, by=cast.alice, name="close", resolution="successful")
    current = ComponentVersion.objects.get(component=cc.component, environment=change.environment)
    assert (current.version, current.released_by_id) == ("2.4.0", change.pk)


def test_rolled_back_close_keeps_versions(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.IN_TESTING)
    cc = change.change_components.get()
    ComponentVersionFactory(component=cc.component, environment=change.environment, version="2.3.9")
    change_transition(change=change.pk, by=cast.agent, name="roll_back", comment="VAT wrong.")
    change_transition(change=change.pk, by=cast.alice, name="close", resolution="rolled_back")
    assert ComponentVersion.objects.get(component=cc.component).version == "2.3.9"


def test_hold_and_resume_return_to_the_held_status(cast) -> None:
    ticket = TicketFactory(organization=cast.acme, status=T.IN_PROGRESS, assignee=cast.agent)
    ticket_transition(ticket=ticket.key, by=cast.alice, name="hold", comment="Budget freeze.")
    assert Ticket.objects.get(pk=ticket.pk).status == T.ON_HOLD
    ticket_transition(ticket=ticket.key, by=cast.agent, name="resume")
    ticket.refresh_from_db()
    assert ticket.status == T.IN_PROGRESS
    assert ticket.held_from == ""
    rows = list(TransitionLog.objects.filter(ticket=ticket).values_list("source", "target"))
    assert rows == [(T.IN_PROGRESS, T.ON_HOLD), (T.ON_HOLD, T.IN_PROGRESS)]


def test_send_back_adds_the_reason_to_the_conversation(cast) -> None:
    ticket = TicketFactory(organization=cast.acme, status=T.IN_TESTING)
    ticket_transition(ticket=ticket.pk, by=cast.alice, name="send_back", comment="Still broken.")
    assert Ticket.objects.get(pk=ticket.pk).status == T.WAITING_FOR_SUPPORT
    assert TicketComment.objects.get(ticket=ticket).body == "Still broken."


def test_start_makes_the_actor_assignee(cast) -> None:
    ticket = TicketFactory(organization=cast.acme, status=T.TO_DO)
    ticket_transition(ticket=ticket.pk, by=cast.agent2, name="start")
    assert Ticket.objects.get(pk=ticket.pk).assignee == cast.agent2


def test_cancel_frees_attached_tickets(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    ticket = TicketFactory(organization=cast.acme, status=T.TO_BE_RELEASED)
    change_set_tickets(change=change.pk, by=cast.agent, tickets=[ticket.pk])
    change_transition(change=change.pk, by=cast.alice, name="cancel", comment="Not needed.")
    ticket.refresh_from_db()
    assert (ticket.change_id, ticket.status) == (None, T.TO_BE_RELEASED)
