"""The customer side of a change, in the browser, as alice (Acme Corp) does it: for a
change the provider performs (Business review, the window, testing, close) and for one
she performs herself (the window, the checklist, perform, testing, close). The provider's
own steps are taken through the services. Screenshots go to $SCREENSHOT_DIR."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.factories import ChangeFactory, TicketFactory, approve_all, complete_checklist
from tickets.models import Change, ChangeStatus, Performer, Ticket, TicketStatus
from tickets.services import change_propose_window, change_transition

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def assert_labelled(page) -> None:
    """One h1, and every visible form control has a name a screen reader can say."""
    assert page.locator("h1").count() == 1
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter(el => el.type !== 'hidden' && el.offsetParent !== null)
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                          && !el.getAttribute('aria-labelledby'))
            .map(el => el.name || el.id)"""
    )
    assert unnamed == [], f"form controls without a label: {unnamed}"


def _window(change: Change, by) -> None:
    start = (timezone.now() + timedelta(days=7)).replace(minute=0, second=0, microsecond=0)
    change_propose_window(change=change.pk, by=by, start=start, end=start + timedelta(hours=1))


def _status(page):
    return page.get_by_test_id("change-status")


def test_alice_reviews_schedules_tests_and_closes_a_change_the_provider_performs(
    cast, page_for, shot
) -> None:
    change = ChangeFactory(
        organization=cast.acme,
        author=cast.agent,
        status=ChangeStatus.TO_BE_REVIEWED_BY_BUSINESS,
        title="Billing service 2.4: VAT rounding",
        outage_expected=True,
        outage_duration_minutes=30,
        impact="Invoices cannot be downloaded for half an hour.",
        communication_audience="All finance users",
        communication_message="Billing is unavailable for 30 minutes.",
        communication_timing="When agreed, and one hour before",
    )
    approve_all(change, qa=cast.qa, peer=cast.peer, ops=cast.ops)
    ticket = TicketFactory(
        organization=cast.acme,
        reporter=cast.alice,
        status=TicketStatus.TO_BE_RELEASED,
        change=change,
        title="VAT is rounded down on invoices",
    )
    _window(change, cast.agent)

    alice = page_for("alice")
    # She lands on what waits for her, counted in the navigation.
    expect(alice.get_by_role("heading", name="Needs your action")).to_be_visible()
    expect(alice.get_by_test_id("nav-action-count")).to_have_text("1")
    expect(alice.get_by_test_id("action-changes")).to_contain_text("approve it as Business")
    assert_labelled(alice)
    shot(alice, "portal-home")

    # Also listed under "Coming up": follow the one that says what is asked.
    alice.get_by_test_id("action-changes").get_by_role("link", name=change.title).click()
    expect(alice.get_by_role("heading", name=change.title)).to_be_visible()
    expect(alice.get_by_test_id("asked")).to_contain_text("approve it as Business")
    expect(alice.locator("#impact")).to_contain_text("about 30 minutes")
    expect(alice.locator("#window")).to_contain_text("Please agree it, or propose another.")
    assert_labelled(alice)
    shot(alice, "portal-change-review")

    # A rejection needs a reason: the domain says so next to the button.
    alice.get_by_text("Reject…").click()
    alice.locator("#btn-reject").click()
    expect(alice.locator("#refusal-reject")).to_contain_text("needs: comment")
    expect(_status(alice)).to_have_text("To be reviewed by business")

    alice.get_by_role("button", name="Approve as Business").click()
    expect(_status(alice)).to_have_text("To be released")
    alice.get_by_role("button", name="Agree this window").click()
    expect(alice.get_by_test_id("window-agreed")).to_contain_text("Agreed by")
    expect(alice.get_by_test_id("nav-action-count")).to_have_text("0")

    # The support team carries it out.
    complete_checklist(change, cast.agent)
    change_transition(change=change.pk, by=cast.agent, name="perform", comment="Done.")

    alice.reload()
    expect(_status(alice)).to_have_text("In testing")
    expect(alice.get_by_test_id("asked")).to_contain_text("Test it on UAT")
    # Closing as successful before testing is refused, with the reason.
    alice.get_by_text("Close…").click()
    alice.get_by_label("Successful (all scenarios passed)").check()
    alice.locator("#btn-close").click()
    expect(alice.locator("#refusal-close")).to_contain_text("every test scenario passed")

    for scenario in change.scenarios.all():
        row = alice.locator(f"#scenario-{scenario.pk}")
        row.get_by_label("Passed").check()
        row.get_by_label("Note").fill("Totals match the spreadsheet.")
        row.get_by_role("button", name="Save result").click()
        expect(
            alice.locator(f"#scenario-{scenario.pk} [data-testid=scenario-result]")
        ).to_have_text("Passed")

    alice.locator(f"#ticket-{ticket.key}").get_by_role("button", name="Accept").click()
    expect(alice.locator(f"#ticket-{ticket.key}")).to_contain_text("Done")
    shot(alice, "portal-change-testing")

    alice.get_by_text("Close…").click()
    alice.get_by_label("Successful (all scenarios passed)").check()
    alice.locator("#btn-close").click()
    expect(_status(alice)).to_have_text("Done")
    change.refresh_from_db()
    assert (change.status, change.resolution) == (ChangeStatus.DONE, "successful")
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.DONE


