"""The number of queries of the busiest pages does not grow with the rows they show."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from notifications.models import Delivery, DeliveryState, Notification, NotificationKind
from tests.factories import (
    ChangeFactory,
    TicketCommentFactory,
    TicketFactory,
    UserFactory,
    propose_window,
)
from tests.staff.conftest import client_for
from tickets.models import Change, ChangeStatus, ChecklistItem, TestScenario, TicketStatus
from tickets.services import change_transition, change_update


def _communication(change, *, sent: int = 0, failed: int = 0) -> None:
    """An announcement of the change, sent to some end users and failed for others."""
    n = Notification.objects.create(
        kind=NotificationKind.ANNOUNCEMENT, change=change, subject="Outage", body_text="."
    )
    Delivery.objects.bulk_create(
        Delivery(
            notification=n,
            recipient=f"u{i}@example.com",
            state=DeliveryState.FAILED if i < failed else DeliveryState.SENT,
            last_error="550 no such user" if i < failed else "",
        )
        for i in range(sent + failed)
    )


# The most each page may take, whatever the number of rows. Counted once per request:
# session and user, the page's own reads, the filter form's choices.
QUEUE = 6
# Approvals counted in the rows' own query (`approvals_given_now`), not a prefetch.
CHANGE_LIST = 5
BOARD = 5
# The change page with a window: its files and their history (tickets/templatetags/
# attachments.py), its conflicts (2), its approvals read once for the panel and the options,
# the people it names in one query (`selectors.read_change_people`) and its communications
# (one more when a delivery failed: below). 15 in production, where the session is in
# Redis; the bound is 15.
CHANGE_PAGE = 16
DASHBOARD = 10  # its five panels' counts and the unread notices in one query (pagination.py)
TICKET_PAGE = 8  # with its files, and their history in the conversation


def _count(client, url, **params) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def _same_for_few_and_many(django_assert_max_num_queries, limit, grow, measure) -> None:
    counts = []
    for n in (2, 30):
        grow(n)
        with django_assert_max_num_queries(limit):
            counts.append(measure())
    assert counts[0] == counts[1], f"queries grew with the rows: {counts}"


def test_queue(cast, django_assert_max_num_queries) -> None:
    client = client_for(cast.agent)

    def grow(n):
        for i in range(n):
            TicketFactory(
                organization=cast.acme if i % 2 else cast.globex,
                reporter=cast.alice if i % 2 else cast.bob,
                assignee=cast.qa if i % 3 else None,
                status=TicketStatus.values[i % len(TicketStatus.values)],
            )

    _same_for_few_and_many(
        django_assert_max_num_queries,
        QUEUE,
        grow,
        lambda: _count(
            client, reverse("staff:ticket_list"), waiting_on="provider", sort="-priority"
        ),
    )


def _changes(cast, n):
    for i in range(n):
        change = ChangeFactory(
            organization=cast.acme if i % 2 else cast.globex,
            author=cast.agent,
            status=ChangeStatus.values[i % len(ChangeStatus.values)],
        )
        if i % 3 == 0:
            propose_window(change, cast.agent)


def test_change_list_and_board(cast, django_assert_max_num_queries) -> None:
    client = client_for(cast.peer)
    _same_for_few_and_many(
        django_assert_max_num_queries,
        CHANGE_LIST,
        lambda n: _changes(cast, n),
        lambda: _count(client, reverse("staff:change_list"), sort="window"),
    )
    _same_for_few_and_many(
        django_assert_max_num_queries,
        BOARD,
        lambda n: _changes(cast, n),
        lambda: _count(client, reverse("staff:change_board")),
    )


def test_dashboard(cast, django_assert_max_num_queries) -> None:
    client = client_for(cast.ops)

    def grow(n):
        _changes(cast, n)
        for _ in range(n):
            TicketFactory(organization=cast.acme, reporter=cast.alice, assignee=cast.ops)
            TicketFactory(organization=cast.acme, reporter=cast.alice)
        # Some awaiting approval with approvals of this round already given.
        for _ in range(n // 2):
            change = ChangeFactory(organization=cast.acme, author=cast.agent)
            change_transition(change=change.pk, by=cast.agent, name="submit")
            change_transition(change=change.pk, by=cast.qa, name="approve", role="qa")

    _same_for_few_and_many(
        django_assert_max_num_queries,
        DASHBOARD,
        grow,
        lambda: _count(client, reverse("staff:dashboard")),
    )


@pytest.mark.parametrize("user", ["agent", "qa"])
def test_change_page(cast, django_assert_max_num_queries, user) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    client = client_for(getattr(cast, user))

    def grow(n):
        propose_window(change, cast.agent)  # its conflicts are read too
        for i in range(n):
            # Each row names someone: the page reads them all in one query.
            TestScenario.objects.create(
                change=change,
                position=10 + i,
                kind="regression",
                description=f"Case {i}",
                result="passed",
                result_by=cast.qa,
                result_at=timezone.now(),
            )
            ChecklistItem.objects.create(
                change=change,
                position=10 + i,
                label=f"Check {i}",
                state="done",
                by=UserFactory(),
                at=timezone.now(),
            )
            ticket = TicketFactory(
                organization=cast.acme, reporter=cast.alice, status=TicketStatus.TO_BE_RELEASED
            )
            ticket.change = change
            ticket.save()
            change_update(change=change.pk, by=cast.agent, summary=f"Summary {i}")
            _communication(change, sent=3)
        change_transition(change=change.pk, by=cast.agent, name="submit")
        change_transition(change=change.pk, by=cast.qa, name="approve", role="qa")
        change_transition(change=change.pk, by=cast.peer, name="reject", comment="Again.")

    _same_for_few_and_many(
        django_assert_max_num_queries,
        CHANGE_PAGE,
        grow,
        lambda: _count(client, reverse("staff:change_detail", args=[change.key])),
    )


def test_a_failed_communication_costs_the_change_page_one_query(cast) -> None:
    """The failed recipients (shown under each communication) are read in one query, and
    only when some delivery failed: the page's bound above holds for every change whose
    communications all went out."""
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    client, url = client_for(cast.agent), reverse("staff:change_detail", args=[change.key])
    _communication(change, sent=5)
    sent_only = _count(client, url)
    _communication(change, sent=2, failed=3)
    assert _count(client, url) == sent_only + 1
    _communication(change, failed=40)
    page = client.get(url).content.decode()
    assert _count(client, url) == sent_only + 1
    assert "3 failed" in page and "40 failed" in page and "550 no such user" in page


@pytest.mark.parametrize(
    ("user", "page", "kind"),
    [
        ("agent", "staff:change_detail", "change"),
        ("agent", "staff:ticket_detail", "ticket"),
        ("alice", "portal:change", "change"),
        ("alice", "portal:ticket", "ticket"),
    ],
)
def test_a_page_reads_its_one_object_without_ordering_it(cast, user, page, kind) -> None:
    """`.first()` orders by the model's ordering; compiling that ORDER BY over the object
    and its joined rows cost the ORM about 0.3 ms on every page (`selectors.by_pk`)."""
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    subject = (
        ChangeFactory(organization=cast.acme, author=cast.agent) if kind == "change" else ticket
    )
    with CaptureQueriesContext(connection) as ctx:
        response = client_for(getattr(cast, user)).get(reverse(page, args=[subject.key]))
    assert response.status_code == 200
    table = f'"tickets_{kind}"'
    reads = [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].startswith(f"SELECT {table}.") and f'{table}."id" = {subject.pk}' in q["sql"]
    ]
    assert reads, [q["sql"][:120] for q in ctx.captured_queries]
    assert not [q for q in reads if "ORDER BY" in q], reads


def test_the_ticket_page_reads_its_change_without_the_change_s_texts(cast) -> None:
    """The page shows its change by key, title and status: the sections and the search
    document (the largest columns) stay unread."""
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice, change=change)
    with CaptureQueriesContext(connection) as ctx:
        page = client_for(cast.agent).get(reverse("staff:ticket_detail", args=[ticket.key]))
    assert change.title in page.content.decode()
    reads = " ".join(q["sql"] for q in ctx.captured_queries)
    for column in ("summary", "rollback_procedure", "search_document"):
        assert f'"tickets_change"."{column}"' not in reads, column


def test_change_page_reads_the_approvals_once(cast) -> None:
    """Awaiting approval, the panel, the approve option (its roles, its refusal) and the
    approver role all ask of the same rows: one query of approvals."""
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    change_transition(change=change.pk, by=cast.agent, name="submit")
    change_transition(change=change.pk, by=cast.qa, name="approve", role="qa")
    for user in (cast.peer, cast.qa):  # one may approve, the other is refused
        client = client_for(user)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(reverse("staff:change_detail", args=[change.key]))
        assert response.status_code == 200
        approvals = [q for q in ctx.captured_queries if 'FROM "approvals_approval"' in q["sql"]]
        assert len(approvals) == 1, [q["sql"] for q in approvals]
        assert len(ctx.captured_queries) <= CHANGE_PAGE


def test_ticket_page(cast, django_assert_max_num_queries) -> None:
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    client = client_for(cast.agent)

    def grow(n):
        for i in range(n):
            TicketCommentFactory(ticket=ticket, author=cast.alice, body=f"Customer {i}")
            TicketCommentFactory(ticket=ticket, author=cast.agent, body=f"Note {i}", public=False)

    _same_for_few_and_many(
        django_assert_max_num_queries,
        TICKET_PAGE,
        grow,
        lambda: _count(client, reverse("staff:ticket_detail", args=[ticket.key])),
    )


def test_the_assignee_choices_are_read_without_a_server_side_cursor(cast) -> None:
    """A form's model choices are read with `iterator()`; on PostgreSQL that was a
    server-side cursor, three round trips (DECLARE, FETCH, CLOSE) for a few staff."""
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    with CaptureQueriesContext(connection) as ctx:
        response = client_for(cast.agent).get(reverse("staff:ticket_detail", args=[ticket.key]))
    assert cast.qa.username in response.content.decode()  # the select lists the staff
    assert not [q for q in ctx.captured_queries if q["sql"].startswith("DECLARE")]


def test_dashboard_panels_are_bounded(cast, monkeypatch) -> None:
    """At most DASHBOARD_ROWS rows a panel, a count that stops at the cap, and only the
    changes on which this user still has an approval to give."""
    from tests.factories import UserFactory
    from tickets import pagination
    from tickets.staff.views.common import DASHBOARD_ROWS

    monkeypatch.setattr(pagination, "PANEL_COUNT_CAP", DASHBOARD_ROWS + 2)
    for _ in range(DASHBOARD_ROWS + 5):
        TicketFactory(organization=cast.acme, reporter=cast.alice, assignee=cast.ops)
        change = ChangeFactory(organization=cast.acme, author=cast.agent)
        change_transition(change=change.pk, by=cast.agent, name="submit")
    approved = ChangeFactory(organization=cast.acme, author=cast.agent)
    change_transition(change=approved.pk, by=cast.agent, name="submit")
    change_transition(change=approved.pk, by=cast.ops, name="approve", role="operations")
    taken = ChangeFactory(organization=cast.acme, author=cast.agent)
    change_transition(change=taken.pk, by=cast.agent, name="submit")
    other_ops = UserFactory(username="ops2", is_operations_manager=True)
    change_transition(change=taken.pk, by=other_ops, name="approve", role="operations")
    change_transition(change=taken.pk, by=cast.agent2, name="approve", role="peer")

    response = client_for(cast.ops).get(reverse("staff:dashboard"))
    ctx = response.context
    assert len(ctx["mine"]) == DASHBOARD_ROWS
    assert ctx["mine_count"] == DASHBOARD_ROWS + 3  # the cap + 1: "more than"
    assert len(ctx["to_approve"]) == DASHBOARD_ROWS
    assert ctx["to_approve_count"] == DASHBOARD_ROWS + 3
    # The unread notices (one per change submitted) are counted with the panels, capped.
    assert ctx["unread_notices"] == DASHBOARD_ROWS + 3
    assert f'aria-label="{DASHBOARD_ROWS + 2}+ unread"' in response.content.decode()
    shown = {row["change"].pk for row in ctx["to_approve"]}
    assert approved.pk not in shown and taken.pk not in shown
    assert all(row["roles"] == ["Peer", "Operations"] for row in ctx["to_approve"])

    monkeypatch.setattr(pagination, "PANEL_COUNT_CAP", 10_000)
    ctx = client_for(cast.ops).get(reverse("staff:dashboard")).context
    assert ctx["to_approve_count"] == DASHBOARD_ROWS + 5  # neither `approved` nor `taken`
    assert ctx["mine_count"] == DASHBOARD_ROWS + 5


def test_the_changes_to_approve_are_the_longest_waiting_first(cast) -> None:
    """The panel shows the DASHBOARD_ROWS changes that have waited longest for this
    person's approval, oldest first: chosen first, then joined to their names."""
    from tickets.staff.views.common import DASHBOARD_ROWS

    changes = []
    for _ in range(DASHBOARD_ROWS + 3):
        change = ChangeFactory(organization=cast.acme, author=cast.agent)
        change_transition(change=change.pk, by=cast.agent, name="submit")
        changes.append(change)
    # Waiting since: in an order unlike the one they were made in.
    base = timezone.now() - timedelta(days=30)
    order = list(reversed(changes[::2])) + changes[1::2]
    for i, change in enumerate(order):
        Change.objects.filter(pk=change.pk).update(updated=base + timedelta(hours=i))
    ctx = client_for(cast.ops).get(reverse("staff:dashboard")).context
    shown = [row["change"].pk for row in ctx["to_approve"]]
    assert shown == [c.pk for c in order[:DASHBOARD_ROWS]]
    assert all(row["change"].author.username == cast.agent.username for row in ctx["to_approve"])


