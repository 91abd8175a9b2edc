"""The staff lists filter as the API does (tickets/filters.py): the same search
(`tickets_matching` / `changes_matching`), ranked unless the user sorts, and the
organisation typed (a name or an id), never offered as every organisation."""

from __future__ import annotations

from django.urls import reverse

from tests.factories import ChangeFactory, TicketFactory
from tests.staff.conftest import client_for
from tickets.models import Change, Ticket
from tickets.selectors import changes_matching, tickets_matching


def _keys(response) -> list[str]:
    return [row.key for row in response.context["page"].object_list]


def test_the_queue_searches_like_the_api(cast) -> None:
    TicketFactory(organization=cast.acme, reporter=cast.alice, title="Printer jammed")
    TicketFactory(
        organization=cast.acme, reporter=cast.alice, title="Help", description="printers all"
    )
    TicketFactory(organization=cast.globex, reporter=cast.bob, title="Invoices")
    client = client_for(cast.agent)
    url = reverse("staff:ticket_list")

    ranked = _keys(client.get(url, {"q": "printer"}))
    expected = [t.key for t in tickets_matching(Ticket.objects.all(), "printer")]
    assert ranked == expected and len(ranked) == 2  # the description counts too

    by_title = _keys(client.get(url, {"q": "printer", "sort": "title"}))
    assert by_title == [
        t.key for t in tickets_matching(Ticket.objects.order_by("title"), "printer", ranked=False)
    ]


def test_the_change_list_searches_like_the_api(cast) -> None:
    ChangeFactory(organization=cast.acme, author=cast.agent, title="Upgrade the database")
    ChangeFactory(organization=cast.acme, author=cast.agent, title="Rotate certificates")
    response = client_for(cast.agent).get(reverse("staff:change_list"), {"q": "database"})
    assert _keys(response) == [c.key for c in changes_matching(Change.objects.all(), "database")]


def test_the_organisation_is_typed_not_chosen(cast) -> None:
    TicketFactory(organization=cast.acme, reporter=cast.alice, title="Acme one")
    TicketFactory(organization=cast.globex, reporter=cast.bob, title="Globex one")
    client = client_for(cast.agent)
    url = reverse("staff:ticket_list")
    page = client.get(url)
    assert f'<option value="{cast.globex.pk}"' not in page.content.decode()
    for value in ("glob", str(cast.globex.pk)):
        rows = client.get(url, {"organization": value}).context["page"].object_list
        assert [t.title for t in rows] == ["Globex one"]
    rows = client.get(reverse("staff:change_board"), {"organization": "nobody-by-that-name"})
    assert all(not c["cards"] for c in rows.context["columns"])


def test_a_long_list_says_its_size_with_thousands_separated(cast, monkeypatch) -> None:
    """A list past the count's cap says "more than" the cap; big numbers read 1,000."""
    from tickets.pagination import CappedPaginator

    monkeypatch.setattr(CappedPaginator, "cap", 1_000)
    Ticket.objects.bulk_create(
        Ticket(organization=cast.acme, reporter=cast.alice, title=f"Ticket {i}")
        for i in range(1_001)
    )
    page = client_for(cast.agent).get(reverse("staff:ticket_list")).content.decode()
    assert "More than 1,000 tickets" in page and "of more than 1,000" in page

    monkeypatch.setattr(CappedPaginator, "cap", 10_000)
    page = client_for(cast.agent).get(reverse("staff:ticket_list")).content.decode()
    assert "1,001 tickets" in page and "1\u201325 of 1,001" in page  # an en dash
