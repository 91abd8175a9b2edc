"""Who gets the portal, and every page of it answering for its user."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from notifications.models import Delivery, Notification, NotificationKind
from tests.factories import ChangeFactory, ContactFactory, TicketFactory
from tickets.middleware import user_zone
from tickets.models import TestScenario
from tickets.portal import urls as portal_urls

PAGES = [
    "/portal/",
    "/portal/tickets/",
    "/portal/tickets/new/",
    "/portal/changes/",
    "/portal/contacts/",
    "/portal/notifications/",
    "/portal/webhooks/",
]


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_users_are_sent_to_the_login(db, url) -> None:
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(settings.LOGIN_URL)
    assert "next=" in response["Location"]


@pytest.mark.parametrize("pattern", portal_urls.urlpatterns, ids=lambda p: p.name)
def test_provider_staff_are_sent_to_their_workspace(cast, client, pattern) -> None:
    client.force_login(cast.agent)
    ints = ("pk", "scenario", "item", "did")
    kwargs = {arg: 1 if arg in ints else "x" for arg in pattern.pattern.converters}
    response = client.get(reverse(f"portal:{pattern.name}", kwargs=kwargs))
    assert response.status_code == 302
    assert response["Location"] == "/staff/"


@pytest.mark.parametrize("url", PAGES)
def test_every_page_answers_alice(cast, alice_client, url) -> None:
    ChangeFactory(organization=cast.acme, author=cast.agent, status="in_testing")
    TicketFactory(organization=cast.acme, reporter=cast.alice, status="waiting_for_customer")
    ContactFactory(organization=cast.acme)
    response = alice_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Acme Corp" in html  # whose portal this is
    assert "Times are shown in" in html


def test_times_are_in_the_users_timezone(cast, alice_client) -> None:
    cast.alice.timezone = "Asia/Tokyo"
    cast.alice.save()
    assert "Times are shown in Asia/Tokyo" in alice_client.get("/portal/").content.decode()


def _notice(user, ticket, subject: str) -> Delivery:
    notification = Notification.objects.create(
        kind=NotificationKind.ACTION, ticket=ticket, subject=subject, body_text="Please reply."
    )
    return Delivery.objects.create(notification=notification, user=user, recipient=user.email)


def test_notifications_list_and_mark_read(cast, alice_client) -> None:
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    first = _notice(cast.alice, ticket, f"{ticket.key} waits for your reply")
    second = _notice(cast.alice, ticket, f"{ticket.key} was answered again")
    response = alice_client.get("/portal/notifications/")
    html = response.content.decode()
    assert first.notification.subject in html and second.notification.subject in html
    assert f'href="/portal/tickets/{ticket.key}/"' in html
    assert 'data-testid="nav-unread-count" title="2 unread"' in html

    alice_client.post(f"/portal/notifications/{first.pk}/read/")
    assert Delivery.objects.get(pk=first.pk).read_at is not None
    assert Delivery.objects.get(pk=second.pk).read_at is None
    alice_client.post("/portal/notifications/read/")
    assert not Delivery.objects.filter(read_at__isnull=True).exists()
    html = alice_client.get("/portal/notifications/").content.decode()
    assert "nav-unread-count" not in html


@pytest.mark.parametrize(
    ("status", "performer"),
    [
        ("to_be_reviewed_by_business", "provider"),
        ("to_be_released", "customer"),
        ("in_testing", "provider"),
        ("rolled_back", "customer"),
    ],
)
def test_no_element_id_repeats_on_a_change_page(cast, alice_client, status, performer) -> None:
    """Forms repeated per row (scenarios, checks, tickets) keep their ids apart, so each
    label names its own row's input."""
    change = ChangeFactory(
        organization=cast.acme, author=cast.agent, status=status, performer=performer
    )
    TestScenario.objects.create(change=change, position=2, kind="regression", description="B")
    for _ in range(2):
        TicketFactory(
            organization=cast.acme, reporter=cast.alice, status="in_testing", change=change
        )
    html = alice_client.get(f"/portal/changes/{change.key}/").content.decode()
    repeated = [i for i, n in Counter(re.findall(r'\bid="([^"]+)"', html)).items() if n > 1]
    assert repeated == []


def test_the_timezone_falls_back_to_the_organisations(cast) -> None:
    cast.alice.timezone = "America/Chicago"
    assert str(user_zone(cast.alice)) == "America/Chicago"
    cast.alice.timezone = ""
    assert str(user_zone(cast.alice)) == cast.acme.timezone == "Europe/Paris"
