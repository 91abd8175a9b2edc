"""The change review page: what it shows a business reader, and every customer action
through it, refusals included (the domain's reason on the page, the form as typed)."""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest

from approvals.models import Approval, ApprovalRole, Decision
from tests.factories import NEXT_YEAR, ChangeFactory, TicketFactory, approve_all, complete_checklist
from tickets.models import (
    Change,
    ComponentVersion,
    Performer,
    ScenarioResult,
    Ticket,
    TicketComment,
)
from tickets.services import change_propose_window, change_transition

C = Change.S
T = Ticket.S
WINDOW_START = datetime(NEXT_YEAR, 6, 1, 21, 0, tzinfo=UTC)  # 17:00 in New York (EDT)


def _url(change: Change, suffix: str = "") -> str:
    return f"/portal/changes/{change.key}/{suffix}"


def _reload(obj):
    return type(obj).objects.get(pk=obj.pk)


@pytest.fixture
def review(cast):
    """A provider-performed change waiting for alice's Business review, with an outage,
    two tickets in scope and a window the provider proposed; alice lives in New York."""
    cast.alice.timezone = "America/New_York"
    cast.alice.save()
    change = ChangeFactory(
        organization=cast.acme,
        author=cast.agent,
        status=C.TO_BE_REVIEWED_BY_BUSINESS,
        outage_expected=True,
        outage_duration_minutes=30,
        impact="Invoices cannot be downloaded during the upgrade.",
        communication_audience="All finance users",
        communication_message="Billing is unavailable for 30 minutes.",
        communication_timing="When agreed, and one hour before",
    )
    approve_all(change, qa=cast.qa, peer=cast.peer, ops=cast.ops)
    tickets = [
        TicketFactory(
            organization=cast.acme,
            reporter=cast.alice,
            status=T.TO_BE_RELEASED,
            change=change,
            title=f"Rounding bug {n}",
        )
        for n in (1, 2)
    ]
    change_propose_window(
        change=change.pk,
        by=cast.agent,
        start=WINDOW_START,
        end=WINDOW_START + timedelta(minutes=90),
    )
    return change, tickets


def test_the_review_page_puts_what_a_business_reader_needs_first(cast, alice_client, review):
    change, tickets = review
    response = alice_client.get(_url(change))
    assert response.status_code == 200
    html = response.content.decode()
    # What is asked, then the summary and impact, before any technical procedure.
    asked = html.index('data-testid="asked"')
    assert "approve it as Business" in html[asked : asked + 400]
    assert asked < html.index("What changes") < html.index("Impact on your users")
    assert html.index("Impact on your users") < html.index("Deployment procedure")
    assert change.summary in html
    assert "Outage expected" in html and "about 30 minutes" in html
    assert "Invoices cannot be downloaded" in html
    assert "All finance users" in html  # who is told, from the communication plan
    # The window in alice's timezone, said so.
    assert (
        WINDOW_START.astimezone(zoneinfo.ZoneInfo("America/New_York")).strftime("%A %-d %B %Y")
        in html
    )
    assert "17:00 \u2013 18:30" in html
    assert "America/New_York" in html
    # Components, tickets in scope, changelog, scenarios.
    component = change.change_components.get()
    assert component.component.name in html and "2.4.0" in html
    for ticket in tickets:
        assert ticket.key in html
    assert "rounding of VAT" in html
    assert change.scenarios.get(kind="progression").description in html
    # Exactly the actions the domain offers alice now.
    actions = {o.name for o in response.context["options"]}
    assert actions == {"business_approve", "reject", "cancel"}
    assert [o.name for o in response.context["window_options"]] == ["agree_window"]


