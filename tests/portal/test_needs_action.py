""" "Needs your action" is exactly what WORKFLOW.md says waits on the customer.

The oracle is WORKFLOW.md's definition, transcribed below once; the cases are generated
from the status choices of both machines times every performer (and, for tickets, no
change at all), not picked by hand.
"""

from __future__ import annotations

import itertools

import pytest

from tests.factories import ChangeFactory, TicketFactory
from tickets.models import Change, ChangeStatus, Performer, Ticket, TicketStatus
from tickets.selectors import (
    changes_waiting_on_customer,
    customer_action_counts,
    tickets_waiting_on_customer,
)

T = TicketStatus
C = ChangeStatus


def ticket_waits_on_customer(status: str, performer: str | None, change_status: str | None) -> bool:
    # WORKFLOW.md, "Support tickets": "a ticket waits on the customer in
    # WAITING_FOR_CUSTOMER and IN_TESTING, and also in TO_BE_RELEASED when its change is
    # performed by the customer and is itself TO_BE_RELEASED".
    return status in (T.WAITING_FOR_CUSTOMER, T.IN_TESTING) or (
        status == T.TO_BE_RELEASED
        and performer == Performer.CUSTOMER
        and change_status == C.TO_BE_RELEASED
    )


def change_waits_on_customer(status: str, performer: str) -> bool:
    # WORKFLOW.md, "Statuses and transitions": "A change waits on the customer in
    # TO_BE_REVIEWED_BY_BUSINESS and IN_TESTING when the provider performs it, and in
    # TO_BE_RELEASED and IN_TESTING when the customer does". A ROLLED_BACK change waits
    # for the customer too: `close` (IN_TESTING, ROLLED_BACK -> DONE) is the customer's
    # alone, and §2.2 has the customer move it to Done "in both cases".
    if status == C.ROLLED_BACK:
        return True
    if performer == Performer.PROVIDER:
        return status in (C.TO_BE_REVIEWED_BY_BUSINESS, C.IN_TESTING)
    return status in (C.TO_BE_RELEASED, C.IN_TESTING)


# A ticket alone, or in a change of either performer that is still being written and
# approved (waits on nobody's action but the author's and approvers'), or approved.
TICKET_CASES = [(status, None, None) for status in T.values] + list(
    itertools.product(T.values, Performer.values, [C.DRAFT, C.AWAITING_APPROVAL, C.TO_BE_RELEASED])
)
CHANGE_CASES = list(itertools.product(C.values, Performer.values))


@pytest.mark.parametrize(
    ("status", "performer", "change_status"), TICKET_CASES, ids=lambda v: str(v)
)
def test_ticket_case(cast, alice_client, status, performer, change_status) -> None:
    change = None
    if performer is not None:
        change = ChangeFactory(
            organization=cast.acme, author=cast.agent, performer=performer, status=change_status
        )
    ticket = TicketFactory(
        organization=cast.acme, reporter=cast.alice, status=status, change=change
    )
    # The same case in another organisation must never count for alice.
    TicketFactory(
        organization=cast.globex,
        reporter=cast.bob,
        status=status,
        change=change
        and ChangeFactory(
            organization=cast.globex, author=cast.agent, performer=performer, status=change_status
        ),
    )
    expected = ticket_waits_on_customer(status, performer, change_status)
    change_counts = int(change is not None and change_waits_on_customer(change_status, performer))

    assert list(tickets_waiting_on_customer(cast.alice)) == ([ticket] if expected else [])
    response = alice_client.get("/portal/")
    assert response.status_code == 200
    shown = [t.key for t, _ in response.context["action_tickets"]]
    assert shown == ([ticket.key] if expected else [])
    counts = response.context["action_counts"]
    assert {k: counts[k] for k in ("tickets", "changes", "total")} == {
        "tickets": int(expected),
        "changes": change_counts,
        "total": int(expected) + change_counts,
    }
    listed = alice_client.get("/portal/tickets/?show=action").context["page"].object_list
    assert [t.key for t in listed] == shown
    if expected:
        assert response.context["action_tickets"][0][1], "no sentence says what is asked"
    # The model's own view of the ticket agrees.
    assert (Ticket.objects.get(pk=ticket.pk).waiting_on == "customer") is expected


@pytest.mark.parametrize(("status", "performer"), CHANGE_CASES, ids=lambda v: str(v))
def test_change_case(cast, alice_client, status, performer) -> None:
    change = ChangeFactory(
        organization=cast.acme, author=cast.agent, performer=performer, status=status
    )
    ChangeFactory(organization=cast.globex, author=cast.agent, performer=performer, status=status)
    expected = change_waits_on_customer(status, performer)

    assert list(changes_waiting_on_customer(cast.alice)) == ([change] if expected else [])
    response = alice_client.get("/portal/")
    shown = [c.key for c, _ in response.context["action_changes"]]
    assert shown == ([change.key] if expected else [])
    assert response.context["action_counts"]["changes"] == int(expected)
    listed = alice_client.get("/portal/changes/?show=action").context["page"].object_list
    assert [c.key for c in listed] == shown
    if expected:
        assert response.context["action_changes"][0][1], "no sentence says what is asked"
        assert f'data-key="{change.key}"' in response.content.decode()
    assert (Change.objects.get(pk=change.pk).waiting_on == "customer") is expected


def test_every_case_together_and_the_counts_in_the_navigation(cast, alice_client) -> None:
    """All the cases at once: the lists hold exactly the oracle's set, and the counts in
    the navigation say how many."""
    expected_keys = set()
    for status, performer in CHANGE_CASES:
        c = ChangeFactory(
            organization=cast.acme, author=cast.agent, performer=performer, status=status
        )
        if change_waits_on_customer(status, performer):
            expected_keys.add(c.key)
    holders = {}
    for status, performer, change_status in TICKET_CASES:
        if performer and (performer, change_status) not in holders:
            holders[performer, change_status] = c = ChangeFactory(
                organization=cast.acme, author=cast.agent, performer=performer, status=change_status
            )
            if change_waits_on_customer(change_status, performer):
                expected_keys.add(c.key)
        t = TicketFactory(
            organization=cast.acme,
            reporter=cast.alice,
            status=status,
            change=holders[performer, change_status] if performer else None,
        )
        if ticket_waits_on_customer(status, performer, change_status):
            expected_keys.add(t.key)

    response = alice_client.get("/portal/")
    context = response.context
    shown = {t.key for t, _ in context["action_tickets"]} | {
        c.key for c, _ in context["action_changes"]
    }
    assert shown == expected_keys
    counts = customer_action_counts(cast.alice)
    assert counts["total"] == len(expected_keys) == context["action_counts"]["total"]
    html = response.content.decode()
    assert f'data-testid="nav-action-count">{len(expected_keys)}<' in html
    assert f'data-testid="nav-ticket-count" title="{counts["tickets"]} waiting for you">' in html
    assert f'data-testid="nav-change-count" title="{counts["changes"]} waiting for you">' in html
