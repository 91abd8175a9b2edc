"""Webhooks with a real Celery worker and broker (tests/notifications/conftest.py): the
events of committed transactions reach a loopback receiver once each, in order per
object; a receiver answering 500 gets retries with backoff, then its endpoint is
disabled."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from notifications.models import WebhookDelivery, WebhookDeliveryState, WebhookEndpoint
from notifications.webhooks.subscriptions import webhook_create
from tests.factories import ChangeFactory
from tests.notifications.conftest import wait_for
from tests.notifications.webhook_receiver import Receiver, start_receiver
from tickets import services

pytestmark = pytest.mark.timeout(120)

WORKER_SETTINGS = {
    "WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "true",
    "WEBHOOKS_TIMEOUT": "1",
    "WEBHOOKS_RETRY_BACKOFF": "0.3",
    "WEBHOOKS_MAX_ATTEMPTS": "3",
    "WEBHOOKS_DISABLE_AFTER": "3",
}


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    r = start_receiver()
    yield r
    r.server.shutdown()


def test_committed_events_arrive_once_in_order(cast, receiver, start_worker) -> None:
    start_worker(**WORKER_SETTINGS)
    endpoint = webhook_create(by=cast.alice, url=receiver.url)
    changes = [ChangeFactory(organization=cast.acme, author=cast.agent) for _ in range(3)]
    other = ChangeFactory(organization=cast.globex, author=cast.agent)
    for change in changes:
        services.change_transition(change=change, by=cast.agent, name="submit")
    services.change_transition(change=other, by=cast.agent, name="submit")
    start = timezone.now() + timedelta(days=2)
    for change in changes:
        services.change_propose_window(
            change=change, by=cast.agent, start=start, end=start + timedelta(hours=1)
        )
        services.change_transition(change=change, by=cast.alice, name="agree_window")

    # Per change: submitted, window proposed, agreed (transitioned, then window).
    wait_for(lambda: len(receiver.requests) >= 12, timeout=60, what="12 webhooks")
    wait_for(
        lambda: not WebhookDelivery.objects.exclude(state=WebhookDeliveryState.SENT).exists(),
        timeout=30,
        what="every delivery settled",
    )
    hook = Webhook(endpoint.secret)
    payloads = [hook.verify(r.body, r.headers) for r in receiver.requests]
    assert len(payloads) == 12  # once each; nothing of Globex
    for change in changes:
        mine = [p for p in payloads if p["data"]["key"] == change.key]
        assert [p["type"] for p in mine] == [
            "change.transitioned",
            "change.window",
            "change.transitioned",
            "change.window",
        ]


def test_a_receiver_answering_500_gets_retries_then_its_endpoint_is_disabled(
    cast, receiver, start_worker
) -> None:
    start_worker(**WORKER_SETTINGS)
    receiver.status = 500
    endpoint = webhook_create(by=cast.agent, url=receiver.url)
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    services.change_transition(change=change, by=cast.agent, name="submit")

    wait_for(
        lambda: not WebhookEndpoint.objects.get(pk=endpoint.pk).active,
        timeout=60,
        what="the endpoint disabled",
    )
    [delivery] = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert (delivery.state, delivery.attempts, delivery.status_code) == ("failed", 3, 500)
    assert len(receiver.requests) == 3
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
