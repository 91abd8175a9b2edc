"""`tickets_matching` and `changes_matching`: the one search of tickets and changes (the
API's `?search=`; the staff queue and the portal to follow), on PostgreSQL full-text
search."""

from __future__ import annotations

import pytest

from tests.factories import ChangeFactory, TicketFactory
from tickets import selectors
from tickets.models import Ticket
from tickets.selectors import (
    changes_matching,
    changes_visible_to,
    tickets_matching,
    tickets_visible_to,
)

pytestmark = pytest.mark.django_db


def _ticket(cast, title: str, description: str = "", org=None) -> Ticket:
    return TicketFactory(
        organization=org or cast.acme, reporter=cast.alice, title=title, description=description
    )


def _keys(qs) -> list[str]:
    return [obj.key for obj in qs]


def test_words_are_matched_stemmed_and_by_their_beginning(cast) -> None:
    invoice = _ticket(cast, "Invoice totals are wrong")
    invoices = _ticket(cast, "Export of the invoices fails", "Since Monday.")
    _ticket(cast, "Login page is slow")
    staff = tickets_visible_to(cast.agent)
    assert set(_keys(tickets_matching(staff, "invoice"))) == {invoice.key, invoices.key}
    assert set(_keys(tickets_matching(staff, "inv"))) == {invoice.key, invoices.key}
    # Every word must be there, in the title or the description.
    assert _keys(tickets_matching(staff, "invoices monday")) == [invoices.key]
    assert _keys(tickets_matching(staff, "zzz")) == []
    assert _keys(tickets_matching(staff, "  !!  ")) == []


def test_a_word_of_the_title_ranks_above_one_of_the_description(cast) -> None:
    in_title = _ticket(cast, "Proxy timeout on export", "Seen by finance.")
    in_text = _ticket(cast, "Export fails", "The proxy answers 504.")
    # The description-only match is the most recent: relevance still comes first.
    Ticket.objects.filter(pk=in_text.pk).update(updated=in_title.updated.replace(year=2099))
    found = list(tickets_matching(tickets_visible_to(cast.agent), "proxy"))
    assert _keys(found) == [in_title.key, in_text.key]
    assert found[0].search_rank > found[1].search_rank > 0


def test_a_key_finds_its_ticket_and_a_number_finds_it_first(cast) -> None:
    target = _ticket(cast, "Printer offline")
    mentions = _ticket(cast, f"Follow-up of {target.pk}", "")
    staff = tickets_visible_to(cast.agent)
    assert _keys(tickets_matching(staff, target.key)) == [target.key]
    assert _keys(tickets_matching(staff, target.key.lower())) == [target.key]
    assert _keys(tickets_matching(staff, str(target.pk))) == [target.key, mentions.key]
    assert set(_keys(tickets_matching(staff, str(target.pk), ranked=False))) == {
        target.key,
        mentions.key,
    }
    assert _keys(tickets_matching(staff, f"CHG-{target.pk}")) == []
    assert _keys(tickets_matching(staff, "SUP-99999999999999999999999")) == []


def test_the_search_keeps_the_scope_it_is_given(cast) -> None:
    mine = _ticket(cast, "Invoice run failed")
    other = _ticket(cast, "Invoice run failed", org=cast.globex)
    assert _keys(tickets_matching(tickets_visible_to(cast.alice), "invoice")) == [mine.key]
    assert _keys(tickets_matching(tickets_visible_to(cast.alice), other.key)) == []
    assert _keys(tickets_matching(tickets_visible_to(cast.alice), str(other.pk))) == []


def test_ranked_looks_at_the_most_recent_matches_unranked_at_all(cast, monkeypatch) -> None:
    tickets = [_ticket(cast, f"Invoice {i}") for i in range(3)]
    monkeypatch.setattr(selectors, "SEARCH_RANKED_MATCHES", 2)
    staff = tickets_visible_to(cast.agent)
    newest_two = {t.key for t in tickets[1:]}
    assert set(_keys(tickets_matching(staff, "invoice"))) == newest_two
    every = tickets_matching(staff, "invoice", ranked=False).order_by("pk")
    assert _keys(every) == [t.key for t in tickets]


def test_a_title_edit_is_searchable_at_once(cast) -> None:
    ticket = _ticket(cast, "Typo")
    ticket.title = "Certificate expired"
    ticket.save()
    assert _keys(tickets_matching(tickets_visible_to(cast.agent), "certificate")) == [ticket.key]


def test_changes_match_their_title_summary_and_key(cast) -> None:
    pricing = ChangeFactory(
        organization=cast.acme, author=cast.agent, title="Release pricing", summary="Fix VAT."
    )
    other = ChangeFactory(
        organization=cast.globex, author=cast.agent, title="Upgrade", summary="Database."
    )
    staff = changes_visible_to(cast.agent)
    assert _keys(changes_matching(staff, "vat")) == [pricing.key]
    assert _keys(changes_matching(staff, "pric")) == [pricing.key]
    assert _keys(changes_matching(staff, other.key)) == [other.key]
    assert _keys(changes_matching(changes_visible_to(cast.alice), other.key)) == []


