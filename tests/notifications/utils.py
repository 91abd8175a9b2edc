"""Building blocks shared by the communications tests."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from tests.factories import ChangeFactory
from tickets.models import Change, Contact, Organization, User
from tickets.services import change_propose_window, change_transition


def add_contacts(org: Organization, n: int, *, prefix: str = "enduser") -> list[str]:
    emails = [f"{prefix}{i}@{org.slug}.example" for i in range(n)]
    Contact.objects.bulk_create(
        [Contact(organization=org, name=f"End user {i}", email=e) for i, e in enumerate(emails)],
        batch_size=2000,
    )
    return emails


def outage_change(org: Organization, author: User, **fields: object) -> Change:
    """A provider-performed change with an outage and its communication plan, approved
    and waiting for its window (TO_BE_RELEASED)."""
    defaults: dict[str, object] = {
        "organization": org,
        "author": author,
        "status": Change.S.TO_BE_RELEASED,
        "title": "Upgrade the billing service",
        "summary": "Billing moves to version 2.4, which rounds VAT per line.",
        "outage_expected": True,
        "outage_duration_minutes": 90,
        "impact": "Invoices cannot be downloaded during the window.",
        "communication_audience": "All end users",
        "communication_message": "Thank you for your patience.",
        "communication_timing": "When agreed, a day before, and when done",
    }
    defaults.update(fields)
    return ChangeFactory(**defaults)


def agree_window(
    change: Change, proposer: User, agreer: User, *, start: datetime | None = None
) -> Change:
    """Propose a window (2 hours, three days ahead unless `start`) and agree it, through
    the services, each in its own transaction."""
    start = start or (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    change_propose_window(
        change=change.pk, by=proposer, start=start, end=start + timedelta(hours=2)
    )
    return change_transition(change=change.pk, by=agreer, name="agree_window")
