"""Every list endpoint answers a page in a number of queries that does not grow with the
page: measured with 5 rows and with 50, and bounded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from knox.models import AuthToken

from notifications.models import Delivery, DeliveryState, Notification, NotificationKind
from tests.factories import (
    ChangeFactory,
    ComponentFactory,
    ComponentVersionFactory,
    OrganizationFactory,
    TicketCommentFactory,
    TicketFactory,
    environment,
)
from tickets.models import ChecklistItem, TestScenario, TransitionLog

V1 = "/api/v1"


def _changes(cast, n: int) -> None:
    for change in ChangeFactory.create_batch(n, organization=cast.acme, author=cast.agent):
        ChangeFactory._meta.model.objects.filter(pk=change.pk).update(
            window_proposed_by=cast.agent, window_agreed_by=cast.alice
        )


def _rows_of(cast, kind: str, n: int, anchor: dict[str, Any]) -> None:
    """Add `n` rows of `kind` (nested ones to the anchor ticket and change)."""
    ticket, change = anchor["ticket"], anchor["change"]
    if kind == "organizations":
        OrganizationFactory.create_batch(n)
    elif kind == "components":
        for component in ComponentFactory.create_batch(n, organization=cast.globex):
            ComponentVersionFactory(component=component)
            ComponentVersionFactory(component=component, environment=environment("production"))
    elif kind == "tickets":
        TicketFactory.create_batch(
            n, organization=cast.globex, reporter=cast.bob, assignee=cast.agent
        )
    elif kind == "changes":
        _changes(cast, n)
    elif kind == "comments":
        for _ in range(n):
            TicketCommentFactory(ticket=ticket, author=cast.alice)
    elif kind in ("ticket_history", "change_history"):
        subject = {"ticket": ticket} if kind == "ticket_history" else {"change": change}
        TransitionLog.objects.bulk_create(
            TransitionLog(actor=cast.agent, transition="hold", source="a", target="b", **subject)
            for _ in range(n)
        )
    elif kind == "scenarios":
        TestScenario.objects.bulk_create(
            TestScenario(change=change, kind="regression", description="x", result_by=cast.alice)
            for _ in range(n)
        )
    elif kind == "checklist":
        ChecklistItem.objects.bulk_create(
            ChecklistItem(change=change, label="x", by=cast.agent) for _ in range(n)
        )
    elif kind == "communications":
        for _ in range(n):
            notice = Notification.objects.create(
                kind=NotificationKind.ANNOUNCEMENT, change=change, subject="Outage"
            )
            for state in (DeliveryState.SENT, DeliveryState.FAILED, DeliveryState.PENDING):
                Delivery.objects.create(
                    notification=notice, recipient=f"{state}@x.example", state=state
                )
    elif kind == "tokens":
        for _ in range(n):
            AuthToken.objects.create(user=cast.agent)


PATHS: dict[str, Callable[[dict[str, Any]], str]] = {
    "organizations": lambda a: f"{V1}/organizations/",
    "components": lambda a: f"{V1}/components/",
    "tickets": lambda a: f"{V1}/tickets/",
    "changes": lambda a: f"{V1}/changes/",
    "comments": lambda a: f"{V1}/tickets/{a['ticket'].pk}/comments/",
    "ticket_history": lambda a: f"{V1}/tickets/{a['ticket'].pk}/history/",
    "change_history": lambda a: f"{V1}/changes/{a['change'].pk}/history/",
    "scenarios": lambda a: f"{V1}/changes/{a['change'].pk}/scenarios/",
    "checklist": lambda a: f"{V1}/changes/{a['change'].pk}/checklist/",
    "communications": lambda a: f"{V1}/changes/{a['change'].pk}/communications/",
    "tokens": lambda a: f"{V1}/auth/tokens/",
}
# 2 to authenticate (the token with its user, the user's other tokens), a COUNT, the page,
# and one per prefetched relation; measured: changes 9, communications 6, tickets,
# organizations and tokens 4, the others 5.
BOUND = {"changes": 9, "communications": 6}
DEFAULT_BOUND = 5


@pytest.mark.parametrize("kind", PATHS)
def test_list_queries_do_not_grow_with_the_page(cast, api, kind) -> None:
    agent = api("agent")
    anchor = {
        "ticket": TicketFactory(organization=cast.acme, reporter=cast.alice),
        "change": ChangeFactory(organization=cast.acme, author=cast.agent),
    }
    path = PATHS[kind](anchor)
    counts, sizes = [], []
    for rows in (5, 50):
        _rows_of(cast, kind, rows - agent.get(path).json()["count"], anchor)
        with CaptureQueriesContext(connection) as queries:
            answer = agent.get(path, {"page_size": 50})
        assert answer.status_code == 200, answer.content
        sizes.append(len(answer.json()["results"]))
        counts.append(len(queries))
    assert sizes == [5, 50], sizes
    assert counts[0] == counts[1], f"{kind}: {counts[0]} queries for 5 rows, {counts[1]} for 50"
    assert counts[1] <= BOUND.get(kind, DEFAULT_BOUND), (kind, counts)
