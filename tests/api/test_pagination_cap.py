"""Lists count up to a cap (docs/api.md): exact below it; above it `count` says the cap
and the pages go on while `next` is given."""

from __future__ import annotations

import pytest

from tests.factories import TicketFactory
from tickets.api.pagination import CappedPaginator

V1 = "/api/v1/tickets/"


@pytest.fixture
def five(cast):
    return TicketFactory.create_batch(5, organization=cast.acme, reporter=cast.alice)


def test_below_the_cap_the_count_is_exact(api, five, monkeypatch) -> None:
    monkeypatch.setattr(CappedPaginator, "cap", 5)
    page = api("agent").get(V1, {"page_size": 2}).json()
    assert page["count"] == 5
    assert api("agent").get(V1, {"page_size": 2, "page": 4}).status_code == 404


def test_above_the_cap_the_pages_go_on_while_next_is_given(api, five, monkeypatch) -> None:
    monkeypatch.setattr(CappedPaginator, "cap", 3)
    agent = api("agent")
    seen, page_number = [], 1
    while True:
        page = agent.get(V1, {"page_size": 2, "page": page_number}).json()
        assert page["count"] == 3
        seen += [r["id"] for r in page["results"]]
        if page["next"] is None:
            break
        assert f"page={page_number + 1}" in page["next"]
        page_number += 1
    assert sorted(seen) == sorted(t.pk for t in five)
    assert page_number == 3
    assert agent.get(V1, {"page_size": 2, "page": 4}).status_code == 404
    assert agent.get(V1, {"page_size": 2, "page": 2}).json()["previous"] is not None
    assert agent.get(V1, {"page": 0}).status_code == 400


def test_the_count_reads_at_most_the_cap_and_one(cast, five, monkeypatch) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tickets.models import Ticket

    monkeypatch.setattr(CappedPaginator, "cap", 3)
    with CaptureQueriesContext(connection) as queries:
        assert CappedPaginator(Ticket.objects.all(), 2).count == 4
    assert "LIMIT 4" in queries[0]["sql"]


def test_capped_counts_of_querysets_that_match_nothing_are_zero(db) -> None:
    """A filter the ORM knows matches nothing (`pk__in=[]`, `.none()`) writes no SQL at
    all: such a part counts 0 instead of breaking the page that asked (a dashboard panel
    for someone who holds no approval role)."""
    from tickets.models import Ticket
    from tickets.pagination import capped_counts

    TicketFactory.create_batch(3)
    counts = capped_counts(
        {
            "none": Ticket.objects.none(),
            "empty": Ticket.objects.filter(pk__in=[]),
            "all": Ticket.objects.all(),
        }
    )
    assert counts == {"none": 0, "empty": 0, "all": 3}
    assert capped_counts({"only_empty": Ticket.objects.filter(pk__in=[])}) == {"only_empty": 0}
