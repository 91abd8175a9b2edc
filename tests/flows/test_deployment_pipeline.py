"""A CI/CD pipeline deploying a provider-performed change with the support agent's token:
it asks the gate, records the deployment by taking `perform`, and takes `roll_back` when
its checks after the deployment fail (API.md, "Deployment gate and webhooks")."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.support import Api, isolated_cache, ok  # noqa: F401 - a fixture
from tests.api.test_gate import open_window
from tests.factories import ChangeFactory, TicketFactory
from tickets.models import ChangeStatus, Performer, Ticket, TicketStatus

V1 = "/api/v1"

pytestmark = pytest.mark.usefixtures("isolated_cache")


def test_a_pipeline_deploys_then_rolls_back(cast) -> None:
    change = ChangeFactory(
        organization=cast.acme,
        author=cast.agent,
        performer=Performer.PROVIDER,
        status=ChangeStatus.TO_BE_RELEASED,
    )
    ticket = TicketFactory(
        organization=cast.acme, reporter=cast.alice, status=TicketStatus.TO_BE_RELEASED
    )
    Ticket.objects.filter(pk=ticket.pk).update(change=change)
    open_window(change, cast, start=-timedelta(minutes=1), end=timedelta(hours=2))
    pipeline = Api.of(cast.agent)
    gate = f"{V1}/changes/{change.key}/gate/"

    # The checklist is not filled in yet: the pipeline stops and says so.
    refused = ok(pipeline.get(gate))
    assert refused["allowed"] is False
    assert refused["reasons"][0].startswith("Checklist items still pending: ")
    for item in ok(pipeline.get(f"{V1}/changes/{change.key}/checklist/"))["results"]:
        ok(pipeline.patch(f"{V1}/changes/{change.key}/checklist/{item['id']}/", {"state": "done"}))
    allowed = ok(pipeline.get(gate))
    assert allowed["allowed"] is True and allowed["reasons"] == []

    # Deployed: the pipeline records it; the attached ticket goes to testing with it.
    performed = ok(
        pipeline.post(
            f"{V1}/changes/{change.key}/transitions/perform/", {"comment": "Pipeline run #812."}
        )
    )
    assert performed["status"] == "in_testing"
    assert ok(pipeline.get(f"{V1}/tickets/{ticket.key}/"))["status"] == "in_testing"
    # Performed once: asking the gate again is a refusal that says why.
    assert ok(pipeline.get(gate))["reasons"] == [
        "The change is In testing: only an approved change, To be released, may be deployed."
    ]

    # The smoke tests failed: the pipeline follows the rollback procedure and records it.
    rolled = ok(
        pipeline.post(
            f"{V1}/changes/{change.key}/transitions/roll_back/",
            {"comment": "Smoke tests failed (run #812); previous image redeployed."},
        )
    )
    assert rolled["status"] == "rolled_back"
    history = ok(pipeline.get(f"{V1}/changes/{change.key}/history/"))["results"]
    assert [(h["transition"], h["actor"]) for h in history][-2:] == [
        ("perform", "agent"),
        ("roll_back", "agent"),
    ]