def test_reject_needs_a_comment_and_says_so(cast, alice_client, review):
    change, _ = review
    response = alice_client.post(_url(change, "transitions/reject/"), {"comment": "  "})
    assert response.status_code == 400
    assert "&#x27;reject&#x27; needs: comment." in response.content.decode()
    assert _reload(change).status == C.TO_BE_REVIEWED_BY_BUSINESS

    response = alice_client.post(
        _url(change, "transitions/reject/"), {"comment": "Not during the month-end close."}
    )
    assert response.status_code == 302
    assert _reload(change).status == C.DRAFT
    rejection = Approval.objects.get(change=change, decision=Decision.REJECTED)
    assert (rejection.role, rejection.by, rejection.comment) == (
        ApprovalRole.BUSINESS,
        cast.alice,
        "Not during the month-end close.",
    )


def test_the_whole_customer_side_of_a_provider_performed_change(cast, alice_client, review):
    change, (accepted, sent_back) = review

    assert alice_client.post(_url(change, "transitions/business_approve/")).status_code == 302
    assert _reload(change).status == C.TO_BE_RELEASED
    assert Approval.objects.filter(change=change, role=ApprovalRole.BUSINESS, by=cast.alice)

    assert alice_client.post(_url(change, "transitions/agree_window/")).status_code == 302
    assert _reload(change).window_agreed_by == cast.alice

    # Nothing to do until the provider performs it.
    page = alice_client.get(_url(change))
    assert "perform" not in {o.name for o in page.context["options"]}
    complete_checklist(change, cast.agent)
    change_transition(change=change.pk, by=cast.agent, name="perform")
    assert set(change.tickets.values_list("status", flat=True)) == {T.IN_TESTING}

    scenario = change.scenarios.get(kind="progression")
    response = alice_client.post(
        _url(change, f"scenarios/{scenario.pk}/result/"), {"result": "passed", "note": "OK"}
    )
    assert response.status_code == 302
    scenario = _reload(scenario)
    assert (scenario.result, scenario.result_by, scenario.note) == ("passed", cast.alice, "OK")

    url = _url(change, f"tickets/{accepted.key}/accept/")
    assert alice_client.post(url).status_code == 302
    assert _reload(accepted).status == T.DONE

    url = _url(change, f"tickets/{sent_back.key}/send_back/")
    response = alice_client.post(url, {"comment": ""})
    assert response.status_code == 400
    assert _reload(sent_back).status == T.IN_TESTING
    response = alice_client.post(url, {"comment": "Still rounds 0.005 down."})
    assert response.status_code == 302
    assert _reload(sent_back).status == T.WAITING_FOR_SUPPORT
    assert TicketComment.objects.get(ticket=sent_back).body == "Still rounds 0.005 down."

    response = alice_client.post(_url(change, "transitions/close/"), {"comment": "Fine"})
    assert response.status_code == 400  # no resolution
    assert "needs: resolution" in response.content.decode()
    regression = change.scenarios.get(kind="regression")
    alice_client.post(_url(change, f"scenarios/{regression.pk}/result/"), {"result": "passed"})
    # Every scenario passed, but a ticket in scope was sent back: not a successful release.
    response = alice_client.post(
        _url(change, "transitions/close/"), {"resolution": "successful", "comment": "Fine"}
    )
    assert response.status_code == 409
    assert f"tickets not accepted: {sent_back.key}" in response.content.decode()
    response = alice_client.post(
        _url(change, "transitions/close/"),
        {"resolution": "follow_up_release", "comment": "The rounding fix comes next release."},
    )
    assert response.status_code == 302
    change = _reload(change)
    assert (change.status, change.resolution) == (C.DONE, "follow_up_release")
    assert not ComponentVersion.objects.filter(released_by=change).exists()


def test_a_refused_close_keeps_the_choice_and_gives_the_reason(cast, alice_client):
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.IN_TESTING)
    response = alice_client.post(_url(change, "transitions/close/"), {"resolution": "successful"})
    assert response.status_code == 409
    html = response.content.decode()
    # The reason sits next to the button that asked, with the choice still made.
    close = html[html.index('id="action-close"') :]
    close = close[: close.index("</details>")]
    assert "A successful close needs every test scenario passed" in close
    assert re.search(r'value="successful"[^>]*checked', close)
    assert _reload(change).status == C.IN_TESTING


