"""Freezes in the admin go through the service: what the API refuses, the admin form
refuses by field and keeps what was typed; a good one is saved with its helpers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import ComponentFactory, UserFactory
from tickets.models import Freeze


@pytest.fixture
def client_admin(client, db):
    client.force_login(UserFactory(username="admin", is_staff=True, is_superuser=True))
    return client


def form(**extra):
    data = {
        "title": "Quarter close",
        "reason": "Books closing.",
        "start_0": "2027-03-31",
        "start_1": "00:00:00",
        "end_0": "2027-04-01",
        "end_1": "00:00:00",
        "timezone": "Europe/London",
        "rrule": "FREQ=MONTHLY;BYMONTH=3,6,9,12;BYMONTHDAY=-1",
        "hard": "on",
    }
    data.update(extra)
    return data


def test_a_freeze_made_in_the_admin_goes_through_the_service(client_admin, cast) -> None:
    comp = ComponentFactory(organization=cast.acme)
    answer = client_admin.post(
        reverse("admin:tickets_freeze_add"),
        form(organization=cast.acme.pk, components=[comp.pk]),
    )
    assert answer.status_code == 302, answer.content.decode()[:3000]
    freeze = Freeze.objects.get()
    assert freeze.created_by.username == "admin"
    assert freeze.last_end is None and freeze.all_components is False
    assert list(freeze.components.all()) == [comp]
    # Edited: the sequence rises (calendar clients update the event in place).
    change_url = reverse("admin:tickets_freeze_change", args=[freeze.pk])
    assert client_admin.get(change_url).status_code == 200
    answer = client_admin.post(change_url, form(organization=cast.acme.pk, rrule=""))
    assert answer.status_code == 302
    freeze.refresh_from_db()
    assert freeze.sequence == 1 and freeze.rrule == "" and freeze.all_components is True


def test_the_admin_refuses_a_bad_recurrence_by_field_and_keeps_the_input(
    client_admin, cast
) -> None:
    answer = client_admin.post(reverse("admin:tickets_freeze_add"), form(rrule="FREQ=HOURLY"))
    assert answer.status_code == 200
    page = answer.content.decode()
    assert "at most daily" in page and 'value="FREQ=HOURLY"' in page
    assert Freeze.objects.count() == 0
    for page_name in ("freezeoverride", "calendarfeed", "freeze"):
        url = reverse(f"admin:tickets_{page_name}_changelist")
        assert client_admin.get(url).status_code == 200
