"""The lists and counts that every dashboard and portal page runs are answered by the
partial indexes made for them (tickets/models: `ticket_provider_open`,
`ticket_unassigned_open`, `ticket_customer_open`, `change_customer_release`,
`change_author_open`): an index is used only while the query's conditions imply the
index's own, so a change to either side (a status added to a rule, a condition spelled
differently) silently sends PostgreSQL back to reading rows, which costs milliseconds only
at a desk's volume (docs/benchmarks.md).

The test tables are small, where reading them whole is cheapest; sequential scans are
turned off for each query here so that PostgreSQL shows which index it *can* use, and the
smallest usable one wins on cost."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.models import QuerySet

from tests.factories import ChangeFactory, TicketFactory
from tickets.models import ChangeStatus, Performer, Ticket, TicketStatus
from tickets.selectors import changes_visible_to

pytestmark = pytest.mark.django_db


def _plan(qs: QuerySet) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        return qs.explain()


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
    plan = _plan(mine.order_by("-updated", "-pk")[:8])
    assert "ticket_provider_open" in plan and "Sort" not in plan, plan


def test_the_unassigned_open_tickets_are_read_newest_first_from_their_index(cast, desk) -> None:
    """The dashboard's "unassigned" panel, without a sort."""
    unassigned = Ticket.objects.filter(Ticket.waiting_on_provider_q(), assignee__isnull=True)
    plan = _plan(unassigned.order_by("-updated", "-pk")[:8])
    assert "ticket_unassigned_open" in plan and "Sort" not in plan, plan


def test_an_organisation_s_tickets_waiting_on_it_are_read_from_their_index(cast, desk) -> None:
    """The portal's "Needs your action" list, newest first, without a sort."""
    waiting = Ticket.objects.filter(Ticket.waiting_on_customer_q(), organization=cast.acme)
    plan = _plan(waiting.order_by("-updated", "-pk")[:50])
    assert "ticket_customer_open" in plan and "Sort" not in plan, plan


def test_the_customer_s_releases_are_read_from_their_own_index(cast, desk) -> None:
    """Every "waiting on" rule asks which changes the customer releases; those few are
    found in `change_customer_release`, not among all the changes to be released."""
    for rule in (Ticket.waiting_on_provider_q(), Ticket.waiting_on_customer_q()):
        plan = _plan(Ticket.objects.filter(rule).values("pk")[:101])
        assert "change_customer_release" in plan, plan


def test_a_person_s_changes_in_flight_are_read_newest_first_from_their_index(cast, desk) -> None:
    """The dashboard's "my changes in flight": what is done or cancelled is not in it."""
    in_flight = (
        changes_visible_to(cast.agent)
        .filter(author=cast.agent)
        .exclude(status__in=[ChangeStatus.DONE, ChangeStatus.CANCELLED])
    )
    plan = _plan(in_flight.order_by("-updated", "-pk")[:8])
    assert "change_author_open" in plan and "Sort" not in plan, plan
