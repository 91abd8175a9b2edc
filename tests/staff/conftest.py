"""Fixtures of the staff workspace tests: a desk with a ticket and a change in every status."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client

from tests.factories import (
    ChangeFactory,
    ComponentVersionFactory,
    TicketCommentFactory,
    TicketFactory,
    propose_window,
)
from tickets.models import Change, ChangeStatus, Ticket, TicketStatus


@dataclass
class Desk:
    cast: object
    tickets: dict[str, Ticket]
    changes: dict[str, Change]


@pytest.fixture
def desk(cast) -> Desk:
    tickets = {}
    for status in TicketStatus.values:
        ticket = TicketFactory(
            organization=cast.acme,
            reporter=cast.alice,
            status=status,
            title=f"Ticket {status}",
        )
        TicketCommentFactory(ticket=ticket, author=cast.alice, body="Customer says hello.")
        TicketCommentFactory(ticket=ticket, author=cast.agent, body="Note to self.", public=False)
        tickets[status] = ticket
    changes = {}
    for status in ChangeStatus.values:
        change = ChangeFactory(
            organization=cast.acme, author=cast.agent, status=status, title=f"Change {status}"
        )
        ComponentVersionFactory(component=change.change_components.first().component)
        changes[status] = change
    propose_window(changes[ChangeStatus.TO_BE_RELEASED], cast.agent, agreed_by=cast.alice)
    return Desk(cast=cast, tickets=tickets, changes=changes)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client