def test_board_columns_are_bounded(cast) -> None:
    from tickets.staff.views.common import BOARD_CARDS

    for _ in range(BOARD_CARDS + 3):
        ChangeFactory(organization=cast.acme, author=cast.agent)
    ChangeFactory(organization=cast.acme, author=cast.agent, status=ChangeStatus.CANCELLED)
    columns = {
        c["status"]: c
        for c in client_for(cast.peer).get(reverse("staff:change_board")).context["columns"]
    }
    draft = columns[ChangeStatus.DRAFT]
    assert len(draft["cards"]) == BOARD_CARDS and draft["count"] == BOARD_CARDS + 3
    updated = [c.updated for c in draft["cards"]]
    assert updated == sorted(updated, reverse=True)
    assert columns[ChangeStatus.CANCELLED]["count"] == 1
    assert columns[ChangeStatus.DONE] == {**columns[ChangeStatus.DONE], "cards": [], "count": 0}


def test_the_board_on_a_database_without_limits_in_a_union(cast, monkeypatch) -> None:
    """SQLite (`make run`) refuses LIMIT inside UNION ALL: the board reads its columns one
    query each there, and shows the same cards."""
    from django.db import connection

    from tickets.staff.views.common import BOARD_CARDS

    for _ in range(BOARD_CARDS + 2):
        ChangeFactory(organization=cast.acme, author=cast.agent)
    ChangeFactory(organization=cast.acme, author=cast.agent, status=ChangeStatus.CANCELLED)
    client = client_for(cast.peer)
    url = reverse("staff:change_board")

    def cards() -> dict[str, list[int]]:
        columns = client.get(url).context["columns"]
        return {c["status"]: [card.pk for card in c["cards"]] for c in columns}

    union = cards()
    monkeypatch.setattr(connection.features, "supports_slicing_ordering_in_compound", False)
    assert cards() == union
    assert len(union[ChangeStatus.DRAFT]) == BOARD_CARDS and len(union[ChangeStatus.CANCELLED]) == 1


def test_read_people_reads_every_person_named_in_one_query(cast) -> None:
    from tickets.models import Change
    from tickets.selectors import read_people

    made = ChangeFactory(organization=cast.acme, author=cast.agent, reporter=cast.alice)
    propose_window(made, cast.qa)
    change = Change.objects.get(pk=made.pk)
    with CaptureQueriesContext(connection) as ctx:
        read_people(
            [(change, f) for f in ("author", "reporter", "window_proposed_by", "window_agreed_by")]
        )
        names = (change.author, change.reporter, change.window_proposed_by)
    assert names == (cast.agent, cast.alice, cast.qa)
    assert change.window_agreed_by is None
    assert len(ctx.captured_queries) == 1, [q["sql"] for q in ctx.captured_queries]
    with CaptureQueriesContext(connection) as ctx:
        read_people([(change, "window_agreed_by")])
    assert not ctx.captured_queries
