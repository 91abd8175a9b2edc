"""alice subscribes a webhook in the portal: a loopback URL is refused on the form with
what she typed kept; once this installation allows private networks (as one whose
receivers share its network does), her receiver is subscribed and its secret shown once.
Then she reads the delivery log and redelivers a failed event, which her receiver gets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from notifications.models import WebhookDelivery, WebhookEndpoint
from tests.factories import WebhookDeliveryFactory
from tests.notifications.webhook_receiver import Receiver, start_receiver

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = start_receiver()
    yield r
    r.server.shutdown()


def test_alice_subscribes_a_webhook_and_sees_its_secret_once(
    cast, page_for, shot, settings, receiver
) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    alice = page_for("alice")
    alice.get_by_role("link", name="Webhooks").click()
    expect(alice.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()

    alice.get_by_label("Receiver URL").fill(receiver.url)
    alice.get_by_label("change.window").check()
    alice.get_by_role("button", name="Subscribe").click()
    expect(alice.get_by_role("alert")).to_contain_text("loopback")
    expect(alice.get_by_label("Receiver URL")).to_have_value(receiver.url)
    expect(alice.get_by_label("change.window")).to_be_checked()
    assert not WebhookEndpoint.objects.exists()

    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    alice.get_by_label("change.approval").check()
    alice.get_by_role("button", name="Subscribe").click()
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.organization == cast.acme and endpoint.url == receiver.url
    assert sorted(endpoint.events) == ["change.approval", "change.window"]
    expect(alice.get_by_test_id("webhook-secret")).to_have_text(endpoint.secret)
    expect(alice.get_by_test_id("webhook-list")).to_contain_text(endpoint.url)
    shot(alice, "portal-webhook-created")

    # Two events were sent earlier: one answered 200, one refused at every attempt.
    WebhookDeliveryFactory(
        endpoint=endpoint,
        object_key="CHG-4",
        state="sent",
        attempts=1,
        status_code=200,
        duration_ms=84,
    )
    failed = WebhookDeliveryFactory(
        endpoint=endpoint,
        object_key="CHG-5",
        state="failed",
        attempts=8,
        status_code=503,
        duration_ms=1210,
        error="HTTP 503: Service Unavailable",
    )
    alice.get_by_role("link", name="Webhooks").click()
    expect(alice.get_by_test_id("webhook-list")).to_contain_text(endpoint.url)
    expect(alice.locator("body")).not_to_contain_text(endpoint.secret)

    alice.get_by_role("link", name="Deliveries").click()
    log = alice.get_by_test_id("delivery-log")
    expect(log.locator("tbody tr")).to_have_count(2)
    expect(log.locator("tbody tr").first).to_contain_text("CHG-5")  # newest first
    alice.get_by_role(
        "button", name=f"Redeliver delivery {failed.pk} (change.updated CHG-5)"
    ).click()
    expect(alice.get_by_role("status").first).to_contain_text("Queued again")
    # Sent after the commit (the test settings run the task in the server's thread).
    again = WebhookDelivery.objects.exclude(pk=failed.pk).get(event=failed.event)
    assert again.state == "sent" and len(receiver.requests) == 1
    assert receiver.requests[0].headers["webhook-id"] == failed.event.message_id
    expect(log.locator("tbody tr")).to_have_count(3)
    expect(log.locator("tbody tr").first).to_contain_text("Sent")
    shot(alice, "portal-webhook-deliveries")
