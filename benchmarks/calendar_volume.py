"""The calendar at the volume issue 14 asks: 20,000 changes with windows in one month, the
staff month view and the iCalendar feed. Run by hand (not by pytest); the numbers replace
the "Calendar" section of docs/benchmarks.md.

    DATABASE_URL=postgres://... .venv/bin/python benchmarks/calendar_volume.py [--changes 20000]

It uses a database of its own, DATABASE_URL's name + `_bench_calendar`, created afresh
(Django's test database machinery) and dropped at the end. Rows are bulk-written (not
through the services): 200 organisations with 5 components each, one component per
change, windows of 1 to 4 hours spread over the month (so many overlap: conflicts to
compute), three freezes (a hard one-off, a weekly recurring soft one, one organisation's).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Not `benchmarks/calendar.py`: run as a script, that name would hide the standard
# library's `calendar` (dateutil imports it).
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "changeprocess.settings.test")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from django.utils import timezone

    setup_test_environment()
    settings.ALLOWED_HOSTS = ["testserver"]
    name = connection.settings_dict["NAME"] + "_bench_calendar"
    connection.settings_dict["TEST"] = {**connection.settings_dict.get("TEST", {}), "NAME": name}
    old = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        rows = _seed(args.changes)
        from tickets.models import User
        from tickets.scheduling.ical import calendar_feed

        agent = User.objects.get(username="bench-agent")
        client = Client()
        client.force_login(agent)
        day = rows["day"]
        results = []
        for label, url in (
            ("Staff month view", f"/staff/calendar/?date={day.isoformat()}"),
            ("Staff week view", f"/staff/calendar/?view=week&date={day.isoformat()}"),
            ("Staff agenda (7 days)", f"/staff/calendar/?view=agenda&date={day.isoformat()}"),
        ):
            results.append((label, *_measure(args.runs, lambda u=url: _get(client, u))))
        now = timezone.now()
        results.append(
            (
                "iCalendar feed (staff)",
                *_measure(
                    args.runs,
                    lambda: len(calendar_feed(agent, base_url="http://testserver", now=now)),
                ),
            )
        )
        with CaptureQueriesContext(connection) as ctx:
            _get(client, f"/staff/calendar/?date={day.isoformat()}")
        month_queries = len(ctx.captured_queries)
        with CaptureQueriesContext(connection) as ctx:
            calendar_feed(agent, base_url="http://testserver", now=now)
        feed_queries = len(ctx.captured_queries)
        _write(args.changes, results, month_queries, feed_queries)
    finally:
        connection.creation.destroy_test_db(old, verbosity=0)


def _get(client, url: str) -> int:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return len(response.content)


def _measure(runs: int, fn) -> tuple[float, float, int]:
    times, size = [], 0
    for _ in range(runs):
        t = time.perf_counter()
        size = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), max(times), size


def _seed(n: int) -> dict:
    from django.utils import timezone

    from tickets.models import (
        Change,
        ChangeComponent,
        ChangeStatus,
        Component,
        Environment,
        Organization,
        User,
    )
    from tickets.services.schedule import freeze_create

    env, _ = Environment.objects.get_or_create(code="production", defaults={"name": "Production"})
    agent = User.objects.create_user(
        "bench-agent", password=None, kind=User.Kind.PROVIDER, is_support_agent=True
    )
    ops = User.objects.create_user(
        "bench-ops", password=None, kind=User.Kind.PROVIDER, is_operations_manager=True
    )
    orgs = Organization.objects.bulk_create(
        Organization(name=f"Customer {i}", slug=f"customer-{i}") for i in range(200)
    )
    components = Component.objects.bulk_create(
        Component(organization=o, name=f"service-{j}") for o in orgs for j in range(5)
    )
    first = (timezone.now() + timedelta(days=40)).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    statuses = [
        ChangeStatus.DRAFT,
        ChangeStatus.AWAITING_APPROVAL,
        ChangeStatus.TO_BE_RELEASED,
        ChangeStatus.TO_BE_RELEASED,
        ChangeStatus.DONE,
    ]
    minutes = 28 * 24 * 60
    changes = []
    for i in range(n):
        start = first + timedelta(minutes=(i * 7919) % minutes)
        org = orgs[i % len(orgs)]
        changes.append(
            Change(
                organization=org,
                environment=env,
                author=agent,
                reporter=agent,
                title=f"Release {i}",
                status=statuses[i % len(statuses)],
                window_start=start,
                window_end=start + timedelta(hours=1 + i % 4),
                window_agreed_at=start if i % 3 == 0 else None,
            )
        )
    changes = Change.objects.bulk_create(changes, batch_size=2000)
    ChangeComponent.objects.bulk_create(
        (
            ChangeComponent(change=c, component=components[(i % len(orgs)) * 5 + (i // 200) % 5])
            for i, c in enumerate(changes)
        ),
        batch_size=5000,
    )
    freeze_create(
        by=ops, title="Year-end", start=first + timedelta(days=20), end=first + timedelta(days=22)
    )
    freeze_create(
        by=ops,
        title="Friday evenings",
        start=first + timedelta(days=4, hours=18),
        end=first + timedelta(days=4, hours=22),
        rrule="FREQ=WEEKLY",
        hard=False,
    )
    freeze_create(
        by=ops,
        title="Customer 1 audit",
        start=first + timedelta(days=10),
        end=first + timedelta(days=12),
        organization=orgs[1].pk,
    )
    return {"day": (first + timedelta(days=14)).date()}


def _write(n: int, results, month_queries: int, feed_queries: int) -> None:
    lines = [
        "## Calendar (issue 14): 20,000 windows in a month",
        "",
        f"`benchmarks/calendar_volume.py --changes {n}`: {n:,} changes with windows of 1 to 4 "
        "hours "
        "in one month, 200 organisations with 5 components each (so windows overlap on "
        "shared components: conflicts to compute), three freezes, one of them weekly. "
        "In-process (Django's test client, no HTTP server), median and worst of 3 runs.",
        "",
        "| what | median | worst | response |",
        "|---|---|---|---|",
        *(
            f"| {label} | {median * 1000:,.0f} ms | {worst * 1000:,.0f} ms "
            f"| {size / 1024:,.0f} KiB |"
            for label, median, worst, size in results
        ),
        "",
        f"Queries: the month view {month_queries}, the feed {feed_queries}, whatever the number "
        "of changes. The month view shows at most 4 entries a day with “+k more” (the day's "
        "agenda); the agenda lists at most 300. Where the time goes (reading, conflicts, "
        "rendering) is not profiled yet; the feed, every visible change of 490 days with its "
        "conflicts, is the one to look at first.",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs shared with other work, "
        f"Python {platform.python_version()}, PostgreSQL on the same host.",
        "",
    ]
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text(encoding="utf-8")
    section = "\n".join(lines)
    pattern = re.compile(r"## Calendar \(issue 14\).*?(?=\n## |\Z)", re.S)
    text = (
        pattern.sub(section.rstrip() + "\n", text)
        if pattern.search(text)
        else (text.rstrip() + "\n\n" + section)
    )
    path.write_text(text, encoding="utf-8")
    print(section)


if __name__ == "__main__":
    main()
