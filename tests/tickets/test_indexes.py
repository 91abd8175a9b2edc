"""The lists and counts that every dashboard and portal page runs, and the conflicts of
every change page and list, are answered by the indexes made for them (tickets/models:
`ticket_provider_open`, `ticket_unassigned_open`, `ticket_customer_open`,
`change_customer_release`, `change_author_open`, `change_live_windows`): a partial index
is used only while the query's conditions imply the index's own, so a change to either
side (a status added to a rule, a condition spelled differently) silently sends
PostgreSQL back to reading rows, which costs milliseconds only at a desk's volume
(docs/benchmarks.md).

Which index PostgreSQL *chooses* depends on the tables' statistics, which a test database
does not hold steady (the tests before these leave other rows). So each question is
asked with the index in question the only one left on its table besides the keys (the
others dropped in a transaction rolled back after it), and sequential and bitmap scans
off: the plan then shows whether the index can answer the query, and in its order."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import ChangeFactory, TicketFactory
from tickets.models import Change, ChangeStatus, Performer, Ticket, TicketStatus
from tickets.models.choices import WINDOW_LIVE
from tickets.scheduling import conflicts_of
from tickets.selectors import changes_visible_to

pytestmark = pytest.mark.django_db


def _plan(qs: QuerySet, *only: str) -> str:
    """The plan of `qs` with, on the table of each index named, no other index but those
    of its constraints (its key, its unique pairs)."""
    with transaction.atomic(), connection.cursor() as cursor:
        for name in only:
            cursor.execute(
                "SELECT i.indexrelid::regclass::text FROM pg_index i WHERE i.indrelid = "
                "(SELECT indrelid FROM pg_index WHERE indexrelid = %s::regclass) "
                "AND i.indexrelid <> %s::regclass AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
                [name, name],
            )
            for (other,) in cursor.fetchall():
                cursor.execute(f"DROP INDEX {other}")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        plan = qs.explain()
        transaction.set_rollback(True)
    return plan


@pytest.fixture
def desk(cast) -> None:
    """A few rows of each kind the indexes hold, and of those they leave out."""
    for status in (ChangeStatus.TO_BE_RELEASED, ChangeStatus.DONE, ChangeStatus.DRAFT):
        for performer in (Performer.CUSTOMER, Performer.PROVIDER):
            ChangeFactory(
                organization=cast.acme, author=cast.agent, status=status, performer=performer
            )
    for status in (TicketStatus.IN_PROGRESS, TicketStatus.TO_BE_RELEASED, TicketStatus.DONE):
        TicketFactory(organization=cast.acme, reporter=cast.alice, status=status)
        TicketFactory(
            organization=cast.acme, reporter=cast.alice, assignee=cast.agent, status=status
        )


def test_a_person_s_open_tickets_are_read_newest_first_from_their_index(cast, desk) -> None:
    """The dashboard's "assigned to me": no sort, the index gives the order."""
    mine = Ticket.objects.filter(Ticket.waiting_on_provider_q(), assignee=cast.agent)
    plan = _plan(mine.order_by("-updated", "-pk")[:8], "ticket_provider_open")
    assert "ticket_provider_open" in plan and "Sort" not in plan, plan


def test_the_unassigned_open_tickets_are_read_newest_first_from_their_index(cast, desk) -> None:
    """The dashboard's "unassigned" panel, without a sort."""
    unassigned = Ticket.objects.filter(Ticket.waiting_on_provider_q(), assignee__isnull=True)
    plan = _plan(unassigned.order_by("-updated", "-pk")[:8], "ticket_unassigned_open")
    assert "ticket_unassigned_open" in plan and "Sort" not in plan, plan


def test_an_organisation_s_tickets_waiting_on_it_are_read_from_their_index(cast, desk) -> None:
    """The portal's "Needs your action" list, newest first, without a sort."""
    waiting = Ticket.objects.filter(Ticket.waiting_on_customer_q(), organization=cast.acme)
    plan = _plan(waiting.order_by("-updated", "-pk")[:50], "ticket_customer_open")
    assert "ticket_customer_open" in plan and "Sort" not in plan, plan


def test_the_customer_s_releases_are_read_from_their_own_index(cast, desk) -> None:
    """Every "waiting on" rule asks which changes the customer releases; those few are
    found in `change_customer_release`, not among all the changes to be released."""
    for rule in (Ticket.waiting_on_provider_q(), Ticket.waiting_on_customer_q()):
        plan = _plan(Ticket.objects.filter(rule).values("pk")[:101], "change_customer_release")
        assert "change_customer_release" in plan, plan


def test_a_person_s_changes_in_flight_are_read_newest_first_from_their_index(cast, desk) -> None:
    """The dashboard's "my changes in flight": what is done or cancelled is not in it."""
    in_flight = (
        changes_visible_to(cast.agent)
        .filter(author=cast.agent)
        .exclude(status__in=[ChangeStatus.DONE, ChangeStatus.CANCELLED])
    )
    plan = _plan(in_flight.order_by("-updated", "-pk")[:8], "change_author_open")
    assert "change_author_open" in plan and "Sort" not in plan, plan


def test_the_windows_held_in_a_span_are_read_from_their_index(cast) -> None:
    """What the conflicts of a page read of the changes whose windows overlap its span
    (their query's side of the changes, below) is all in `change_live_windows`: the
    windows held, with the columns a conflict names, so no change row is read once
    autovacuum has passed. At a million tickets a page of 50
    changes spans weeks and thousands of windows. The conflicts' query asks for no order
    (the lanes are sorted in Python), which would need the rows."""
    start = timezone.now() + timedelta(days=2)
    changes = []
    for i, status in enumerate([ChangeStatus.TO_BE_RELEASED, ChangeStatus.DONE] * 3):
        change = ChangeFactory(organization=cast.acme, author=cast.agent, status=status)
        Change.objects.filter(pk=change.pk).update(
            window_start=start + timedelta(hours=i), window_end=start + timedelta(hours=i + 2)
        )
        changes.append(change)
    with CaptureQueriesContext(connection) as queries:
        conflicts_of(list(Change.objects.filter(pk__in=[c.pk for c in changes])))
    joined = 'FROM "tickets_changecomponent" INNER JOIN "tickets_change"'
    [windows] = [q["sql"] for q in queries if joined in q["sql"]]
    assert "ORDER BY" not in windows, windows
    span = Change.objects.filter(
        status__in=WINDOW_LIVE,
        window_end__gt=start,
        window_start__lt=start + timedelta(hours=8),
        environment_id__in=[changes[0].environment_id],
    ).order_by()
    columns = ("id", "environment_id", "title", "window_start", "window_end")
    plan = _plan(span.values_list(*columns), "change_live_windows")
    assert "Index Only Scan using change_live_windows" in plan, plan
    # A list by status alone cannot take it for a small copy of the table (at a million
    # tickets the dashboard's count of changes to approve once walked it whole in
    # parallel workers: 18 ms instead of 2).
    by_status = Change.objects.filter(status=ChangeStatus.AWAITING_APPROVAL)
    plan = _plan(by_status, "change_live_windows")
    assert "change_live_windows" not in plan, plan
