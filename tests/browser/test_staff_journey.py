"""A change from draft to release, in the browser, as the people of WORKFLOW.md do it:
the agent writes the nine sections and submits; the peer's first try is refused with its
reason; peer, QA and operations approve, each in their own session; the board shows the
change in its new column; once the customer has approved it and agreed the window, the
agent settles the checklist and performs it. Screenshots go to $SCREENSHOT_DIR."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tests.factories import NEXT_YEAR, environment
from tickets.models import Change, ChangeStatus, ChecklistTemplateItem, TicketStatus, User
from tickets.services import change_transition

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TITLE = "Billing service 2.5: faster invoice export"


@pytest.fixture
def demo_desk(transactional_db, settings) -> None:
    # A transactional test may start after another one emptied the tables, migration data
    # included: put back what the demo data expects, then load it.
    environment("uat")
    environment("production")
    for position, label in enumerate(
        ["Unit tests", "Regression testing", "Progression testing", "Performance testing"], 1
    ):
        ChecklistTemplateItem.objects.get_or_create(
            organization=None, label=label, defaults={"position": position}
        )
    call_command("seed_demo", "--force", stdout=StringIO())


def assert_accessible_basics(page) -> None:
    """What can be checked without an audit tool: one h1, every form control named."""
    assert page.locator("h1").count() == 1
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter(el => el.type !== 'hidden' && !el.closest('[hidden]'))
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                          && !el.getAttribute('aria-labelledby'))
            .map(el => el.name || el.id)"""
    )
    assert unnamed == [], f"form controls without a label: {unnamed}"