@pytest.mark.parametrize(
    ("name", "status", "code", "reason"),
    [
        (
            "perform",
            C.TO_BE_RELEASED,
            403,
            "This change is performed by the provider; only provider staff may perform it.",
        ),
        ("business_approve", C.DONE, 409, "not possible while the change is Done"),
        ("approve", C.AWAITING_APPROVAL, 403, "the customer approves as Business"),
        ("frobnicate", C.IN_TESTING, 400, "There is no transition called"),
    ],
)
def test_a_refused_action_shows_the_domains_reason(cast, alice_client, name, status, code, reason):
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=status)
    response = alice_client.post(_url(change, f"transitions/{name}/"), {"role": "qa"})
    assert response.status_code == code
    assert reason in response.content.decode()
    assert _reload(change).status == status


def test_proposing_a_window_reads_it_in_the_users_timezone(cast, alice_client, review):
    change, _ = review
    response = alice_client.post(
        _url(change, "window/"),
        {"start": f"{NEXT_YEAR}-01-15T22:00", "end": f"{NEXT_YEAR}-01-15T23:30"},
    )
    assert response.status_code == 302
    change = _reload(change)
    new_york = zoneinfo.ZoneInfo("America/New_York")
    assert change.window_start == datetime(NEXT_YEAR, 1, 15, 22, 0, tzinfo=new_york)
    assert change.window_start == datetime(NEXT_YEAR, 1, 16, 3, 0, tzinfo=UTC)
    assert (change.window_proposed_by, change.window_agreed_at) == (cast.alice, None)
    # Alice proposed it: agreeing is the provider's turn now.
    page = alice_client.get(_url(change))
    assert page.context["window_options"] == []
    assert "the support team is asked to agree it" in page.content.decode()