def test_alice_carries_out_and_closes_a_change_she_performs(cast, page_for, shot) -> None:
    change = ChangeFactory(
        organization=cast.acme,
        author=cast.agent,
        performer=Performer.CUSTOMER,
        status=ChangeStatus.TO_BE_RELEASED,
        title="SSO proxy configuration update",
    )
    ticket = TicketFactory(
        organization=cast.acme,
        reporter=cast.alice,
        status=TicketStatus.TO_BE_RELEASED,
        change=change,
        title="Logins from the office network fail",
    )
    _window(change, cast.agent)

    alice = page_for("alice")
    expect(alice.get_by_test_id("action-tickets")).to_contain_text(
        f"goes out when you carry out {change.key}"
    )
    alice.get_by_test_id("action-changes").get_by_role("link", name=change.title).click()
    # Perform is there, blocked, with what stands in the way.
    expect(alice.locator("#why-perform")).to_contain_text("has not been agreed")
    expect(alice.locator("#why-perform")).to_contain_text("Checklist items still pending")

    alice.get_by_role("button", name="Agree this window").click()
    expect(alice.get_by_test_id("window-agreed")).to_be_visible()

    items = list(change.checklist.all())
    for item in items[:-1]:
        row = alice.locator(f"#check-{item.pk}")
        row.get_by_label("Done", exact=True).check()
        row.get_by_role("button", name="Save").click()
        expect(alice.locator(f"#check-{item.pk} .state-done")).to_be_visible()
    last = alice.locator(f"#check-{items[-1].pk}")
    last.get_by_label("Not applicable").check()
    last.get_by_role("button", name="Save").click()
    # Not applicable needs a reason: refused, the choice kept, the reason asked for.
    last = alice.locator(f"#check-{items[-1].pk}")
    expect(last).to_contain_text("Say why this item does not apply.")
    expect(last.get_by_label("Not applicable")).to_be_checked()
    last.get_by_label("Why it does not apply").fill("No load change in a proxy config.")
    last.get_by_role("button", name="Save").click()
    expect(alice.locator(f"#check-{items[-1].pk} .state-not_applicable")).to_be_visible()
    assert_labelled(alice)
    shot(alice, "portal-own-change-ready")

    alice.get_by_role("button", name="Perform").click()
    expect(_status(alice)).to_have_text("In testing")
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.IN_TESTING

    for scenario in change.scenarios.all():
        row = alice.locator(f"#scenario-{scenario.pk}")
        row.get_by_label("Passed").check()
        row.get_by_role("button", name="Save result").click()
        expect(
            alice.locator(f"#scenario-{scenario.pk} [data-testid=scenario-result]")
        ).to_have_text("Passed")
    alice.locator(f"#ticket-{ticket.key}").get_by_role("button", name="Accept").click()
    expect(alice.locator(f"#ticket-{ticket.key}")).to_contain_text("Done")

    alice.get_by_text("Close…").click()
    alice.get_by_label("Successful (all scenarios passed)").check()
    alice.locator("#btn-close").click()
    expect(_status(alice)).to_have_text("Done")
    assert Change.objects.get(pk=change.pk).status == ChangeStatus.DONE


def test_alice_rolls_back_a_change_she_performs(cast, page_for) -> None:
    change = ChangeFactory(
        organization=cast.acme,
        author=cast.agent,
        performer=Performer.CUSTOMER,
        status=ChangeStatus.IN_TESTING,
        title="Search index rebuild",
    )
    alice = page_for("alice")
    alice.goto(f"/portal/changes/{change.key}/")
    alice.get_by_text("Roll back…").click()
    alice.get_by_label("Comment").fill("Search returns nothing after the rebuild.")
    alice.locator("#btn-roll_back").click()
    expect(_status(alice)).to_have_text("Rolled back")
    expect(alice.get_by_test_id("asked")).to_contain_text("close it to finish")
    alice.get_by_text("Close…").click()
    alice.get_by_label("Rolled back", exact=True).check()
    alice.locator("#btn-close").click()
    expect(_status(alice)).to_have_text("Done")
    assert Change.objects.get(pk=change.pk).resolution == "rolled_back"
