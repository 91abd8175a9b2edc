"""The change calendar in the browser: the staff month view with a conflict and freezes,
the week and the agenda, a keyboard walk to an entry, and alice's portal calendar (without
JavaScript: it is links and tables). Screenshots go to $SCREENSHOT_DIR."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.calendar_world import build_world, window
from tests.factories import ChangeFactory
from tickets.models import ChangeStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TITLES = [
    ("Payments gateway TLS renewal", ChangeStatus.TO_BE_RELEASED, 2, True),
    ("Search index rebuild", ChangeStatus.AWAITING_APPROVAL, 4, False),
    ("CRM 7.2 upgrade", ChangeStatus.TO_BE_REVIEWED_BY_BUSINESS, 8, False),
    ("Database minor version", ChangeStatus.TO_BE_RELEASED, 12, True),
    ("Reporting exports", ChangeStatus.DRAFT, 15, False),
    ("Mail relay migration", ChangeStatus.IN_TESTING, -3, True),
    ("SSO certificate rotation", ChangeStatus.TO_BE_RELEASED, 17, True),
]


@pytest.fixture
def calendar_world(cast):
    world = build_world(cast)
    for i, (title, status, offset, agreed) in enumerate(TITLES):
        org = cast.acme if i % 3 else cast.globex
        change = ChangeFactory(organization=org, author=cast.agent, status=status, title=title)
        window(change, world.day + timedelta(days=offset, hours=i % 4), agreed=agreed)
    return world


def test_staff_month_week_and_agenda(cast, page_for, shot, calendar_world) -> None:
    world = calendar_world
    day = world.day.date().isoformat()
    page = page_for("agent")
    page.get_by_role("link", name="Calendar", exact=True).click()
    expect(page.get_by_role("heading", name="Change calendar")).to_be_visible()
    page.goto(f"/staff/calendar/?date={day}")
    month = page.locator("table.cal-month")
    expect(month).to_be_visible()
    conflict = month.locator(".cal-entry--conflict").first
    expect(conflict).to_contain_text("conflict")
    expect(month.locator(".cal-freeze--hard").first).to_contain_text("Hard freeze")
    expect(month.locator(".cal-freeze--soft").first).to_contain_text("Soft freeze")
    expect(month.locator(".cal-entry--tentative").first).to_contain_text("tentative")
    # The keyboard reaches the entries: real links with a visible focus.
    link = conflict.locator("a").first
    link.focus()
    expect(link).to_be_focused()
    outline = link.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline != "none"
    shot(page, "staff-calendar-month")

    page.get_by_role("link", name="Week", exact=True).click()
    expect(page.locator("table.cal-week")).to_be_visible()
    expect(page.locator("table.cal-week")).to_contain_text(world.first.key)
    page.locator("table.cal-week details.cal-details summary").first.click()
    expect(page.locator("table.cal-week details.cal-details[open]").first).to_contain_text(
        "overlaps on"
    )
    shot(page, "staff-calendar-week")

    page.get_by_role("link", name="Agenda", exact=True).click()
    agenda = page.locator(".cal-agenda")
    expect(agenda).to_contain_text("Acme year-end closing")
    expect(agenda.locator(".cal-reasons li.conflict--hard").first).to_contain_text("Hard freeze")
    shot(page, "staff-calendar-agenda")

    # The filters are GET parameters: one organisation, kept by "Next".
    page.goto(f"/staff/calendar/?date={day}")
    page.get_by_label("Organisation").fill("Globex")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile("organization=Globex"))
    expect(page.locator(f'a[href="/staff/changes/{world.first.key}/"]')).to_have_count(0)
    expect(page.locator(f'a[href="/staff/changes/{world.other.key}/"]')).to_have_count(1)
    page.get_by_role("link", name="Next").click()
    expect(page).to_have_url(re.compile("organization=Globex"))


def test_portal_calendar_without_javascript(cast, page_for, shot, calendar_world) -> None:
    world = calendar_world
    page = page_for("alice", javascript=False)
    page.get_by_role("link", name="Calendar", exact=True).click()
    page.goto(f"/portal/calendar/?date={world.day.date().isoformat()}")
    month = page.locator("table.cal-month")
    expect(month).to_contain_text(world.first.key)
    expect(month.locator(f'a[href="/portal/changes/{world.other.key}/"]')).to_have_count(0)
    expect(month).not_to_contain_text("Globex merger freeze")
    expect(month.locator(".cal-freeze--hard").first).to_contain_text("Acme year-end closing")
    shot(page, "portal-calendar")
    page.get_by_role("button", name="Get calendar URL").click()
    expect(page.get_by_role("heading", name="Your calendar URL")).to_be_visible()
    assert ".ics" in page.locator("#feed-url").input_value()
