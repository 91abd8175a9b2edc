"""The guarantees of issue 6 under faults, with real Redis, real Celery workers (separate
processes on the test database) and a real SMTP server on loopback.

What each test proves is what a user of the product relies on: a communication reaches
every end user exactly once even if the broker is down when the event commits, the
worker dies in the middle of it, or the mail server refuses for a while; and a reminder
goes out at its lead time.
"""

from __future__ import annotations

import time
from datetime import timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from notifications import sending
from notifications import smtp as engine
from notifications.models import Delivery, DeliveryState, Notification, NotificationKind
from notifications.selectors import communications_for_change, show_failures
from notifications.services import reminders_send_due

from .conftest import wait_for
from .utils import add_contacts, agree_window, outage_change

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]


def _outage_deliveries(change, kind=NotificationKind.ANNOUNCEMENT):
    return Delivery.objects.filter(notification__change=change, notification__kind=kind)


def _all_sent(change, n, kind=NotificationKind.ANNOUNCEMENT):
    return _outage_deliveries(change, kind).filter(state=DeliveryState.SENT).count() == n


def _settle(smtp, seconds: float = 1.0) -> int:
    """Wait until the SMTP server has received nothing new for `seconds`: a duplicate
    sent late would show up here."""
    last, since = smtp.recorder.count(), time.monotonic()
    deadline = since + 30
    while time.monotonic() - since < seconds and time.monotonic() < deadline:
        time.sleep(0.1)
        now = smtp.recorder.count()
        if now != last:
            last, since = now, time.monotonic()
    return last


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


def test_agreeing_an_outage_window_announces_it_to_every_contact_once(
    cast, settings, smtp_server, start_worker
) -> None:
    settings.NOTIFICATIONS_BATCH_SIZE = 50
    emails = add_contacts(cast.acme, 120)
    add_contacts(cast.globex, 5)  # another organisation's end users hear nothing
    start_worker()
    change = outage_change(cast.acme, cast.agent)
    start = (timezone.now() + timedelta(days=3, hours=5)).replace(second=0, microsecond=0)

    agree_window(change, cast.agent, cast.alice, start=start)

    wait_for(lambda: _all_sent(change, 120), timeout=60, what="120 announcements sent")
    # The sweep finds nothing left to do, and nothing arrives twice.
    sending.sweep(grace=0)
    _settle(smtp_server)
    received = smtp_server.recorder.per_recipient()
    assert {e: received[e] for e in emails} == dict.fromkeys(emails, 1)
    assert not [r for r in received if r.endswith("@globex.example")]

    announcement = Notification.objects.get(change=change, kind=NotificationKind.ANNOUNCEMENT)
    message = next(m.parsed() for m in smtp_server.recorder.messages if m.rcpts == [emails[0]])
    assert message["Subject"].strip() == announcement.subject
    assert message["Message-ID"] == engine.message_id(
        announcement.pk, _outage_deliveries(change).get(recipient=emails[0]).pk
    )
    text = _text(message)
    assert "rounds VAT per line" in text  # summary
    assert "Invoices cannot be downloaded" in text  # impact
    assert "about 90 minutes" in text
    paris = timezone.localtime(start, ZoneInfo(cast.acme.timezone))
    assert f"{paris:%H:%M}" in text and "(Europe/Paris)" in text  # the organisation's zone
    assert message.get_body(preferencelist=("html",)) is not None
    # The window travels as an .ics too (issue 14), through the real SMTP path.
    (ics,) = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert ics.get_filename() == "outage.ics"
    assert f"UID:outage-change-{change.pk}@" in ics.get_content()

    [row] = show_failures(list(communications_for_change(change=change)))
    assert (row.n_pending, row.n_sent, row.n_failed) == (0, 120, 0)


def test_broker_down_at_commit_loses_nothing_and_the_sweep_sends_each_once(
    cast, settings, broker, smtp_server, start_worker
) -> None:
    settings.NOTIFICATIONS_BATCH_SIZE = 50
    emails = add_contacts(cast.acme, 150)
    start_worker()
    change = outage_change(cast.acme, cast.agent)

    broker.stop()
    started = time.monotonic()
    agree_window(change, cast.agent, cast.alice)  # commits; queuing the task fails
    assert time.monotonic() - started < 10, "the request must not hang on a dead broker"

    deliveries = _outage_deliveries(change)
    assert deliveries.count() == 150
    assert deliveries.filter(state=DeliveryState.PENDING).count() == 150
    time.sleep(1)
    assert smtp_server.recorder.count() == 0

    broker.start()  # empty: whatever it held before is gone
    # What beat runs every minute; `grace=0` instead of waiting two minutes.
    wait_for(
        lambda: sending.sweep(grace=0).dispatched,
        timeout=30,
        what="the sweep to queue the pending notifications",
    )
    wait_for(lambda: _all_sent(change, 150), timeout=90, what="150 announcements sent")
    sending.sweep(grace=0)
    _settle(smtp_server)
    received = smtp_server.recorder.per_recipient()
    assert {e: received[e] for e in emails} == dict.fromkeys(emails, 1)


