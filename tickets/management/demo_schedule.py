"""The demo's schedule (`seed_demo`, after its stories): freezes of every kind and a change
whose proposed window conflicts with another, so the calendar has something to show."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tickets import services
from tickets.services import schedule


def _at(day: datetime, hour: int, tz: str) -> datetime:
    return datetime.combine(day.date(), time(hour), tzinfo=ZoneInfo(tz))


def seed_schedule(cmd: Any) -> None:
    """`cmd` is the seed_demo command: its users, organisations and `_change` helper."""
    ops, now = cmd.users["ops"], cmd.now
    acme, globex = cmd.orgs["acme"], cmd.orgs["globex"]
    # Freezes from tomorrow on: the stories' performs (just before) are not refused.
    tomorrow = now + timedelta(days=1)
    month_end = (tomorrow.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    schedule.freeze_create(
        by=ops,
        title="Month-end close",
        reason="Finance closes the books: no production change anywhere.",
        start=_at(max(month_end, tomorrow), 0, "Europe/London"),
        end=_at(max(month_end, tomorrow), 0, "Europe/London") + timedelta(days=1),
        timezone="Europe/London",
        rrule="FREQ=MONTHLY;BYMONTHDAY=-1",
        environment=_production(),
    )
    friday = tomorrow + timedelta(days=(4 - tomorrow.weekday()) % 7)
    schedule.freeze_create(
        by=ops,
        title="Globex Friday trading",
        reason="Stores are busiest on Friday evenings.",
        start=_at(friday, 16, "America/New_York"),
        end=_at(friday, 22, "America/New_York"),
        timezone="America/New_York",
        rrule="FREQ=WEEKLY;BYDAY=FR",
        organization=globex.pk,
    )
    sale = now + timedelta(days=9)
    schedule.freeze_create(
        by=ops,
        title="Acme spring sale",
        reason="Marketing campaign: avoid changes unless urgent.",
        start=_at(sale, 8, "Europe/London"),
        end=_at(sale, 8, "Europe/London") + timedelta(days=3),
        timezone="Europe/London",
        hard=False,
        organization=acme.pk,
    )
    # A draft whose proposed window overlaps the Reporting API hotfix (day 4, 20:00-21:00).
    draft = cmd._change(
        "acme",
        "Reporting API 3.1.0 scheduled e-mails",
        components={"Reporting API": "3.1.0"},
        summary="Send saved reports by e-mail on a schedule.",
        impact="No outage.",
        deployment="1. Deploy the image.\n2. Enable the scheduler.",
        rollback="1. Disable the scheduler.\n2. Redeploy the previous image.",
    )
    start = (now + timedelta(days=4)).replace(hour=20, minute=30, second=0, microsecond=0)
    services.change_propose_window(
        change=draft, by=cmd.users["agent"], start=start, end=start + timedelta(hours=2)
    )


def _production() -> int:
    from tickets.models import Environment

    return Environment.objects.get(code="production").pk