def test_a_change_goes_from_draft_to_release(page_for, shot, demo_desk) -> None:
    agent = page_for("agent")

    # The dashboard is where a provider user lands.
    expect(agent.get_by_role("heading", name="My work")).to_be_visible()
    assert_accessible_basics(agent)
    shot(agent, "staff-dashboard")
    agent.keyboard.press("Tab")  # the keyboard's first stop skips the navigation
    expect(agent.locator(".skip-link")).to_be_focused()

    agent.get_by_role("link", name="Tickets", exact=True).click()
    expect(agent.get_by_role("heading", name="Ticket queue")).to_be_visible()
    agent.get_by_label("Organisation").fill("Acme")
    agent.get_by_label("Organisation").press("Enter")
    expect(agent.locator("#queue-results")).not_to_contain_text("Globex")  # htmx swap
    assert_accessible_basics(agent)
    agent.goto("/staff/tickets/")
    shot(agent, "staff-queue")

    # A new draft, then its nine sections in the editor.
    agent.goto("/staff/changes/new/")
    agent.get_by_label("Organisation").select_option(label="Acme Corp")
    agent.get_by_label("Title").fill(TITLE)
    agent.get_by_label("Provider").check()
    agent.get_by_role("button", name="Create the draft").click()
    expect(agent.get_by_role("heading", name=re.compile("the nine sections"))).to_be_visible()
    expect(agent.locator("#section-1")).to_contain_text("Needs a title and a summary")

    agent.get_by_role("textbox", name="Summary").fill(
        "Release billing 2.5: invoices export in seconds instead of minutes."
    )
    agent.get_by_label("Billing service", exact=True).check()
    agent.get_by_label("Version of Billing service to release").fill("2.5.0")
    agent.get_by_label("Yes, an outage").check()
    agent.get_by_label("Expected outage (minutes)").fill("0")  # not a duration: refused
    agent.get_by_label("What will end users notice?").fill(
        "Invoices cannot be downloaded for about ten minutes."
    )
    agent.get_by_label("Find tickets to attach").fill("Spelling")
    spelling = agent.get_by_label(re.compile("Spelling mistake on the payment page"))
    spelling.check()  # found by the htmx search
    agent.get_by_role("textbox", name="Deployment procedure").fill(
        "1. Announce in #acme-changes.\n2. Deploy billing 2.5.0.\n3. Smoke-test an export."
    )
    agent.get_by_role("textbox", name="Rollback procedure").fill("1. Redeploy billing 2.4.0.")
    agent.locator("#id_scenarios-0-description").fill("Export 5,000 invoices in under a minute.")
    # The second row the editor offers is a regression scenario.
    expect(agent.locator("#id_scenarios-1-kind")).to_have_value("regression")
    agent.locator("#id_scenarios-1-description").fill("Last month's invoices still download.")
    agent.get_by_role("button", name="Save and keep editing").click()

    # Refused: nothing is saved, and everything typed is still there.
    expect(agent.locator("#error-summary")).to_contain_text("Nothing was saved")
    expect(agent.get_by_role("textbox", name="Rollback procedure")).to_have_value(
        "1. Redeploy billing 2.4.0."
    )
    expect(spelling).to_be_checked()
    agent.get_by_label("Expected outage (minutes)").fill("10")
    agent.get_by_label("Audience").fill("Acme finance users")
    agent.get_by_label("When to send").fill("Two days before")
    agent.get_by_label("Message").fill("Invoices are unavailable for ten minutes on the day.")
    agent.get_by_role("button", name="Save and keep editing").click()
    expect(agent.locator(".messages")).to_contain_text("saved")
    expect(agent.locator("#h-submit + p")).to_contain_text("Every section is complete")
    expect(agent.get_by_role("textbox", name="Changelog")).to_have_value(
        re.compile("Spelling mistake")
    )
    assert_accessible_basics(agent)
    shot(agent, "staff-editor")

    agent.get_by_role("link", name="Back to the change").click()
    agent.get_by_role("button", name="Submit for approval").click()
    expect(agent.locator(".messages")).to_contain_text("is now Awaiting approval")
    change = Change.objects.get(title=TITLE)
    url = f"/staff/changes/{change.key}/"

    # The author is no approver of their own change: no Approve button for them.
    expect(agent.locator("#action-approve")).to_have_count(0)

    # Peer, QA and Operations, each in their own browser session.
    peer = page_for("peer")
    peer.goto(url)
    peer.get_by_text("Reject…").click()
    peer.get_by_role("button", name="Reject", exact=True).click()  # no comment given
    expect(peer.locator("#refusal-reject")).to_contain_text("needs: comment")
    assert Change.objects.get(pk=change.pk).status == ChangeStatus.AWAITING_APPROVAL

    for username, role, who in (
        ("peer", "Peer", peer),
        ("qa", "QA", None),
        ("ops", "Operations", None),
    ):
        page = who or page_for(username)
        page.goto(url)
        page.get_by_label("Comment for the approval").fill(f"{role}: looks right to me.")
        page.get_by_role("button", name=f"Approve as {role}").click()
        expect(page.locator(".messages")).to_contain_text("Approve:")
        name = User.objects.get(username=username).get_full_name()
        expect(page.locator("#approvals")).to_contain_text(f"approved by {name}")

    expect(page.locator(".page-head .badge")).to_have_text("To be reviewed by business")
    agent.goto(url)
    assert_accessible_basics(agent)
    shot(agent, "staff-change")

    # The board shows it in its new column.
    agent.goto("/staff/changes/board/")
    column = agent.locator('[data-status="to_be_reviewed_by_business"]')
    expect(column.locator(f'[data-key="{change.key}"]')).to_be_visible()
    agent.set_viewport_size({"width": 1920, "height": 1000})
    shot(agent, "staff-board")

    # The customer's part happens in the portal; here it is done through the services.
    alice = User.objects.get(username="alice")
    change_transition(change=change.pk, by=alice, name="business_approve")
    agent.set_viewport_size({"width": 1280, "height": 900})
    agent.goto(url)
    perform = agent.locator("#btn-perform")
    expect(perform).to_have_attribute("aria-disabled", "true")
    expect(agent.locator("#why-perform")).to_contain_text("not been agreed")
    agent.get_by_text("Propose a window").click()
    agent.get_by_role("textbox", name="Starts").fill(f"{NEXT_YEAR}-05-02T22:00")
    agent.get_by_role("textbox", name="Ends").fill(f"{NEXT_YEAR}-05-02T23:00")
    agent.get_by_role("button", name="Propose", exact=True).click()
    expect(agent.locator("#window")).to_contain_text("Not agreed yet")
    change_transition(change=change.pk, by=alice, name="agree_window")
    agent.goto(url)
    items = agent.locator("#section-9 .checklist-item")
    for i in range(items.count()):
        items.nth(i).get_by_label("Done").check()
        items.nth(i).get_by_role("button", name="Save").click()
        expect(items.nth(i).locator(".state-done")).to_be_visible()  # swapped in place
    agent.get_by_role("button", name="Perform").click()
    expect(agent.locator(".page-head .badge")).to_have_text("In testing")
    spelling_ticket = Change.objects.get(pk=change.pk).tickets.get()
    assert spelling_ticket.status == TicketStatus.IN_TESTING