def test_an_invalid_window_keeps_what_was_typed(cast, alice_client, review):
    change, _ = review
    response = alice_client.post(
        _url(change, "window/"),
        {"start": f"{NEXT_YEAR}-01-15T22:00", "end": f"{NEXT_YEAR}-01-15T21:00"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "The window must end after it starts." in html
    assert f'value="{NEXT_YEAR}-01-15T22:00"' in html
    assert f'value="{NEXT_YEAR}-01-15T21:00"' in html
    assert _reload(change).window_start == WINDOW_START


@pytest.fixture
def own_change(cast):
    """A change alice's organisation performs itself, approved, window proposed by the
    provider, one ticket in scope."""
    change = ChangeFactory(
        organization=cast.acme,
        author=cast.agent,
        performer=Performer.CUSTOMER,
        status=C.TO_BE_RELEASED,
    )
    TicketFactory(
        organization=cast.acme, reporter=cast.alice, status=T.TO_BE_RELEASED, change=change
    )
    change_propose_window(
        change=change.pk,
        by=cast.agent,
        start=WINDOW_START,
        end=WINDOW_START + timedelta(hours=1),
    )
    return change


def _perform(client, change: Change) -> None:
    assert client.post(_url(change, "transitions/agree_window/")).status_code == 302
    for item in change.checklist.all():
        response = client.post(_url(change, f"checklist/{item.pk}/"), {"state": "done"})
        assert response.status_code == 302
    assert client.post(_url(change, "transitions/perform/")).status_code == 302
    assert _reload(change).status == C.IN_TESTING


def test_perform_is_shown_blocked_with_the_reasons(cast, alice_client, own_change):
    response = alice_client.get(_url(own_change))
    perform = next(o for o in response.context["options"] if o.name == "perform")
    assert not perform.allowed
    html = response.content.decode()
    assert "The deployment window has not been agreed by both sides." in html
    assert "Checklist items still pending: Unit tests" in html
    assert "Settle the deployment window with the support team" in html
    response = alice_client.post(_url(own_change, "transitions/perform/"))
    assert response.status_code == 409
    assert _reload(own_change).status == C.TO_BE_RELEASED


def test_a_checklist_item_not_applicable_needs_a_reason(cast, alice_client, own_change):
    item = own_change.checklist.get(label="Performance testing")
    url = _url(own_change, f"checklist/{item.pk}/")
    response = alice_client.post(url, {"state": "not_applicable", "reason": ""})
    assert response.status_code == 400
    assert "Say why this item does not apply." in response.content.decode()
    response = alice_client.post(url, {"state": "not_applicable", "reason": "No load change."})
    assert response.status_code == 302
    item = _reload(item)
    assert (item.state, item.reason, item.by) == ("not_applicable", "No load change.", cast.alice)


def test_the_whole_customer_side_of_a_change_they_perform(cast, alice_client, own_change):
    _perform(alice_client, own_change)
    assert set(own_change.tickets.values_list("status", flat=True)) == {T.IN_TESTING}

    response = alice_client.post(_url(own_change, "transitions/roll_back/"), {"comment": ""})
    assert response.status_code == 400
    assert _reload(own_change).status == C.IN_TESTING

    for scenario in own_change.scenarios.all():
        alice_client.post(
            _url(own_change, f"scenarios/{scenario.pk}/result/"), {"result": "passed"}
        )
        assert _reload(scenario).result == ScenarioResult.PASSED
    ticket = own_change.tickets.get()
    alice_client.post(_url(own_change, f"tickets/{ticket.key}/accept/"))
    assert _reload(ticket).status == T.DONE
    response = alice_client.post(
        _url(own_change, "transitions/close/"), {"resolution": "successful"}
    )
    assert response.status_code == 302
    assert _reload(own_change).status == C.DONE


def test_rolling_back_a_change_they_perform(cast, alice_client, own_change):
    _perform(alice_client, own_change)
    response = alice_client.post(
        _url(own_change, "transitions/roll_back/"), {"comment": "Login fails after the upgrade."}
    )
    assert response.status_code == 302
    assert _reload(own_change).status == C.ROLLED_BACK
    # Still waiting on alice: she closes it, as rolled back only.
    assert alice_client.get("/portal/").context["action_counts"]["changes"] == 1
    response = alice_client.post(
        _url(own_change, "transitions/close/"), {"resolution": "successful"}
    )
    assert response.status_code == 409
    assert "can only be closed as" in response.content.decode()
    response = alice_client.post(
        _url(own_change, "transitions/close/"), {"resolution": "rolled_back"}
    )
    assert response.status_code == 302
    assert _reload(own_change).resolution == "rolled_back"


def test_results_are_recorded_only_while_testing(cast, alice_client, own_change):
    scenario = own_change.scenarios.get(kind="progression")
    response = alice_client.post(
        _url(own_change, f"scenarios/{scenario.pk}/result/"), {"result": "passed", "note": "x"}
    )
    assert response.status_code == 409
    assert "Results are recorded while the change is In testing" in response.content.decode()
    assert _reload(scenario).result == ScenarioResult.NOT_RUN


def test_a_ticket_outside_the_change_is_not_reachable_through_it(cast, alice_client, own_change):
    other = TicketFactory(organization=cast.acme, reporter=cast.alice, status=T.IN_TESTING)
    response = alice_client.post(_url(own_change, f"tickets/{other.key}/accept/"))
    assert response.status_code == 404
    assert _reload(other).status == T.IN_TESTING


def test_get_on_an_action_url_leads_back_to_the_page(cast, alice_client, own_change):
    response = alice_client.get(_url(own_change, "transitions/perform/"))
    assert response.status_code == 302
    assert response["Location"] == _url(own_change)
    assert _reload(own_change).status == C.TO_BE_RELEASED


def test_agreeing_ones_own_window_is_refused_beside_the_window(cast, alice_client, review):
    change, _ = review
    alice_client.post(
        _url(change, "window/"),
        {"start": f"{NEXT_YEAR}-01-15T22:00", "end": f"{NEXT_YEAR}-01-15T23:30"},
    )
    response = alice_client.post(_url(change, "transitions/agree_window/"))
    assert response.status_code == 403
    html = response.content.decode()
    window = html[html.index('id="window"') : html.index('id="components"')]
    assert "must be agreed by the other side" in window
    assert _reload(change).window_agreed_at is None
