"""Raising a ticket and the conversation with the provider, from the portal."""

from __future__ import annotations

import pytest

from tests.factories import TicketCommentFactory, TicketFactory
from tickets.models import Ticket, TicketComment, TransitionLog

T = Ticket.S


def test_raising_a_ticket(cast, alice_client) -> None:
    response = alice_client.post(
        "/portal/tickets/new/",
        {
            "title": "Invoices show the wrong VAT",
            "type": "bug",
            "priority": "high",
            "description": "Since Monday, 19.6% instead of 20%.",
        },
    )
    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/portal/tickets/{ticket.key}/"
    assert (ticket.organization, ticket.reporter, ticket.type, ticket.priority, ticket.status) == (
        cast.acme,
        cast.alice,
        "bug",
        "high",
        T.WAITING_FOR_SUPPORT,
    )
    page = alice_client.get(response["Location"])
    assert "Since Monday, 19.6% instead of 20%." in page.content.decode()


def test_a_ticket_without_a_subject_keeps_the_rest(cast, alice_client) -> None:
    response = alice_client.post(
        "/portal/tickets/new/",
        {"title": "", "type": "question", "priority": "normal", "description": "Keep me"},
    )
    assert response.status_code == 400
    assert ">\nKeep me</textarea>" in response.content.decode()
    assert not Ticket.objects.exists()


def test_the_conversation_shows_public_comments_only(cast, alice_client) -> None:
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    TicketCommentFactory(ticket=ticket, author=cast.agent, body="We are on it.", public=True)
    TicketCommentFactory(
        ticket=ticket, author=cast.agent, body="Internal: blame the ORM", public=False
    )
    response = alice_client.get(f"/portal/tickets/{ticket.key}/")
    html = response.content.decode()
    assert "We are on it." in html
    assert "blame the ORM" not in html


@pytest.mark.parametrize(
    ("status", "after"),
    [
        # WORKFLOW.md: a customer's comment answers a ticket waiting for the customer.
        (T.WAITING_FOR_CUSTOMER, T.WAITING_FOR_SUPPORT),
        (T.WAITING_FOR_SUPPORT, T.WAITING_FOR_SUPPORT),
        (T.IN_PROGRESS, T.IN_PROGRESS),
        # §4.2: the customer comments a ticket in testing "to send them back".
        (T.IN_TESTING, T.WAITING_FOR_SUPPORT),
    ],
)
def test_commenting_moves_the_status_as_the_workflow_says(
    cast, alice_client, status, after
) -> None:
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice, status=status)
    response = alice_client.post(
        f"/portal/tickets/{ticket.key}/comment/", {"body": "Here is the screenshot."}
    )
    assert response.status_code == 302
    assert Ticket.objects.get(pk=ticket.pk).status == after
    comment = TicketComment.objects.get(ticket=ticket)
    assert (comment.author, comment.public) == (cast.alice, True)
    moved = TransitionLog.objects.filter(
        ticket=ticket, transition__in=["customer_reply", "send_back"]
    ).exists()
    assert moved is (status != after)


def test_an_empty_comment_is_refused(cast, alice_client) -> None:
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    response = alice_client.post(f"/portal/tickets/{ticket.key}/comment/", {"body": "  "})
    assert response.status_code == 400
    assert not TicketComment.objects.exists()


def test_accept_send_back_hold_and_resume_from_the_ticket(cast, alice_client) -> None:
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice, status=T.IN_TESTING)
    url = f"/portal/tickets/{ticket.key}/"
    page = alice_client.get(url)
    assert {o.name for o in page.context["options"]} == {"accept", "send_back", "hold"}
    assert "It has been released: try it" in page.content.decode()

    response = alice_client.post(url + "transitions/hold/", {"comment": ""})
    assert response.status_code == 400
    assert "needs: comment" in response.content.decode()
    alice_client.post(url + "transitions/hold/", {"comment": "After the audit."})
    assert Ticket.objects.get(pk=ticket.pk).status == T.ON_HOLD
    alice_client.post(url + "transitions/resume/")
    assert Ticket.objects.get(pk=ticket.pk).status == T.IN_TESTING
    alice_client.post(url + "transitions/send_back/", {"comment": "Still wrong."})
    ticket = Ticket.objects.get(pk=ticket.pk)
    assert ticket.status == T.WAITING_FOR_SUPPORT
    assert "Still wrong." in alice_client.get(url).content.decode()


def test_provider_only_steps_are_refused_with_the_reason(cast, alice_client) -> None:
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice, status=T.TO_DO)
    response = alice_client.post(f"/portal/tickets/{ticket.key}/transitions/start/")
    assert response.status_code == 403
    assert "Only provider staff may do this." in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).status == T.TO_DO
