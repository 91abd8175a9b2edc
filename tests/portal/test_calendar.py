"""The portal calendar (issue 14): a customer sees their organisation's windows and the
freezes that apply to it, never another organisation's; the conflicts panel on a change."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.calendar_world import build_world
from tickets.models import CalendarFeed


@pytest.fixture
def world(cast):
    return build_world(cast)


@pytest.mark.parametrize("view", ["month", "week", "agenda"])
def test_a_customer_sees_their_organisation_only(alice_client, world, view) -> None:
    for date in (world.day, world.day + (world.secret.start - world.day)):
        response = alice_client.get(
            "/portal/calendar/", {"view": view, "date": date.date().isoformat(), "days": 7}
        )
        assert response.status_code == 200
        html = response.content.decode()
        assert "Globex" not in html
        assert reverse("portal:change", args=[world.other.key]) not in html
        assert "Globex merger freeze" not in html
    html = alice_client.get(
        "/portal/calendar/", {"view": view, "date": world.day.date().isoformat()}
    ).content.decode()
    assert reverse("portal:change", args=[world.first.key]) in html
    assert "Acme year-end closing" in html and "Hard freeze" in html
    assert "overlaps on" in html
    assert "/staff/" not in html.split("<main")[1]


def test_bob_sees_globex_and_not_acme(bob_client, world) -> None:
    html = bob_client.get(
        "/portal/calendar/", {"view": "month", "date": world.day.date().isoformat()}
    ).content.decode()
    assert reverse("portal:change", args=[world.other.key]) in html
    assert "Globex merger freeze" in html and "Friday evenings" in html
    assert "Acme year-end closing" not in html
    assert reverse("portal:change", args=[world.first.key]) not in html


def test_an_organisation_filter_cannot_reach_another_organisation(alice_client, cast, world):
    html = alice_client.get(
        "/portal/calendar/",
        {"organization": cast.globex.pk, "component": "1", "date": world.day.date().isoformat()},
    ).content.decode()
    assert reverse("portal:change", args=[world.other.key]) not in html


def test_the_conflicts_panel_on_the_portal_change_page(alice_client, world) -> None:
    html = alice_client.get(f"/portal/changes/{world.second.key}/").content.decode()
    assert 'id="conflicts"' in html
    assert reverse("portal:change", args=[world.first.key]) in html
    assert "Acme year-end closing" in html


def test_the_portal_feed(alice_client, cast) -> None:
    assert alice_client.get("/portal/calendar/feed/").status_code == 302
    response = alice_client.post("/portal/calendar/feed/", {"issue": "1"})
    assert response.status_code == 201 and ".ics" in response.content.decode()
    url = response.content.decode().split('id="feed-url"')[1].split('value="')[1].split('"')[0]
    feed = alice_client.get(url.replace("http://testserver", ""))
    assert feed.status_code == 200 and feed["Content-Type"].startswith("text/calendar")
    assert alice_client.post("/portal/calendar/feed/", {"revoke": "1"}).status_code == 302
    assert not CalendarFeed.objects.filter(user=cast.alice).exists()
