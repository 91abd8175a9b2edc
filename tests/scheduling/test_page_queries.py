"""The pages that show a change's conflicts do not read more as it has more of them: a
window on the change page, the editor and the portal costs two queries (the live windows
on its components, the freezes), whatever overlaps it."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import ComponentFactory
from tests.portal.test_queries import BUDGET as PORTAL
from tests.staff.test_queries import CHANGE_PAGE

from .support import at, freeze, windowed

pytestmark = pytest.mark.django_db
CONFLICTS = 2  # the live windows on its components, the freezes over its window


def _count(client, url: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries), response.content.decode()


@pytest.mark.parametrize(
    ("who", "page", "budget"),
    [
        ("agent", "staff:change_detail", CHANGE_PAGE + CONFLICTS),
        ("agent", "staff:change_edit", CHANGE_PAGE + CONFLICTS),
        ("alice", "portal:change", PORTAL["change"] + CONFLICTS),
    ],
)
def test_conflicts_cost_the_same_few_queries_however_many(cast, client, who, page, budget):
    comp = ComponentFactory(organization=cast.acme)
    change = windowed(cast, 0, 4, components=[comp])
    client.force_login(getattr(cast, who))
    url = reverse(page, args=[change.key])
    counts = []
    for n in (1, 12):
        for i in range(n):
            windowed(cast, 0.25 * i % 4, 5, components=[comp])
            freeze(cast, 1, 2, title=f"Freeze {len(counts)}-{i}")
        client.get(url)
        count, html = _count(client, url)
        counts.append(count)
    assert "Freeze 1-11" in html  # the conflicts are on the page
    assert counts[0] == counts[1] <= budget, counts


@pytest.mark.parametrize(
    ("who", "page"), [("agent", "staff:change_window"), ("alice", "portal:change_window")]
)
def test_proposing_a_window_warns_of_its_conflicts_before_anyone_agrees(cast, client, who, page):
    comp = ComponentFactory(organization=cast.acme, name="Billing API")
    change = windowed(cast, 40, 41, components=[comp])
    other = windowed(cast, 0, 2, components=[comp])
    freeze(cast, 0, 3, title="Month end", hard=False, organization=cast.acme.pk)
    client.force_login(getattr(cast, who))
    tz = getattr(cast, who).timezone
    fmt = "%Y-%m-%dT%H:%M"
    start, end = at(1).astimezone(ZoneInfo(tz)), at(2).astimezone(ZoneInfo(tz))
    answer = client.post(
        reverse(page, args=[change.key]),
        {"start": start.strftime(fmt), "end": end.strftime(fmt)},
        follow=True,
    )
    assert answer.status_code == 200
    text = answer.content.decode()
    assert "conflicts with" in text and f"{other.key}" in text and "Month end" in text
    # A window clear of both says nothing of the kind.
    start, end = at(100).astimezone(ZoneInfo(tz)), at(101).astimezone(ZoneInfo(tz))
    answer = client.post(
        reverse(page, args=[change.key]),
        {"start": start.strftime(fmt), "end": end.strftime(fmt)},
        follow=True,
    )
    assert "conflicts with" not in answer.content.decode()
