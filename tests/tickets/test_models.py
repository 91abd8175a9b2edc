"""Model-level protections: the status is never assigned by hand, and a stale copy of a
change cannot overwrite a transition taken meanwhile."""

from __future__ import annotations

import pytest
from django.db import transaction

from tests.factories import ChangeFactory, TicketFactory
from tickets import workflow
from tickets.errors import StaleObject
from tickets.models import Change, Ticket


def test_status_cannot_be_assigned(cast) -> None:
    ticket = TicketFactory(organization=cast.acme)
    with pytest.raises(AttributeError, match="Direct status modification is not allowed"):
        ticket.status = Ticket.S.DONE
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    with pytest.raises(AttributeError, match="Direct status modification is not allowed"):
        change.status = Change.S.DONE


def test_a_stale_copy_cannot_overwrite_a_transition(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    stale = Change.objects.get(pk=change.pk)
    fresh = Change.objects.get(pk=change.pk)
    workflow.run(fresh, "submit", by=cast.agent)
    # As in the services: the refused write rolls back its own transaction.
    with pytest.raises(StaleObject, match="changed by someone else"), transaction.atomic():
        workflow.run(stale, "cancel", by=cast.agent, comment="Not needed.")
    assert Change.objects.get(pk=change.pk).status == Change.S.AWAITING_APPROVAL


def test_keys(cast) -> None:
    ticket = TicketFactory(organization=cast.acme)
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    assert ticket.key == f"SUP-{ticket.pk}"
    assert change.key == f"CHG-{change.pk}"
    assert str(change).startswith(change.key)
