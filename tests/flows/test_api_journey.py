"""A whole change, and a support ticket's whole life, driven only through the REST API
with the tokens of the demo roles (agent, qa, peer, ops for the provider; alice for Acme).

Only the people exist beforehand (the `cast` fixture, and Acme's end-user contacts, who
have no login); everything else is created, moved and read over HTTP, the way an
integrator's script would.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.api.support import Api, isolated_cache, ok  # noqa: F401 - a fixture
from tests.factories import ContactFactory

pytestmark = pytest.mark.usefixtures("isolated_cache")

V1 = "/api/v1"


def _take(who: Api, kind: str, key: str, name: str, **body: str) -> dict:
    return ok(who.post(f"{V1}/{kind}/{key}/transitions/{name}/", body))


def test_a_change_from_draft_to_done(cast) -> None:
    ContactFactory.create_batch(3, organization=cast.acme)
    agent, qa, peer, ops, alice = (Api(u) for u in ("agent", "qa", "peer", "ops", "alice"))
    (acme,) = ok(alice.get(f"{V1}/organizations/"))["results"]
    assert acme["name"] == "Acme Corp"

    # The bug the change will release: raised by the customer, fixed by the provider.
    ticket = ok(
        alice.post(
            f"{V1}/tickets/",
            {"title": "VAT is rounded twice", "description": "Invoice 42.", "type": "bug"},
        ),
        201,
    )
    sup = ticket["key"]
    assert ticket["status"] == "waiting_for_support"
    for name in ("needs_work", "start", "ready_for_release"):
        ticket = _take(agent, "tickets", sup, name)
    assert ticket["status"] == "to_be_released"
    assert ticket["assignee"] == "agent"

    component = ok(
        agent.post(
            f"{V1}/components/",
            {
                "organization": acme["id"],
                "name": "Billing service",
                "versions": {"uat": "2.3.0", "production": "2.3.0"},
            },
        ),
        201,
    )

    # The change with its sections; the scenarios and the ticket come next.
    change = ok(
        agent.post(
            f"{V1}/changes/",
            {
                "organization": acme["id"],
                "title": "Billing service 2.4.0",
                "summary": "Fixes the double rounding of VAT.",
                "environment": "uat",
                "performer": "provider",
                "component_versions": [{"component": component["id"], "target_version": "2.4.0"}],
                "outage_expected": True,
                "outage_duration_minutes": 15,
                "impact": "Invoices cannot be opened for up to 15 minutes.",
                "communication_plan": {
                    "audience": "Finance team",
                    "message": "Invoices are unavailable during the upgrade.",
                    "timing": "The day before",
                },
                "deployment_procedure": "1. Deploy 2.4.0. 2. Run the migrations.",
                "rollback_procedure": "1. Redeploy 2.3.0.",
            },
        ),
        201,
    )
    chg = change["key"]
    assert change["status"] == "draft"
    assert [s["section"] for s in change["incomplete_sections"]] == [5, 8]
    assert len(change["checklist"]) == 4

    change = ok(agent.patch(f"{V1}/changes/{chg}/", {"tickets": [sup]}))
    assert change["tickets"] == [ticket["id"]]
    assert sup in change["changelog"]  # section 5 pre-filled from the attached ticket
    for kind, text in (
        ("progression", "An invoice with VAT shows the total rounded once."),
        ("regression", "Invoices without VAT are unchanged."),
    ):
        ok(agent.post(f"{V1}/changes/{chg}/scenarios/", {"kind": kind, "description": text}), 201)
    change = ok(agent.get(f"{V1}/changes/{chg}/"))
    assert change["incomplete_sections"] == []

    names = [t["name"] for t in ok(agent.get(f"{V1}/changes/{chg}/transitions/"))]
    assert "submit" in names
    assert _take(agent, "changes", chg, "submit")["status"] == "awaiting_approval"

    # The three provider approvals; the last one moves the change to the Business review.
    (approve,) = [
        t for t in ok(qa.get(f"{V1}/changes/{chg}/transitions/")) if t["name"] == "approve"
    ]
    assert approve["needs"] == ["role"] and "qa" in approve["roles"]
    assert _take(qa, "changes", chg, "approve", role="qa")["status"] == "awaiting_approval"
    assert _take(peer, "changes", chg, "approve", role="peer")["status"] == "awaiting_approval"
    change = _take(ops, "changes", chg, "approve", role="operations")
    assert change["status"] == "to_be_reviewed_by_business"
    assert change["waiting_on"] == "customer"
    assert {(a["role"], a["by"]) for a in change["approvals"]} == {
        ("qa", "qa"),
        ("peer", "peer"),
        ("operations", "ops"),
    }
    assert _take(alice, "changes", chg, "business_approve")["status"] == "to_be_released"

    # The window: proposed by the provider, agreed by the customer.
    start = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    change = ok(
        agent.put(
            f"{V1}/changes/{chg}/window/",
            {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()},
        )
    )
    assert change["window_agreed"] is False
    change = _take(alice, "changes", chg, "agree_window")
    assert change["window_agreed"] is True and change["window_agreed_by"] == "alice"
    # An outage is expected: agreeing the window announces it to Acme's end users.
    (announcement,) = ok(alice.get(f"{V1}/changes/{chg}/communications/"))["results"]
    assert announcement["kind"] == "announcement"
    assert sum(announcement["deliveries"].values()) == 3

    # The checklist, then perform: the attached ticket goes to testing with it.
    checklist = ok(agent.get(f"{V1}/changes/{chg}/checklist/"))["results"]
    for item in checklist[:-1]:
        ok(agent.patch(f"{V1}/changes/{chg}/checklist/{item['id']}/", {"state": "done"}))
    item = ok(
        agent.patch(
            f"{V1}/changes/{chg}/checklist/{checklist[-1]['id']}/",
            {"state": "not_applicable", "reason": "No load change in this release."},
        )
    )
    assert item["by"] == "agent"
    assert _take(agent, "changes", chg, "perform")["status"] == "in_testing"
    assert ok(alice.get(f"{V1}/tickets/{sup}/"))["status"] == "in_testing"
    kinds = [c["kind"] for c in ok(agent.get(f"{V1}/changes/{chg}/communications/"))["results"]]
    assert sorted(kinds) == ["announcement", "completion"]

    # The customer tests: scenario results, the ticket accepted, the change closed.
    for scenario in ok(alice.get(f"{V1}/changes/{chg}/scenarios/"))["results"]:
        recorded = ok(
            alice.patch(
                f"{V1}/changes/{chg}/scenarios/{scenario['id']}/",
                {"result": "passed", "note": "Checked on invoice 42."},
            )
        )
        assert recorded["result_by"] == "alice"
    assert _take(alice, "tickets", sup, "accept")["status"] == "done"
    change = _take(alice, "changes", chg, "close", resolution="successful")
    assert change["status"] == "done" and change["resolution"] == "successful"
    assert change["waiting_on"] is None

    # A successful close records the released version on the environment.
    assert ok(agent.get(f"{V1}/components/{component['id']}/"))["versions"] == {
        "uat": "2.4.0",
        "production": "2.3.0",
    }
    history = ok(alice.get(f"{V1}/changes/{chg}/history/"))["results"]
    assert [h["transition"] for h in history] == [
        "submit",
        "approve",
        "approve",
        "approve",
        "business_approve",
        "agree_window",
        "perform",
        "close",
    ]
    assert [h["actor"] for h in history][-1] == "alice"
    assert ok(alice.get(f"{V1}/tickets/", {"change": chg}))["count"] == 1


def _release(people: dict[str, Api], org: int, component: int, version: str, sup: str) -> str:
    """A provider-performed change that releases ticket `sup`, from writing to perform."""
    agent, alice = people["agent"], people["alice"]
    chg = ok(
        agent.post(
            f"{V1}/changes/",
            {
                "organization": org,
                "title": f"Exports {version}",
                "summary": "Fixes empty CSV exports.",
                "component_versions": [{"component": component, "target_version": version}],
                "outage_expected": False,
                "impact": "None.",
                "tickets": [sup],
                "deployment_procedure": "Deploy.",
                "rollback_procedure": "Redeploy the previous version.",
            },
        ),
        201,
    )["key"]
    for kind in ("progression", "regression"):
        ok(
            agent.post(
                f"{V1}/changes/{chg}/scenarios/", {"kind": kind, "description": f"Export {kind}."}
            ),
            201,
        )
    _take(agent, "changes", chg, "submit")
    for username, role in (("qa", "qa"), ("peer", "peer"), ("ops", "operations")):
        _take(people[username], "changes", chg, "approve", role=role)
    _take(alice, "changes", chg, "business_approve")
    start = timezone.now() + timedelta(days=1)
    window = {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}
    ok(alice.put(f"{V1}/changes/{chg}/window/", window))
    _take(agent, "changes", chg, "agree_window")
    for item in ok(agent.get(f"{V1}/changes/{chg}/checklist/"))["results"]:
        ok(agent.patch(f"{V1}/changes/{chg}/checklist/{item['id']}/", {"state": "done"}))
    _take(agent, "changes", chg, "perform")
    return chg


def test_a_support_ticket_from_raised_to_done(cast) -> None:
    people = {u: Api(u) for u in ("agent", "qa", "peer", "ops", "alice")}
    agent, alice = people["agent"], people["alice"]
    ticket = ok(
        alice.post(
            f"{V1}/tickets/",
            {"title": "Export fails", "description": "CSV export is empty.", "type": "bug"},
        ),
        201,
    )
    sup = ticket["key"]
    assert ticket["waiting_on"] == "provider"
    assert [t["name"] for t in ok(alice.get(f"{V1}/tickets/{sup}/transitions/"))] == ["hold"]

    # A public reply from the desk answers it; the customer's answer hands it back.
    ok(agent.post(f"{V1}/tickets/{sup}/comments/", {"body": "Which browser?"}), 201)
    assert ok(alice.get(f"{V1}/tickets/{sup}/"))["status"] == "waiting_for_customer"
    ok(
        agent.post(f"{V1}/tickets/{sup}/comments/", {"body": "Looks like #812", "public": False}),
        201,
    )
    ok(alice.post(f"{V1}/tickets/{sup}/comments/", {"body": "Firefox 128."}), 201)
    assert ok(alice.get(f"{V1}/tickets/{sup}/"))["status"] == "waiting_for_support"
    bodies = [c["body"] for c in ok(alice.get(f"{V1}/tickets/{sup}/comments/"))["results"]]
    assert bodies == ["Which browser?", "Firefox 128."]  # the internal note stays internal
    assert len(ok(agent.get(f"{V1}/tickets/{sup}/comments/"))["results"]) == 3

    # Held and resumed, then worked on, with an edit guarded by its ETag.
    held = _take(alice, "tickets", sup, "hold", comment="Quarter close first.")
    assert held["status"] == "on_hold" and held["waiting_on"] is None
    assert _take(agent, "tickets", sup, "resume")["status"] == "waiting_for_support"
    _take(agent, "tickets", sup, "needs_work")
    etag = agent.get(f"{V1}/tickets/{sup}/").headers["ETag"]
    edited = ok(agent.patch(f"{V1}/tickets/{sup}/", {"priority": "high"}, HTTP_IF_MATCH=etag))
    assert edited["priority"] == "high"
    _take(agent, "tickets", sup, "start")
    _take(agent, "tickets", sup, "ready_for_release")

    (acme,) = ok(alice.get(f"{V1}/organizations/"))["results"]
    component = ok(
        agent.post(
            f"{V1}/components/",
            {"organization": acme["id"], "name": "Exports", "versions": {"uat": "1.0.0"}},
        ),
        201,
    )["id"]

    # Released by a change; sending it back needs a comment; the customer accepts it.
    chg = _release(people, acme["id"], component, "1.0.1", sup)
    ticket = ok(alice.get(f"{V1}/tickets/{sup}/"))
    assert ticket["status"] == "in_testing" and ticket["waiting_on"] == "customer"
    assert ticket["change"] == int(chg.removeprefix("CHG-"))
    refused = alice.post(f"{V1}/tickets/{sup}/transitions/send_back/", {})
    assert refused.status_code == 400 and "comment" in refused.json()["fields"]
    done = _take(alice, "tickets", sup, "accept")
    assert done["status"] == "done" and done["waiting_on"] is None
    assert ok(alice.get(f"{V1}/tickets/", {"waiting_on": "customer"}))["count"] == 0

    history = [h["transition"] for h in ok(alice.get(f"{V1}/tickets/{sup}/history/"))["results"]]
    assert history == [
        "reply",
        "customer_reply",
        "hold",
        "resume",
        "needs_work",
        "start",
        "ready_for_release",
        "attach",
        "release",
        "accept",
    ]
