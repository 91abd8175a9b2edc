"""alice attaches a screenshot to her ticket in the portal, sees it listed with its size and
type, and downloads it back."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.factories import TicketFactory
from tickets.models import Attachment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_alice_attaches_a_screenshot(cast, page_for, shot, settings, tmp_path) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    ticket = TicketFactory(
        organization=cast.acme, reporter=cast.alice, title="The invoice page is blank"
    )
    alice = page_for("alice")
    alice.goto(f"/portal/tickets/{ticket.key}/")
    # What she saw, as a PNG from the browser itself.
    screenshot = alice.screenshot()
    alice.get_by_label("Attach a file").set_input_files(
        {"name": "blank invoice.png", "mimeType": "image/png", "buffer": screenshot}
    )
    alice.get_by_role("button", name="Attach", exact=True).click()
    expect(alice.get_by_text("blank invoice.png is attached.")).to_be_visible()
    row = alice.get_by_test_id("attachment")
    expect(row).to_contain_text("blank invoice.png")
    expect(row).to_contain_text("image/png")
    expect(alice.get_by_test_id("file-event")).to_contain_text("added the file")
    attachment = Attachment.objects.get()
    assert attachment.size == len(screenshot)
    got = alice.request.get(row.get_by_role("link").get_attribute("href"))
    assert got.status == 200
    assert got.body() == screenshot
    assert got.headers["x-content-type-options"] == "nosniff"
    alice.get_by_role("heading", name="Files").scroll_into_view_if_needed()
    shot(alice, "portal-ticket-attachments")
