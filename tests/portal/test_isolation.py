"""Nothing of another organisation is reachable in the portal.

The URLs are generated from `tickets.portal.urls.urlpatterns`: every pattern that names
an object is filled with Acme's objects and requested by bob (Globex), with GET and with
POST, and must answer 404; a test fails if a new pattern takes an argument this file does
not know how to fill. Nested URLs are also tried with bob's own outer object and Acme's
inner one.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications.models import Delivery, WebhookDelivery, WebhookEndpoint
from tests.factories import NEXT_YEAR
from tests.portal.world import (
    LIST_PATTERNS,
    OBJECT_PATTERNS,
    Org,
    World,
    make_world,
    url_kwargs,
    url_values,
)
from tickets.middleware import user_zone
from tickets.models import Change, Contact, Ticket, TicketComment


@pytest.fixture
def world(cast) -> World:
    return make_world(cast)


POST_DATA = {
    "comment": "Trying my luck",
    "body": "Hello",
    "resolution": "successful",
    "result": "passed",
    "state": "done",
    "start": f"{NEXT_YEAR}-01-01T10:00",
    "end": f"{NEXT_YEAR}-01-01T11:00",
}


def _snapshot(org: Org) -> tuple:
    return (
        Change.objects.filter(pk=org.change.pk).values_list("status", "window_start").get(),
        list(Ticket.objects.filter(organization=org.change.organization).values_list("status")),
        TicketComment.objects.filter(ticket__organization=org.change.organization).count(),
        list(org.change.scenarios.values_list("result")),
        list(org.change.checklist.values_list("state")),
        Contact.objects.filter(organization=org.change.organization).count(),
        Delivery.objects.get(pk=org.notice.pk).read_at,
        list(org.own_ticket.attachments.values_list("pk", flat=True)),
        list(WebhookEndpoint.objects.filter(pk=org.webhook.pk).values_list("active", "url")),
        WebhookDelivery.objects.filter(endpoint=org.webhook).count(),
    )


@pytest.mark.parametrize("pattern", OBJECT_PATTERNS, ids=lambda p: p.name)
@pytest.mark.parametrize("method", ["get", "post"])
def test_bob_gets_404_on_every_url_of_acmes_objects(world, bob_client, pattern, method) -> None:
    acme = world.acme
    before = _snapshot(acme)
    url = reverse(f"portal:{pattern.name}", kwargs=url_kwargs(pattern, url_values(acme)))
    response = getattr(bob_client, method)(url, POST_DATA if method == "post" else None)
    assert response.status_code == 404, url
    assert _snapshot(acme) == before


@pytest.mark.parametrize("pattern", OBJECT_PATTERNS, ids=lambda p: p.name)
def test_alice_reaches_the_same_urls(world, alice_client, pattern) -> None:
    """The 404s above are about the organisation, not broken URLs."""
    acme = world.acme
    url = reverse(f"portal:{pattern.name}", kwargs=url_kwargs(pattern, url_values(acme)))
    response = alice_client.get(url)
    assert response.status_code in (200, 302), url


# Patterns that name an object inside another (a scenario of a change, ...).
NESTED = [p for p in OBJECT_PATTERNS if len(set(p.pattern.converters) - {"name"}) > 1]


@pytest.mark.parametrize("pattern", NESTED, ids=lambda p: p.name)
@pytest.mark.parametrize("method", ["get", "post"])
def test_own_change_does_not_open_acmes_inner_objects(world, bob_client, pattern, method) -> None:
    acme, globex = world.acme, world.globex
    values = {
        **url_values(acme),
        "ref": globex.change.key,
        ("webhook_redeliver", "pk"): globex.webhook.pk,
    }
    before = _snapshot(acme)
    url = reverse(f"portal:{pattern.name}", kwargs=url_kwargs(pattern, values))
    response = getattr(bob_client, method)(url, POST_DATA if method == "post" else None)
    assert response.status_code == 404, url
    assert _snapshot(acme) == before


@pytest.mark.parametrize(
    "ref",
    ["{change.pk}", "chg-{change.pk}", "SUP-{change.pk}", "CHG-999999", "nonsense", "CHG-"],
)
def test_every_spelling_of_a_foreign_or_unknown_ref_is_404(world, bob_client, ref) -> None:
    acme = world.acme
    url = f"/portal/changes/{ref.format(change=acme.change)}/"
    assert bob_client.get(url).status_code == 404


def _org_of(row) -> int:
    if isinstance(row, Delivery):
        return (row.notification.change or row.notification.ticket).organization_id
    return row.organization_id


LISTS = [
    "/portal/",
    *[f"/portal/tickets/?show={s}" for s in ("action", "open", "done", "all")],
    *[f"/portal/changes/?show={s}" for s in ("action", "open", "closed", "all")],
    "/portal/contacts/",
    "/portal/notifications/",
    "/portal/webhooks/",
    "/portal/calendar/",
    "/portal/calendar/?view=week",
    "/portal/calendar/?view=agenda",
]


def test_list_urls_cover_every_list_pattern() -> None:
    covered = {re.sub(r"\?.*", "", u) for u in LISTS}
    for pattern in LIST_PATTERNS:
        url = reverse(f"portal:{pattern.name}")
        if pattern.name in (
            "ticket_new",
            "contact_add",
            "contacts_import",
            "notifications_read_all",
            "webhook_create",
            "calendar_feed",
        ):
            continue  # a form, or an action on the user's own rows
        assert url in covered, f"{url} is not checked by test_bobs_lists_never_show_acme"


@pytest.mark.parametrize("url", LISTS)
def test_bobs_lists_never_show_acme(world, bob_client, url) -> None:
    acme = world.acme
    response = bob_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert acme.notice.notification.subject not in html
    for key in (acme.change.key, acme.ticket.key, acme.own_ticket.key):
        assert not re.search(rf"{key}\b", html), f"{key} shown to bob on {url}"
    assert acme.contact.email not in html
    assert acme.webhook.url not in html and acme.webhook.secret not in html
    assert "Acme" not in html
    page = response.context.get("page")
    if page is not None:
        orgs = {_org_of(o) for o in page.object_list}
        assert orgs <= {world.cast.globex.pk}


def test_bob_sees_his_own(world, bob_client) -> None:
    """The lists above are not empty for lack of data."""
    globex = world.globex
    html = bob_client.get("/portal/tickets/?show=all").content.decode()
    assert globex.ticket.key in html and globex.own_ticket.key in html
    assert globex.change.key in bob_client.get("/portal/changes/?show=all").content.decode()
    assert globex.contact.email in bob_client.get("/portal/contacts/").content.decode()
    notices = bob_client.get("/portal/notifications/").content.decode()
    assert globex.notice.notification.subject in notices
    assert globex.webhook.url in bob_client.get("/portal/webhooks/").content.decode()
    # The agenda of the window's day in bob's time zone: from 00:00 to 02:00 that is
    # yesterday (the window ended an hour ago), and the agenda starts today.
    day = timezone.localtime(globex.change.window_start, user_zone(world.cast.bob)).date()
    calendar = bob_client.get(f"/portal/calendar/?view=agenda&date={day}").content.decode()
    assert globex.change.key in calendar and "Globex freeze" in calendar
