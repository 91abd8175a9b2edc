"""The portal's lists search as the staff lists and the API do (`tickets_matching` /
`changes_matching`), within what the customer sees."""

from __future__ import annotations

from tests.factories import ChangeFactory, TicketFactory
from tickets.models import Ticket
from tickets.selectors import tickets_matching, tickets_visible_to


def _keys(response) -> list[str]:
    assert response.status_code == 200
    return [row.key for row in response.context["page"].object_list]


def test_the_ticket_list_searches_within_the_organisation(cast, alice_client) -> None:
    TicketFactory(organization=cast.acme, reporter=cast.alice, title="Printer jammed")
    TicketFactory(organization=cast.acme, reporter=cast.alice, description="two printers")
    TicketFactory(organization=cast.acme, reporter=cast.alice, title="Invoices")
    TicketFactory(organization=cast.globex, reporter=cast.bob, title="Printer at Globex")
    keys = _keys(alice_client.get("/portal/tickets/", {"show": "all", "q": "printer"}))
    expected = tickets_matching(tickets_visible_to(cast.alice).order_by("-updated"), "printer")
    assert keys == [t.key for t in expected] and len(keys) == 2
    assert not Ticket.objects.filter(organization=cast.globex, title__in=keys).exists()


def test_the_change_list_searches(cast, alice_client) -> None:
    ChangeFactory(organization=cast.acme, author=cast.agent, title="Upgrade the database")
    ChangeFactory(organization=cast.acme, author=cast.agent, title="Rotate certificates")
    ChangeFactory(organization=cast.globex, author=cast.agent, title="Globex database")
    response = alice_client.get("/portal/changes/", {"show": "all", "q": "database"})
    assert [c.title for c in response.context["page"].object_list] == ["Upgrade the database"]
