"""Subscribing webhook endpoints: who may subscribe what, and the URL checked before it
is stored (addresses.py). The front ends (the API, the staff workspace's and the portal's
webhook pages) call these; each returns the endpoint or raises one of `tickets.errors`'
domain errors."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from tickets.errors import InvalidInput, NotVisible, PermissionRefused, WrongState
from tickets.models import Organization, User

from . import recording
from .addresses import check_url
from .models import WebhookDelivery, WebhookEndpoint, WebhookEventType
from .signing import new_secret

URL_MAX = 500


def endpoints_visible_to(user: User) -> QuerySet[WebhookEndpoint]:
    """Provider staff see every endpoint; a customer user their organisation's."""
    qs = WebhookEndpoint.objects.select_related("owner", "organization")
    if user.is_provider:
        return qs
    if user.organization_id is None:
        return qs.none()
    return qs.filter(organization_id=user.organization_id)


def access_endpoint(user: User, pk: Any, *, lock: bool = False) -> WebhookEndpoint:
    qs = endpoints_visible_to(user)
    if lock:
        qs = qs.select_for_update(of=("self",))
    endpoint = qs.filter(pk=pk).first() if isinstance(pk, int) else None
    if endpoint is None:
        raise NotVisible(f"No webhook {pk}.")
    return endpoint


def event_types_for(user: User) -> list[tuple[str, str]]:
    """The event types `user` may subscribe, each with what it sends them: every type, but
    an endpoint a customer user owns never receives an internal comment (`internal`)."""
    choices = list(WebhookEventType.choices)
    if user.is_provider:
        return choices
    return [
        (value, "A public comment on a ticket (never an internal note)")
        if value == WebhookEventType.TICKET_COMMENTED
        else (value, label)
        for value, label in choices
    ]


def _events(events: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(events))
    unknown = [e for e in chosen if e not in WebhookEventType.values]
    if unknown:
        message = (
            f"Not event types: {', '.join(unknown)}; use "
            f"{', '.join(WebhookEventType.values)} (or none for every type)."
        )
        raise InvalidInput(message, fields={"events": [message]})
    return chosen


def _url(url: str) -> str:
    url = (url or "").strip()
    if len(url) > URL_MAX:
        raise InvalidInput(
            f"A webhook URL has at most {URL_MAX} characters.",
            fields={"url": [f"At most {URL_MAX} characters."]},
        )
    check_url(url)
    return url


def webhook_create(
    *,
    by: User,
    url: str,
    events: Iterable[str] = (),
    organization: Organization | int | None = None,
    active: bool = True,
) -> WebhookEndpoint:
    """A new endpoint with a new secret (the caller shows it once). Provider staff choose
    an organisation or none (every organisation's events); a customer user's endpoint is
    their organisation's, whatever they asked."""
    org_id = organization.pk if isinstance(organization, Organization) else organization
    if by.is_customer:
        if org_id is not None and org_id != by.organization_id:
            raise NotVisible(f"No organisation {org_id}.")
        org_id = by.organization_id
    elif not by.is_provider:
        raise PermissionRefused("Only provider staff and customer users subscribe webhooks.")
    elif org_id is not None and not Organization.objects.filter(pk=org_id).exists():
        raise NotVisible(f"No organisation {org_id}.")
    return WebhookEndpoint.objects.create(
        url=_url(url),
        events=_events(events),
        organization_id=org_id,
        owner=by,
        active=active,
        secret=new_secret(),
    )


def webhook_update(
    *,
    endpoint: WebhookEndpoint | int,
    by: User,
    url: str | None = None,
    events: Iterable[str] | None = None,
    active: bool | None = None,
) -> WebhookEndpoint:
    """Change the URL, the events, or switch it on or off. Switching a disabled endpoint
    on again clears its failure count; its failed deliveries stay failed (redeliver)."""
    with transaction.atomic():
        obj = access_endpoint(
            by, endpoint.pk if isinstance(endpoint, WebhookEndpoint) else endpoint, lock=True
        )
        if url is not None:
            obj.url = _url(url)
        if events is not None:
            obj.events = _events(events)
        if active is not None:
            if active and not obj.active:
                obj.consecutive_failures = 0
                obj.disabled_at = None
                obj.disabled_reason = ""
            obj.active = active
        obj.save()
    return obj


def webhook_delete(*, endpoint: WebhookEndpoint | int, by: User) -> None:
    with transaction.atomic():
        obj = access_endpoint(
            by, endpoint.pk if isinstance(endpoint, WebhookEndpoint) else endpoint, lock=True
        )
        obj.delete()


def deliveries_of(endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    """The delivery log of an endpoint the caller fetched through `access_endpoint`, newest
    first (the events' payloads are not read: the log shows their type)."""
    return endpoint.deliveries.select_related("event").defer("event__payload").order_by("-id")


def access_delivery(
    user: User, endpoint: Any, delivery: Any, *, lock: bool = False
) -> WebhookDelivery:
    """Delivery `delivery` of endpoint `endpoint`, both as `user` may see them (with the
    endpoint's row locked when asked)."""
    obj = access_endpoint(user, endpoint, lock=lock)
    found = obj.deliveries.filter(pk=delivery).first() if isinstance(delivery, int) else None
    if found is None:
        raise NotVisible(f"No delivery {delivery} of webhook {obj.pk}.")
    found.endpoint = obj
    return found


def webhook_redeliver(
    *, endpoint: WebhookEndpoint | int, delivery: int, by: User
) -> WebhookDelivery:
    """Send a delivery's event again: a new delivery of the same event (the same
    webhook-id, so a receiver that has it already can tell), due now."""
    with transaction.atomic():
        original = access_delivery(
            by,
            endpoint.pk if isinstance(endpoint, WebhookEndpoint) else endpoint,
            delivery,
            lock=True,
        )
        obj = original.endpoint
        if not obj.active:
            raise WrongState("The webhook is switched off; switch it on to redeliver.")
        again = WebhookDelivery.objects.create(
            endpoint=obj, event_id=original.event_id, object_key=original.object_key
        )
        transaction.on_commit(recording.dispatch, robust=True)
    return again