def test_worker_killed_mid_communication_every_recipient_gets_exactly_one(
    cast, settings, smtp_server, start_worker
) -> None:
    """SIGKILL to the whole worker when the server has just accepted message 300 of 1,000:
    the moment a send-then-record design would send that message again. One pool process,
    so the kill lands at that moment and not at a random point of a second process."""
    settings.NOTIFICATIONS_BATCH_SIZE = 50
    emails = add_contacts(cast.acme, 1000)
    worker = start_worker(concurrency=1)
    killed = []

    def kill_at_300(count: int) -> None:
        if count == 300 and not killed:
            killed.append(True)
            worker.kill()

    smtp_server.recorder.on_message = kill_at_300
    change = outage_change(cast.acme, cast.agent)
    agree_window(change, cast.agent, cast.alice)

    wait_for(lambda: killed, timeout=120, what="300 messages, then the kill")
    smtp_server.recorder.on_message = None
    _settle(smtp_server, 0.5)
    deliveries = _outage_deliveries(change)
    # What the database records as sent is exactly what the server accepted.
    sent = set(deliveries.filter(state=DeliveryState.SENT).values_list("recipient", flat=True))
    received = smtp_server.recorder.per_recipient()
    assert sent == {e for e in emails if received[e]}
    assert 250 < len(sent) < 1000
    # What the dead worker had claimed is still `sending`; its lease would run out after
    # NOTIFICATIONS_SENDING_LEASE. lease=0 stands for "later".
    assert deliveries.filter(state=DeliveryState.SENDING).exists()
    result = sending.sweep(lease=0, grace=0)
    assert result.released > 0

    start_worker(concurrency=2)
    wait_for(lambda: _all_sent(change, 1000), timeout=180, what="1,000 announcements sent")
    sending.sweep(grace=0)
    _settle(smtp_server)
    received = smtp_server.recorder.per_recipient()
    assert {e: received[e] for e in emails} == dict.fromkeys(emails, 1)
    assert deliveries.count() == 1000


def test_smtp_refusing_is_retried_with_backoff_then_failed_with_the_reason(
    cast, smtp_server, start_worker
) -> None:
    emails = add_contacts(cast.acme, 3)
    smtp_server.recorder.refuse_rcpt = "451 4.3.0 Mailbox busy, try again later"
    start_worker(NOTIFICATIONS_RETRY_BACKOFF="0.5", NOTIFICATIONS_MAX_ATTEMPTS="3")
    change = outage_change(cast.acme, cast.agent)

    agree_window(change, cast.agent, cast.alice)

    deliveries = _outage_deliveries(change)
    wait_for(
        lambda: deliveries.filter(state=DeliveryState.FAILED).count() == 3,
        timeout=60,
        what="3 deliveries failed",
    )
    for d in deliveries:
        assert d.attempts == 3
        assert "Gave up after 3 attempts" in d.last_error
        assert "451 4.3.0 Mailbox busy" in d.last_error
    # Backoff: each recipient was tried three times, the second wait about twice the first
    # (0.5 s then 1 s, each with up to 25% jitter).
    for email in emails:
        times = [t for a, t in smtp_server.recorder.rcpt_attempts if a == email]
        assert len(times) == 3
        first, second = times[1] - times[0], times[2] - times[1]
        print(email, [round(t - times[0], 3) for t in times])
        assert first >= 0.5
        assert second >= 1.0
        assert second > first
    assert smtp_server.recorder.count() == 0 or all(
        not set(m.rcpts) & set(emails) for m in smtp_server.recorder.messages
    )
    # Visible on the change's communications, with the reason.
    [row] = show_failures(list(communications_for_change(change=change)))
    assert (row.n_pending, row.n_sent, row.n_failed) == (0, 0, 3)
    assert {f.recipient for f in row.failures_shown} == set(emails)
    assert all("451" in f.last_error for f in row.failures_shown)


def test_a_permanent_refusal_fails_at_once(cast, smtp_server, start_worker) -> None:
    add_contacts(cast.acme, 2)
    smtp_server.recorder.refuse_rcpt = "550 5.1.1 No such user here"
    start_worker()
    change = outage_change(cast.acme, cast.agent)

    agree_window(change, cast.agent, cast.alice)

    deliveries = _outage_deliveries(change)
    wait_for(
        lambda: deliveries.filter(state=DeliveryState.FAILED).count() == 2,
        timeout=60,
        what="2 deliveries failed",
    )
    assert {(d.attempts, d.last_error) for d in deliveries} == {
        (1, "550 5.1.1 No such user here (refused at RCPT TO)")
    }


def test_the_reminder_goes_out_at_its_lead_time(cast, settings, smtp_server, start_worker) -> None:
    settings.NOTIFICATIONS_REMINDER_LEAD = timedelta(hours=24)
    emails = add_contacts(cast.acme, 20)
    start_worker()
    change = outage_change(cast.acme, cast.agent)
    start = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    agree_window(change, cast.agent, cast.alice, start=start)
    wait_for(lambda: _all_sent(change, 20), timeout=60, what="the announcement")
    lead_starts = start - timedelta(hours=24)

    # The clock is injected: a minute before the lead time, nothing is due.
    assert reminders_send_due(now=lead_starts - timedelta(minutes=1)) == []
    [reminder] = reminders_send_due(now=lead_starts + timedelta(minutes=1))
    assert reminder.kind == NotificationKind.REMINDER
    assert reminder.window_start == start
    # Beat runs it every minute: later runs find it done.
    assert reminders_send_due(now=lead_starts + timedelta(minutes=2)) == []
    assert reminders_send_due(now=start - timedelta(minutes=5)) == []

    wait_for(
        lambda: _all_sent(change, 20, NotificationKind.REMINDER),
        timeout=60,
        what="20 reminders sent",
    )
    _settle(smtp_server)
    reminders = [
        m
        for m in smtp_server.recorder.messages
        if m.parsed()["Subject"].strip() == reminder.subject
    ]
    assert sorted(r for m in reminders for r in m.rcpts) == sorted(emails)
    assert "Reminder" in reminder.subject
