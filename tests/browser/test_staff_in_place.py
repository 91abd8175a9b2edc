"""htmx updates the part of a page that changed, and every form still works without
JavaScript."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.factories import ChangeFactory, TicketFactory
from tickets.models import ChecklistState, TicketStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _mark(page) -> None:
    page.evaluate("window.__sameDocument = true")


def _same_document(page) -> bool:
    return page.evaluate("window.__sameDocument === true")


def test_posting_a_comment_updates_the_ticket_in_place(cast, page_for) -> None:
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice, title="Export fails")
    page = page_for("agent")
    page.goto(f"/staff/tickets/{ticket.key}/")
    _mark(page)
    page.get_by_label("Your comment").fill("Could you send the file you tried?")
    page.get_by_role("button", name="Post").click()
    expect(page.locator(".conversation")).to_contain_text("Could you send the file")
    expect(page.locator(".page-head .badge")).to_have_text("Waiting for customer")
    expect(page.locator("#messages")).to_contain_text("Comment posted.")
    # The keyboard focus goes to the new comment (the page was swapped whole, outerHTML).
    comment = ticket.comments.get()
    expect(page.locator(f"#comment-{comment.pk}")).to_be_focused()
    assert _same_document(page)


def test_the_checklist_is_recorded_in_place(cast, page_for) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    item = change.checklist.first()
    page = page_for("agent")
    page.goto(f"/staff/changes/{change.key}/")
    _mark(page)
    row = page.locator(f"#item-{item.pk}")
    row.get_by_label("Not applicable").check()
    row.get_by_role("button", name="Save").click()  # no reason: refused in place
    expect(page.locator(f"#item-{item.pk} .refusal")).to_contain_text("Say why")
    page.locator(f"#item-{item.pk}").get_by_label("Why it does not apply").fill("No code.")
    page.locator(f"#item-{item.pk}").get_by_role("button", name="Save").click()
    expect(page.locator(f"#item-{item.pk} .state-not_applicable")).to_be_visible()
    assert _same_document(page)
    item.refresh_from_db()
    assert item.state == ChecklistState.NOT_APPLICABLE


def test_filtering_the_queue_keeps_the_address_shareable(cast, page_for) -> None:
    TicketFactory(organization=cast.acme, reporter=cast.alice, title="Acme one")
    TicketFactory(organization=cast.globex, reporter=cast.bob, title="Globex one")
    page = page_for("qa")
    page.goto("/staff/tickets/")
    _mark(page)
    page.get_by_label("Organisation").fill("Globex")  # a name, typed: never every one offered
    page.get_by_label("Organisation").press("Enter")
    expect(page.locator("#queue-results")).not_to_contain_text("Acme one")
    expect(page).to_have_url(re.compile(r"organization="))
    assert _same_document(page)
    page.get_by_role("link", name="Globex one").click()  # a row opens its own page
    expect(page.get_by_role("heading", name="Globex one", level=1)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/staff/tickets/SUP-\d+/$"))


def test_the_core_forms_work_without_javascript(cast, page_for) -> None:
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice, status=TicketStatus.TO_DO)
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    page = page_for("peer", javascript=False)
    page.goto(f"/staff/tickets/{ticket.key}/")
    page.get_by_role("button", name="Start work").click()
    expect(page.locator(".page-head .badge")).to_have_text("In progress")
    page.get_by_label("Your comment").fill("On it.")
    page.get_by_role("button", name="Post").click()
    expect(page.locator(".conversation")).to_contain_text("On it.")
    # The queue's filters submit with their button.
    page.goto("/staff/tickets/")
    page.get_by_label("Organisation").fill("Acme Corp")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"organization="))
    # A step that needs a comment opens its form without JavaScript (a <details>).
    page.goto(f"/staff/changes/{change.key}/")
    page.get_by_text("Cancel…").click()
    page.get_by_label("Comment for Cancel").fill("Not needed any more.")
    page.get_by_role("button", name="Cancel", exact=True).click()
    expect(page.locator(".page-head .badge")).to_have_text("Cancelled")


def test_a_notice_is_marked_read_from_the_dashboard(cast, page_for) -> None:
    """The notices share one form (their rows carry no token, so they are kept): each
    button posts to its own notice, with the form's token."""
    from notifications.models import Delivery, Notification, NotificationKind

    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    notices = {}
    for subject in ("Look at this", "And at that"):
        notification = Notification.objects.create(
            kind=NotificationKind.ACTION, ticket=ticket, subject=subject, body_text="-"
        )
        notices[subject] = Delivery.objects.create(
            notification=notification, user=cast.agent, recipient=cast.agent.email
        )
    page = page_for("agent")
    page.goto("/staff/")
    page.get_by_role("button", name="Mark “Look at this” as read").click()
    expect(page.get_by_role("button", name="Mark “Look at this” as read")).to_have_count(0)
    expect(page.get_by_role("button", name="Mark “And at that” as read")).to_be_visible()
    notices["Look at this"].refresh_from_db()
    notices["And at that"].refresh_from_db()
    assert notices["Look at this"].read_at is not None
    assert notices["And at that"].read_at is None
