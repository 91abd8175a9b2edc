"""A ticket as the API shows it (`TicketSerializer`'s fields, in its order), for a page at
once: the list's 50 tickets through a ModelSerializer were about a third of its time.
`TicketSerializer` stays the published shape; tests/api/test_change_rows.py holds the two
to the same output."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from tickets.models import Ticket

from .change_rows import datetimes
from .fields import username_of


def with_representation(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """`tickets` with who each waits on (an annotation, not its change's row) and the
    usernames of its people (subqueries, not joined users; see `fields.UsernameField`)."""
    return Ticket.with_customer_release(
        tickets.defer("search_document").annotate(
            api_reporter=username_of("reporter_id"), api_assignee=username_of("assignee_id")
        )
    )


def represent(tickets: Sequence[Ticket]) -> list[dict[str, Any]]:
    """The tickets (read through `with_representation`) as TicketSerializer shows them."""
    iso = datetimes(timezone.get_current_timezone())
    return [
        {
            "id": t.pk,
            "key": f"SUP-{t.pk}",
            "title": t.title,
            "description": t.description,
            "type": t.type,
            "organization": t.organization_id,
            "status": t.status,
            "priority": t.priority,
            "reporter": t.__dict__["api_reporter"],
            "assignee": t.__dict__["api_assignee"],
            "change": t.change_id,
            "waiting_on": t.waiting_on,
            "created": iso(t.created),
            "updated": iso(t.updated),
        }
        for t in tickets
    ]
