"""Who a ticket waits on, three ways that must agree: the model's `waiting_on`, the
querysets `waiting_on_customer_q` / `waiting_on_provider_q` (rewritten for speed in issue
13), and the annotation lists use (`Ticket.with_customer_release`). Every ticket status,
alone and in a change of either performer in the statuses that matter."""

from __future__ import annotations

import itertools

import pytest

from tests.factories import ChangeFactory, TicketFactory
from tickets.models import ChangeStatus, Performer, Ticket, TicketStatus
from tickets.models.support import CUSTOMER_STATUSES, PROVIDER_STATUSES

pytestmark = pytest.mark.django_db

CASES = [(status, None, None) for status in TicketStatus.values] + list(
    itertools.product(
        TicketStatus.values,
        Performer.values,
        [ChangeStatus.DRAFT, ChangeStatus.TO_BE_RELEASED, ChangeStatus.IN_TESTING],
    )
)


def test_the_status_sets_cover_every_status_once() -> None:
    closed = [TicketStatus.DONE, TicketStatus.ON_HOLD]
    named = [*CUSTOMER_STATUSES, *PROVIDER_STATUSES, TicketStatus.TO_BE_RELEASED, *closed]
    assert sorted(named) == sorted(TicketStatus.values)


def test_the_querysets_the_annotation_and_the_model_agree(cast) -> None:
    expected = {}
    for status, performer, change_status in CASES:
        change = performer and ChangeFactory(
            organization=cast.acme, author=cast.agent, performer=performer, status=change_status
        )
        ticket = TicketFactory(
            organization=cast.acme, reporter=cast.alice, status=status, change=change or None
        )
        expected[ticket.pk] = Ticket.objects.get(pk=ticket.pk).waiting_on
    customer = set(
        Ticket.objects.filter(Ticket.waiting_on_customer_q()).values_list("pk", flat=True)
    )
    provider = set(
        Ticket.objects.filter(Ticket.waiting_on_provider_q()).values_list("pk", flat=True)
    )
    assert customer == {pk for pk, side in expected.items() if side == "customer"}
    assert provider == {pk for pk, side in expected.items() if side == "provider"}
    annotated = {t.pk: t.waiting_on for t in Ticket.with_customer_release(Ticket.objects.all())}
    assert annotated == expected
    # The oracle's case (tests/portal/test_needs_action.py): only a customer-performed
    # change that is itself to be released makes its tickets wait on the customer.
    released = [
        pk
        for (status, performer, change_status), pk in zip(CASES, expected, strict=True)
        if status == TicketStatus.TO_BE_RELEASED
        and performer == Performer.CUSTOMER
        and change_status == ChangeStatus.TO_BE_RELEASED
    ]
    assert len(released) == 1 and expected[released[0]] == "customer"
