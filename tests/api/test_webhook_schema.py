"""The webhooks' JSON payloads are in the OpenAPI schema (one component per event type,
and `x-webhooks`), and every body the recording writes for real validates against its
component, with no key the schema leaves out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from jsonschema import Draft202012Validator
from rest_framework.test import APIClient

from notifications.models import Notification, NotificationKind, WebhookEvent, WebhookEventType
from notifications.webhooks import recording
from tests.factories import ChangeFactory, WebhookEndpointFactory
from tickets import services
from tickets.api.webhook_schema import component_name


@pytest.fixture(scope="module")
def schema() -> dict:
    return APIClient().get("/api/schema/", {"format": "json"}).json()


def test_every_event_type_has_its_payload_and_request_in_the_schema(schema) -> None:
    components = schema["components"]["schemas"]
    hooks = schema["x-webhooks"]
    assert set(hooks) == set(WebhookEventType.values)
    for event in WebhookEventType.values:
        payload = components[component_name(event)]
        assert payload["properties"]["type"]["enum"] == [event]
        assert set(payload["required"]) == {"type", "timestamp", "data"}
        request = hooks[event]["post"]
        body = request["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{component_name(event)}"}
        headers = {p["name"] for p in request["parameters"] if p["in"] == "header"}
        assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert components["WebhookTicket"]["properties"]["status"] == {
        "$ref": "#/components/schemas/TicketStatusEnum"
    }


def _json_schema(node: Any, *, strict: bool = False) -> Any:
    """OpenAPI 3.0 -> JSON Schema 2020-12: `nullable` as a null type; an `allOf` (or an
    event's top level, `strict`) refuses properties none of its parts declares."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items() if k != "nullable"}
    if "allOf" in node or strict:
        out["unevaluatedProperties"] = False
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        else:
            out = {"anyOf": [{"type": "null"}, out]}
    return out


def _validator(schema: dict, event: str) -> Draft202012Validator:
    components = {
        name: _json_schema(part, strict=name == component_name(event))
        for name, part in schema["components"]["schemas"].items()
    }
    return Draft202012Validator(
        {
            "$ref": f"#/components/schemas/{component_name(event)}",
            "components": {"schemas": components},
        }
    )


def test_every_recorded_payload_matches_the_schema(cast, schema) -> None:
    WebhookEndpointFactory(organization=None, owner=cast.agent)  # receives every event
    ticket = services.ticket_create(by=cast.alice, title="Invoices are wrong")
    services.ticket_comment(ticket=ticket, by=cast.agent, body="Internal.", public=False)
    services.ticket_comment(ticket=ticket, by=cast.agent, body="We are on it.")
    created = services.change_create(by=cast.agent, organization=cast.acme, title="Fix VAT")
    services.change_update(change=created, by=cast.agent, summary="Round VAT per line.")
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    services.change_transition(change=change, by=cast.agent, name="submit")
    services.change_transition(change=change, by=cast.qa, name="approve", role="qa")
    start = timezone.now() + timedelta(days=2)
    services.change_propose_window(
        change=change, by=cast.agent, start=start, end=start + timedelta(hours=1)
    )
    change.refresh_from_db()
    notification = Notification.objects.create(
        kind=NotificationKind.ANNOUNCEMENT, change=change, subject="Maintenance on Monday"
    )
    recording.communication_queued(notification=notification, change=change)

    seen = set()
    for event in WebhookEvent.objects.all():
        errors = list(_validator(schema, event.type).iter_errors(event.payload))
        assert not errors, (event.type, [e.message for e in errors], event.payload)
        seen.add(event.type)
    assert seen == set(WebhookEventType.values)
