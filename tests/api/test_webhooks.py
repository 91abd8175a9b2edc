"""`/api/v1/webhooks/`: subscribe (the secret shown once), read, change, unsubscribe, the
delivery log and redelivery; a customer user only ever sees their organisation's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from notifications.models import WebhookDelivery, WebhookEndpoint
from notifications.webhooks.recording import record
from tests.api.support import ok
from tests.notifications.webhook_receiver import Receiver, start_receiver

V1 = "/api/v1"


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    r = start_receiver()
    yield r
    r.server.shutdown()


def test_subscribe_read_change_unsubscribe(cast, api, receiver) -> None:
    alice = api("alice")
    created = ok(
        alice.post(f"{V1}/webhooks/", {"url": receiver.url, "events": ["change.window"]}), 201
    )
    assert created["secret"].startswith("whsec_")
    assert created["organization"] == cast.acme.pk and created["owner"] == "alice"
    assert created["events"] == ["change.window"] and created["active"] is True
    one = ok(alice.get(f"{V1}/webhooks/{created['id']}/"))
    assert "secret" not in one  # shown once
    assert [w["id"] for w in ok(alice.get(f"{V1}/webhooks/"))["results"]] == [created["id"]]
    changed = ok(alice.patch(f"{V1}/webhooks/{created['id']}/", {"events": [], "active": False}))
    assert (changed["events"], changed["active"]) == ([], False)
    assert alice.delete(f"{V1}/webhooks/{created['id']}/").status_code == 204
    assert not WebhookEndpoint.objects.exists()


def test_another_organisations_webhook_is_not_found(cast, api, receiver) -> None:
    mine = ok(api("alice").post(f"{V1}/webhooks/", {"url": receiver.url}), 201)
    bob = api("bob")
    assert bob.get(f"{V1}/webhooks/{mine['id']}/").status_code == 404
    assert bob.patch(f"{V1}/webhooks/{mine['id']}/", {"active": False}).status_code == 404
    assert bob.delete(f"{V1}/webhooks/{mine['id']}/").status_code == 404
    assert bob.get(f"{V1}/webhooks/{mine['id']}/deliveries/").status_code == 404
    assert ok(bob.get(f"{V1}/webhooks/"))["results"] == []
    # A customer names another organisation: not found; provider staff see every one.
    refused = bob.post(f"{V1}/webhooks/", {"url": receiver.url, "organization": cast.acme.pk})
    assert refused.status_code == 404
    assert len(ok(api("agent").get(f"{V1}/webhooks/"))["results"]) == 1
    glob = ok(api("agent").post(f"{V1}/webhooks/", {"url": receiver.url}), 201)
    assert glob["organization"] is None


def test_refusals_say_why(cast, api, settings) -> None:
    agent = api("agent")
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    answer = agent.post(f"{V1}/webhooks/", {"url": "http://127.0.0.1:8000/hook"})
    assert answer.status_code == 400 and "loopback" in answer.json()["fields"]["url"][0]
    answer = agent.post(f"{V1}/webhooks/", {"url": "https://x.example", "events": ["nope"]})
    assert answer.status_code == 400 and "events.0" in answer.json()["fields"]
    answer = agent.post(f"{V1}/webhooks/", {"url": "https://x.example", "secret": "mine"})
    assert answer.status_code == 400
    assert agent.get(f"{V1}/webhooks/abc/").status_code == 404


def test_the_delivery_log_and_redelivery(cast, api, receiver, django_capture_on_commit_callbacks):
    agent = api("agent")
    hook = ok(agent.post(f"{V1}/webhooks/", {"url": receiver.url}), 201)
    with django_capture_on_commit_callbacks(execute=True):
        record("change.updated", organization_id=cast.acme.pk, object_key="CHG-7", data={})
    [logged] = ok(agent.get(f"{V1}/webhooks/{hook['id']}/deliveries/"))["results"]
    assert logged["state"] == "sent" and logged["status_code"] == 200
    assert logged["type"] == "change.updated" and logged["attempts"] == 1
    assert logged["duration_ms"] is not None and logged["error"] == ""
    with django_capture_on_commit_callbacks(execute=True):
        again = ok(
            agent.post(f"{V1}/webhooks/{hook['id']}/deliveries/{logged['id']}/redeliver/"), 201
        )
    assert again["event_id"] == logged["event_id"] and again["id"] != logged["id"]
    assert WebhookDelivery.objects.get(pk=again["id"]).state == "sent"
    assert len(receiver.requests) == 2
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]
    missing = agent.post(f"{V1}/webhooks/{hook['id']}/deliveries/999999/redeliver/")
    assert missing.status_code == 404


def test_the_webhooks_are_in_the_schema(cast, api) -> None:
    text = api("agent").get("/api/schema/").content.decode()
    for operation in (
        "webhooks_list",
        "webhooks_create",
        "webhooks_retrieve",
        "webhooks_partial_update",
        "webhooks_destroy",
        "webhooks_deliveries_list",
        "webhooks_deliveries_redeliver",
    ):
        assert operation in text
