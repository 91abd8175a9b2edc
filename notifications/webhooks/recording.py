"""Webhook events, written inside the transaction of what happened (the outbox): one
WebhookEvent, one WebhookDelivery per endpoint that wants it, and the delivery task
queued after commit. Called by `notifications.services`' hooks, which the tickets
services call with the subject's row locked.

Who receives what: an endpoint without an organisation (provider staff's) every
organisation's events; an organisation's endpoint that organisation's only; a customer's
endpoint never an internal (non-public) event."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from changeprocess.celery import app as celery_app
from tickets.models import Change

from .models import WebhookDelivery, WebhookEndpoint, WebhookEvent, WebhookEventType

# The delivery task (notifications/tasks.py), looked up by name: the tasks call down into
# this package, never the other way round.
SEND_WEBHOOKS_TASK = "notifications.tasks.send_webhooks"

Type = WebhookEventType
logger = logging.getLogger(__name__)


def _time(at: datetime | None) -> str | None:
    return at.isoformat().replace("+00:00", "Z") if at else None


def change_data(change: Any) -> dict[str, Any]:
    """A change as the API lists it: its identity, state and window."""
    window = None
    if change.window_start and change.window_end:
        window = {
            "start": _time(change.window_start),
            "end": _time(change.window_end),
            "agreed": change.window_agreed_at is not None,
        }
    return {
        "id": change.pk,
        "key": change.key,
        "organization": change.organization_id,
        "title": change.title,
        "status": change.status,
        "performer": change.performer,
        "environment_id": change.environment_id,
        "window": window,
    }


def ticket_data(ticket: Any) -> dict[str, Any]:
    return {
        "id": ticket.pk,
        "key": ticket.key,
        "organization": ticket.organization_id,
        "title": ticket.title,
        "status": ticket.status,
        "change": ticket.change_id,
    }


def record(
    type: str,
    *,
    organization_id: int,
    object_key: str,
    data: dict[str, Any],
    public: bool = True,
    now: datetime | None = None,
) -> WebhookEvent | None:
    """Write the event and its deliveries; None (nothing written) when no active endpoint
    wants it. Caller holds the transaction of the event."""
    endpoints = list(_endpoints_for(type, organization_id, public))
    if not endpoints:
        return None
    now = now or timezone.now()
    event = WebhookEvent.objects.create(
        type=type,
        object_key=object_key,
        organization_id=organization_id,
        public=public,
        payload={"type": type, "timestamp": _time(now), "data": data},
        created=now,
    )
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(endpoint=e, event=event, object_key=object_key, next_attempt_at=now)
        for e in endpoints
    )
    transaction.on_commit(dispatch, robust=True)
    return event


def _endpoints_for(type: str, organization_id: int, public: bool) -> Iterable[WebhookEndpoint]:
    candidates = WebhookEndpoint.objects.filter(
        Q(organization__isnull=True) | Q(organization_id=organization_id), active=True
    ).select_related("owner")
    for endpoint in candidates:
        if endpoint.events and type not in endpoint.events:
            continue
        if not public and not endpoint.internal:
            continue
        yield endpoint


def dispatch(countdown: float | None = None) -> None:
    """Queue the delivery task. A broker that is down loses nothing: the rows wait for
    the beat's sweep."""
    try:
        celery_app.tasks[SEND_WEBHOOKS_TASK].apply_async(countdown=countdown)
    except Exception:  # any broker failure: the sweep sends them later
        logger.warning("Could not queue the webhooks; the sweep will send them.", exc_info=True)


# --------------------------------------------------------------------------- hooks

_APPROVAL_STEPS = ("approve", "reject", "business_approve")


def transition_taken(*, subject: Any, step: Any, by: Any) -> None:
    """A ticket or change transition: `*.transitioned`, and for a change also
    `change.approval` (approve, reject, business review) or `change.window` (agreed)."""
    moved = {
        "transition": step.name,
        "from": step.source,
        "to": step.target,
        "by": by.get_username() if by is not None else None,
    }
    if isinstance(subject, Change):
        data = {**change_data(subject), "event": moved}
        record(
            Type.CHANGE_TRANSITIONED,
            organization_id=subject.organization_id,
            object_key=subject.key,
            data=data,
        )
        if step.name in _APPROVAL_STEPS:
            record(
                Type.CHANGE_APPROVAL,
                organization_id=subject.organization_id,
                object_key=subject.key,
                data=data,
            )
        elif step.name == "agree_window":
            record(
                Type.CHANGE_WINDOW,
                organization_id=subject.organization_id,
                object_key=subject.key,
                data=data,
            )
    else:
        record(
            Type.TICKET_TRANSITIONED,
            organization_id=subject.organization_id,
            object_key=subject.key,
            data={**ticket_data(subject), "event": moved},
        )


def window_proposed(*, change: Any, by: Any) -> None:
    record(
        Type.CHANGE_WINDOW,
        organization_id=change.organization_id,
        object_key=change.key,
        data={**change_data(change), "event": {"proposed_by": by.get_username()}},
    )


def communication_queued(*, notification: Any, change: Any) -> None:
    record(
        Type.COMMUNICATION_SENT,
        organization_id=change.organization_id,
        object_key=change.key,
        data={
            "id": notification.pk,
            "kind": notification.kind,
            "subject": notification.subject,
            "change": change_data(change),
        },
    )


def ticket_created(*, ticket: Any, by: Any) -> None:
    record(
        Type.TICKET_CREATED,
        organization_id=ticket.organization_id,
        object_key=ticket.key,
        data={**ticket_data(ticket), "event": {"by": by.get_username()}},
    )


def ticket_commented(*, comment: Any, by: Any) -> None:
    """An internal comment is not public: customers' endpoints never receive it."""
    ticket = comment.ticket
    record(
        Type.TICKET_COMMENTED,
        organization_id=ticket.organization_id,
        object_key=ticket.key,
        public=comment.public,
        data={
            **ticket_data(ticket),
            "comment": {
                "id": comment.pk,
                "author": by.get_username(),
                "body": comment.body,
                "public": comment.public,
                "created": _time(comment.created),
            },
        },
    )


def change_created(*, change: Any, by: Any) -> None:
    record(
        Type.CHANGE_CREATED,
        organization_id=change.organization_id,
        object_key=change.key,
        data={**change_data(change), "event": {"by": by.get_username()}},
    )


def change_updated(*, change: Any, by: Any, fields: Iterable[str]) -> None:
    record(
        Type.CHANGE_UPDATED,
        organization_id=change.organization_id,
        object_key=change.key,
        data={
            **change_data(change),
            "event": {"by": by.get_username(), "fields": sorted(set(fields))},
        },
    )
