"""The deployment gate, `GET /api/v1/changes/{id}/gate/` (API.md, "Deployment gate and
webhooks"): allowed only for an approved change inside its agreed window with its checklist
done, on its own environment, no attached ticket on hold; every unmet condition named."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.api.support import ok
from tests.factories import ChangeFactory, TicketFactory, complete_checklist, environment
from tickets.models import (
    Change,
    ChangeStatus,
    ChecklistItem,
    ChecklistState,
    Ticket,
    TicketStatus,
)
from tickets.models.gate import gate_reasons, moment

V1 = "/api/v1"


def ready(cast, **kwargs) -> Change:
    """A change a pipeline may deploy now: To be released, the window open, checklist done."""
    kwargs.setdefault("status", ChangeStatus.TO_BE_RELEASED)
    change = ChangeFactory(organization=cast.acme, author=cast.agent, **kwargs)
    open_window(change, cast, start=-timedelta(minutes=5), end=timedelta(hours=1))
    complete_checklist(change, cast.agent)
    return change


def open_window(change: Change, cast, *, start: timedelta, end: timedelta, agreed=True) -> None:
    now = timezone.now()
    Change.objects.filter(pk=change.pk).update(
        window_start=now + start,
        window_end=now + end,
        window_proposed_by=cast.agent,
        window_proposed_at=now - timedelta(days=1),
        window_agreed_by=cast.alice if agreed else None,
        window_agreed_at=now - timedelta(hours=20) if agreed else None,
    )
    change.refresh_from_db()


def gate(cast, api, change: Change, who: str = "agent", **params) -> dict:
    return ok(api(who).get(f"{V1}/changes/{change.key}/gate/", params))


def test_a_ready_change_is_allowed_with_its_window(cast, api) -> None:
    change = ready(cast)
    answer = gate(cast, api, change)
    assert answer["allowed"] is True and answer["reasons"] == []
    window = {k: datetime.fromisoformat(v) for k, v in answer["window"].items()}
    assert window == {"start": change.window_start, "end": change.window_end}
    # By id as well as by key, by the customer as well as by the provider, and naming the
    # change's own environment explicitly.
    assert ok(api("alice").get(f"{V1}/changes/{change.pk}/gate/"))["allowed"] is True
    assert gate(cast, api, change, environment="uat")["allowed"] is True


@pytest.mark.parametrize("status", [s for s in ChangeStatus if s != ChangeStatus.TO_BE_RELEASED])
def test_every_other_status_is_refused_and_named(cast, api, status) -> None:
    change = ready(cast, status=status)
    answer = gate(cast, api, change)
    assert answer["allowed"] is False
    assert answer["reasons"] == [
        f"The change is {status.label}: only an approved change, To be released, may be deployed."
    ]


def test_no_window_proposed(cast, api) -> None:
    change = ChangeFactory(
        organization=cast.acme, author=cast.agent, status=ChangeStatus.TO_BE_RELEASED
    )
    complete_checklist(change, cast.agent)
    answer = gate(cast, api, change)
    assert answer == {
        "allowed": False,
        "reasons": ["No deployment window has been proposed yet."],
        "window": None,
    }


def test_a_window_not_agreed(cast, api) -> None:
    change = ready(cast)
    open_window(change, cast, start=-timedelta(minutes=5), end=timedelta(hours=1), agreed=False)
    answer = gate(cast, api, change)
    assert answer["reasons"] == ["The deployment window has not been agreed by both sides."]
    assert answer["window"] is not None


def test_before_the_window_says_when_it_opens(cast, api) -> None:
    change = ready(cast)
    open_window(change, cast, start=timedelta(hours=2), end=timedelta(hours=3))
    answer = gate(cast, api, change)
    assert answer["allowed"] is False
    assert answer["reasons"] == [f"The deployment window opens at {moment(change.window_start)}."]


def test_after_the_window_says_when_it_closed(cast, api) -> None:
    change = ready(cast)
    open_window(change, cast, start=-timedelta(hours=3), end=-timedelta(hours=1))
    answer = gate(cast, api, change)
    assert answer["reasons"] == [
        f"The deployment window closed at {moment(change.window_end)}; agree a new one to deploy."
    ]


def test_the_window_bounds(cast) -> None:
    change = ready(cast)
    start, end = change.window_start, change.window_end
    assert gate_reasons(change, now=start) == []
    assert gate_reasons(change, now=end - timedelta(microseconds=1)) == []
    assert gate_reasons(change, now=start - timedelta(microseconds=1)) == [
        f"The deployment window opens at {moment(start)}."
    ]
    assert len(gate_reasons(change, now=end)) == 1


def test_pending_checklist_items_are_named(cast, api) -> None:
    change = ready(cast)
    pending = list(change.checklist.all()[:2])
    ChecklistItem.objects.filter(pk__in=[i.pk for i in pending]).update(
        state=ChecklistState.PENDING
    )
    ChecklistItem.objects.exclude(pk__in=[i.pk for i in pending]).filter(change=change).update(
        state=ChecklistState.NOT_APPLICABLE, reason="No such tests here."
    )
    answer = gate(cast, api, change)
    assert answer["reasons"] == [
        "Checklist items still pending: " + ", ".join(i.label for i in pending) + "."
    ]


def test_another_environment_is_refused(cast, api) -> None:
    change = ready(cast)
    environment("production")
    answer = gate(cast, api, change, environment="production")
    assert answer["reasons"] == [
        "The change is for UAT (uat), not for production: deploy it to uat only."
    ]
    assert gate(cast, api, change, environment="nowhere")["allowed"] is False
    prod = ready(cast, environment=environment("production"))
    assert gate(cast, api, prod)["allowed"] is True
    assert gate(cast, api, prod, environment="uat")["allowed"] is False


def test_an_attached_ticket_on_hold_is_named(cast, api) -> None:
    change = ready(cast)
    held = TicketFactory(organization=cast.acme, reporter=cast.alice, status=TicketStatus.ON_HOLD)
    TicketFactory(organization=cast.acme, reporter=cast.alice, status=TicketStatus.TO_BE_RELEASED)
    Ticket.objects.filter(organization=cast.acme).update(change=change)
    answer = gate(cast, api, change)
    assert answer["reasons"] == [
        f"Attached tickets are on hold: {held.key}. Resume them or take them out of the "
        "change before performing it."
    ]


def test_every_unmet_condition_at_once(cast, api) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)  # a draft
    answer = gate(cast, api, change, environment="production")
    assert answer["allowed"] is False
    assert [r.split(" ")[:3] for r in answer["reasons"]] == [
        ["The", "change", "is"],  # Draft
        ["The", "change", "is"],  # for UAT
        ["No", "deployment", "window"],
        ["Checklist", "items", "still"],
    ]


def test_another_organisations_change_is_not_found(cast, api) -> None:
    change = ready(cast)
    answer = api("bob").get(f"{V1}/changes/{change.key}/gate/")
    assert answer.status_code == 404
    assert answer.json()["detail"] == f"No change {change.key}."
    assert api("agent").get(f"{V1}/changes/CHG-999999/gate/").status_code == 404
    assert api("agent").get(f"{V1}/changes/nonsense/gate/").status_code == 404


def test_without_a_token_is_refused(cast, client) -> None:
    change = ready(cast)
    assert client.get(f"{V1}/changes/{change.key}/gate/").status_code == 401


def test_an_oversized_environment_is_a_400(cast, api) -> None:
    change = ready(cast)
    answer = api("agent").get(f"{V1}/changes/{change.key}/gate/", {"environment": "x" * 31})
    assert answer.status_code == 400 and "environment" in answer.json()["fields"]
    answer = api("agent").get(f"{V1}/changes/{change.key}/gate/", {"environment": ""})
    assert answer.status_code == 400 and "environment" in answer.json()["fields"]


def test_the_query_count_does_not_grow_with_the_change(cast, api) -> None:
    agent = api("agent")

    def count(change: Change) -> int:
        agent.get(f"{V1}/changes/{change.key}/gate/")  # the token's own first-use writes
        with CaptureQueriesContext(connection) as queries:
            ok(agent.get(f"{V1}/changes/{change.key}/gate/"))
        return len(queries)

    small = ready(cast)
    big = ready(cast)
    for n in range(5):
        TicketFactory(organization=cast.acme, reporter=cast.alice, status=TicketStatus.ON_HOLD)
        ChecklistItem.objects.create(change=big, position=10 + n, label=f"Extra {n}")
    Ticket.objects.filter(organization=cast.acme).update(change=big)
    # token, user, change, checklist, tickets, components, the freezes in force
    assert count(big) == count(small) <= 7


def test_the_gate_is_in_the_schema(cast, api) -> None:
    schema = api("agent").get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    text = schema.content.decode()
    assert "/api/v1/changes/{id}/gate/" in text and "changes_gate_retrieve" in text
