"""The staff calendar (issue 14): month, week and agenda views with conflicts and freezes,
filters as shareable GET parameters, and the secret calendar feed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.calendar_world import build_world
from tests.staff.conftest import client_for
from tickets.models import CalendarFeed

URL = "/staff/calendar/"


@pytest.fixture
def world(cast):
    return build_world(cast)


def link(change) -> str:
    return reverse("staff:change_detail", args=[change.key])


def _get(client, **params):
    response = client.get(URL, params)
    assert response.status_code == 200
    return response.content.decode()


def test_month_view_shows_windows_conflicts_and_freezes(cast, world) -> None:
    html = _get(client_for(cast.agent), date=world.day.date().isoformat())
    assert world.first.key in html and world.second.key in html and world.other.key in html
    assert reverse("staff:change_detail", args=[world.first.key]) in html
    assert "cal-entry--conflict" in html and "conflict" in html
    assert "overlaps on" in html  # the reason, for screen readers and as a title
    assert "Hard freeze" in html and "Acme year-end closing" in html
    assert "Soft freeze" in html and "Friday evenings" in html
    assert "tentative" in html and "agreed" in html
    assert 'aria-current="date"' in html or "cal-day--other" in html
    assert '<table class="cal-month">' in html


@pytest.mark.parametrize("view", ["week", "agenda"])
def test_week_and_agenda_show_times_and_reasons(cast, world, view) -> None:
    html = _get(client_for(cast.agent), view=view, date=world.day.date().isoformat())
    assert world.first.key in html
    assert "10:00" in html  # Paris time, the organisation's zone... and the agent's default
    assert "overlaps on" in html
    assert "Acme year-end closing" in html


def test_filters_are_get_parameters_kept_in_the_navigation(cast, world) -> None:
    client = client_for(cast.agent)
    html = _get(client, organization="Globex", date=world.day.date().isoformat())
    assert link(world.other) in html and link(world.first) not in html
    assert "organization=Globex" in html  # previous / next keep the filter
    html = _get(client, organization=str(cast.acme.pk), date=world.day.date().isoformat())
    assert link(world.first) in html and link(world.other) not in html
    html = _get(client, status="awaiting_approval", date=world.day.date().isoformat())
    assert link(world.second) in html and link(world.first) not in html


def test_an_ambiguous_organisation_offers_a_bounded_choice(cast, world) -> None:
    from tests.factories import OrganizationFactory

    OrganizationFactory(name="Acme Labs")
    html = _get(client_for(cast.agent), organization="acme")
    assert "Several organisations match" in html
    assert f"organization={cast.acme.pk}" in html


def test_a_busy_day_shows_a_few_and_links_to_its_agenda(cast, world) -> None:
    from tests.calendar_world import window
    from tests.factories import ChangeFactory

    for _ in range(6):
        window(ChangeFactory(organization=cast.acme, author=cast.agent), world.day)
    html = _get(client_for(cast.agent), date=world.day.date().isoformat())
    assert "more<span" in html
    assert f"date={world.day.date().isoformat()}&amp;days=1&amp;view=agenda" in html
    agenda = _get(client_for(cast.agent), view="agenda", date=world.day.date().isoformat(), days=1)
    assert agenda.count("cal-entry ") >= 8


def test_invalid_parameters_fall_back_instead_of_failing(cast, world) -> None:
    html = _get(client_for(cast.agent), view="year", date="not-a-date", days="9999", component="x")
    assert '<table class="cal-month">' in html


def test_the_feed_url_is_shown_once_then_revoked(cast) -> None:
    client = client_for(cast.agent)
    response = client.post(reverse("staff:calendar_feed"), {"issue": "1"})
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    assert "/api/v1/calendar/feed/" in html and ".ics" in html
    assert CalendarFeed.objects.filter(user=cast.agent).exists()
    page = _get(client)
    assert "/api/v1/calendar/feed/" not in page and "Revoke" in page
    response = client.post(reverse("staff:calendar_feed"), {"revoke": "1"})
    assert response.status_code == 302
    assert not CalendarFeed.objects.filter(user=cast.agent).exists()


def test_nav_has_the_calendar(cast) -> None:
    html = client_for(cast.peer).get("/staff/").content.decode()
    assert 'href="/staff/calendar/"' in html


def test_month_view_queries_are_bounded(cast, django_assert_max_num_queries) -> None:
    from tests.calendar_world import next_month_day
    from tests.factories import ComponentFactory, environment
    from tickets.models import Change, ChangeComponent, ChangeStatus

    day = next_month_day()
    env = environment("uat")
    components = [ComponentFactory(organization=cast.acme) for _ in range(5)]
    changes = Change.objects.bulk_create(
        Change(
            organization=cast.acme,
            environment=env,
            author=cast.agent,
            reporter=cast.agent,
            title=f"Bulk {i}",
            status=ChangeStatus.TO_BE_RELEASED,
            window_start=day + timedelta(hours=i % 300),
            window_end=day + timedelta(hours=i % 300 + 3),
        )
        for i in range(300)
    )
    ChangeComponent.objects.bulk_create(
        ChangeComponent(change=c, component=components[i % 5]) for i, c in enumerate(changes)
    )
    client = client_for(cast.agent)
    for view in ("month", "week", "agenda"):
        with django_assert_max_num_queries(12):
            _get(client, view=view, date=day.date().isoformat())


@pytest.mark.parametrize(
    "query",
    [
        "date=0001-01-01",
        "date=0001-01-05&view=week",
        "date=0001-01-07&view=agenda&days=31",
        "date=9999-12-31",
        "date=9999-12-31&view=week",
        "date=9999-12-25&view=agenda&days=31",
    ],
)
def test_a_date_at_the_ends_of_the_calendar_shows_this_month_instead(cast, client, query):
    """A date a page could not step around (the first or last a date can be) is dropped,
    as any invalid filter is: the page shows, around today."""
    for who, url in ((cast.ops, "/staff/calendar/"), (cast.alice, "/portal/calendar/")):
        client.force_login(who)
        answer = client.get(f"{url}?{query}")
        assert answer.status_code == 200, (url, query)
        assert answer.context["cal"].anchor == timezone.localdate()
