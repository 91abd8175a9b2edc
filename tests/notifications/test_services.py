"""What is recorded, for whom, when: the hooks called by the domain services, inside the
event's transaction. Sending itself is test_sending.py's and test_faults.py's."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from approvals.models import ApprovalRole
from notifications.models import Delivery, DeliveryState, Notification, NotificationKind
from notifications.selectors import changes_due_for_reminder, notices_for, unread_notice_count
from notifications.services import notice_mark_read, notices_mark_all_read, reminders_send_due
from tests.factories import ChangeFactory, TicketFactory, UserFactory, complete_checklist
from tickets.errors import NotVisible
from tickets.models import Change, Contact
from tickets.services import (
    change_propose_window,
    change_transition,
    change_update,
    ticket_comment,
)

from .utils import add_contacts, agree_window, outage_change

pytestmark = pytest.mark.django_db

Kind = NotificationKind
PARIS = ZoneInfo("Europe/Paris")  # the factories' organisations' zone


def _outage(change: Change) -> list[str]:
    return list(
        Notification.objects.filter(change=change)
        .exclude(kind=Kind.ACTION)
        .order_by("created", "id")
        .values_list("kind", flat=True)
    )


def _notified(subject, headline: str) -> set[str]:
    field = "change" if isinstance(subject, Change) else "ticket"
    return set(
        Delivery.objects.filter(
            **{f"notification__{field}": subject},
            notification__kind=Kind.ACTION,
            notification__subject__contains=headline,
        ).values_list("user__username", flat=True)
    )


# --------------------------------------------------------------------------- outage


def test_agreeing_the_window_records_an_announcement_per_contact(
    cast, django_capture_on_commit_callbacks
) -> None:
    emails = add_contacts(cast.acme, 30)
    add_contacts(cast.globex, 3)
    change = outage_change(cast.acme, cast.agent)
    start = timezone.now().replace(microsecond=0) + timedelta(days=3)

    with django_capture_on_commit_callbacks() as callbacks:
        agree_window(change, cast.agent, cast.alice, start=start)

    announcement = Notification.objects.get(change=change, kind=Kind.ANNOUNCEMENT)
    assert announcement.actor == cast.alice
    assert (announcement.window_start, announcement.window_end) == (
        start,
        start + timedelta(hours=2),
    )
    deliveries = announcement.deliveries.all()
    assert sorted(d.recipient for d in deliveries) == sorted(emails)
    assert {d.state for d in deliveries} == {DeliveryState.PENDING}
    assert all(d.contact_id for d in deliveries)
    # Sending is queued after commit (the proposal's notice and the announcement).
    assert len(callbacks) == 2
    assert mail.outbox == []
    # The words: summary, impact and window in the organisation's zone (Europe/Paris).
    paris = timezone.localtime(start, PARIS)
    assert f"{paris:%H:%M}" in announcement.body_text
    assert "(Europe/Paris)" in announcement.subject
    assert "rounds VAT per line" in announcement.body_text
    assert "Invoices cannot be downloaded" in announcement.body_html
    assert "about 90 minutes" in announcement.body_text
    assert "Thank you for your patience." in announcement.body_text


def test_a_rolled_back_event_records_nothing(cast) -> None:
    add_contacts(cast.acme, 5)
    change = outage_change(cast.acme, cast.agent)
    change_propose_window(
        change=change.pk,
        by=cast.agent,
        start=timezone.now() + timedelta(days=2),
        end=timezone.now() + timedelta(days=2, hours=1),
    )
    with pytest.raises(RuntimeError), transaction.atomic():
        change_transition(change=change.pk, by=cast.alice, name="agree_window")
        assert Notification.objects.filter(kind=Kind.ANNOUNCEMENT).exists()
        raise RuntimeError("the request fails after the event")
    assert not Notification.objects.filter(kind=Kind.ANNOUNCEMENT).exists()
    assert not Delivery.objects.filter(contact__isnull=False).exists()


def test_no_outage_no_end_user_communication(cast) -> None:
    add_contacts(cast.acme, 5)
    change = outage_change(cast.acme, cast.agent, outage_expected=False)
    agree_window(change, cast.agent, cast.alice)
    complete_checklist(change, cast.agent)
    change_transition(change=change.pk, by=cast.agent, name="perform")
    assert _outage(change) == []


def test_perform_and_roll_back_send_completion_notices(cast) -> None:
    add_contacts(cast.acme, 3)
    change = outage_change(cast.acme, cast.agent)
    agree_window(change, cast.agent, cast.alice)
    complete_checklist(change, cast.agent)
    change_transition(change=change.pk, by=cast.agent, name="perform")
    change_transition(change=change.pk, by=cast.agent, name="roll_back", comment="Invoices broke.")
    assert _outage(change) == [Kind.ANNOUNCEMENT, Kind.COMPLETION, Kind.COMPLETION]
    done, rolled_back = Notification.objects.filter(change=change, kind=Kind.COMPLETION).order_by(
        "id"
    )
    assert done.subject.startswith("Maintenance complete")
    assert rolled_back.subject.startswith("Maintenance rolled back")
    assert "runs as it did before" in rolled_back.body_text
    assert rolled_back.deliveries.count() == 3


def test_moving_an_announced_window_sends_one_correction_when_the_new_one_is_agreed(
    cast,
) -> None:
    add_contacts(cast.acme, 4)
    change = outage_change(cast.acme, cast.agent)
    first = timezone.now().replace(microsecond=0) + timedelta(days=3)
    agree_window(change, cast.agent, cast.alice, start=first)
    moved = first + timedelta(days=1)

    # Proposed: end users still expect the first window until the new one is agreed.
    change_propose_window(
        change=change.pk, by=cast.agent, start=moved, end=moved + timedelta(hours=2)
    )
    assert _outage(change) == [Kind.ANNOUNCEMENT]
    change_transition(change=change.pk, by=cast.alice, name="agree_window")

    assert _outage(change) == [Kind.ANNOUNCEMENT, Kind.CORRECTION]
    correction = Notification.objects.get(change=change, kind=Kind.CORRECTION)
    assert correction.window_start == moved
    was = timezone.localtime(first, PARIS)
    assert f"was: {was:%A %-d %B %Y, %H:%M}" in correction.body_text
    assert correction.deliveries.count() == 4


def test_moving_an_unannounced_window_sends_no_correction(cast) -> None:
    change = outage_change(cast.acme, cast.agent, outage_expected=False)
    agree_window(change, cast.agent, cast.alice)
    agree_window(change, cast.agent, cast.alice, start=timezone.now() + timedelta(days=9))
    assert _outage(change) == []


def test_cancelling_an_announced_change_sends_a_cancellation(cast) -> None:
    add_contacts(cast.acme, 2)
    announced = outage_change(cast.acme, cast.agent)
    agree_window(announced, cast.agent, cast.alice)
    quiet = outage_change(cast.acme, cast.agent)

    for change in (announced, quiet):
        change_transition(change=change.pk, by=cast.agent, name="cancel", comment="Not needed.")

    assert _outage(announced) == [Kind.ANNOUNCEMENT, Kind.CANCELLATION]
    assert _outage(quiet) == []
    cancellation = Notification.objects.get(change=announced, kind=Kind.CANCELLATION)
    assert "will not take place" in cancellation.body_text


def test_recording_ten_thousand_recipients_costs_no_query_per_recipient(cast) -> None:
    small = outage_change(cast.acme, cast.agent)
    add_contacts(cast.acme, 20)
    big = outage_change(cast.globex, cast.agent)
    add_contacts(cast.globex, 10_000)
    for change in (small, big):
        change_propose_window(
            change=change.pk,
            by=cast.agent,
            start=timezone.now() + timedelta(days=3),
            end=timezone.now() + timedelta(days=3, hours=1),
        )

    with CaptureQueriesContext(connection) as few:
        change_transition(change=small.pk, by=cast.alice, name="agree_window")
    with CaptureQueriesContext(connection) as many:
        change_transition(change=big.pk, by=cast.bob, name="agree_window")

    assert Delivery.objects.filter(notification__change=big, contact__isnull=False).count() == (
        10_000
    )
    # One INSERT ... SELECT either way: the contacts never come into the web process.
    assert len(many) == len(few), [q["sql"][:80] for q in many.captured_queries]


def test_addresses_differing_only_in_case_are_one_recipient(cast) -> None:
    add_contacts(cast.acme, 2)
    Contact.objects.create(organization=cast.acme, email=" EndUser1@ACME.example ")
    change = outage_change(cast.acme, cast.agent)
    agree_window(change, cast.agent, cast.alice)
    announcement = Notification.objects.get(change=change, kind=Kind.ANNOUNCEMENT)
    assert sorted(announcement.deliveries.values_list("recipient", flat=True)) == [
        "enduser0@acme.example",
        "enduser1@acme.example",
    ]


def test_the_make_run_path_sends_in_process_after_commit(
    cast, django_capture_on_commit_callbacks
) -> None:
    """Development runs Celery eagerly with the console backend (the locmem one here): the
    announcement is sent right after the commit, with nothing else running."""
    emails = add_contacts(cast.acme, 3)
    change = outage_change(cast.acme, cast.agent)
    with django_capture_on_commit_callbacks(execute=True):
        agree_window(change, cast.agent, cast.alice)
    announcement = Notification.objects.get(change=change, kind=Kind.ANNOUNCEMENT)
    sent = [m for m in mail.outbox if m.subject == announcement.subject]
    assert sorted(m.to[0] for m in sent) == sorted(emails)
    assert all(m.alternatives for m in sent)
    assert set(announcement.deliveries.values_list("state", flat=True)) == {DeliveryState.SENT}


# --------------------------------------------------------------------------- reminders


def _agreed(cast, start, agreed_at=None) -> Change:
    change = outage_change(cast.acme, cast.agent)
    agree_window(change, cast.agent, cast.alice, start=start)
    if agreed_at is not None:
        # As if agreed (and so announced) at `agreed_at`.
        Change.objects.filter(pk=change.pk).update(window_agreed_at=agreed_at)
        Notification.objects.filter(change=change, kind=Kind.ANNOUNCEMENT).update(created=agreed_at)
    change.refresh_from_db()
    return change


def test_reminders_are_due_within_the_lead_time_once_per_window(cast, settings) -> None:
    settings.NOTIFICATIONS_REMINDER_LEAD = timedelta(hours=24)
    add_contacts(cast.acme, 2)
    start = timezone.now().replace(microsecond=0) + timedelta(days=3)
    change = _agreed(cast, start)
    lead_starts = start - timedelta(hours=24)

    assert reminders_send_due(now=lead_starts - timedelta(seconds=1)) == []
    [reminder] = reminders_send_due(now=lead_starts)
    assert reminder.deliveries.count() == 2
    assert reminders_send_due(now=lead_starts + timedelta(hours=1)) == []

    # The window moves and is agreed again: the new window gets its own reminder.
    moved = start + timedelta(days=2)
    agree_window(change, cast.agent, cast.alice, start=moved)
    assert reminders_send_due(now=moved - timedelta(hours=23)) != []
    assert _outage(change).count(Kind.REMINDER) == 2


def test_no_reminder_for_a_late_agreement_a_cancelled_change_or_a_started_window(
    cast, settings
) -> None:
    settings.NOTIFICATIONS_REMINDER_LEAD = timedelta(hours=24)
    now = timezone.now().replace(microsecond=0)
    # Agreed 12 hours before it starts: the announcement came inside the lead time.
    late = _agreed(cast, now + timedelta(days=3), agreed_at=now + timedelta(days=2, hours=12))
    cancelled = _agreed(cast, now + timedelta(days=3))
    change_transition(change=cancelled.pk, by=cast.agent, name="cancel", comment="No.")
    at = now + timedelta(days=2, hours=13)
    due = changes_due_for_reminder(now=at, lead=timedelta(hours=24))
    assert list(due) == []
    started = _agreed(cast, now + timedelta(days=3))
    assert reminders_send_due(now=started.window_start + timedelta(minutes=1)) == []
    assert Notification.objects.filter(change=late, kind=Kind.ANNOUNCEMENT).exists()


# --------------------------------------------------------------------------- notices


def test_submitting_asks_the_approvers_but_not_the_author(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    change_transition(change=change.pk, by=cast.agent, name="submit")
    # QA, Operations, and any provider engineer but the author for Peer; no customer.
    assert _notified(change, "needs your approval") == {"qa", "ops", "peer", "agent2"}


def test_the_last_approval_asks_the_customer_for_the_business_review(cast) -> None:
    change = ChangeFactory(
        organization=cast.acme, author=cast.agent, status=Change.S.AWAITING_APPROVAL
    )
    for user, role in ((cast.qa, ApprovalRole.QA), (cast.peer, ApprovalRole.PEER)):
        change_transition(change=change.pk, by=user, name="approve", role=role)
    assert _notified(change, "Business review") == set()
    change_transition(change=change.pk, by=cast.ops, name="approve", role=ApprovalRole.OPERATIONS)
    assert _notified(change, "needs your Business review") == {"alice"}

    change_transition(change=change.pk, by=cast.alice, name="business_approve")
    assert _notified(change, "is approved and ready to release") == {"agent"}


def test_a_rejection_tells_the_author_why(cast) -> None:
    change = ChangeFactory(
        organization=cast.acme, author=cast.agent, status=Change.S.AWAITING_APPROVAL
    )
    change_transition(
        change=change.pk, by=cast.qa, name="reject", comment="The rollback is untested."
    )
    [notice] = Notification.objects.filter(change=change, subject__contains="was rejected")
    assert "The rollback is untested." in notice.body_text
    assert _notified(change, "was rejected") == {"agent"}


def test_an_edit_after_approval_tells_the_approvers_and_the_author(cast) -> None:
    change = ChangeFactory(
        organization=cast.acme, author=cast.agent, status=Change.S.AWAITING_APPROVAL
    )
    change_transition(change=change.pk, by=cast.qa, name="approve", role=ApprovalRole.QA)
    change_update(change=change.pk, by=cast.agent2, summary="A different text.")
    assert _notified(change, "had its approvals dismissed") == {"agent"}
    # Asked again: everyone who can approve, less agent2 who edited (and knows) and the
    # author (not a Peer, no other role).
    assert _notified(change, "needs your approval") == {"qa", "ops", "peer"}


def test_testing_and_window_agreement_wait_on_the_customer(cast) -> None:
    change = ChangeFactory(
        organization=cast.acme, author=cast.agent, status=Change.S.TO_BE_RELEASED
    )
    agree_window(change, cast.agent, cast.alice)
    assert _notified(change, "has a deployment window to agree") == {"alice"}
    complete_checklist(change, cast.agent)
    change_transition(change=change.pk, by=cast.agent, name="perform")
    assert _notified(change, "is ready for you to test") == {"alice"}
    # A window proposed by the customer waits on the provider: the author is asked.
    other = ChangeFactory(organization=cast.acme, author=cast.agent)
    change_propose_window(
        change=other.pk,
        by=cast.alice,
        start=timezone.now() + timedelta(days=1),
        end=timezone.now() + timedelta(days=1, hours=1),
    )
    assert _notified(other, "has a deployment window to agree") == {"agent"}


def test_a_reply_waits_on_the_reporter_and_a_customer_reply_on_the_assignee(cast) -> None:
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice, assignee=cast.agent2)
    ticket_comment(ticket=ticket.pk, by=cast.agent, body="Which browser?")
    assert _notified(ticket, "waits for your reply") == {"alice"}
    ticket_comment(ticket=ticket.pk, by=cast.alice, body="Firefox.")
    assert _notified(ticket, "waits on support") == {"agent2"}


def test_notices_in_the_app_are_the_users_own_and_can_be_marked_read(cast) -> None:
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    ticket_comment(ticket=ticket.pk, by=cast.agent, body="Which browser?")
    mine = list(notices_for(cast.alice))
    assert [n.subject for n in mine] == [f"{ticket.key} waits for your reply: {ticket.title}"]
    assert mine[0].about == ticket and "Which" not in mine[0].body
    assert list(notices_for(cast.bob)) == []
    assert unread_notice_count(cast.alice) == 1

    with pytest.raises(NotVisible):
        notice_mark_read(user=cast.bob, notice=mine[0].pk)
    with pytest.raises(NotVisible):
        notice_mark_read(user=cast.alice, notice="nonsense")
    assert notice_mark_read(user=cast.alice, notice=mine[0].pk).is_read
    assert unread_notice_count(cast.alice) == 0
    assert notices_mark_all_read(user=cast.alice) == 0


def test_a_customer_sees_only_notices_about_their_organisation(cast) -> None:
    # A user moved from Globex to Acme keeps no view into Globex through old notices.
    ticket = TicketFactory(organization=cast.globex, reporter=cast.bob)
    ticket_comment(ticket=ticket.pk, by=cast.agent, body="Which browser?")
    assert notices_for(cast.bob).count() == 1
    type(cast.bob).objects.filter(pk=cast.bob.pk).update(organization=cast.acme)
    cast.bob.refresh_from_db()
    assert notices_for(cast.bob).count() == 0


def test_a_user_without_an_address_still_sees_the_notice(cast) -> None:
    carol = UserFactory(username="carol", is_qa=True, email="")
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    change_transition(change=change.pk, by=cast.agent, name="submit")
    [notice] = notices_for(carol)
    assert notice.state == DeliveryState.SKIPPED and notice.recipient == ""
