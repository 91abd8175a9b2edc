"""In the browser, bob (Globex) reaches nothing of Acme's: every portal URL that names
one of Acme's objects (generated from the portal's URL patterns) answers 404, and none of
his lists shows an Acme object."""

from __future__ import annotations

import re

import pytest

from tests.portal.world import LIST_PATTERNS, make_world, object_urls

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LISTS = [
    "/portal/",
    *[f"/portal/tickets/?show={s}" for s in ("action", "open", "done", "all")],
    *[f"/portal/changes/?show={s}" for s in ("action", "open", "closed", "all")],
    "/portal/contacts/",
    "/portal/notifications/",
    "/portal/webhooks/",
    "/portal/calendar/",
    "/portal/calendar/?view=agenda",
]


def test_bob_gets_404_on_acmes_urls_and_never_sees_acme(cast, page_for, shot) -> None:
    world = make_world(cast)
    acme, globex = world.acme, world.globex
    secrets = [
        acme.change.key,
        acme.change.title,
        acme.ticket.key,
        acme.ticket.title,
        acme.own_ticket.key,
        acme.own_ticket.title,
        acme.contact.email,
        acme.notice.notification.subject,
        acme.webhook.url,
        acme.webhook.secret,
        "Acme",
    ]
    bob = page_for("bob")

    urls = object_urls(acme)
    assert len(urls) == len({name for name, _ in urls}) >= 10
    for name, url in urls:
        response = bob.goto(url)
        assert response is not None
        assert response.status == 404, f"{name}: {url} answered {response.status} to bob"
        text = bob.content()
        for secret in secrets:
            assert not re.search(rf"{re.escape(secret)}\b", text), f"{secret} on {url}"

    for pattern in LIST_PATTERNS:
        assert any(u.split("?")[0] == f"/portal/{pattern.pattern}" for u in LISTS) or (
            pattern.name
            in (
                "ticket_new",
                "contact_add",
                "contacts_import",
                "notifications_read_all",
                "webhook_create",
                "calendar_feed",
            )
        ), f"list {pattern.name} is not visited"
    for url in LISTS:
        response = bob.goto(url)
        assert response is not None and response.status == 200, url
        text = bob.locator("body").inner_text()
        for secret in secrets:
            assert not re.search(rf"{re.escape(secret)}\b", text), f"{secret} shown on {url}"

    # His own are there: the lists are not empty for want of data.
    bob.goto("/portal/tickets/?show=all")
    assert globex.own_ticket.title in bob.locator("body").inner_text()
    bob.goto("/portal/changes/?show=all")
    assert globex.change.title in bob.locator("body").inner_text()
    bob.goto(f"/portal/changes/{acme.change.key}/")
    shot(bob, "portal-404-for-another-organisation")
