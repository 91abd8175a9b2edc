"""Every endpoint and method, called by a customer of another organisation (bob, Globex)
on Acme's objects: 404 with the very answer a missing object gets, and nothing changed in
the database. Collections never show Acme's rows to bob, and refuse to write into Acme."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.forms.models import model_to_dict
from knox.models import AuthToken

from approvals.models import Approval
from notifications.models import Delivery, Notification
from tests.factories import (
    NEXT_YEAR,
    ChangeFactory,
    ComponentFactory,
    ComponentVersionFactory,
    TicketCommentFactory,
    TicketFactory,
    propose_window,
)
from tickets.api.enums import CHANGE_TRANSITIONS, TICKET_TRANSITIONS
from tickets.models import (
    Change,
    ChangeComponent,
    ChecklistItem,
    Component,
    ComponentVersion,
    Organization,
    SectionEdit,
    TestScenario,
    Ticket,
    TicketComment,
    TransitionLog,
)

V1 = "/api/v1"
MODELS = [
    Organization,
    Component,
    ComponentVersion,
    Ticket,
    TicketComment,
    Change,
    ChangeComponent,
    TestScenario,
    ChecklistItem,
    TransitionLog,
    SectionEdit,
    Approval,
    Notification,
    Delivery,
    AuthToken,
]


def snapshot() -> dict[str, list[dict[str, Any]]]:
    return {m.__name__: [model_to_dict(o) for o in m.objects.order_by("pk")] for m in MODELS}


@pytest.fixture
def acme(cast) -> dict[str, Any]:
    """Acme's objects, in states where most requests would do something for Acme's users."""
    component = ComponentFactory(organization=cast.acme)
    ComponentVersionFactory(component=component)
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice, status=Ticket.S.IN_TESTING)
    TicketCommentFactory(ticket=ticket, author=cast.alice)
    change = ChangeFactory(
        organization=cast.acme, author=cast.agent, status=Change.S.TO_BE_REVIEWED_BY_BUSINESS
    )
    propose_window(change, cast.agent)
    return {
        "org": cast.acme.pk,
        "component": component.pk,
        "ticket": ticket.pk,
        "change": change.pk,
        "scenario": change.scenarios.get(kind="progression").pk,
        "item": change.checklist.first().pk,
    }


BODIES = {
    "comment": {"comment": "Let me in."},
    "approve": {"comment": "ok", "role": "qa"},
    "close": {"resolution": "follow_up_release"},
}


def _requests(o: dict[str, Any], ticket: str, change: str) -> list[tuple[str, str, Any]]:
    t, c = f"{V1}/tickets/{ticket}", f"{V1}/changes/{change}"
    window = {
        "start": f"{NEXT_YEAR}-01-01T10:00:00+01:00",
        "end": f"{NEXT_YEAR}-01-01T11:00:00+01:00",
    }
    rows: list[tuple[str, str, Any]] = [
        ("get", f"{V1}/organizations/{o['org']}/", None),
        ("get", f"{V1}/components/{o['component']}/", None),
        ("get", f"{t}/", None),
        ("patch", f"{t}/", {"title": "Taken over"}),
        ("get", f"{t}/comments/", None),
        ("post", f"{t}/comments/", {"body": "Hello from Globex"}),
        ("get", f"{t}/transitions/", None),
        ("get", f"{t}/history/", None),
        ("get", f"{c}/", None),
        ("patch", f"{c}/", {"title": "Taken over"}),
        ("get", f"{c}/transitions/", None),
        ("put", f"{c}/window/", window),
        ("get", f"{c}/scenarios/", None),
        ("post", f"{c}/scenarios/", {"kind": "regression", "description": "x"}),
        ("patch", f"{c}/scenarios/{o['scenario']}/", {"result": "failed"}),
        ("delete", f"{c}/scenarios/{o['scenario']}/", None),
        ("get", f"{c}/checklist/", None),
        ("patch", f"{c}/checklist/{o['item']}/", {"state": "done"}),
        ("get", f"{c}/communications/", None),
        ("get", f"{c}/history/", None),
    ]
    rows += [("post", f"{t}/transitions/{n}/", BODIES["comment"]) for n, _ in TICKET_TRANSITIONS]
    rows += [
        ("post", f"{c}/transitions/{n}/", BODIES.get(n, BODIES["comment"]))
        for n, _ in CHANGE_TRANSITIONS
    ]
    return rows


def _call(client: Any, method: str, path: str, body: Any) -> Any:
    return (
        getattr(client, method)(path, body) if body is not None else getattr(client, method)(path)
    )


def _without_numbers(text: str) -> str:
    return re.sub(r"\d+", "N", text)


@pytest.mark.parametrize("by_key", [False, True], ids=["id", "key"])
def test_another_organisations_objects_are_not_found(cast, api, acme, by_key) -> None:
    bob = api("bob")
    ticket = f"SUP-{acme['ticket']}" if by_key else acme["ticket"]
    change = f"CHG-{acme['change']}" if by_key else acme["change"]
    missing = _requests(
        dict.fromkeys(acme, 999999),
        "SUP-999999" if by_key else 999_999,
        "CHG-999999" if by_key else 999_999,
    )
    before = snapshot()
    for (method, path, body), (_, missing_path, _) in zip(
        _requests(acme, ticket, change), missing, strict=True
    ):
        answer = _call(bob, method, path, body)
        assert answer.status_code == 404, (method, path, answer.status_code, answer.content)
        assert answer.json()["code"] == "not_found"
        # The same answer as for an object that does not exist at all: nothing leaks.
        absent = _call(bob, method, missing_path, body)
        assert absent.status_code == 404
        assert _without_numbers(answer.json()["detail"]) == _without_numbers(
            absent.json()["detail"]
        ), (method, path)
    assert snapshot() == before


def test_nested_rows_of_another_organisation_are_not_found_under_ones_own(cast, api, acme):
    """Bob's own change, with Acme's scenario or checklist item in the path."""
    bob, agent = api("bob"), api("agent")
    own = ChangeFactory(organization=cast.globex, author=cast.agent)
    before = snapshot()
    for method, path, body in [
        ("patch", f"{V1}/changes/{own.pk}/scenarios/{acme['scenario']}/", {"result": "failed"}),
        ("delete", f"{V1}/changes/{own.pk}/scenarios/{acme['scenario']}/", None),
        ("patch", f"{V1}/changes/{own.pk}/checklist/{acme['item']}/", {"state": "done"}),
    ]:
        answer = _call(bob, method, path, body)
        assert answer.status_code == 404, (method, path, answer.content)
    # And for provider staff, a row of another change is not found under this one either.
    answer = agent.patch(f"{V1}/changes/{own.pk}/checklist/{acme['item']}/", {"state": "done"})
    assert answer.status_code == 404
    assert snapshot() == before


def test_collections_show_and_take_nothing_of_another_organisation(cast, api, acme) -> None:
    bob, agent = api("bob"), api("agent")
    own_ticket = TicketFactory(organization=cast.globex, reporter=cast.bob)
    own_change = ChangeFactory(organization=cast.globex, author=cast.agent)
    lists = {
        "organizations": [cast.globex.pk],
        "components": list(
            Component.objects.filter(organization=cast.globex).values_list("pk", flat=True)
        ),
        "tickets": [own_ticket.pk],
        "changes": [own_change.pk],
    }
    for name, expected in lists.items():
        rows = bob.get(f"{V1}/{name}/").json()["results"]
        assert [r["id"] for r in rows] == expected, name
        filtered = bob.get(f"{V1}/{name}/", {"organization": acme["org"]})
        if name != "organizations":
            assert filtered.json()["count"] == 0, name
    assert bob.get(f"{V1}/tickets/", {"change": f"CHG-{acme['change']}"}).json()["count"] == 0
    assert bob.get(f"{V1}/tickets/", {"search": f"SUP-{acme['ticket']}"}).json()["count"] == 0
    assert bob.get(f"{V1}/changes/", {"component": acme["component"]}).json()["count"] == 0

    before = snapshot()
    refused = [
        bob.post(
            f"{V1}/changes/",
            {"organization": acme["org"], "title": "Mine now", "performer": "customer"},
        ),
        bob.post(
            f"{V1}/changes/",
            {
                "organization": cast.globex.pk,
                "title": "Mine now",
                "performer": "customer",
                "component_versions": [{"component": acme["component"], "target_version": "9"}],
            },
        ),
        bob.patch(f"{V1}/changes/{own_change.pk}/", {"tickets": [f"SUP-{acme['ticket']}"]}),
        bob.post(
            f"{V1}/components/",
            {"organization": acme["org"], "name": "Mine", "versions": {"uat": "1"}},
        ),
    ]
    assert [r.status_code for r in refused] == [400, 400, 403, 403]
    # Section edits of bob's own change are refused for being provider-written, so the
    # attach refusal is shown by provider staff: Acme's ticket cannot join Globex's change.
    answer = agent.patch(f"{V1}/changes/{own_change.pk}/", {"tickets": [acme["ticket"]]})
    assert answer.status_code == 400 and "another organisation" in answer.json()["detail"]
    assert snapshot() == before


def test_another_users_token_cannot_be_revoked(cast, api) -> None:
    alice, bob = api("alice"), api("bob")
    key = alice.get(f"{V1}/auth/tokens/").json()["results"][0]["token_key"]
    assert bob.delete(f"{V1}/auth/tokens/{key}/").status_code == 404
    assert alice.get(f"{V1}/me/").status_code == 200
