"""Webhooks end to end in one process: events written with what happened, sent after
commit to a real HTTP receiver on loopback, signed (verified with standardwebhooks),
once each, in order per object, scoped to the endpoint's organisation; retries, the
auto-disable and its notice; the address check at send time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from notifications.models import (
    WebhookDelivery,
    WebhookDeliveryState,
    WebhookEvent,
)
from notifications.webhooks import delivery
from notifications.webhooks.subscriptions import webhook_create, webhook_update
from tests.factories import ChangeFactory, TicketFactory
from tests.notifications.webhook_receiver import Receiver, start_receiver
from tickets import services
from tickets.errors import InvalidInput
from tickets.models import ChangeStatus

State = WebhookDeliveryState


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    settings.WEBHOOKS_TIMEOUT = 0.5
    settings.WEBHOOKS_RETRY_BACKOFF = 1.0
    settings.WEBHOOKS_MAX_ATTEMPTS = 3
    settings.WEBHOOKS_DISABLE_AFTER = 5
    r = start_receiver()
    yield r
    r.server.shutdown()


def verified(receiver: Receiver, secret: str, path: str = "/hooks") -> list[dict]:
    """Every payload received at `path`, each after its signature is verified."""
    hook = Webhook(secret)
    return [hook.verify(r.body, r.headers) for r in receiver.requests if r.path == path]


def test_events_arrive_once_signed_in_order_and_scoped(
    cast, receiver, django_capture_on_commit_callbacks
) -> None:
    everything = webhook_create(by=cast.agent, url=receiver.url + "?all")
    acme = webhook_create(by=cast.alice, url=receiver.url + "?acme")
    windows = webhook_create(by=cast.agent, url=receiver.url + "?w", events=["change.window"])
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    other = ChangeFactory(organization=cast.globex, author=cast.agent)
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)

    with django_capture_on_commit_callbacks(execute=True):
        services.change_transition(change=change, by=cast.agent, name="submit")
    with django_capture_on_commit_callbacks(execute=True):
        services.change_transition(change=other, by=cast.agent, name="submit")
    with django_capture_on_commit_callbacks(execute=True):
        services.change_transition(change=change, by=cast.qa, name="approve", role="qa")
    start = timezone.now() + timedelta(days=2)
    with django_capture_on_commit_callbacks(execute=True):
        services.change_propose_window(
            change=change, by=cast.agent, start=start, end=start + timedelta(hours=1)
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.change_transition(change=change, by=cast.alice, name="agree_window")
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_transition(ticket=ticket, by=cast.agent, name="needs_work")

    def seen(path: str) -> list[tuple[str, str, str | None]]:
        return (
            [
                (p["type"], p["data"]["key"], (p["data"].get("event") or {}).get("transition"))
                for p in verified(receiver, everything.secret, path)
            ]
            if path != "/hooks?acme"
            else [
                (p["type"], p["data"]["key"], (p["data"].get("event") or {}).get("transition"))
                for p in verified(receiver, acme.secret, path)
            ]
        )

    receiver_paths = {r.path for r in receiver.requests}
    assert receiver_paths == {"/hooks?all", "/hooks?acme", "/hooks?w"}
    acme_events = [
        ("change.transitioned", change.key, "submit"),
        ("change.transitioned", change.key, "approve"),
        ("change.approval", change.key, "approve"),
        ("change.window", change.key, None),
        ("change.transitioned", change.key, "agree_window"),
        ("change.window", change.key, "agree_window"),
        ("ticket.transitioned", ticket.key, "needs_work"),
    ]
    assert seen("/hooks?acme") == acme_events
    assert seen("/hooks?all") == [
        acme_events[0],
        ("change.transitioned", other.key, "submit"),
        *acme_events[1:],
    ]
    assert [p["type"] for p in verified(receiver, windows.secret, "/hooks?w")] == [
        "change.window",
        "change.window",
    ]
    # One webhook-id per event and endpoint, each delivery sent once.
    ids = [(r.path, r.headers["webhook-id"]) for r in receiver.requests]
    assert len(ids) == len(set(ids))
    assert not WebhookDelivery.objects.exclude(state=State.SENT).exists()
    payload = receiver.requests[0].payload
    assert set(payload) == {"type", "timestamp", "data"}
    assert payload["data"]["organization"] == cast.acme.pk


def test_nothing_is_written_without_an_endpoint(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    services.change_transition(change=change, by=cast.agent, name="submit")
    assert not WebhookEvent.objects.exists()


def _pending_event(cast, endpoint, n: int = 1) -> list[WebhookDelivery]:
    from notifications.webhooks.recording import record

    for i in range(n):
        record(
            "change.updated",
            organization_id=cast.acme.pk,
            object_key="CHG-1",
            data={"n": i, "key": "CHG-1"},
        )
    return list(WebhookDelivery.objects.filter(endpoint=endpoint).order_by("id"))


def test_a_failing_receiver_holds_the_objects_later_events_then_retries(cast, receiver) -> None:
    endpoint = webhook_create(by=cast.agent, url=receiver.url)
    first, _second = _pending_event(cast, endpoint, 2)
    receiver.status = 500
    result = delivery.send_due()
    # Event 2 of the same object waits while event 1 is unsettled.
    assert (result.sent, result.retrying) == (0, 1)
    assert [r.payload["data"]["n"] for r in receiver.requests] == [0]
    first.refresh_from_db()
    assert (first.state, first.attempts, first.status_code) == (State.PENDING, 1, 500)
    assert first.error.startswith("HTTP 500")
    assert first.next_attempt_at > timezone.now() + timedelta(seconds=0.5)
    assert delivery.send_due().sent == 0  # not due yet: nothing is sent
    receiver.status = 200
    WebhookDelivery.objects.filter(pk=first.pk).update(next_attempt_at=timezone.now())
    assert delivery.send_due().sent == 2
    assert [r.payload["data"]["n"] for r in receiver.requests] == [0, 0, 1]
    # The retry is the same message (receivers deduplicate on webhook-id), signed anew.
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0


def test_attempts_run_out_then_the_endpoint_is_disabled_and_its_owner_told(
    cast, receiver, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    endpoint = webhook_create(by=cast.agent, url=receiver.url)
    receiver.delay = 1.0  # past WEBHOOKS_TIMEOUT
    deliveries = _pending_event(cast, endpoint, 1)
    for _ in range(3):
        WebhookDelivery.objects.filter(state=State.PENDING).update(next_attempt_at=timezone.now())
        delivery.send_due()
    deliveries[0].refresh_from_db()
    assert (deliveries[0].state, deliveries[0].attempts) == (State.FAILED, 3)
    assert deliveries[0].error == "No answer within 0.5 s."
    receiver.delay = 0
    receiver.status = 503
    _pending_event(cast, endpoint, 2)
    WebhookDelivery.objects.filter(state=State.PENDING).update(next_attempt_at=timezone.now())
    delivery.send_due()  # the 4th failure in a row
    WebhookDelivery.objects.filter(state=State.PENDING).update(next_attempt_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        delivery.send_due()  # the 5th: disabled
    endpoint.refresh_from_db()
    assert endpoint.active is False and endpoint.disabled_at is not None
    assert "5 failed deliveries in a row" in endpoint.disabled_reason
    assert "HTTP 503" in endpoint.disabled_reason
    assert not WebhookDelivery.objects.filter(endpoint=endpoint, state=State.PENDING).exists()
    [notice] = mailoutbox
    assert "was disabled" in notice.subject and endpoint.url in notice.body
    assert notice.to == [cast.agent.email]
    # Switched on again by its owner, it starts afresh.
    webhook_update(endpoint=endpoint.pk, by=cast.agent, active=True)
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.consecutive_failures == 0


def test_the_address_is_checked_again_at_send_time(cast, receiver, settings) -> None:
    endpoint = webhook_create(by=cast.agent, url=receiver.url)
    [pending] = _pending_event(cast, endpoint, 1)
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    delivery.send_due()
    pending.refresh_from_db()
    assert pending.state == State.PENDING and "loopback" in pending.error
    assert receiver.requests == []
    with pytest.raises(InvalidInput, match="loopback"):
        webhook_create(by=cast.agent, url=receiver.url)


def test_a_customers_endpoint_is_their_organisations(cast, receiver) -> None:
    endpoint = webhook_create(by=cast.bob, url=receiver.url, organization=None)
    assert endpoint.organization_id == cast.globex.pk
    from tickets.errors import NotVisible

    with pytest.raises(NotVisible):
        webhook_create(by=cast.bob, url=receiver.url, organization=cast.acme.pk)
    with pytest.raises(InvalidInput, match="Not event types"):
        webhook_create(by=cast.agent, url=receiver.url, events=["change.exploded"])


def test_an_expired_claim_is_swept_back(cast, receiver) -> None:
    endpoint = webhook_create(by=cast.agent, url=receiver.url)
    [pending] = _pending_event(cast, endpoint, 1)
    token, claimed = delivery.claim(now=timezone.now(), limit=10)
    assert [d.pk for d in claimed] == [pending.pk]
    assert delivery.claim(now=timezone.now(), limit=10)[1] == []  # claimed once
    WebhookDelivery.objects.filter(pk=pending.pk).update(
        claimed_until=timezone.now() - timedelta(seconds=1)
    )
    assert delivery.sweep() == 1
    # The first holder's late result is fenced off by its stale token.
    assert delivery.settle(claimed[0], token, delivery.Outcome(ok=True, status_code=200)) is None
    assert delivery.send_due().sent == 1


def test_the_status_of_a_released_change_is_in_its_payload(cast, receiver) -> None:
    change = ChangeFactory(
        organization=cast.acme, author=cast.agent, status=ChangeStatus.TO_BE_RELEASED
    )
    from notifications.webhooks.recording import change_data

    assert change_data(change)["status"] == "to_be_released"


def test_created_commented_and_updated_and_internal_comments_stay_internal(
    cast, receiver, django_capture_on_commit_callbacks
) -> None:
    staff = webhook_create(by=cast.agent, url=receiver.url + "?staff", organization=cast.acme)
    acme = webhook_create(by=cast.alice, url=receiver.url + "?acme")
    globex = webhook_create(by=cast.bob, url=receiver.url + "?globex")
    with django_capture_on_commit_callbacks(execute=True):
        ticket = services.ticket_create(by=cast.alice, title="Invoices are wrong")
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_comment(
            ticket=ticket, by=cast.agent, body="Internal: VAT bug.", public=False
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_comment(ticket=ticket, by=cast.agent, body="We are on it.")
    with django_capture_on_commit_callbacks(execute=True):
        change = services.change_create(
            by=cast.agent, organization=cast.acme, title="Fix VAT rounding"
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.change_update(change=change, by=cast.agent, summary="Round VAT per line.")

    def events(path: str, secret: str) -> list[tuple[str, Any]]:
        return [
            (p["type"], p["data"].get("comment", {}).get("body") or p["data"]["key"])
            for p in verified(receiver, secret, path)
        ]

    customer_view = [
        ("ticket.created", ticket.key),
        # ticket.transitioned (reply) comes with the public comment
        ("ticket.commented", "We are on it."),
        ("ticket.transitioned", ticket.key),
        ("change.created", change.key),
        ("change.updated", change.key),
    ]
    assert [e for e in events("/hooks?acme", acme.secret) if e[0] != "ticket.transitioned"] == [
        e for e in customer_view if e[0] != "ticket.transitioned"
    ]
    staff_events = events("/hooks?staff", staff.secret)
    assert ("ticket.commented", "Internal: VAT bug.") in staff_events
    assert ("ticket.commented", "Internal: VAT bug.") not in events("/hooks?acme", acme.secret)
    assert events("/hooks?globex", globex.secret) == []
    updated = next(
        p for p in verified(receiver, acme.secret, "/hooks?acme") if p["type"] == "change.updated"
    )
    assert updated["data"]["event"] == {"by": "agent", "fields": ["summary"]}


def test_the_admin_shows_endpoints_and_the_log_without_the_secret(
    cast, receiver, admin_client
) -> None:
    from django.urls import reverse

    endpoint = webhook_create(by=cast.agent, url=receiver.url)
    [row] = _pending_event(cast, endpoint, 1)
    for name, pk in (("webhookendpoint", endpoint.pk), ("webhookdelivery", row.pk)):
        listing = admin_client.get(reverse(f"admin:notifications_{name}_changelist"))
        page = admin_client.get(reverse(f"admin:notifications_{name}_change", args=[pk]))
        assert listing.status_code == page.status_code == 200
        assert endpoint.secret not in listing.content.decode() + page.content.decode()
