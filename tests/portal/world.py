"""Two organisations with one of every portal object each, and the portal's URLs filled
with them: what the isolation tests (pages and browser) request as the other customer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from notifications.models import (
    Delivery,
    Notification,
    NotificationKind,
    WebhookDelivery,
    WebhookEndpoint,
)
from tests.factories import (
    ChangeFactory,
    ContactFactory,
    TicketCommentFactory,
    TicketFactory,
    WebhookDeliveryFactory,
    WebhookEndpointFactory,
)
from tickets import services
from tickets.models import Attachment, Change, Contact, Freeze, Ticket
from tickets.portal import urls as portal_urls

OBJECT_PATTERNS = [p for p in portal_urls.urlpatterns if p.pattern.converters]
LIST_PATTERNS = [p for p in portal_urls.urlpatterns if not p.pattern.converters]


@dataclass
class Org:
    change: Change
    ticket: Ticket  # in the change's scope, in testing
    own_ticket: Ticket  # raised by the customer, waiting for them
    contact: Contact
    notice: Delivery  # an action notice to the customer user
    attachment: Attachment  # a file on the customer's own ticket
    webhook: WebhookEndpoint  # the customer user's endpoint
    webhook_delivery: WebhookDelivery  # one event sent to it


def org_objects(cast: Any, org: Any, customer: Any) -> Org:
    # Its window today, and a freeze of its organisation: both on that organisation's
    # calendar only.
    now = timezone.now()
    change = ChangeFactory(
        organization=org,
        author=cast.agent,
        status=Change.S.IN_TESTING,
        window_start=now - timedelta(hours=2),
        window_end=now - timedelta(hours=1),
        window_proposed_by=cast.agent,
        window_proposed_at=now - timedelta(days=2),
        window_agreed_by=customer,
        window_agreed_at=now - timedelta(days=1),
    )
    Freeze.objects.create(
        title=f"{org} freeze",
        organization=org,
        start=now - timedelta(hours=3),
        end=now + timedelta(hours=3),
        last_end=now + timedelta(hours=3),
    )
    ticket = TicketFactory(
        organization=org, reporter=customer, status=Ticket.S.IN_TESTING, change=change
    )
    own = TicketFactory(organization=org, reporter=customer, status=Ticket.S.WAITING_FOR_CUSTOMER)
    TicketCommentFactory(ticket=own, author=cast.agent, body=f"Public answer to {org}")
    notification = Notification.objects.create(
        kind=NotificationKind.ACTION,
        ticket=own,
        subject=f"{own.key} waits for {org}",
        body_text=f"Please answer {own.key}.",
    )
    notice = Delivery.objects.create(
        notification=notification, user=customer, recipient=customer.email
    )
    webhook = WebhookEndpointFactory(organization=org, owner=customer)
    return Org(
        change=change,
        ticket=ticket,
        own_ticket=own,
        contact=ContactFactory(organization=org),
        notice=notice,
        attachment=services.attachment_add(
            by=customer, ticket=own.pk, file=ContentFile(b"screenshot", name="shot.txt")
        ),
        webhook=webhook,
        webhook_delivery=WebhookDeliveryFactory(endpoint=webhook, object_key=change.key),
    )


@dataclass
class World:
    cast: Any
    acme: Org
    globex: Org


def make_world(cast: Any) -> World:
    return World(
        cast,
        org_objects(cast, cast.acme, cast.alice),
        org_objects(cast, cast.globex, cast.bob),
    )


# A value per URL argument: (pattern name, argument) first, then the argument alone.
def url_values(org: Org) -> dict[tuple[str, str] | str, object]:
    return {
        ("ticket", "ref"): org.own_ticket.key,
        ("ticket_comment", "ref"): org.own_ticket.key,
        ("ticket_transition", "ref"): org.ticket.key,
        ("ticket_transition", "name"): "accept",
        ("change_transition", "name"): "close",
        ("change_ticket_transition", "name"): "accept",
        ("notification_read", "pk"): org.notice.pk,
        ("attachment_download", "pk"): org.attachment.pk,
        ("attachment_delete", "pk"): org.attachment.pk,
        ("ticket_attachment_add", "ref"): org.own_ticket.key,
        ("webhook_switch", "pk"): org.webhook.pk,
        ("webhook_delete", "pk"): org.webhook.pk,
        ("webhook_deliveries", "pk"): org.webhook.pk,
        ("webhook_redeliver", "pk"): org.webhook.pk,
        "did": org.webhook_delivery.pk,
        "ref": org.change.key,
        "ticket": org.ticket.key,
        "scenario": org.change.scenarios.get(kind="progression").pk,
        "item": org.change.checklist.first().pk,
        "pk": org.contact.pk,
    }


def url_kwargs(pattern: Any, values: dict) -> dict[str, object]:
    out = {}
    for arg in pattern.pattern.converters:
        key = (pattern.name, arg) if (pattern.name, arg) in values else arg
        assert key in values, f"portal URL {pattern.name!r} takes {arg!r}: say how to fill it"
        out[arg] = values[key]
    return out


def object_urls(org: Org) -> list[tuple[str, str]]:
    """(pattern name, URL) for every portal pattern that names an object, filled with
    `org`'s objects."""
    values = url_values(org)
    return [
        (p.name, reverse(f"portal:{p.name}", kwargs=url_kwargs(p, values))) for p in OBJECT_PATTERNS
    ]
