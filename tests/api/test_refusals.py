"""Refusals over HTTP: each role-refused transition answers 403, each wrong-state or
guard-refused one 409, each malformed body 400 naming the field; a refused request
changes nothing. The oracle is WORKFLOW.md's tables as transcribed for the domain tests."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from approvals.models import Approval
from tests.factories import (
    NEXT_YEAR,
    ChangeFactory,
    TicketFactory,
    UserFactory,
    complete_checklist,
    propose_window,
)
from tests.tickets.test_transition_matrix import CHANGE_TABLE, TICKET_TABLE
from tickets.models import Change, ChangeStatus, Ticket, TicketStatus, TransitionLog

V1 = "/api/v1"
PERSONAS = ["agent", "agent2", "qa", "peer", "ops", "alice"]  # bob: see test_isolation.py
PROVIDERS = set(PERSONAS) - {"alice"}


def _side(persona: str) -> str:
    return "customer" if persona == "alice" else "provider"


def _ticket(cast, status: str) -> Ticket:
    extra = {"held_from": TicketStatus.IN_PROGRESS} if status == TicketStatus.ON_HOLD else {}
    return TicketFactory(organization=cast.acme, reporter=cast.alice, status=status, **extra)


def _change(cast, status: str, performer: str = "provider", *, agreed: bool = False) -> Change:
    change = ChangeFactory(
        organization=cast.acme, author=cast.agent, performer=performer, status=status
    )
    propose_window(change, cast.agent, agreed_by=cast.alice if agreed else None)
    complete_checklist(change, cast.agent)
    return change


def _body(name: str, persona: str = "qa", source: str = "") -> dict[str, str]:
    body = {"comment": "Because."}
    if name == "approve":
        body["role"] = {"qa": "qa", "ops": "operations"}.get(persona, "peer")
    if name == "close":
        body["resolution"] = (
            "rolled_back" if source == ChangeStatus.ROLLED_BACK else "follow_up_release"
        )
    return body


def _manual(table: dict[str, Any]) -> list[str]:
    return [name for name, row in table.items() if row[-1] == "manual"]


# --------------------------------------------------------------------------- 403


def _ticket_role_refusals() -> list[tuple[str, str, str]]:
    return [
        (name, source, persona)
        for name in _manual(TICKET_TABLE)
        for source in TICKET_TABLE[name][0]
        for persona in PERSONAS
        if _side(persona) not in TICKET_TABLE[name][2]
    ]


@pytest.mark.parametrize(("name", "source", "persona"), _ticket_role_refusals())
def test_ticket_transition_refused_for_the_role_is_403(cast, api, name, source, persona):
    ticket = _ticket(cast, source)
    answer = api(persona).post(f"{V1}/tickets/{ticket.key}/transitions/{name}/", _body(name))
    assert answer.status_code == 403, answer.content
    assert answer.json()["code"] == "permission_denied"
    assert "may do this" in answer.json()["detail"]
    assert Ticket.objects.get(pk=ticket.pk).status == source
    assert not TransitionLog.objects.filter(ticket=ticket).exists()


def _change_role_refusals() -> list[tuple[str, str, str, str]]:
    return [
        (name, source, performer, persona)
        for name in _manual(CHANGE_TABLE)
        for source, performer, persona in itertools.product(
            CHANGE_TABLE[name][0], ["provider", "customer"], PERSONAS
        )
        if not CHANGE_TABLE[name][2](persona, performer)
    ]


@pytest.mark.parametrize(("name", "source", "performer", "persona"), _change_role_refusals())
def test_change_transition_refused_for_the_role_is_403(cast, api, name, source, performer, persona):
    change = _change(cast, source, performer, agreed=name == "perform")
    answer = api(persona).post(
        f"{V1}/changes/{change.key}/transitions/{name}/", _body(name, persona, source)
    )
    assert answer.status_code == 403, answer.content
    assert answer.json()["code"] == "permission_denied" and answer.json()["detail"]
    assert Change.objects.get(pk=change.pk).status == source
    assert not TransitionLog.objects.filter(change=change).exists()
    assert not Approval.objects.filter(change=change).exists()


def test_four_eyes_and_one_approval_per_person_are_403(cast, api) -> None:
    change = _change(cast, ChangeStatus.AWAITING_APPROVAL)
    url = f"{V1}/changes/{change.key}/transitions/approve/"
    author = api("agent").post(url, {"role": "peer"})
    assert author.status_code == 403
    assert "Peer approval must come from someone else" in author.json()["detail"]
    assert api("qa").post(url, {"role": "qa"}).status_code == 200
    second = api("qa").post(url, {"role": "peer"})
    assert second.status_code == 403
    assert "one person gives only one of its approvals" in second.json()["detail"]
    assert list(Approval.objects.filter(change=change).values_list("role", flat=True)) == ["qa"]


def test_customer_edits_of_a_provider_change_are_403(cast, api) -> None:
    change = _change(cast, ChangeStatus.DRAFT)
    answer = api("alice").patch(f"{V1}/changes/{change.key}/", {"summary": "Mine."})
    assert answer.status_code == 403
    assert Change.objects.get(pk=change.pk).summary != "Mine."
    assert (
        api("alice")
        .post(f"{V1}/components/", {"organization": cast.acme.pk, "name": "x"})
        .status_code
        == 403
    )


# --------------------------------------------------------------------------- 409


def _ticket_wrong_states() -> list[tuple[str, str]]:
    return [
        (name, status)
        for name in _manual(TICKET_TABLE)
        for status in TicketStatus.values
        if status not in TICKET_TABLE[name][0]
    ]


@pytest.mark.parametrize(("name", "status"), _ticket_wrong_states())
def test_ticket_transition_in_the_wrong_status_is_409(cast, api, name, status):
    ticket = _ticket(cast, status)
    persona = "alice" if "customer" in TICKET_TABLE[name][2] else "agent"
    answer = api(persona).post(f"{V1}/tickets/{ticket.pk}/transitions/{name}/", _body(name))
    assert answer.status_code == 409, answer.content
    assert answer.json()["code"] == "wrong_state"
    assert Ticket.objects.get(pk=ticket.pk).status == status


def _change_wrong_states() -> list[tuple[str, str]]:
    return [
        (name, status)
        for name in _manual(CHANGE_TABLE)
        for status in ChangeStatus.values
        if status not in CHANGE_TABLE[name][0]
    ]


@pytest.mark.parametrize(("name", "status"), _change_wrong_states())
def test_change_transition_in_the_wrong_status_is_409(cast, api, name, status):
    change = _change(cast, status)
    persona = next(p for p in PERSONAS if CHANGE_TABLE[name][2](p, "provider"))
    answer = api(persona).post(
        f"{V1}/changes/{change.pk}/transitions/{name}/", _body(name, persona, status)
    )
    assert answer.status_code == 409, answer.content
    assert answer.json()["code"] == "wrong_state"
    assert Change.objects.get(pk=change.pk).status == status


@pytest.mark.parametrize(
    ("setup", "persona", "name", "body", "says"),
    [
        ("incomplete", "agent", "submit", {}, "1. Summary"),
        ("outage_without_plan", "agent", "submit", {}, "communication plan"),
        ("no_window", "alice", "agree_window", {}, "No deployment window"),
        ("unagreed", "agent", "perform", {}, "not been agreed"),
        ("checklist_pending", "agent", "perform", {}, "Checklist items still pending"),
        ("unpassed", "alice", "close", {"resolution": "successful"}, "every test scenario"),
        ("in_testing", "alice", "close", {"resolution": "rolled_back"}, "Roll the change back"),
    ],
)
def test_guards_refuse_with_409_and_say_which(cast, api, setup, persona, name, body, says):
    S = ChangeStatus
    if setup == "incomplete":
        change = ChangeFactory(organization=cast.acme, author=cast.agent, summary="")
    elif setup == "outage_without_plan":
        change = ChangeFactory(
            organization=cast.acme,
            author=cast.agent,
            outage_expected=True,
            outage_duration_minutes=30,
        )
    elif setup == "no_window":
        change = ChangeFactory(organization=cast.acme, author=cast.agent, status=S.TO_BE_RELEASED)
    elif setup == "checklist_pending":
        change = ChangeFactory(organization=cast.acme, author=cast.agent, status=S.TO_BE_RELEASED)
        propose_window(change, cast.agent, agreed_by=cast.alice)
    else:
        status = S.TO_BE_RELEASED if setup == "unagreed" else S.IN_TESTING
        change = _change(cast, status)
    before = Change.objects.get(pk=change.pk).status
    answer = api(persona).post(f"{V1}/changes/{change.key}/transitions/{name}/", body)
    assert answer.status_code == 409, answer.content
    assert answer.json()["code"] == "guard_failed"
    assert says in answer.json()["detail"]
    assert Change.objects.get(pk=change.pk).status == before


def test_other_state_refusals_are_409(cast, api) -> None:
    S = ChangeStatus
    testing = _change(cast, S.IN_TESTING)
    edit = api("agent").patch(f"{V1}/changes/{testing.key}/", {"summary": "Later."})
    assert edit.status_code == 409 and edit.json()["code"] == "wrong_state"
    draft = _change(cast, S.DRAFT)
    scenario = draft.scenarios.get(kind="progression")
    result = api("alice").patch(
        f"{V1}/changes/{draft.key}/scenarios/{scenario.pk}/", {"result": "passed"}
    )
    assert result.status_code == 409 and "In testing" in result.json()["detail"]
    # Two QA people: the QA approval of the round is taken once.
    UserFactory(username="qa2", is_qa=True)
    awaiting = _change(cast, S.AWAITING_APPROVAL)
    url = f"{V1}/changes/{awaiting.key}/transitions/approve/"
    assert api("qa").post(url, {"role": "qa"}).status_code == 200
    from tests.api.support import Api

    taken = Api("qa2").post(url, {"role": "qa"})
    assert taken.status_code == 409 and "already given" in taken.json()["detail"]


def test_stale_if_match_is_409(cast, api) -> None:
    change = _change(cast, ChangeStatus.DRAFT)
    agent = api("agent")
    etag = agent.get(f"{V1}/changes/{change.key}/").headers["ETag"]
    assert (
        agent.patch(
            f"{V1}/changes/{change.key}/", {"summary": "One."}, HTTP_IF_MATCH=etag
        ).status_code
        == 200
    )
    stale = agent.patch(f"{V1}/changes/{change.key}/", {"summary": "Two."}, HTTP_IF_MATCH=etag)
    assert stale.status_code == 409 and stale.json()["code"] == "stale"
    assert Change.objects.get(pk=change.pk).summary == "One."
    ticket = _ticket(cast, TicketStatus.TO_DO)
    stale = agent.patch(f"{V1}/tickets/{ticket.key}/", {"title": "New"}, HTTP_IF_MATCH='"nope"')
    assert stale.status_code == 409 and stale.json()["code"] == "stale"


# --------------------------------------------------------------------------- 400


def _post(api, persona: str, path: str, body: Any) -> Any:
    return api(persona).post(path, body)


MALFORMED = [
    # (who, method, path template, body, the field named)
    ("alice", "post", "changes/{testing}/transitions/close/", {}, "resolution"),
    ("alice", "post", "changes/{testing}/transitions/close/", {"resolution": "fine"}, "resolution"),
    ("qa", "post", "changes/{awaiting}/transitions/approve/", {}, "role"),
    ("qa", "post", "changes/{awaiting}/transitions/approve/", {"role": "boss"}, "role"),
    ("qa", "post", "changes/{awaiting}/transitions/reject/", {}, "comment"),
    ("agent", "post", "changes/{draft}/transitions/cancel/", {"comment": "  "}, "comment"),
    ("agent", "post", "changes/{testing}/transitions/roll_back/", {}, "comment"),
    ("agent", "post", "changes/{draft}/transitions/submit/", {"role": "qa"}, "role"),
    ("agent", "post", "changes/{draft}/transitions/teleport/", {}, "transition"),
    ("agent", "post", "changes/{draft}/transitions/submit/", {"comment": 5}, "comment"),
    ("alice", "post", "tickets/{ticket}/transitions/hold/", {}, "comment"),
    ("alice", "post", "tickets/{ticket}/comments/", {}, "body"),
    ("alice", "post", "tickets/{ticket}/comments/", {"body": "x", "public": "yes"}, "public"),
    ("alice", "post", "tickets/", {"description": "no title"}, "title"),
    ("alice", "post", "tickets/", {"title": "t", "type": "complaint"}, "type"),
    ("agent", "post", "tickets/", {"title": "t"}, "organization"),
    ("alice", "patch", "tickets/{ticket}/", {"status": "done"}, "status"),
    ("agent", "patch", "tickets/{ticket}/", {"assignee": "nobody"}, "assignee"),
    ("agent", "patch", "changes/{draft}/", {"status": "done"}, "status"),
    ("agent", "patch", "changes/{draft}/", {"titel": "typo"}, "titel"),
    ("agent", "patch", "changes/{draft}/", {"title": ""}, "title"),
    (
        "agent",
        "patch",
        "changes/{draft}/",
        {"outage_duration_minutes": 0},
        "outage_duration_minutes",
    ),
    ("agent", "patch", "changes/{draft}/", {"outage_expected": "yes"}, "outage_expected"),
    ("agent", "patch", "changes/{draft}/", {"tickets": ["CHG-1"]}, "tickets.0"),
    ("agent", "patch", "changes/{draft}/", {"tickets": ["{ticket}"]}, "tickets"),
    ("agent", "patch", "changes/{draft}/", {"environment": "staging"}, "environment"),
    (
        "agent",
        "patch",
        "changes/{draft}/",
        {"component_versions": [{"component": "one", "target_version": "1"}]},
        "component_versions.0.component",
    ),
    (
        "agent",
        "put",
        "changes/{draft}/window/",
        {"start": f"{NEXT_YEAR}-01-01T10:00:00", "end": f"{NEXT_YEAR}-01-01T11:00:00+00:00"},
        "start",
    ),
    (
        "agent",
        "put",
        "changes/{draft}/window/",
        {"start": f"{NEXT_YEAR}-01-01T10:00:00Z", "end": f"{NEXT_YEAR}-01-01T09:00:00Z"},
        "end",
    ),
    ("agent", "post", "changes/{draft}/scenarios/", {"kind": "smoke", "description": "x"}, "kind"),
    ("agent", "patch", "changes/{draft}/checklist/{item}/", {"state": "not_applicable"}, "reason"),
    ("agent", "post", "changes/", {"title": "t"}, "organization"),
    ("agent", "post", "components/", {"organization": "{org}", "name": ""}, "name"),
]


@pytest.mark.parametrize(("persona", "method", "path", "body", "field"), MALFORMED)
def test_malformed_input_is_400_naming_the_field(cast, api, persona, method, path, body, field):
    S = ChangeStatus
    ids = {
        "draft": _change(cast, S.DRAFT).key,
        "awaiting": _change(cast, S.AWAITING_APPROVAL).key,
        "testing": _change(cast, S.IN_TESTING).key,
        "ticket": _ticket(cast, TicketStatus.WAITING_FOR_SUPPORT).key,
        "org": cast.acme.pk,
    }
    ids["item"] = Change.objects.get(pk=ids["draft"][4:]).checklist.first().pk

    def fill(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
            return ids[value[1:-1]]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    answer = getattr(api(persona), method)(f"{V1}/{path.format(**ids)}", fill(body))
    assert answer.status_code == 400, answer.content
    data = answer.json()
    assert field in data["fields"], data
    assert data["code"] == "invalid" and data["detail"]


def test_bodies_that_are_not_json_objects_are_400(cast, api) -> None:
    client = api("alice").client
    broken = client.post(f"{V1}/tickets/", "{not json", content_type="application/json")
    assert broken.status_code == 400 and "body" in broken.json()["fields"]
    listed = client.post(f"{V1}/tickets/", "[1, 2]", content_type="application/json")
    assert listed.status_code == 400 and "non_field_errors" in listed.json()["fields"]
    form = client.post(f"{V1}/tickets/", {"title": "x"}, format="multipart")
    assert form.status_code == 415 and form.json()["detail"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"page_size": "201"}, "page_size"),
        ({"page_size": "0"}, "page_size"),
        ({"page": "first"}, "page"),
        ({"status": "open"}, "status"),
        ({"waiting_on": "nobody"}, "waiting_on"),
        ({"organization": "acme"}, "organization"),
        ({"change": "SUP-3"}, "change"),
        ({"ordering": "colour"}, "ordering"),
        ({"status": ""}, "status"),
        ({"ordering": ","}, "ordering"),  # found by the schema's fuzzing
        ({"ordering": "-updated,"}, "ordering"),
    ],
)
def test_bad_list_parameters_are_400_naming_them(cast, api, query, field) -> None:
    answer = api("agent").get(f"{V1}/tickets/", query)
    assert answer.status_code == 400, answer.content
    assert field in answer.json()["fields"]


def test_a_page_past_the_last_is_404(cast, api) -> None:
    answer = api("agent").get(f"{V1}/tickets/", {"page": "9"})
    assert answer.status_code == 404 and "Page 9" in answer.json()["detail"]


@pytest.mark.parametrize("kind", ["tickets", "changes"])
def test_reading_a_missing_object_is_refused_in_the_words_of_every_other_verb(
    cast, api, kind
) -> None:
    """GET reads the object with its representation in one query; a missing one is the
    same 404 as PATCH gets on it."""
    agent = api("agent")
    read = agent.get(f"{V1}/{kind}/987654/")
    edit = agent.client.patch(f"{V1}/{kind}/987654/", {"title": "x"}, format="json")
    assert read.status_code == edit.status_code == 404
    assert read.json()["detail"] == edit.json()["detail"]
