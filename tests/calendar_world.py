"""A schedule for the calendar pages' tests: Acme's two changes overlapping on one component
(a conflict), inside a hard freeze of Acme's; Globex's change and a freeze of its own that
no Acme user may see; a soft freeze for everyone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from tests.factories import ChangeFactory
from tickets.models import Change, ChangeComponent, ChangeStatus, Freeze
from tickets.services.schedule import freeze_create


@dataclass
class World:
    day: datetime  # 10:00 on a day of next month, in the user's time zone (Europe/Paris)
    first: Change  # Acme, agreed, conflicts with `second` and the hard freeze
    second: Change  # Acme, tentative
    other: Change  # Globex
    hard: Freeze  # Acme's
    secret: Freeze  # Globex's
    soft: Freeze  # everyone's


def window(change: Change, start: datetime, hours: int = 2, *, agreed: bool = False) -> Change:
    Change.objects.filter(pk=change.pk).update(
        window_start=start,
        window_end=start + timedelta(hours=hours),
        window_proposed_by=change.author,
        window_proposed_at=timezone.now(),
        window_agreed_by=change.author if agreed else None,
        window_agreed_at=timezone.now() if agreed else None,
    )
    change.refresh_from_db()
    return change


def next_month_day() -> datetime:
    """The 10th of next month at 10:00, Paris time (the cast's organisations' zone)."""
    from zoneinfo import ZoneInfo

    now = timezone.now().astimezone(ZoneInfo("Europe/Paris"))
    first_next = (now.replace(day=1) + timedelta(days=32)).replace(day=10)
    return first_next.replace(hour=10, minute=0, second=0, microsecond=0)


def build_world(cast) -> World:
    day = next_month_day()
    first = ChangeFactory(
        organization=cast.acme,
        author=cast.agent,
        status=ChangeStatus.TO_BE_RELEASED,
        title="Billing 2.5",
    )
    second = ChangeFactory(
        organization=cast.acme,
        author=cast.agent,
        status=ChangeStatus.AWAITING_APPROVAL,
        title="Billing hotfix",
    )
    shared = first.change_components.first().component
    ChangeComponent.objects.create(change=second, component=shared, target_version="2.4.1")
    window(first, day, agreed=True)
    window(second, day + timedelta(hours=1))
    other = ChangeFactory(
        organization=cast.globex,
        author=cast.agent,
        status=ChangeStatus.TO_BE_RELEASED,
        title="Globex secret upgrade",
    )
    window(other, day + timedelta(days=1))
    hard = freeze_create(
        by=cast.ops,
        title="Acme year-end closing",
        reason="Quarter close.",
        start=day - timedelta(hours=2),
        end=day + timedelta(hours=6),
        timezone="Europe/Paris",
        hard=True,
        organization=cast.acme.pk,
    )
    secret = freeze_create(
        by=cast.ops,
        title="Globex merger freeze",
        start=day + timedelta(days=2),
        end=day + timedelta(days=2, hours=5),
        timezone="Europe/Paris",
        hard=True,
        organization=cast.globex.pk,
    )
    soft = freeze_create(
        by=cast.ops,
        title="Friday evenings",
        start=day + timedelta(days=3, hours=8),
        end=day + timedelta(days=3, hours=11),
        timezone="Europe/Paris",
        rrule="FREQ=WEEKLY;COUNT=3",
        hard=False,
    )
    return World(day, first, second, other, hard, secret, soft)
