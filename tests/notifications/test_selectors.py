"""The communications list of a change (API.md `/changes/{id}/communications/`): counts
per delivery state and failures with their reason, in a constant number of queries (the
failures' only when something failed)."""

from __future__ import annotations

import pytest

from notifications.api import CommunicationSerializer
from notifications.models import Delivery, DeliveryState, Notification, NotificationKind
from notifications.selectors import FAILURES_SHOWN, communications_for_change, show_failures
from tests.factories import ChangeFactory

pytestmark = pytest.mark.django_db

S = DeliveryState


def _communication(change, kind, states: dict[str, int]) -> Notification:
    n = Notification.objects.create(
        kind=kind, change=change, subject=f"{kind} of {change.key}", body_text="."
    )
    rows, i = [], 0
    for state, count in states.items():
        for _ in range(count):
            rows.append(
                Delivery(
                    notification=n,
                    recipient=f"u{i}@example.com",
                    state=state,
                    last_error=f"550 no user u{i}" if state == S.FAILED else "",
                )
            )
            i += 1
    Delivery.objects.bulk_create(rows)
    return n


def test_counts_and_failures_per_communication_in_two_queries(
    cast, django_assert_max_num_queries
) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    announcement = _communication(
        change, NotificationKind.ANNOUNCEMENT, {S.SENT: 40, S.FAILED: 25, S.PENDING: 3}
    )
    reminder = _communication(change, NotificationKind.REMINDER, {S.SENDING: 2, S.SENT: 5})
    _communication(change, NotificationKind.ACTION, {S.SENT: 1})
    _communication(ChangeFactory(organization=cast.acme), NotificationKind.ANNOUNCEMENT, {})

    with django_assert_max_num_queries(2):
        rows = show_failures(list(communications_for_change(change=change)))
        data = CommunicationSerializer(rows, many=True).data

    assert [r.pk for r in rows] == [reminder.pk, announcement.pk]  # newest first
    assert data[0]["deliveries"] == {"pending": 2, "sent": 5, "failed": 0}
    assert data[0]["failures"] == []
    assert data[1]["deliveries"] == {"pending": 3, "sent": 40, "failed": 25}
    assert len(data[1]["failures"]) == FAILURES_SHOWN
    assert data[1]["failures"][0] == {"recipient": "u40@example.com", "error": "550 no user u40"}
    assert set(data[1]) == {"id", "kind", "subject", "created", "deliveries", "failures"}
    assert data[1]["kind"] == "announcement"


def test_action_notices_only_when_asked(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    _communication(change, NotificationKind.ACTION, {S.SENT: 1})
    assert list(communications_for_change(change=change)) == []
    assert len(communications_for_change(change=change, include_notices=True)) == 1


def test_no_query_for_failures_when_nothing_failed(cast, django_assert_num_queries) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    _communication(change, NotificationKind.ANNOUNCEMENT, {S.SENT: 4, S.PENDING: 1})
    _communication(change, NotificationKind.REMINDER, {S.SENDING: 2})
    with django_assert_num_queries(1):
        rows = show_failures(list(communications_for_change(change=change)))
        data = CommunicationSerializer(rows, many=True).data
    assert [d["failures"] for d in data] == [[], []]
    assert [d["deliveries"]["pending"] for d in data] == [2, 1]
