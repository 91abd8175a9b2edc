"""Editing a ticket, the standalone error page, and marking action notices read: each
through its service, each refusal on the page it came from."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from notifications.models import Delivery, Notification, NotificationKind
from tests.factories import TicketFactory
from tests.staff.conftest import client_for
from tickets.models import Priority, TicketType

# --------------------------------------------------------------------------- ticket edit


def _ticket(cast):
    return TicketFactory(
        organization=cast.acme,
        reporter=cast.alice,
        title="Printer jams",
        description="Since Monday.",
        type=TicketType.QUESTION,
        priority=Priority.NORMAL,
    )


def _edit(ticket) -> str:
    return reverse("staff:ticket_edit", args=[ticket.key])


def test_the_ticket_page_links_to_its_edit_form(cast) -> None:
    ticket = _ticket(cast)
    client = client_for(cast.agent)
    html = client.get(reverse("staff:ticket_detail", args=[ticket.key])).content.decode()
    assert f'href="{_edit(ticket)}"' in html
    form = client.get(_edit(ticket))
    assert form.status_code == 200
    text = form.content.decode()
    assert 'value="Printer jams"' in text
    assert "Since Monday." in text


def test_staff_edit_a_ticket(cast) -> None:
    ticket = _ticket(cast)
    response = client_for(cast.agent).post(
        _edit(ticket),
        {
            "title": "Printer jams on floor 2",
            "description": "Since Monday, every morning.",
            "type": TicketType.BUG,
            "priority": Priority.HIGH,
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("staff:ticket_detail", args=[ticket.key])
    assert f"{ticket.key} saved." in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.title == "Printer jams on floor 2"
    assert ticket.description == "Since Monday, every morning."
    assert ticket.type == TicketType.BUG
    assert ticket.priority == Priority.HIGH


def test_an_empty_title_is_refused_with_the_domains_sentence_and_the_form_kept(cast) -> None:
    ticket = _ticket(cast)
    response = client_for(cast.agent).post(
        _edit(ticket),
        {
            "title": "   ",
            "description": "Typed and not lost.",
            "type": TicketType.BUG,
            "priority": Priority.URGENT,
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Title is required." in html
    assert "Typed and not lost." in html
    assert f'value="{TicketType.BUG}" selected' in html
    assert f'value="{Priority.URGENT}" selected' in html
    ticket.refresh_from_db()
    assert ticket.title == "Printer jams"
    assert ticket.description == "Since Monday."
    assert ticket.priority == Priority.NORMAL


def test_customers_and_anonymous_users_cannot_reach_the_staff_edit(cast) -> None:
    ticket = _ticket(cast)
    data = {"title": "Hacked", "type": TicketType.BUG, "priority": Priority.HIGH}
    customer = client_for(cast.alice)
    assert customer.get(_edit(ticket)).status_code == 302
    response = customer.post(_edit(ticket), data)
    assert response.status_code == 302
    assert "/staff/" not in response["Location"]
    anonymous = Client().post(_edit(ticket), data)
    assert anonymous.status_code == 302
    assert "/accounts/login/" in anonymous["Location"]
    ticket.refresh_from_db()
    assert ticket.title == "Printer jams"


def test_an_unknown_ticket_is_a_404_for_the_edit(cast) -> None:
    response = client_for(cast.agent).get(reverse("staff:ticket_edit", args=["SUP-999999"]))
    assert response.status_code == 404


# --------------------------------------------------------------------------- 500 page


def test_the_error_page_renders_without_a_request_or_a_query() -> None:
    # No `db` fixture: a query here would raise, so rendering proves none is made.
    html = render_to_string("500.html")
    assert "Something went wrong" in html
    assert 'href="/static/css/app.css"' in html
    assert "<script" not in html
    assert "style=" not in html


# --------------------------------------------------------------------------- notices


def _notice(user, ticket, subject: str) -> Delivery:
    notification = Notification.objects.create(
        kind=NotificationKind.ACTION, ticket=ticket, subject=subject, body_text="-"
    )
    return Delivery.objects.create(notification=notification, user=user, recipient=user.email)


def test_a_notice_is_marked_read_from_the_dashboard(cast) -> None:
    ticket = _ticket(cast)
    first = _notice(cast.agent, ticket, "Look at this")
    second = _notice(cast.agent, ticket, "And at that")
    client = client_for(cast.agent)
    html = client.get(reverse("staff:dashboard")).content.decode()
    assert reverse("staff:notice_read", args=[first.pk]) in html
    assert "Mark all as read" in html

    response = client.post(reverse("staff:notice_read", args=[first.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("staff:dashboard"))
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None
    assert second.read_at is None
    html = client.get(reverse("staff:dashboard")).content.decode()
    assert reverse("staff:notice_read", args=[first.pk]) not in html
    assert reverse("staff:notice_read", args=[second.pk]) in html


def test_all_notices_are_marked_read_at_once(cast) -> None:
    ticket = _ticket(cast)
    mine = [_notice(cast.agent, ticket, f"Notice {i}") for i in range(3)]
    theirs = _notice(cast.agent2, ticket, "Not yours")
    response = client_for(cast.agent).post(reverse("staff:notices_read"), follow=True)
    assert "3 notices marked as read." in response.content.decode()
    assert all(Delivery.objects.get(pk=n.pk).read_at is not None for n in mine)
    theirs.refresh_from_db()
    assert theirs.read_at is None
    html = client_for(cast.agent).get(reverse("staff:dashboard")).content.decode()
    assert "Mark all as read" not in html


def test_someone_elses_notice_is_a_404_and_stays_unread(cast) -> None:
    theirs = _notice(cast.agent2, _ticket(cast), "Not yours")
    response = client_for(cast.agent).post(reverse("staff:notice_read", args=[theirs.pk]))
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_marking_read_takes_a_post_from_staff_only(cast) -> None:
    notice = _notice(cast.agent, _ticket(cast), "Look at this")
    url = reverse("staff:notice_read", args=[notice.pk])
    assert client_for(cast.agent).get(url).status_code == 405
    assert Client().post(url).status_code == 302
    assert client_for(cast.alice).post(reverse("staff:notices_read")).status_code == 302
    notice.refresh_from_db()
    assert notice.read_at is None
