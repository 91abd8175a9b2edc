"""`manage.py seed_volume`: the benchmark desk, at a tiny size, read back through the
domain. The proportions are the issue's; the rows must be ones the workflow could have
written (statuses reached by logged transitions, approvals by distinct people, tickets in
changes of their own organisation), and the pages must answer on them."""

from __future__ import annotations

from collections import Counter
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from approvals.models import Approval
from notifications.models import Delivery
from tickets import services
from tickets.models import (
    Change,
    ChangeStatus,
    Ticket,
    TicketComment,
    TicketStatus,
    TransitionLog,
    User,
)

N = 200


@pytest.fixture
def seeded(db, settings):
    settings.DEBUG = True
    out = StringIO()
    call_command("seed_volume", "--tickets", str(N), stdout=out)
    return out.getvalue()


def test_proportions_are_the_issues(seeded) -> None:
    assert Ticket.objects.count() == N
    assert Change.objects.count() == N // 5
    assert 2 * N <= TicketComment.objects.count() <= 4 * N
    staff_notices = Delivery.objects.filter(user__kind=User.Kind.PROVIDER).count()
    assert 0.8 * N <= staff_notices <= 1.6 * N
    assert Ticket.objects.values("organization").distinct().count() >= 2
    assert "Seeded in" in seeded


def test_demo_accounts_can_log_in(seeded) -> None:
    users = {u.username: u for u in User.objects.filter(username__in=["agent", "ops", "alice"])}
    assert users["agent"].is_support_agent and users["ops"].is_operations_manager
    assert users["alice"].organization.name == "Acme Corp"
    assert all(u.check_password("demo") for u in users.values())


def test_rows_are_ones_the_workflow_could_have_written(seeded) -> None:
    assert set(Ticket.objects.values_list("status", flat=True)) <= set(TicketStatus.values)
    assert set(Change.objects.values_list("status", flat=True)) <= set(ChangeStatus.values)
    keys = [t.key for t in Ticket.objects.all()] + [c.key for c in Change.objects.all()]
    assert len(keys) == len(set(keys))
    for ticket in Ticket.objects.filter(change__isnull=False).select_related("change"):
        assert ticket.change.organization_id == ticket.organization_id
    # A ticket is done only once a change released it and the customer accepted it.
    assert not Ticket.objects.filter(status=TicketStatus.DONE, change__isnull=True).exists()

    # Each row's log is a path ending in its status (no log: the initial status).
    last: dict[tuple[str, int], str] = {}
    for log in TransitionLog.objects.order_by("at", "id"):
        subject = ("t", log.ticket_id) if log.ticket_id else ("c", log.change_id)
        assert last.get(subject, log.source) == log.source or log.source == log.target
        last[subject] = log.target
    for t in Ticket.objects.all():
        assert last.get(("t", t.pk), TicketStatus.WAITING_FOR_SUPPORT) == t.status
    for c in Change.objects.all():
        assert last.get(("c", c.pk), ChangeStatus.DRAFT) == c.status


def test_changes_past_approval_are_complete_and_approved_by_three_people(seeded) -> None:
    approved = [ChangeStatus.TO_BE_REVIEWED_BY_BUSINESS, ChangeStatus.TO_BE_RELEASED,
                ChangeStatus.IN_TESTING, ChangeStatus.ROLLED_BACK, ChangeStatus.DONE]  # fmt: skip
    changes = Change.objects.prefetch_related("change_components", "scenarios", "checklist")
    checked = 0
    for change in changes.exclude(status__in=[ChangeStatus.DRAFT, ChangeStatus.CANCELLED]):
        assert change.incomplete_sections() == [], change.key
        if change.status not in approved:
            continue
        given = Approval.objects.filter(
            change=change, round=change.approval_round, decision="approved"
        ).exclude(role="business")
        assert Counter(a.role for a in given) == {"qa": 1, "peer": 1, "operations": 1}
        assert len({a.by_id for a in given}) == 3
        assert all(a.by_id != change.author_id for a in given if a.role == "peer")
        checked += 1
    assert checked > 0


def test_pages_answer_and_the_desk_goes_on(seeded, client) -> None:
    client.force_login(User.objects.get(username="agent"))
    assert client.get("/staff/").status_code == 200
    assert client.get("/api/v1/changes/").status_code == 200
    client.force_login(User.objects.get(username="alice"))
    assert client.get("/portal/").status_code == 200
    # The id sequences were moved past the seeded rows.
    alice = User.objects.get(username="alice")
    ticket = services.ticket_create(by=alice, title="After the seed")
    assert ticket.pk > max(Ticket.objects.exclude(pk=ticket.pk).values_list("pk", flat=True))


def test_refuses_with_debug_off_or_on_a_desk_with_data(db, settings) -> None:
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("seed_volume", "--tickets", "10", stdout=StringIO())
    assert not Ticket.objects.exists()
    settings.DEBUG = True
    call_command("seed_volume", "--tickets", "10", stdout=StringIO())
    with pytest.raises(CommandError, match="already has"):
        call_command("seed_volume", "--tickets", "10", stdout=StringIO())
    call_command("seed_volume", "--tickets", "10", "--add", stdout=StringIO())
    assert Ticket.objects.count() == 20
    assert User.objects.filter(username="alice").count() == 1


def test_keys_written_without_per_row_checks_are_checked_after(seeded) -> None:
    from django.db import connection

    from benchmarks.volume import Seeder

    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            "UPDATE tickets_ticketcomment SET ticket_id = 999999999 "
            "WHERE id = (SELECT min(id) FROM tickets_ticketcomment)"
        )
        cursor.execute("RESET session_replication_role")
    seeder = Seeder(1, seed=1, out=StringIO())
    with pytest.raises(CommandError, match=r"TicketComment\.ticket: 1"):
        seeder._check_keys(dict.fromkeys(seeder.tables, 1))
