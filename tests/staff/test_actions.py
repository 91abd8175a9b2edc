"""Every action of the staff workspace goes through the services, and a refusal comes back
as the domain's sentence on the page it was asked from, with the domain's status."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from approvals.models import Approval
from tests.factories import NEXT_YEAR, ChangeFactory, ComponentFactory, TicketFactory, environment
from tests.staff.conftest import client_for
from tickets.models import (
    Change,
    ChangeStatus,
    ChecklistState,
    ScenarioResult,
    SectionEdit,
    Ticket,
    TicketComment,
    TicketStatus,
    TicketType,
)
from tickets.services import change_create, transitions_for

C = ChangeStatus
T = TicketStatus


def _transition(client, change, name, **data):
    return client.post(reverse("staff:change_transition", args=[change.key, name]), data)


# --------------------------------------------------------------------------- refusals


def test_a_refused_step_shows_the_reason_next_to_its_button(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.AWAITING_APPROVAL)
    response = _transition(client_for(cast.peer), change, "reject", comment="  ")
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="refusal-reject"' in html
    assert "needs: comment" in html
    change.refresh_from_db()
    assert change.status == C.AWAITING_APPROVAL


def test_a_guard_refusal_is_a_409_with_its_reason(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.TO_BE_RELEASED)
    response = _transition(client_for(cast.agent), change, "perform")
    assert response.status_code == 409
    assert "has not been agreed by both sides" in response.content.decode()


def test_a_blocked_step_is_shown_disabled_with_its_reason(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.TO_BE_RELEASED)
    html = client_for(cast.agent).get(reverse("staff:change_detail", args=[change.key]))
    text = html.content.decode()
    assert 'id="btn-perform" class="btn btn--primary" aria-disabled="true"' in text
    assert "The deployment window has not been agreed by both sides." in text


def test_a_step_no_longer_offered_is_refused_on_top_of_the_actions(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.AWAITING_APPROVAL)
    response = _transition(client_for(cast.agent), change, "approve", role="peer")
    assert response.status_code == 403
    assert "the Peer approval must come from someone else" in response.content.decode()
    assert not Approval.objects.filter(change=change).exists()


def test_three_reviewers_approve_and_the_change_moves_on(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.AWAITING_APPROVAL)
    for user, role in ((cast.qa, "qa"), (cast.peer, "peer"), (cast.ops, "operations")):
        client = client_for(user)
        page = client.get(reverse("staff:change_detail", args=[change.key])).content.decode()
        assert f'id="btn-approve-{role}"' in page
        response = _transition(client, change, "approve", role=role, comment="Looks right.")
        assert response.status_code == 302
    change.refresh_from_db()
    assert change.status == C.TO_BE_REVIEWED_BY_BUSINESS
    page = client_for(cast.agent).get(reverse("staff:change_detail", args=[change.key]))
    text = page.content.decode()
    for name in ("qa", "peer", "ops"):
        assert f"approved by <strong>{name}</strong>" in text


# --------------------------------------------------------------------------- tickets


def test_a_public_reply_answers_the_customer_and_an_internal_note_does_not(cast) -> None:
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    client = client_for(cast.agent)
    url = reverse("staff:ticket_comment", args=[ticket.key])
    client.post(url, {"body": "Looking into it, internally.", "internal": "on"})
    ticket.refresh_from_db()
    assert ticket.status == T.WAITING_FOR_SUPPORT
    response = client.post(url, {"body": "Could you send a screenshot?"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == T.WAITING_FOR_CUSTOMER
    assert [c.public for c in TicketComment.objects.filter(ticket=ticket)] == [False, True]


def test_an_empty_comment_is_refused_and_keeps_the_page(cast) -> None:
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    response = client_for(cast.agent).post(
        reverse("staff:ticket_comment", args=[ticket.key]), {"body": ""}
    )
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def test_assignment_offers_provider_staff_only(cast) -> None:
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    client = client_for(cast.agent)
    page = client.get(reverse("staff:ticket_detail", args=[ticket.key])).content.decode()
    assert f'<option value="{cast.qa.pk}">' in page
    assert f'<option value="{cast.alice.pk}">' not in page
    url = reverse("staff:ticket_assign", args=[ticket.key])
    assert client.post(url, {"assignee": cast.alice.pk}).status_code == 400
    client.post(url, {"assign_to_me": "1"})
    ticket.refresh_from_db()
    assert ticket.assignee == cast.agent


def test_a_ticket_transition_from_its_page(cast) -> None:
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice, status=T.TO_DO)
    response = client_for(cast.peer).post(
        reverse("staff:ticket_transition", args=[ticket.key, "start"])
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.status, ticket.assignee) == (T.IN_PROGRESS, cast.peer)


def test_a_ready_ticket_is_attached_to_a_change_from_its_page(cast) -> None:
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice, status=T.TO_BE_RELEASED)
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    other_org = ChangeFactory(organization=cast.globex, author=cast.agent)
    client = client_for(cast.agent)
    page = client.get(reverse("staff:ticket_detail", args=[ticket.key])).content.decode()
    assert change.key in page
    assert other_org.key not in page  # only the ticket's organisation's changes
    client.post(reverse("staff:ticket_attach", args=[ticket.key]), {"change": change.pk})
    ticket.refresh_from_db()
    assert ticket.change == change


# --------------------------------------------------------------------------- queue, board


def test_the_queue_filters_and_answers_htmx_with_the_results_only(cast) -> None:
    mine = TicketFactory(organization=cast.acme, reporter=cast.alice, assignee=cast.agent)
    TicketFactory(organization=cast.acme, reporter=cast.alice, status=T.WAITING_FOR_CUSTOMER)
    TicketFactory(organization=cast.globex, reporter=cast.bob)
    client = client_for(cast.agent)
    url = reverse("staff:ticket_list")
    page = client.get(url, {"assignee": "me", "waiting_on": "provider"}).content.decode()
    assert "1 ticket<" in page and mine.key in page
    assert "1 ticket<" in client.get(url, {"q": mine.key}).content.decode()
    assert "1 ticket<" in client.get(url, {"organization": cast.globex.pk}).content.decode()
    fragment = client.get(
        url, {"waiting_on": "customer"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="queue-results"
    ).content.decode()
    assert fragment.lstrip().startswith("<section") and "<html" not in fragment
    assert "1 ticket<" in fragment


def test_the_board_shows_each_change_in_its_status_column(desk) -> None:
    html = client_for(desk.cast.qa).get(reverse("staff:change_board")).content.decode()
    for status, change in desk.changes.items():
        column = html.split(f'data-status="{status}"', 1)[1].split("</section>", 1)[0]
        assert f'data-key="{change.key}"' in column


# --------------------------------------------------------------------------- change page


def test_a_window_is_proposed_in_the_users_timezone(cast) -> None:
    cast.agent.timezone = "Europe/Paris"
    cast.agent.save()
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    client = client_for(cast.agent)
    url = reverse("staff:change_window", args=[change.key])
    response = client.post(
        url, {"start": f"{NEXT_YEAR}-03-04T22:00", "end": f"{NEXT_YEAR}-03-04T21:00"}
    )
    assert response.status_code == 400
    assert "must end after it starts" in response.content.decode()
    client.post(url, {"start": f"{NEXT_YEAR}-03-04T22:00", "end": f"{NEXT_YEAR}-03-04T23:30"})
    change.refresh_from_db()
    assert change.window_start == datetime(NEXT_YEAR, 3, 4, 22, 0, tzinfo=ZoneInfo("Europe/Paris"))
    assert change.window_proposed_by == cast.agent


def test_the_checklist_is_filled_in_from_the_change_page(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    item = change.checklist.first()
    client = client_for(cast.agent)
    url = reverse("staff:change_checklist_item", args=[change.key, item.pk])
    prefix = f"i{item.pk}"
    response = client.post(url, {f"{prefix}-state": "not_applicable", f"{prefix}-reason": ""})
    assert response.status_code == 400
    assert "Say why this item does not apply." in response.content.decode()
    client.post(url, {f"{prefix}-state": "done"})
    item.refresh_from_db()
    assert (item.state, item.by) == (ChecklistState.DONE, cast.agent)


def test_a_result_is_recorded_while_the_change_is_in_testing(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.IN_TESTING)
    scenario = change.scenarios.first()
    url = reverse("staff:change_scenario_result", args=[change.key, scenario.pk])
    client_for(cast.qa).post(
        url, {f"s{scenario.pk}-result": "passed", f"s{scenario.pk}-note": "Totals match."}
    )
    scenario.refresh_from_db()
    assert (scenario.result, scenario.result_by) == (ScenarioResult.PASSED, cast.qa)


def test_a_change_is_raised_from_a_change_request(cast) -> None:
    request = TicketFactory(
        organization=cast.acme, reporter=cast.alice, type=TicketType.CHANGE_REQUEST
    )
    environment("uat")
    client = client_for(cast.agent)
    page = client.get(reverse("staff:change_new"), {"source": request.key}).content.decode()
    assert request.title in page
    response = client.post(
        reverse("staff:change_new"),
        {
            "organization": cast.acme.pk,
            "title": "Upgrade reporting",
            "environment": environment("uat").pk,
            "performer": "provider",
            "source": request.key,
        },
    )
    change = Change.objects.get(title="Upgrade reporting")
    assert response["Location"] == reverse("staff:change_edit", args=[change.key])
    assert change.source_ticket == request
    # Its page names the ticket it was requested in, by key (the ticket row is not read).
    page = client.get(reverse("staff:change_detail", args=[change.key])).content.decode()
    ticket_url = reverse("staff:ticket_detail", args=[request.key])
    assert f'Requested in <a href="{ticket_url}"><span class="key">{request.key}</span></a>' in page


# --------------------------------------------------------------------------- editor


def editor_data(change: Change, **overrides) -> dict:
    """What the editor posts for `change` as it stands (as a browser sends it: CRLF)."""
    data = {
        "title": change.title,
        "summary": change.summary.replace("\n", "\r\n"),
        "environment": change.environment_id,
        "performer": change.performer,
        "outage_expected": {True: "yes", False: "no"}.get(change.outage_expected, ""),
        "outage_duration_minutes": change.outage_duration_minutes or "",
        "impact": change.impact.replace("\n", "\r\n"),
        "communication_audience": change.communication_audience,
        "communication_message": change.communication_message,
        "communication_timing": change.communication_timing,
        "changelog": change.changelog.replace("\n", "\r\n"),
        "deployment_procedure": change.deployment_procedure.replace("\n", "\r\n"),
        "rollback_procedure": change.rollback_procedure.replace("\n", "\r\n"),
        "tickets": [t.pk for t in change.tickets.all()],
        "ticket_search": "",
        "save": "1",
    }
    for cc in change.change_components.all():
        data[f"c-in_{cc.component_id}"] = "on"
        data[f"c-v_{cc.component_id}"] = cc.target_version
    scenarios = list(change.scenarios.all())
    data.update(
        {
            "scenarios-TOTAL_FORMS": len(scenarios) + 1,
            "scenarios-INITIAL_FORMS": len(scenarios),
            "scenarios-MIN_NUM_FORMS": 0,
            "scenarios-MAX_NUM_FORMS": 1000,
        }
    )
    for i, s in enumerate(scenarios):
        data[f"scenarios-{i}-id"] = s.pk
        data[f"scenarios-{i}-kind"] = s.kind
        data[f"scenarios-{i}-description"] = s.description
    data[f"scenarios-{len(scenarios)}-kind"] = "progression"
    data[f"scenarios-{len(scenarios)}-description"] = ""
    for item in change.checklist.all():
        data[f"k-s_{item.pk}"] = item.state
        data[f"k-r_{item.pk}"] = item.reason
    data.update(overrides)
    return data


def _edit(client, change, data):
    return client.post(reverse("staff:change_edit", args=[change.key]), data)


@pytest.fixture
def draft(cast) -> Change:
    environment("uat")
    return change_create(by=cast.agent, organization=cast.acme, title="Upgrade billing")


def test_the_editor_writes_the_nine_sections_and_the_change_becomes_submittable(
    cast, draft
) -> None:
    component = ComponentFactory(organization=cast.acme, name="Billing")
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice, status=T.TO_BE_RELEASED)
    client = client_for(cast.agent)
    page = client.get(reverse("staff:change_edit", args=[draft.key])).content.decode()
    assert "Needs a title and a summary." in page
    assert ticket.key in page  # offered in section 4
    data = editor_data(
        draft,
        summary="Billing 2.4.\r\nRounds VAT.",
        outage_expected="no",
        impact="Nothing visible.",
        changelog="",
        deployment_procedure="Deploy.",
        rollback_procedure="Redeploy 2.3.",
        tickets=[ticket.pk],
        **{
            f"c-in_{component.pk}": "on",
            f"c-v_{component.pk}": "2.4.0",
            "scenarios-TOTAL_FORMS": 2,
            "scenarios-0-kind": "regression",
            "scenarios-0-description": "Old invoices still open.",
            "scenarios-1-kind": "progression",
            "scenarios-1-description": "New invoices round VAT.",
        },
    )
    response = _edit(client, draft, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    draft.refresh_from_db()
    assert draft.summary == "Billing 2.4.\nRounds VAT."  # stored with LF
    assert draft.incomplete_sections() == []
    assert ticket.key in draft.changelog  # pre-filled from the attached ticket
    assert [s.description for s in draft.scenarios.all()] == [
        "Old invoices still open.",
        "New invoices round VAT.",
    ]
    assert next(o for o in transitions_for(draft, cast.agent) if o.name == "submit").allowed
    page = client.get(reverse("staff:change_edit", args=[draft.key])).content.decode()
    assert "Every section is complete." in page


def test_an_untouched_save_records_no_edit_and_keeps_the_approvals(cast) -> None:
    change = ChangeFactory(
        organization=cast.acme,
        author=cast.agent,
        status=C.AWAITING_APPROVAL,
        changelog="Features:\n- one\n- two",
    )
    client_for(cast.qa).post(
        reverse("staff:change_transition", args=[change.key, "approve"]), {"role": "qa"}
    )
    response = _edit(client_for(cast.agent), change, editor_data(change))
    assert response.status_code == 302
    assert not SectionEdit.objects.filter(change=change).exists()
    assert Approval.objects.filter(change=change, dismissed_at__isnull=True).count() == 1


def test_an_invalid_editor_post_keeps_what_was_typed(cast, draft) -> None:
    data = editor_data(
        draft, title="A better title", summary="Typed text", outage_duration_minutes="abc"
    )
    response = _edit(client_for(cast.agent), draft, data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was saved" in html
    assert 'value="A better title"' in html
    assert "Typed text</textarea>" in html
    draft.refresh_from_db()
    assert draft.title == "Upgrade billing"


def test_a_refusal_of_one_section_saves_none_and_names_the_problem(cast, draft) -> None:
    not_ready = TicketFactory(organization=cast.acme, reporter=cast.alice, status=T.IN_PROGRESS)
    data = editor_data(draft, title="Renamed", tickets=[not_ready.pk])
    response = _edit(client_for(cast.agent), draft, data)
    assert response.status_code == 400
    html = response.content.decode()
    assert f"{not_ready.key} is In progress, not To be released" in html
    assert 'value="Renamed"' in html
    draft.refresh_from_db()
    assert draft.title == "Upgrade billing"  # all or nothing
    assert Ticket.objects.get(pk=not_ready.pk).change is None


def test_scenarios_are_removed_and_the_checklist_settled_in_the_editor(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    item = change.checklist.first()
    data = editor_data(
        change,
        **{
            "scenarios-0-DELETE": "on",
            "scenarios-1-description": "A new one.",
            f"k-s_{item.pk}": "not_applicable",
            f"k-r_{item.pk}": "No code changed.",
        },
    )
    response = _edit(client_for(cast.agent), change, data)
    assert response.status_code == 302
    assert [s.description for s in change.scenarios.all()] == ["A new one."]
    item.refresh_from_db()
    assert (item.state, item.reason) == (ChecklistState.NOT_APPLICABLE, "No code changed.")


def test_a_change_past_release_cannot_be_opened_in_the_editor(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.IN_TESTING)
    response = client_for(cast.agent).get(reverse("staff:change_edit", args=[change.key]))
    assert response["Location"] == reverse("staff:change_detail", args=[change.key])


def test_ticket_candidates_answer_a_search(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    wanted = TicketFactory(
        organization=cast.acme, reporter=cast.alice, status=T.TO_BE_RELEASED, title="Rounding"
    )
    TicketFactory(
        organization=cast.acme, reporter=cast.alice, status=T.TO_BE_RELEASED, title="Other"
    )
    TicketFactory(
        organization=cast.globex, reporter=cast.bob, status=T.TO_BE_RELEASED, title="Rounding"
    )
    html = (
        client_for(cast.agent)
        .get(
            reverse("staff:change_ticket_candidates", args=[change.key]),
            {"ticket_search": "round"},
        )
        .content.decode()
    )
    assert html.count('name="tickets"') == 1
    assert wanted.key in html
