"""The process holds at every step, through the API: each item seen in issue 10, as an
integrator reproduced it, now answered as WORKFLOW.md says."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import Delivery, Notification, NotificationKind
from tests.factories import (
    ChangeFactory,
    TicketFactory,
    approve_all,
    complete_checklist,
    propose_window,
)
from tests.notifications.utils import add_contacts
from tickets.models import Change, ChangeStatus, ScenarioResult, Ticket, TicketStatus

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
C = ChangeStatus
T = TicketStatus
Kind = NotificationKind


# An outage with its duration and communication plan (section 3 complete).
OUTAGE = {
    "outage_expected": True,
    "outage_duration_minutes": 30,
    "communication_audience": "All",
    "communication_message": "Down briefly.",
    "communication_timing": "Agreed, day before",
}


def _outages(change: Change) -> list[str]:
    return list(
        Notification.objects.filter(change=change)
        .exclude(kind=Kind.ACTION)
        .order_by("created", "id")
        .values_list("kind", flat=True)
    )


def _window(days: float = 3, hours: float = 2) -> dict[str, str]:
    start = timezone.now().replace(microsecond=0) + timedelta(days=days)
    return {"start": start.isoformat(), "end": (start + timedelta(hours=hours)).isoformat()}


def _take(client, change: Change, name: str, **body):
    return client.post(f"{V1}/changes/{change.key}/transitions/{name}/", body)


# --------------------------------------------------------------------------- 1, 2


@pytest.mark.parametrize(
    ("field", "section"),
    [("changelog", "5. Changelog"), ("deployment_procedure", "6. Deployment procedure")],
)
def test_a_live_change_cannot_be_blanked(cast, api, field, section) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.AWAITING_APPROVAL)
    answer = api("agent").patch(f"{V1}/changes/{change.key}/", {field: ""})
    assert answer.status_code == 400
    assert section in answer.json()["detail"]
    assert field in answer.json()["fields"]
    change.refresh_from_db()
    assert getattr(change, field).strip()
    assert change.edits.count() == 0  # nothing half-written


def test_the_last_scenario_of_a_kind_cannot_be_removed_past_draft(cast, api) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.AWAITING_APPROVAL)
    regression = change.scenarios.get(kind="regression")
    answer = api("agent").delete(f"{V1}/changes/{change.key}/scenarios/{regression.pk}/")
    assert answer.status_code == 400
    assert "8. Test scenarios" in answer.json()["detail"]
    assert change.scenarios.filter(pk=regression.pk).exists()
    # Turning the only regression scenario into a progression one is the same edit.
    answer = api("agent").patch(
        f"{V1}/changes/{change.key}/scenarios/{regression.pk}/", {"kind": "progression"}
    )
    assert answer.status_code == 400
    # With another regression scenario, the first one may go (and the round is dismissed).
    extra = api("agent").post(
        f"{V1}/changes/{change.key}/scenarios/", {"kind": "regression", "description": "Old."}
    )
    assert extra.status_code == 201
    answer = api("agent").delete(f"{V1}/changes/{change.key}/scenarios/{regression.pk}/")
    assert answer.status_code == 204


def test_in_draft_anything_may_be_missing_for_now(cast, api) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    for scenario in change.scenarios.all():
        answer = api("agent").delete(f"{V1}/changes/{change.key}/scenarios/{scenario.pk}/")
        assert answer.status_code == 204
    assert api("agent").patch(f"{V1}/changes/{change.key}/", {"changelog": ""}).status_code == 200
    refused = _take(api("agent"), change, "submit")
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert "5. Changelog" in detail
    assert "at least one progression and one regression scenario" in detail


def test_submit_needs_a_regression_scenario_too(cast, api) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    change.scenarios.filter(kind="regression").delete()
    refused = _take(api("agent"), change, "submit")
    assert refused.status_code == 409
    assert "at least one regression scenario" in refused.json()["detail"]


def test_submit_needs_the_four_checks_of_the_document(cast, api) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    change.checklist.filter(standard="performance").delete()
    refused = _take(api("agent"), change, "submit")
    assert refused.status_code == 409
    assert "Performance testing" in refused.json()["detail"]


def test_a_new_change_has_the_four_checks_of_the_document(cast, api) -> None:
    answer = api("agent").post(
        f"{V1}/changes/", {"organization": cast.acme.pk, "title": "Upgrade exports"}
    )
    assert answer.status_code == 201
    change = Change.objects.get(pk=answer.json()["id"])
    assert sorted(change.checklist.values_list("standard", flat=True)) == [
        "performance",
        "progression",
        "regression",
        "unit",
    ]


def test_every_forward_transition_checks_completeness_again(cast, api) -> None:
    # However a change got incomplete (here: behind the services' back), no step forward.
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.AWAITING_APPROVAL)
    Change.objects.filter(pk=change.pk).update(changelog="")
    refused = _take(api("qa"), change, "approve", role="qa")
    assert refused.status_code == 409 and "5. Changelog" in refused.json()["detail"]
    for status, user, name, body in [
        (C.TO_BE_REVIEWED_BY_BUSINESS, "alice", "business_approve", {}),
        (C.TO_BE_RELEASED, "agent", "perform", {}),
    ]:
        other = ChangeFactory(organization=cast.acme, author=cast.agent, status=status)
        propose_window(other, cast.agent, agreed_by=cast.alice)
        complete_checklist(other, cast.agent)
        Change.objects.filter(pk=other.pk).update(rollback_procedure=" ")
        refused = _take(api(user), other, name, **body)
        assert refused.status_code == 409, (name, refused.content)
        assert "7. Rollback procedure" in refused.json()["detail"]
        assert Change.objects.get(pk=other.pk).status == status


# --------------------------------------------------------------------------- 3


def test_agreeing_a_window_on_a_draft_announces_nothing(cast, api) -> None:
    add_contacts(cast.acme, 3)
    change = ChangeFactory(
        organization=cast.acme,
        author=cast.agent,
        **OUTAGE,
    )
    assert api("agent").put(f"{V1}/changes/{change.key}/window/", _window()).status_code == 200
    assert _take(api("alice"), change, "agree_window").status_code == 200
    assert _outages(change) == []
    assert not Delivery.objects.filter(contact__isnull=False).exists()


def test_the_announcement_waits_for_the_business_review(cast, api) -> None:
    add_contacts(cast.acme, 2)
    change = ChangeFactory(
        organization=cast.acme,
        author=cast.agent,
        status=C.AWAITING_APPROVAL,
        **OUTAGE,
    )
    api("agent").put(f"{V1}/changes/{change.key}/window/", _window())
    _take(api("alice"), change, "agree_window")
    for user, role in (("qa", "qa"), ("peer", "peer"), ("ops", "operations")):
        assert _take(api(user), change, "approve", role=role).status_code == 200
    assert _outages(change) == []  # To be reviewed by business: not approved yet
    assert _take(api("alice"), change, "business_approve").status_code == 200
    assert _outages(change) == [Kind.ANNOUNCEMENT]  # approved, window agreed: once
    announcement = Notification.objects.get(change=change, kind=Kind.ANNOUNCEMENT)
    assert announcement.deliveries.count() == 2


def test_an_outage_set_after_the_window_was_agreed_is_announced_on_approval(cast, api) -> None:
    add_contacts(cast.acme, 1)
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    api("agent").put(f"{V1}/changes/{change.key}/window/", _window())
    _take(api("alice"), change, "agree_window")
    plan = {"audience": "All", "message": "Down.", "timing": "Agreed"}
    answer = api("agent").patch(
        f"{V1}/changes/{change.key}/",
        {
            "outage_expected": True,
            "outage_duration_minutes": 20,
            "communication_plan": plan,
        },
    )
    assert answer.status_code == 200, answer.content
    _take(api("agent"), change, "submit")
    for user, role in (("qa", "qa"), ("peer", "peer"), ("ops", "operations")):
        _take(api(user), change, "approve", role=role)
    _take(api("alice"), change, "business_approve")
    assert _outages(change) == [Kind.ANNOUNCEMENT]


def test_a_re_proposed_window_is_corrected_once_when_agreed(cast, api) -> None:
    add_contacts(cast.acme, 2)
    change = ChangeFactory(
        organization=cast.acme,
        author=cast.agent,
        status=C.TO_BE_RELEASED,
        **OUTAGE,
    )
    api("agent").put(f"{V1}/changes/{change.key}/window/", _window(3))
    _take(api("alice"), change, "agree_window")
    assert _outages(change) == [Kind.ANNOUNCEMENT]
    api("agent").put(f"{V1}/changes/{change.key}/window/", _window(4))
    assert _outages(change) == [Kind.ANNOUNCEMENT]  # proposed only: nothing yet
    api("agent").put(f"{V1}/changes/{change.key}/window/", _window(5))
    _take(api("alice"), change, "agree_window")
    assert _outages(change) == [Kind.ANNOUNCEMENT, Kind.CORRECTION]


def test_an_announced_change_that_leaves_the_approved_path_is_cancelled_once(cast, api) -> None:
    add_contacts(cast.acme, 2)
    change = ChangeFactory(
        organization=cast.acme,
        author=cast.agent,
        status=C.TO_BE_RELEASED,
        **OUTAGE,
    )
    approve_all(change, qa=cast.qa, peer=cast.peer, ops=cast.ops)
    api("agent").put(f"{V1}/changes/{change.key}/window/", _window())
    _take(api("alice"), change, "agree_window")
    # An edit dismisses the approvals: the change is no longer approved.
    answer = api("agent").patch(f"{V1}/changes/{change.key}/", {"summary": "Reworded."})
    assert answer.status_code == 200 and answer.json()["status"] == "awaiting_approval"
    assert _outages(change) == [Kind.ANNOUNCEMENT, Kind.CANCELLATION]
    _take(api("agent"), change, "cancel", comment="Not needed after all.")
    assert _outages(change) == [Kind.ANNOUNCEMENT, Kind.CANCELLATION]  # once


# --------------------------------------------------------------------------- 4


def test_a_customer_comment_on_a_ticket_in_testing_sends_it_back(cast, api) -> None:
    ticket = TicketFactory(
        organization=cast.acme, reporter=cast.alice, status=T.IN_TESTING, assignee=cast.agent
    )
    answer = api("alice").post(f"{V1}/tickets/{ticket.key}/comments/", {"body": "Still broken."})
    assert answer.status_code == 201
    ticket.refresh_from_db()
    assert ticket.status == T.WAITING_FOR_SUPPORT
    history = api("agent").get(f"{V1}/tickets/{ticket.key}/history/").json()["results"]
    assert [(h["transition"], h["comment"]) for h in history] == [("send_back", "Still broken.")]
    assert ticket.comments.count() == 1  # the comment is the reason, posted once
    notice = Delivery.objects.get(user=cast.agent, notification__ticket=ticket)
    assert "waits on support" in notice.notification.subject


# --------------------------------------------------------------------------- 5


def test_a_sent_back_ticket_forbids_a_successful_close(cast, api) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.TO_BE_RELEASED)
    ticket = TicketFactory(
        organization=cast.acme, reporter=cast.alice, status=T.TO_BE_RELEASED, change=change
    )
    propose_window(change, cast.agent, agreed_by=cast.alice)
    complete_checklist(change, cast.agent)
    assert _take(api("agent"), change, "perform").status_code == 200
    change.scenarios.update(result=ScenarioResult.PASSED)
    api("alice").post(f"{V1}/tickets/{ticket.key}/comments/", {"body": "Still wrong."})
    # Sent back, then moved on to a follow-up change: still this change's failure.
    Ticket.objects.filter(pk=ticket.pk).update(change=None)
    refused = _take(api("alice"), change, "close", resolution="successful")
    assert refused.status_code == 409
    assert f"tickets not accepted: {ticket.key}" in refused.json()["detail"]
    closed = _take(api("alice"), change, "close", resolution="follow_up_release")
    assert closed.status_code == 200 and closed.json()["resolution"] == "follow_up_release"


def test_a_ticket_never_accepted_forbids_a_successful_close(cast, api) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.TO_BE_RELEASED)
    ticket = TicketFactory(
        organization=cast.acme, reporter=cast.alice, status=T.TO_BE_RELEASED, change=change
    )
    propose_window(change, cast.agent, agreed_by=cast.alice)
    complete_checklist(change, cast.agent)
    _take(api("agent"), change, "perform")
    change.scenarios.update(result=ScenarioResult.PASSED)
    refused = _take(api("alice"), change, "close", resolution="successful")
    assert refused.status_code == 409 and ticket.key in refused.json()["detail"]
    api("alice").post(f"{V1}/tickets/{ticket.key}/transitions/accept/", {})
    assert _take(api("alice"), change, "close", resolution="successful").status_code == 200


# --------------------------------------------------------------------------- 6


def test_perform_is_refused_naming_an_attached_ticket_on_hold(cast, api) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.TO_BE_RELEASED)
    ticket = TicketFactory(
        organization=cast.acme, reporter=cast.alice, status=T.TO_BE_RELEASED, change=change
    )
    propose_window(change, cast.agent, agreed_by=cast.alice)
    complete_checklist(change, cast.agent)
    held = api("alice").post(
        f"{V1}/tickets/{ticket.key}/transitions/hold/", {"comment": "Not now."}
    )
    assert held.status_code == 200
    refused = _take(api("agent"), change, "perform")
    assert refused.status_code == 409
    assert f"Attached tickets are on hold: {ticket.key}" in refused.json()["detail"]
    api("alice").post(f"{V1}/tickets/{ticket.key}/transitions/resume/", {})
    assert _take(api("agent"), change, "perform").status_code == 200
    ticket.refresh_from_db()
    assert ticket.status == T.IN_TESTING


# --------------------------------------------------------------------------- 7


@pytest.mark.parametrize(
    ("start_days", "hours", "field", "message"),
    [
        (-1, 2, "start", "must start in the future"),
        (0.5, -1, "end", "must end after it starts"),
        (4000, 2, "start", "within 730 days"),
        (3, 24 * 30, "end", "at most 168 hours"),
    ],
)
def test_windows_make_sense(cast, api, start_days, hours, field, message) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    answer = api("agent").put(f"{V1}/changes/{change.key}/window/", _window(start_days, hours))
    assert answer.status_code == 400
    assert message in answer.json()["detail"]
    assert field in answer.json()["fields"]
    change.refresh_from_db()
    assert change.window_start is None


def test_a_window_that_has_started_cannot_be_agreed(cast, api) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    propose_window(change, cast.agent)
    Change.objects.filter(pk=change.pk).update(
        window_start=timezone.now() - timedelta(minutes=5),
        window_end=timezone.now() + timedelta(hours=1),
    )
    refused = _take(api("alice"), change, "agree_window")
    assert refused.status_code == 409 and "already started" in refused.json()["detail"]


# --------------------------------------------------------------------------- 8


@pytest.mark.parametrize(
    ("change_status", "waits"),
    [(C.DRAFT, False), (C.AWAITING_APPROVAL, False), (C.TO_BE_RELEASED, True)],
)
def test_a_ticket_to_be_released_waits_on_the_customer_only_once_approved(
    cast, api, change_status, waits
) -> None:
    change = ChangeFactory(
        organization=cast.acme, author=cast.alice, performer="customer", status=change_status
    )
    ticket = TicketFactory(
        organization=cast.acme, reporter=cast.alice, status=T.TO_BE_RELEASED, change=change
    )
    shown = api("alice").get(f"{V1}/tickets/{ticket.key}/").json()
    assert shown["waiting_on"] == ("customer" if waits else "provider")
    listed = api("alice").get(f"{V1}/tickets/", {"waiting_on": "customer"}).json()
    assert [t["key"] for t in listed["results"]] == ([ticket.key] if waits else [])


# --------------------------------------------------------------------------- 9


def test_the_refusal_names_the_rule_that_refused(cast, api) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.AWAITING_APPROVAL)
    as_qa = _take(api("agent"), change, "approve", role="qa")
    assert as_qa.status_code == 403
    assert as_qa.json()["detail"] == "Only a user with the QA role gives the QA approval."
    as_ops = _take(api("qa"), change, "approve", role="operations")
    assert as_ops.status_code == 403
    assert "operations management role" in as_ops.json()["detail"]
    as_peer = _take(api("agent"), change, "approve", role="peer")
    assert as_peer.status_code == 403 and "Peer approval" in as_peer.json()["detail"]


def test_a_round_needs_qa_peer_and_operations(cast, api) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.AWAITING_APPROVAL)
    for user, role in (("peer", "peer"), ("ops", "operations")):
        assert _take(api(user), change, "approve", role=role).json()["status"] == (
            "awaiting_approval"
        )
    last = _take(api("qa"), change, "approve", role="qa")
    assert last.json()["status"] == "to_be_reviewed_by_business"


def test_one_patch_of_several_sections_dismisses_the_round_once(cast, api) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.TO_BE_RELEASED)
    approve_all(change, qa=cast.qa, peer=cast.peer, ops=cast.ops)
    component = change.change_components.get().component_id
    answer = api("agent").patch(
        f"{V1}/changes/{change.key}/",
        {
            "summary": "Billing 2.4.1 instead.",
            "component_versions": [{"component": component, "target_version": "2.4.1"}],
        },
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == "awaiting_approval"
    history = api("agent").get(f"{V1}/changes/{change.key}/history/").json()["results"]
    assert [h["transition"] for h in history] == ["dismiss_approvals"]
    assert "1. Summary, 2. Components impacted" in history[0]["comment"]
    assert sorted(change.edits.values_list("field", flat=True)) == ["components", "summary"]
