"""alice raises a ticket and talks with the support team, then keeps her organisation's
end-user contacts: adds one, imports a spreadsheet with bad rows, reads the report."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.factories import ContactFactory
from tickets.models import Contact, Ticket, TicketStatus
from tickets.services import ticket_comment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSV = (
    "name,email\n"
    "Dana Whitfield,dana@acme.example\n"
    "Ravi Patel,not-an-address\n"
    "No Mail,\n"
    "Finance team,FINANCE@acme.example\n"
    "Dana again,dana@acme.example\n"
)


def test_alice_raises_a_ticket_and_answers_the_support_team(cast, page_for, shot) -> None:
    alice = page_for("alice")
    alice.get_by_role("link", name="Raise a support ticket").first.click()
    alice.get_by_label("Subject").fill("Invoices show the wrong VAT")
    alice.get_by_label("What is it about?").select_option(label="Bug")
    alice.get_by_label("Details").fill("Since Monday, 19.6% instead of 20%.")
    alice.get_by_role("button", name="Raise the ticket").click()
    ticket = Ticket.objects.get()
    expect(alice.get_by_role("heading", name="Invoices show the wrong VAT")).to_be_visible()
    expect(alice.get_by_test_id("ticket-status")).to_have_text("Waiting for support")

    # The support team answers (an internal note too, which alice never sees).
    ticket_comment(ticket=ticket.pk, by=cast.agent, body="Which invoice number?")
    ticket_comment(ticket=ticket.pk, by=cast.agent, body="Internal: check VAT table", public=False)
    alice.reload()
    expect(alice.get_by_test_id("ticket-status")).to_have_text("Waiting for customer")
    expect(alice.get_by_test_id("asked")).to_contain_text("needs your reply")
    expect(alice.locator("body")).not_to_contain_text("check VAT table")

    alice.get_by_label("Your message").fill("INV-2024-0042, attached to the e-mail.")
    alice.get_by_role("button", name="Send").click()
    expect(alice.get_by_test_id("ticket-status")).to_have_text("Waiting for support")
    expect(alice.get_by_test_id("comment").last).to_contain_text("INV-2024-0042")
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.WAITING_FOR_SUPPORT
    shot(alice, "portal-ticket-conversation")


def test_alice_keeps_her_end_user_contacts(cast, page_for, shot) -> None:
    ContactFactory(organization=cast.acme, email="finance@acme.example", name="Finance")
    ContactFactory(organization=cast.globex, email="someone@globex.example")
    alice = page_for("alice")
    alice.get_by_role("link", name="End-user contacts").click()
    expect(alice.get_by_role("heading", name="End-user contacts")).to_be_visible()
    expect(alice.locator("body")).not_to_contain_text("globex.example")

    alice.get_by_label("Name").fill("Meg O'Brien")
    alice.get_by_label("E-mail address").fill("meg.obrien@acme.example")
    alice.get_by_role("button", name="Add", exact=True).click()
    expect(alice.get_by_test_id("contact-list")).to_contain_text("meg.obrien@acme.example")

    alice.get_by_label("CSV file").set_input_files(
        {"name": "contacts.csv", "mimeType": "text/csv", "buffer": CSV.encode()}
    )
    alice.get_by_role("button", name="Import").click()
    report = alice.get_by_test_id("import-report")
    expect(report.get_by_test_id("accepted-count")).to_have_text("1")
    expect(report.get_by_test_id("rejected-count")).to_have_text("4")
    expect(report.locator("tr[data-row='3']")).to_contain_text("Invalid email")
    expect(report.locator("tr[data-row='4']")).to_contain_text("Missing email")
    expect(report.locator("tr[data-row='5']")).to_contain_text("Duplicate: already a contact")
    expect(report.locator("tr[data-row='6']")).to_contain_text("Duplicate of row 2")
    shot(alice, "portal-contacts")

    alice.get_by_role("button", name="Remove meg.obrien@acme.example").click()
    expect(alice.get_by_test_id("contact-list")).not_to_contain_text("meg.obrien@acme.example")
    assert sorted(
        Contact.objects.filter(organization=cast.acme).values_list("email", flat=True)
    ) == [
        "dana@acme.example",
        "finance@acme.example",
    ]
