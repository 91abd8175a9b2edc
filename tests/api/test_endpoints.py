"""What the endpoints show and accept beyond the journeys: keys wherever an id is, filters,
ordering, pagination, ETags, the transitions listing, nested rows, communications."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from notifications.models import Delivery, DeliveryState
from tests.api.support import ok
from tests.factories import (
    ChangeFactory,
    ComponentFactory,
    ComponentVersionFactory,
    ContactFactory,
    TicketFactory,
    environment,
    propose_window,
)
from tickets.models import Change, Ticket

V1 = "/api/v1"


def test_keys_are_accepted_wherever_an_id_is(cast, api) -> None:
    agent = api("agent")
    ticket = TicketFactory(organization=cast.acme, status=Ticket.S.TO_BE_RELEASED)
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    for ref in (ticket.pk, f"SUP-{ticket.pk}"):
        assert ok(agent.get(f"{V1}/tickets/{ref}/"))["key"] == ticket.key
    for ref in (change.pk, change.key):
        assert ok(agent.get(f"{V1}/changes/{ref}/"))["id"] == change.pk
    # A key of the other kind names nothing.
    assert agent.get(f"{V1}/tickets/CHG-{ticket.pk}/").status_code == 404
    attached = ok(agent.patch(f"{V1}/changes/{change.key}/", {"tickets": [ticket.key]}))
    assert attached["tickets"] == [ticket.pk]
    assert ok(agent.get(f"{V1}/tickets/", {"change": change.key}))["count"] == 1
    assert ok(agent.get(f"{V1}/tickets/", {"change": change.pk}))["count"] == 1
    assert ok(agent.get(f"{V1}/tickets/", {"search": ticket.key}))["results"][0]["id"] == ticket.pk


def test_ticket_filters_ordering_and_pages(cast, api) -> None:
    agent = api("agent")
    T = Ticket.S
    waiting = TicketFactory(organization=cast.acme, status=T.WAITING_FOR_CUSTOMER, title="Login")
    TicketFactory(organization=cast.acme, status=T.TO_DO, title="Export")
    TicketFactory(organization=cast.globex, reporter=cast.bob, status=T.ON_HOLD, title="Other")

    def ids(**query):
        return [t["id"] for t in ok(agent.get(f"{V1}/tickets/", query))["results"]]

    assert ids(waiting_on="customer") == [waiting.pk]
    assert len(ids(waiting_on="provider")) == 1  # on hold waits on nobody
    assert len(ids(status=["to_do", "waiting_for_customer"])) == 2
    assert len(ids(organization=cast.acme.pk)) == 2
    assert ids(search="logi") == [waiting.pk]
    titles = [t["title"] for t in ok(agent.get(f"{V1}/tickets/", {"ordering": "title"}))["results"]]
    assert titles == sorted(titles)
    first = ok(agent.get(f"{V1}/tickets/", {"page_size": 2}))
    assert first["count"] == 3 and len(first["results"]) == 2 and first["previous"] is None
    second = ok(agent.client.get(first["next"]))
    assert len(second["results"]) == 1 and second["next"] is None


def test_tickets_sort_by_priority_from_low_to_urgent_not_by_its_text(cast, api) -> None:
    made = {
        p: TicketFactory(organization=cast.acme, priority=p).pk
        for p in ("high", "low", "urgent", "normal")
    }
    rank = [made[p] for p in ("low", "normal", "high", "urgent")]
    agent = api("agent")
    for ordering, expected in (("priority", rank), ("-priority", rank[::-1])):
        listed = ok(agent.get(f"{V1}/tickets/", {"ordering": ordering}))["results"]
        assert [t["id"] for t in listed] == expected, ordering
    # As one key of several.
    first = TicketFactory(organization=cast.acme, priority="urgent", title="Aardvark").pk
    listed = ok(agent.get(f"{V1}/tickets/", {"ordering": "-priority,title"}))["results"]
    assert [t["id"] for t in listed][:2] == [first, made["urgent"]]


def test_rows_of_equal_order_keep_one_order_across_pages(cast, api) -> None:
    agent = api("agent")
    made = [TicketFactory(organization=cast.acme, title="Same").pk for _ in range(5)]
    for ordering, expected in (("title", sorted(made)), ("-title", sorted(made, reverse=True))):
        seen = []
        url = f"{V1}/tickets/?ordering={ordering}&page_size=2"
        while url:
            page = ok(agent.client.get(url) if url.startswith("http") else agent.get(url))
            seen += [t["id"] for t in page["results"]]
            url = page["next"]
        assert seen == expected  # each row once, by id among equals
    changes = [ChangeFactory(organization=cast.acme, author=cast.agent).pk for _ in range(3)]
    listed = ok(agent.get(f"{V1}/changes/", {"ordering": "-status"}))["results"]
    assert [c["id"] for c in listed] == sorted(changes, reverse=True)


def test_change_filters(cast, api) -> None:
    agent = api("agent")
    C = Change.S
    soon = ChangeFactory(
        organization=cast.acme, author=cast.agent, status=C.TO_BE_REVIEWED_BY_BUSINESS
    )
    propose_window(soon, cast.agent)
    later = ChangeFactory(
        organization=cast.acme,
        author=cast.agent,
        performer="customer",
        environment=environment("production"),
    )
    Change.objects.filter(pk=later.pk).update(window_start=timezone.now() + timedelta(days=30))
    component = soon.change_components.get().component_id

    def ids(**query):
        return [c["id"] for c in ok(agent.get(f"{V1}/changes/", query))["results"]]

    assert ids(waiting_on="customer") == [soon.pk]
    assert ids(performer="customer") == [later.pk]
    assert ids(environment="production") == [later.pk]
    assert ids(component=component) == [soon.pk]
    assert ids(status="draft") == [later.pk]
    cut = (timezone.now() + timedelta(days=10)).isoformat()
    assert ids(window_before=cut) == [soon.pk]
    assert ids(window_after=cut) == [later.pk]
    assert ids(search=later.key) == [later.pk]
    assert ids(ordering="window_start") == [soon.pk, later.pk]


def test_the_transitions_listing_is_the_domains(cast, api) -> None:
    change = ChangeFactory(
        organization=cast.acme, author=cast.agent, status=Change.S.TO_BE_RELEASED
    )
    agent = api("agent")
    # No agreed window, checklist pending: perform is blocked, with the reasons.
    assert "perform" not in [
        t["name"] for t in ok(agent.get(f"{V1}/changes/{change.key}/transitions/"))
    ]
    options = ok(agent.get(f"{V1}/changes/{change.key}/transitions/", {"include_blocked": "true"}))
    perform = next(t for t in options if t["name"] == "perform")
    assert perform["allowed"] is False
    assert "not been agreed" in perform["reason"] and "Checklist" in perform["reason"]
    assert perform["target"] == "in_testing" and perform["roles"] == []
    cancel = next(t for t in options if t["name"] == "cancel")
    assert cancel == {
        "name": "cancel",
        "label": "Cancel",
        "target": "cancelled",
        "targets": ["cancelled"],
        "needs": ["comment"],
        "allowed": True,
        "reason": "",
        "roles": [],
    }
    awaiting = ChangeFactory(
        organization=cast.acme, author=cast.agent, status=Change.S.AWAITING_APPROVAL
    )
    options = ok(api("qa").get(f"{V1}/changes/{awaiting.pk}/transitions/"))
    approve = next(t for t in options if t["name"] == "approve")
    assert approve["roles"] == ["qa", "peer"] and approve["target"] is None
    assert approve["targets"] == [
        "awaiting_approval",
        "to_be_reviewed_by_business",
        "to_be_released",
    ]
    # The author may not approve at all: the option is not offered.
    assert "approve" not in [
        t["name"] for t in ok(agent.get(f"{V1}/changes/{awaiting.pk}/transitions/"))
    ]


def test_etags_follow_the_object(cast, api) -> None:
    agent = api("agent")
    ticket = TicketFactory(organization=cast.acme)
    first = agent.get(f"{V1}/tickets/{ticket.pk}/")
    etag = first.headers["ETag"]
    assert etag == agent.get(f"{V1}/tickets/{ticket.pk}/").headers["ETag"]
    edited = agent.patch(f"{V1}/tickets/{ticket.pk}/", {"title": "Renamed"}, HTTP_IF_MATCH=etag)
    assert edited.status_code == 200 and edited.headers["ETag"] != etag
    assert (
        agent.patch(
            f"{V1}/tickets/{ticket.pk}/",
            {"priority": "low"},
            HTTP_IF_MATCH=f"W/{edited.headers['ETag']}",
        ).status_code
        == 200
    )
    assert (
        agent.patch(
            f"{V1}/tickets/{ticket.pk}/", {"priority": "high"}, HTTP_IF_MATCH="*"
        ).status_code
        == 200
    )


def test_ticket_assignment(cast, api) -> None:
    agent = api("agent")
    ticket = TicketFactory(organization=cast.acme)
    assert (
        ok(agent.patch(f"{V1}/tickets/{ticket.pk}/", {"assignee": "agent2"}))["assignee"]
        == "agent2"
    )
    assert ok(agent.patch(f"{V1}/tickets/{ticket.pk}/", {"assignee": None}))["assignee"] is None
    refused = api("alice").patch(f"{V1}/tickets/{ticket.pk}/", {"assignee": "agent"})
    assert refused.status_code == 403


def test_a_provider_raises_a_ticket_for_an_organisation(cast, api) -> None:
    created = ok(
        api("agent").post(
            f"{V1}/tickets/", {"title": "Seen in monitoring", "organization": cast.globex.pk}
        ),
        201,
    )
    assert created["organization"] == cast.globex.pk and created["reporter"] == "agent"
    assert created["type"] == "question" and created["priority"] == "normal"
    own = ok(api("bob").post(f"{V1}/tickets/", {"title": "Mine", "type": "feature"}), 201)
    assert own["organization"] == cast.globex.pk


def test_components_show_versions_and_filter_by_environment(cast, api) -> None:
    component = ComponentFactory(organization=cast.acme, name="Billing")
    ComponentVersionFactory(component=component, version="2.3.0")
    ComponentVersionFactory(
        component=component, environment=environment("production"), version="2.2.0"
    )
    ComponentFactory(organization=cast.acme, name="New")
    alice = api("alice")
    shown = ok(alice.get(f"{V1}/components/{component.pk}/"))
    assert shown["versions"] == {"uat": "2.3.0", "production": "2.2.0"}
    assert [
        c["name"]
        for c in ok(alice.get(f"{V1}/components/", {"environment": "production"}))["results"]
    ] == ["Billing"]
    created = ok(
        api("agent").post(
            f"{V1}/components/",
            {"organization": cast.acme.pk, "name": "Search", "versions": {"uat": "1.0"}},
        ),
        201,
    )
    assert created["versions"] == {"uat": "1.0"}


def test_scenarios_edited_and_removed(cast, api) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    agent = api("agent")
    added = ok(
        agent.post(
            f"{V1}/changes/{change.key}/scenarios/", {"kind": "regression", "description": "Old"}
        ),
        201,
    )
    assert added["position"] == 3 and added["result"] == "not_run"
    edited = ok(
        agent.patch(f"{V1}/changes/{change.key}/scenarios/{added['id']}/", {"description": "New"})
    )
    assert edited["description"] == "New"
    assert agent.delete(f"{V1}/changes/{change.key}/scenarios/{added['id']}/").status_code == 204
    assert ok(agent.get(f"{V1}/changes/{change.key}/scenarios/"))["count"] == 2
    assert agent.delete(f"{V1}/changes/{change.key}/scenarios/{added['id']}/").status_code == 404


def test_editing_after_approval_dismisses_the_round(cast, api) -> None:
    change = ChangeFactory(
        organization=cast.acme, author=cast.agent, status=Change.S.AWAITING_APPROVAL
    )
    ok(api("qa").post(f"{V1}/changes/{change.key}/transitions/approve/", {"role": "qa"}))
    assert len(ok(api("agent").get(f"{V1}/changes/{change.key}/"))["approvals"]) == 1
    edited = ok(
        api("agent").patch(f"{V1}/changes/{change.key}/", {"rollback_procedure": "Better."})
    )
    assert edited["approvals"] == [] and edited["status"] == "awaiting_approval"
    history = ok(api("agent").get(f"{V1}/changes/{change.key}/history/"))["results"]
    assert [h["transition"] for h in history] == ["approve", "dismiss_approvals"]


def test_communications_of_a_change(cast, api) -> None:
    ContactFactory.create_batch(2, organization=cast.acme)
    change = ChangeFactory(
        organization=cast.acme,
        author=cast.agent,
        status=Change.S.TO_BE_RELEASED,
        outage_expected=True,
        outage_duration_minutes=20,
        communication_audience="Everyone",
        communication_message="Down for 20 minutes.",
        communication_timing="Two days before",
    )
    propose_window(change, cast.agent)
    ok(api("alice").post(f"{V1}/changes/{change.key}/transitions/agree_window/"))
    (sent,) = ok(api("alice").get(f"{V1}/changes/{change.key}/communications/"))["results"]
    assert sent["kind"] == "announcement"
    assert sum(sent["deliveries"].values()) == 2
    assert sent["failures"] == []
    assert api("bob").get(f"{V1}/changes/{change.key}/communications/").status_code == 404
    # A recipient refused: the page names it, with the reason.
    refused = Delivery.objects.filter(notification_id=sent["id"]).order_by("id")[:1]
    Delivery.objects.filter(pk__in=refused).update(
        state=DeliveryState.FAILED, last_error="550 No such user"
    )
    (sent,) = ok(api("agent").get(f"{V1}/changes/{change.key}/communications/"))["results"]
    assert sent["deliveries"]["failed"] == 1
    assert [f["error"] for f in sent["failures"]] == ["550 No such user"]