def test_the_api_search_is_this_search(cast, client) -> None:
    from tests.api.support import Api

    found = _ticket(cast, "Invoice totals are wrong")
    _ticket(cast, "Login is slow")
    agent = Api.of(cast.agent)
    page = agent.get("/api/v1/tickets/", {"search": "invoic"}).json()
    assert [r["key"] for r in page["results"]] == [found.key]
    page = agent.get("/api/v1/tickets/", {"search": found.key, "ordering": "-id"}).json()
    assert [r["key"] for r in page["results"]] == [found.key]


def test_a_ranked_search_counts_with_its_page(cast, monkeypatch) -> None:
    """The page's rows carry the count of every match (`pagination.ROWS_TOTAL`): one query
    for the page and its count, where the candidates were found twice. Past the end, or
    past the cap, the paginator counts and answers as it does for any list."""
    from django.core.paginator import EmptyPage, PageNotAnInteger
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tickets.pagination import CappedPaginator

    found = [_ticket(cast, f"Invoice {i}") for i in range(5)]
    _ticket(cast, "Login is slow")
    staff = tickets_visible_to(cast.agent)
    with CaptureQueriesContext(connection) as queries:
        paginator = CappedPaginator(tickets_matching(staff, "invoice"), 2)
        page = paginator.page(3)
        assert (paginator.count, paginator.num_pages) == (5, 3)
    assert len(queries) == 1 and "COUNT(*) OVER ()" in queries[0]["sql"]
    assert [t.key for t in page] == [found[0].key]
    assert not page.has_next() and page.has_previous()
    assert [t.key for t in CappedPaginator(tickets_matching(staff, "invoice"), 2).page("1")] == [
        found[4].key,
        found[3].key,
    ]
    # Past the end, and numbers that are not pages: the usual refusals.
    refusals = (
        (4, EmptyPage),
        (0, EmptyPage),
        ("x", PageNotAnInteger),
        ("9" * 5000, PageNotAnInteger),
    )
    for number, refusal in refusals:
        with pytest.raises(refusal):
            CappedPaginator(tickets_matching(staff, "invoice"), 2).page(number)
    assert CappedPaginator(tickets_matching(staff, "invoice"), 2).get_page(9).number == 3
    assert list(CappedPaginator(tickets_matching(staff, "nothing"), 2).page(1)) == []
    # Past the cap the page knows only whether another follows, as any capped list.
    monkeypatch.setattr(CappedPaginator, "cap", 3)
    paginator = CappedPaginator(tickets_matching(staff, "invoice"), 2)
    page = paginator.page(2)
    assert paginator.capped and page.has_next() and len(page) == 2


def test_the_api_search_answers_its_count_and_pages(cast) -> None:
    from tests.api.support import Api

    found = [_ticket(cast, f"Invoice {i}") for i in range(3)]
    agent = Api.of(cast.agent)
    first = agent.get("/api/v1/tickets/", {"search": "invoice", "page_size": 2}).json()
    assert first["count"] == 3 and first["next"] and first["previous"] is None
    last = agent.get("/api/v1/tickets/", {"search": "invoice", "page_size": 2, "page": 2})
    assert [r["key"] for r in last.json()["results"]] == [found[0].key]
    assert last.json()["count"] == 3 and last.json()["next"] is None
    past = agent.get("/api/v1/tickets/", {"search": "invoice", "page_size": 2, "page": 3})
    assert past.status_code == 404 and "detail" in past.json()


def test_a_search_page_far_past_the_end_is_a_404_not_an_overflow(cast, monkeypatch) -> None:
    """The page and its count are read in one query only for a page the list can hold:
    a page number whose OFFSET would pass PostgreSQL's bigint is refused first, ranked
    search or capped list alike."""
    from tests.api.support import Api
    from tickets.pagination import CappedPaginator

    _ticket(cast, "Invoice totals are wrong")
    agent = Api.of(cast.agent)
    huge = "999999999999999999"
    for params in ({"search": "invoice", "page": huge}, {"page": huge}):
        answer = agent.get("/api/v1/tickets/", params)
        assert answer.status_code == 404 and "detail" in answer.json(), params
    monkeypatch.setattr(CappedPaginator, "cap", 0)  # every list past the cap
    answer = agent.get("/api/v1/tickets/", {"page": huge})
    assert answer.status_code == 404 and "detail" in answer.json()


def test_the_html_lists_count_a_search_with_its_page(cast) -> None:
    """`get_page` (the HTML lists) takes the same one query as `page` (the API), and
    still answers the last page for one past the end."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from tests.staff.conftest import client_for
    from tickets.pagination import CappedPaginator

    for i in range(3):
        _ticket(cast, f"Invoice {i}")
    client = client_for(cast.agent)
    url = reverse("staff:ticket_list")
    with CaptureQueriesContext(connection) as queries:
        page = client.get(url, {"q": "invoice"})
    assert page.status_code == 200
    reads = [q["sql"] for q in queries if '"tickets_ticket"' in q["sql"]]
    assert any("COUNT(*) OVER ()" in sql for sql in reads), reads
    assert not any(sql.startswith("SELECT COUNT(*)") for sql in reads), reads
    past = client.get(url, {"q": "invoice", "page": "7"}).content.decode()
    assert "Invoice 0" in past  # the last (only) page
    # A search read as values() is counted the usual way, not from its rows.
    values = tickets_matching(tickets_visible_to(cast.agent), "invoice").values("pk")
    paginator = CappedPaginator(values, 2)
    assert len(paginator.page("2")) == 1 and paginator.count == 3
