"""The transition log: exactly one row per transition, with actor and comment, and
append-only."""

from __future__ import annotations

import pytest

from tests.factories import ChangeFactory, TicketFactory, complete_checklist
from tickets.errors import PermissionRefused
from tickets.models import Change, Ticket, TransitionLog
from tickets.services import (
    change_propose_window,
    change_transition,
    scenario_record_result,
    ticket_comment,
    ticket_transition,
)


def test_a_whole_change_writes_one_row_per_transition(cast) -> None:
    from datetime import timedelta

    from django.utils import timezone

    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    steps = [
        (cast.agent, "submit", {}),
        (cast.qa, "approve", {"role": "qa"}),
        (cast.peer, "approve", {"role": "peer"}),
        (cast.ops, "approve", {"role": "operations"}),
        (cast.alice, "business_approve", {}),
    ]
    for user, name, params in steps:
        change_transition(
            change=change.pk, by=user, name=name, comment=f"{name} by {user}", **params
        )
    start = timezone.now() + timedelta(days=2)
    change_propose_window(
        change=change.pk, by=cast.agent, start=start, end=start + timedelta(hours=1)
    )
    change_transition(change=change.pk, by=cast.alice, name="agree_window")
    complete_checklist(change, cast.agent)
    change_transition(change=change.pk, by=cast.agent, name="perform")
    for s in change.scenarios.all():
        scenario_record_result(scenario=s.pk, by=cast.alice, result="passed")
    change_transition(change=change.pk, by=cast.alice, name="close", resolution="successful")

    rows = list(TransitionLog.objects.filter(change=change).order_by("id"))
    assert [(r.transition, r.source, r.target, r.actor.username) for r in rows] == [
        ("submit", "draft", "awaiting_approval", "agent"),
        ("approve", "awaiting_approval", "awaiting_approval", "qa"),
        ("approve", "awaiting_approval", "awaiting_approval", "peer"),
        ("approve", "awaiting_approval", "to_be_reviewed_by_business", "ops"),
        ("business_approve", "to_be_reviewed_by_business", "to_be_released", "alice"),
        ("agree_window", "to_be_released", "to_be_released", "alice"),
        ("perform", "to_be_released", "in_testing", "agent"),
        ("close", "in_testing", "done", "alice"),
    ]
    assert rows[0].comment == "submit by agent"
    assert Change.objects.get(pk=change.pk).status == "done"


def test_refused_transitions_write_nothing(cast) -> None:
    ticket = TicketFactory(organization=cast.acme)
    with pytest.raises(PermissionRefused):
        ticket_transition(ticket=ticket.pk, by=cast.alice, name="needs_work")
    assert not TransitionLog.objects.exists()
    ticket_comment(ticket=ticket.pk, by=cast.agent, body="On it.")
    assert TransitionLog.objects.count() == 1


def test_log_rows_cannot_be_changed_or_deleted(cast) -> None:
    ticket = TicketFactory(organization=cast.acme, status=Ticket.S.TO_DO)
    ticket_transition(ticket=ticket.pk, by=cast.agent, name="start", comment="Mine.")
    row = TransitionLog.objects.get()
    row.comment = "rewritten"
    with pytest.raises(TypeError, match="append-only"):
        row.save()
    with pytest.raises(TypeError, match="append-only"):
        row.delete()
    with pytest.raises(TypeError, match="append-only"):
        TransitionLog.objects.filter(pk=row.pk).update(comment="x")
    with pytest.raises(TypeError, match="append-only"):
        TransitionLog.objects.all().delete()
    assert TransitionLog.objects.get().comment == "Mine."
