"""What a webhook receiver gets, in the OpenAPI schema (API.md, "Deployment gate and
webhooks"): one component per event type (`WebhookTicketCreated`, ...) describing the
JSON body `notifications.webhooks.recording` writes, and the root `x-webhooks` (the
OpenAPI 3.0 extension Redoc shows; 3.1's `webhooks` is not valid in the 3.0 schema we
publish) with one request per event: the body and the signature headers.

tests/api/test_webhook_schema.py checks every body the recording writes against these."""

from __future__ import annotations

from typing import Any

from notifications.models import WebhookEventType

Schema = dict[str, Any]
E = WebhookEventType


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Schema], description: str = "") -> Schema:
    schema: Schema = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
    }
    if description:
        schema["description"] = description
    return schema


def _enum_or_string(components: Schema, name: str) -> Schema:
    """The published enumeration `name` when the schema has it, else a plain string."""
    return _ref(name) if name in components else {"type": "string"}


def _parts(components: Schema) -> dict[str, Schema]:
    integer = {"type": "integer"}
    nullable_id = {"type": "integer", "nullable": True}
    username = {"type": "string", "description": "The username of who did it."}
    return {
        "WebhookTicket": _object(
            {
                "id": integer,
                "key": {"type": "string", "example": "SUP-12"},
                "organization": integer,
                "title": {"type": "string"},
                "status": _enum_or_string(components, "TicketStatusEnum"),
                "change": {**nullable_id, "description": "The change it is released with."},
            },
            "A ticket as the API lists it.",
        ),
        "WebhookChange": _object(
            {
                "id": integer,
                "key": {"type": "string", "example": "CHG-3"},
                "organization": integer,
                "title": {"type": "string"},
                "status": _enum_or_string(components, "ChangeStatusEnum"),
                "performer": _enum_or_string(components, "SideEnum"),
                "environment_id": nullable_id,
                "window": {
                    "allOf": [_ref("WebhookWindow")],
                    "nullable": True,
                    "description": "The deployment window, once one is proposed.",
                },
            },
            "A change as the API lists it: its identity, state and window.",
        ),
        "WebhookWindow": _object(
            {
                "start": {"type": "string", "format": "date-time"},
                "end": {"type": "string", "format": "date-time"},
                "agreed": {"type": "boolean", "description": "Agreed by both sides."},
            }
        ),
        "WebhookBy": _object({"by": username}),
        "WebhookTransition": _object(
            {
                "transition": {"type": "string", "description": "As WORKFLOW.md names it."},
                "from": {"type": "string", "description": "The status it left."},
                "to": {"type": "string", "description": "The status it reached."},
                "by": {**username, "nullable": True, "description": "Null: automatic."},
            },
            "The step taken.",
        ),
        "WebhookComment": _object(
            {
                "id": integer,
                "author": username,
                "body": {"type": "string"},
                "public": {
                    "type": "boolean",
                    "description": "False for an internal note, sent to provider staff's "
                    "endpoints only.",
                },
                "created": {"type": "string", "format": "date-time"},
            }
        ),
    }


def _merged(base: str, extra: dict[str, Schema]) -> Schema:
    return {"allOf": [_ref(base), _object(extra)]}


def _data(event: str, components: Schema) -> Schema:
    """The `data` of each event type, as `recording`'s hooks build it."""
    ticket_by = _merged("WebhookTicket", {"event": _ref("WebhookBy")})
    change_moved = _merged("WebhookChange", {"event": _ref("WebhookTransition")})
    return {
        E.TICKET_CREATED: ticket_by,
        E.TICKET_TRANSITIONED: _merged("WebhookTicket", {"event": _ref("WebhookTransition")}),
        E.TICKET_COMMENTED: _merged("WebhookTicket", {"comment": _ref("WebhookComment")}),
        E.CHANGE_CREATED: _merged("WebhookChange", {"event": _ref("WebhookBy")}),
        E.CHANGE_UPDATED: _merged(
            "WebhookChange",
            {
                "event": _object(
                    {
                        "by": {"type": "string"},
                        "fields": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "The sections edited.",
                        },
                    }
                )
            },
        ),
        E.CHANGE_TRANSITIONED: change_moved,
        E.CHANGE_APPROVAL: change_moved,
        E.CHANGE_WINDOW: _merged(
            "WebhookChange",
            {
                "event": {
                    "oneOf": [
                        _ref("WebhookTransition"),
                        _object(
                            {"proposed_by": {"type": "string"}},
                            "A window proposed (agreeing one is the transition `agree_window`).",
                        ),
                    ]
                }
            },
        ),
        E.COMMUNICATION_SENT: _object(
            {
                "id": {"type": "integer"},
                "kind": _enum_or_string(components, "CommunicationKindEnum"),
                "subject": {"type": "string"},
                "change": _ref("WebhookChange"),
            }
        ),
    }[E(event)]


def component_name(event: str) -> str:
    """`ticket.created` -> `WebhookTicketCreated`."""
    return "Webhook" + "".join(part.capitalize() for part in event.replace(".", "_").split("_"))


SIGNATURE_HEADERS = [
    {
        "name": "webhook-id",
        "in": "header",
        "required": True,
        "schema": {"type": "string", "example": "evt_42"},
        "description": "The event's id: the same on every retry and redelivery (deduplicate "
        "on it).",
    },
    {
        "name": "webhook-timestamp",
        "in": "header",
        "required": True,
        "schema": {"type": "string", "example": "1735689600"},
        "description": "Seconds since the epoch, of this attempt.",
    },
    {
        "name": "webhook-signature",
        "in": "header",
        "required": True,
        "schema": {"type": "string"},
        "description": "`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, keyed with the "
        "base64-decoded part of the endpoint's secret after `whsec_` (Standard Webhooks).",
    },
]


def describe_webhooks(result: Schema, **kwargs: Any) -> Schema:
    """drf-spectacular postprocessing hook: add the payload components and `x-webhooks`."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.update(_parts(components))
    hooks: Schema = {}
    for event, label in E.choices:
        name = component_name(event)
        components[name] = _object(
            {
                "type": {"type": "string", "enum": [event]},
                "timestamp": {"type": "string", "format": "date-time"},
                "data": _data(event, components),
            },
            f"The body POSTed for `{event}`: {label}.",
        )
        hooks[event] = {
            "post": {
                "operationId": f"webhook_{event.replace('.', '_')}",
                "summary": str(label),
                "description": f"Sent to each active endpoint subscribed to `{event}` (or to "
                "every type). Answer 2xx within the timeout; anything else is retried with "
                "backoff.",
                "parameters": SIGNATURE_HEADERS,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(name)}},
                },
                "responses": {"200": {"description": "Received (any 2xx)."}},
            }
        }
    result["x-webhooks"] = hooks
    return result
