"""Every list endpoint answers a page in a number of queries that does not grow with the
page: measured with 5 rows and with 50, and bounded. The rows are as real data has them:
every change with attached tickets, approvals, test scenarios, components and a checklist
(a change without tickets once hid a query per attached ticket), tickets in changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox.models import AuthToken

from notifications.models import Delivery, DeliveryState, Notification, NotificationKind
from tests.factories import (
    ChangeFactory,
    ComponentFactory,
    ComponentVersionFactory,
    OrganizationFactory,
    TicketCommentFactory,
    TicketFactory,
    approve_all,
    environment,
)
from tickets.models import (
    ChangeStatus,
    ChecklistItem,
    Performer,
    TestScenario,
    TicketStatus,
    TransitionLog,
)

V1 = "/api/v1"


def _changes(cast, n: int) -> None:
    """n complete changes (components, scenarios, checklist: ChangeFactory), each with
    two attached tickets, the three approvals and a window; half customer-performed."""
    start = timezone.now() + timedelta(days=2)
    for i, change in enumerate(
        ChangeFactory.create_batch(
            n, organization=cast.acme, author=cast.agent, status=ChangeStatus.TO_BE_RELEASED
        )
    ):
        # Windows an hour apart and two hours long: each overlaps the next (the list
        # computes the conflicts of the whole page at once).
        ChangeFactory._meta.model.objects.filter(pk=change.pk).update(
            window_start=start + timedelta(hours=i),
            window_end=start + timedelta(hours=i + 2),
            window_agreed_at=timezone.now(),
            window_proposed_by=cast.agent,
            window_agreed_by=cast.alice,
            performer=Performer.CUSTOMER if i % 2 else Performer.PROVIDER,
        )
        approve_all(change, qa=cast.qa, peer=cast.peer, ops=cast.ops)
        TicketFactory.create_batch(
            2,
            organization=cast.acme,
            reporter=cast.alice,
            status=TicketStatus.TO_BE_RELEASED,
            change=change,
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
        # Each in a change, to be released (who it waits on depends on the change).
        changes = ChangeFactory.create_batch(
            2, organization=cast.globex, author=cast.agent, status=ChangeStatus.TO_BE_RELEASED
        )
        ChangeFactory._meta.model.objects.filter(pk=changes[1].pk).update(
            performer=Performer.CUSTOMER
        )
        for i in range(n):
            TicketFactory(
                organization=cast.globex,
                reporter=cast.bob,
                assignee=cast.agent,
                status=TicketStatus.TO_BE_RELEASED,
                change=changes[i % 2],
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
# 1 to authenticate (the token with its user), a COUNT, the page, and one per prefetched
# relation; measured: changes 10 (components, tickets, scenarios, checklist, approvals,
# then the conflicts: the windows sharing a component, the freezes), communications 5,
# tickets, organizations and tokens 3, the others 4.
BOUND = {"changes": 10, "communications": 5}
DEFAULT_BOUND = 4


@pytest.mark.parametrize("kind", PATHS)
def test_list_queries_do_not_grow_with_the_page(
    cast, api, django_assert_max_num_queries, kind
) -> None:
    agent = api("agent")
    anchor = {
        "ticket": TicketFactory(organization=cast.acme, reporter=cast.alice),
        "change": ChangeFactory(organization=cast.acme, author=cast.agent),
    }
    path = PATHS[kind](anchor)
    counts, sizes = [], []
    for rows in (5, 50):
        _rows_of(cast, kind, rows - agent.get(path).json()["count"], anchor)
        with django_assert_max_num_queries(BOUND.get(kind, DEFAULT_BOUND)) as queries:
            answer = agent.get(path, {"page_size": 50})
        assert answer.status_code == 200, answer.content
        sizes.append(len(answer.json()["results"]))
        counts.append(len(queries))
    assert sizes == [5, 50], sizes
    assert counts[0] == counts[1], f"{kind}: {counts[0]} queries for 5 rows, {counts[1]} for 50"


def test_every_change_of_the_list_carries_its_parts(cast, api) -> None:
    """The fixture of the change list is what it claims: had a change no tickets or
    approvals, the bound above would prove nothing about them."""
    _changes(cast, 3)
    results = api("agent").get(f"{V1}/changes/").json()["results"]
    assert len(results) == 3
    for change in results:
        assert len(change["tickets"]) == 2, change["key"]
        assert len(change["approvals"]) == 3, change["key"]
        assert change["scenarios"] and change["components"] and change["checklist"]
        assert change["window_start"] and change["window_agreed"], change["key"]


def test_the_ticket_list_says_who_each_waits_on_without_reading_changes(cast, api) -> None:
    """`waiting_on` of a ticket to be released depends on its change; the list answers it
    from an annotation, in the same query as the page."""
    _rows_of(cast, "tickets", 4, {"ticket": None, "change": None})
    with CaptureQueriesContext(connection) as queries:
        results = api("agent").get(f"{V1}/tickets/").json()["results"]
    assert sorted(r["waiting_on"] for r in results) == ["customer"] * 2 + ["provider"] * 2
    reads = [q["sql"] for q in queries]
    assert not [
        q for q in reads if 'JOIN "tickets_change"' in q or q.startswith('SELECT "tickets_change"')
    ]


@pytest.mark.parametrize("kind", ["changes", "tickets"])
def test_one_change_or_ticket_is_read_in_one_query_with_its_parts(
    cast, api, django_assert_max_num_queries, kind
) -> None:
    """`GET /changes/{id}/` finds the change among the visible ones with what its
    representation reads, in the same query (it once found it, then read it again): the
    token, the change, its five parts and its conflicts (the components' and the freezes');
    a ticket: the token and the ticket."""
    _changes(cast, 1)
    agent = api("agent")
    change = ChangeFactory._meta.model.objects.get()
    path = f"{V1}/changes/{change.pk}/"
    if kind == "tickets":
        path = f"{V1}/tickets/{change.tickets.first().pk}/"
    agent.get(path)
    with django_assert_max_num_queries(9 if kind == "changes" else 2) as queries:
        answer = agent.get(path)
    assert answer.status_code == 200, answer.content
    reads = [q["sql"] for q in queries]
    row = f'SELECT "tickets_{kind[:-1]}"."id"'
    assert len([q for q in reads if q.startswith(row)]) == 1, reads
    if kind == "changes":
        assert len(answer.json()["tickets"]) == 2 and len(answer.json()["approvals"]) == 3
