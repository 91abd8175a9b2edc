"""The change list, one change and the answers of writes are built from rows
(`tickets.api.change_rows`; the ticket list: `ticket_rows`), not through the serializers,
which stay the published shape: both must answer the same JSON, field for field and in
the same order, for changes with every kind of part (components, attached tickets,
scenarios with results, checklist items confirmed or not, current and dismissed
approvals, windows with conflicts and freezes, an incomplete change, a resolution)."""

from __future__ import annotations

import json
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from approvals.models import Approval
from tests.factories import ChangeFactory, ComponentFactory, TicketFactory, approve_all
from tests.scheduling.support import freeze, windowed
from tickets.api.serializers import ChangeSerializer, TicketSerializer
from tickets.models import (
    Change,
    ChangeComponent,
    ChangeStatus,
    ChecklistItem,
    ChecklistState,
    Performer,
    TestScenario,
    Ticket,
    TicketStatus,
)
from tickets.scheduling import conflicts_of
from tickets.selectors import changes_visible_to, tickets_visible_to

V1 = "/api/v1"


def _by_serializer(user: Any, ids: list[int]) -> list[dict[str, Any]]:
    """What ChangeSerializer shows for these changes, read as the list read them before
    `change_rows` (model instances, prefetched)."""
    rows = list(
        changes_visible_to(user)
        .filter(pk__in=ids)
        .select_related(
            "environment", "author", "reporter", "window_proposed_by", "window_agreed_by"
        )
        .prefetch_related(
            Prefetch(
                "change_components", queryset=ChangeComponent.objects.select_related("component")
            ),
            Prefetch("tickets", queryset=Ticket.objects.only("id", "change_id", "status")),
            Prefetch("scenarios", queryset=TestScenario.objects.select_related("result_by")),
            Prefetch("checklist", queryset=ChecklistItem.objects.select_related("by")),
            Prefetch(
                "approvals",
                queryset=Approval.objects.filter(dismissed_at__isnull=True).select_related("by"),
                to_attr="current_approvals",
            ),
        )
    )
    data = ChangeSerializer(rows, many=True, context={"conflicts": conflicts_of(rows)}).data
    return json.loads(JSONRenderer().render(data))


def _cast_of_changes(cast) -> list[Change]:
    shared = ComponentFactory(organization=cast.acme)
    a = windowed(cast, 0, 4, components=[shared], agreed=True, status=ChangeStatus.TO_BE_RELEASED)
    b = windowed(cast, 2, 6, components=[shared], performer=Performer.CUSTOMER, reporter=cast.alice)
    freeze(cast, 1, 3, title="Quarter close", reason="Books are closing", hard=True)
    approve_all(a, qa=cast.qa, peer=cast.peer, ops=cast.ops)
    Approval.objects.filter(change=a, role="qa").update(dismissed_at=timezone.now())
    TicketFactory.create_batch(
        2, organization=cast.acme, reporter=cast.alice, status=TicketStatus.TO_BE_RELEASED, change=a
    )
    TestScenario.objects.filter(change=a, kind="progression").update(
        result="passed", result_by=cast.alice, result_at=timezone.now(), note="Fine."
    )
    ChecklistItem.objects.filter(change=a, position=1).update(
        state=ChecklistState.DONE, by=cast.agent, at=timezone.now()
    )
    incomplete = ChangeFactory(
        organization=cast.acme,
        author=cast.agent,
        sections=False,
        summary="",
        outage_expected=True,
        communication_message="Down for an hour.",
    )
    closed = ChangeFactory(organization=cast.acme, author=cast.agent, status=ChangeStatus.DONE)
    Change.objects.filter(pk=closed.pk).update(resolution="successful")
    other = ChangeFactory(organization=cast.globex, author=cast.agent)
    return [a, b, incomplete, closed, other]


def test_the_list_answers_what_the_serializer_shows(cast, api) -> None:
    changes = _cast_of_changes(cast)
    for who in ("agent", "alice", "bob"):
        user = getattr(cast, who)
        listed = api(who).get(f"{V1}/changes/", {"page_size": 200}).json()["results"]
        expected = _by_serializer(user, [c.pk for c in changes])
        assert {c["id"] for c in listed} == {c["id"] for c in expected}, who
        by_id = {c["id"]: c for c in expected}
        for change in listed:
            assert list(change) == list(by_id[change["id"]]), "same fields, same order"
            assert change == by_id[change["id"]], change["key"]
    shown = {c["key"]: c for c in api("agent").get(f"{V1}/changes/").json()["results"]}
    assert shown[changes[0].key]["conflicts"] and shown[changes[1].key]["conflicts"]
    assert shown[changes[2].key]["incomplete_sections"]
    assert shown[changes[3].key]["resolution"] == "successful"


def test_one_change_answers_what_the_serializer_shows(cast, api) -> None:
    changes = _cast_of_changes(cast)
    for change in changes[:4]:
        answer = api("alice").get(f"{V1}/changes/{change.pk}/")
        assert answer.status_code == 200
        assert answer.json() == _by_serializer(cast.alice, [change.pk])[0]
        assert list(answer.json()) == list(ChangeSerializer().fields)
    assert api("alice").get(f"{V1}/changes/{changes[4].pk}/").status_code == 404


def test_the_ticket_list_answers_what_the_serializer_shows(cast, api) -> None:
    """`ticket_rows.represent` beside TicketSerializer over the tickets read as before
    (users joined, the waiting-on annotation): assigned or not, in a change or not, in a
    customer-performed change to be released (waits on the customer) or a provider's."""
    _, b, *_ = _cast_of_changes(cast)
    TicketFactory(organization=cast.acme, reporter=cast.alice, assignee=cast.agent, change=b)
    Change.objects.filter(pk=b.pk).update(status=ChangeStatus.TO_BE_RELEASED)
    TicketFactory(organization=cast.acme, reporter=cast.alice, status=TicketStatus.TO_BE_RELEASED)
    TicketFactory(organization=cast.globex, reporter=cast.bob, status=TicketStatus.DONE)
    for who in ("agent", "alice", "bob"):
        user = getattr(cast, who)
        listed = api(who).get(f"{V1}/tickets/", {"page_size": 200}).json()["results"]
        rows = Ticket.with_customer_release(
            tickets_visible_to(user).select_related("reporter", "assignee")
        )
        expected = json.loads(JSONRenderer().render(TicketSerializer(rows, many=True).data))
        assert listed == expected, who
        assert all(list(t) == list(TicketSerializer().fields) for t in listed)
        one = api(who).get(f"{V1}/tickets/{listed[0]['id']}/").json()
        assert one == listed[0]
