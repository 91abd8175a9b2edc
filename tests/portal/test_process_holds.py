"""The process holds in the portal too (issue 10): the customer's windows, a held ticket
in a change they perform, and a successful close that testing did not earn."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import ChangeFactory, TicketFactory, complete_checklist, propose_window
from tickets.models import Change, Performer, ScenarioResult, Ticket
from tickets.services import ticket_transition

pytestmark = pytest.mark.django_db
C = Change.S
T = Ticket.S


def _url(change: Change, suffix: str = "") -> str:
    return f"/portal/changes/{change.key}/{suffix}"


def test_a_window_in_the_past_is_refused_and_what_was_typed_kept(cast, alice_client) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.AWAITING_APPROVAL)
    yesterday = timezone.localtime(
        timezone.now() - timedelta(days=1), timezone.get_fixed_timezone(0)
    )
    start = yesterday.strftime("%Y-%m-%dT%H:%M")
    end = (yesterday + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = alice_client.post(_url(change, "window/"), {"start": start, "end": end})
    assert response.status_code == 400
    html = response.content.decode()
    assert "must start in the future" in html
    assert f'value="{start}"' in html
    assert Change.objects.get(pk=change.pk).window_start is None


def test_perform_names_the_held_ticket_in_the_portal(cast, alice_client) -> None:
    change = ChangeFactory(
        organization=cast.acme,
        author=cast.agent,
        performer=Performer.CUSTOMER,
        status=C.TO_BE_RELEASED,
    )
    ticket = TicketFactory(
        organization=cast.acme, reporter=cast.alice, status=T.TO_BE_RELEASED, change=change
    )
    propose_window(change, cast.agent, agreed_by=cast.alice)
    complete_checklist(change, cast.alice)
    ticket_transition(ticket=ticket.pk, by=cast.alice, name="hold", comment="Later.")
    page = alice_client.get(_url(change)).content.decode()
    assert f"Attached tickets are on hold: {ticket.key}" in page
    response = alice_client.post(_url(change, "transitions/perform/"))
    assert response.status_code == 409
    assert f"Attached tickets are on hold: {ticket.key}" in response.content.decode()
    assert Change.objects.get(pk=change.pk).status == C.TO_BE_RELEASED


def test_a_successful_close_needs_the_tickets_accepted(cast, alice_client) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.IN_TESTING)
    change.scenarios.update(result=ScenarioResult.PASSED)
    ticket = TicketFactory(
        organization=cast.acme, reporter=cast.alice, status=T.IN_TESTING, change=change
    )
    change.released.create(ticket=ticket)
    response = alice_client.post(_url(change, "transitions/close/"), {"resolution": "successful"})
    assert response.status_code == 409
    assert f"tickets not accepted: {ticket.key}" in response.content.decode()
    alice_client.post(f"/portal/tickets/{ticket.key}/comment/", {"body": "Still broken."})
    assert Ticket.objects.get(pk=ticket.pk).status == T.WAITING_FOR_SUPPORT
    response = alice_client.post(
        _url(change, "transitions/close/"), {"resolution": "follow_up_release"}
    )
    assert response.status_code == 302
    assert Change.objects.get(pk=change.pk).resolution == "follow_up_release"
