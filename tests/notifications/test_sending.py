"""The sending engine against a real SMTP server on loopback, called directly (no broker):
the two-phase hand-over, the claim token as a fence, classification of refusals, the
sweep. The same code under real workers and faults is test_faults.py's."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from notifications import sending
from notifications import smtp as engine
from notifications.models import Delivery, DeliveryState, Notification, NotificationKind
from tests.factories import ChangeFactory

from .conftest import free_port

pytestmark = pytest.mark.django_db

S = DeliveryState


@pytest.fixture
def smtp(settings, smtp_server):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_server.host
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_TIMEOUT = 5
    settings.NOTIFICATIONS_RETRY_BACKOFF = 60
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    return smtp_server


def _notification(cast, recipients: list[str], **fields) -> Notification:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    n = Notification.objects.create(
        kind=NotificationKind.ANNOUNCEMENT,
        change=change,
        subject="Planned maintenance: billing \N{EN DASH} Tuesday",
        body_text="Line one.\n.a line that starts with a dot\nLast line.\n",
        body_html="<p>Line one.</p>",
        **fields,
    )
    Delivery.objects.bulk_create(Delivery(notification=n, recipient=r) for r in recipients)
    return n


def test_a_batch_is_sent_over_one_connection_and_recorded(cast, smtp) -> None:
    n = _notification(cast, [f"u{i}@example.com" for i in range(5)])

    result = sending.send_batch(notification_id=n.pk)

    assert (result.claimed, result.sent, result.full) == (5, 5, False)
    assert smtp.recorder.count() == 5
    d = Delivery.objects.get(notification=n, recipient="u3@example.com")
    assert (d.state, d.attempts, d.last_error) == (S.SENT, 1, "")
    assert d.sent_at is not None
    [message] = [m.parsed() for m in smtp.recorder.messages if m.rcpts == ["u3@example.com"]]
    assert message["To"] == "u3@example.com"
    assert message["Message-ID"] == engine.message_id(n.pk, d.pk)
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Subject"].strip() == n.subject
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert text.replace("\r\n", "\n") == n.body_text  # the dot-stuffed line is intact
    assert message.get_body(preferencelist=("html",)).get_content().strip() == n.body_html
    # Nothing left to claim.
    assert sending.send_batch(notification_id=n.pk).claimed == 0


def test_the_wire_template_is_the_message_django_would_build(cast) -> None:
    n = _notification(cast, [])
    template = engine._WireTemplate(n)
    assert template.raw is not None
    fast = template.data("x@example.com", "<id-1@example.com>")
    built = engine.build_message(n, to="x@example.com", msgid="<id-1@example.com>")
    slow = engine._LEADING_DOT.sub(b"..", built.message().as_bytes(linesep="\r\n"))

    def headers(raw: bytes) -> list[bytes]:
        # The MIME boundary and Date differ between any two builds; nothing else may.
        return [
            line
            for line in raw.split(b"\r\n")
            if b"boundary" not in line
            and not line.startswith((b"--=", b"Date:"))
            and b"==" not in line
        ]

    assert headers(fast) == headers(slow.rstrip(b"\r\n") + b"\r\n")


def test_a_lost_claim_sends_nothing(cast, smtp) -> None:
    """The fence: a worker whose delivery was taken over (its lease ran out and another
    worker claimed it) drops the connection before the final '.', so the server discards
    the message, and the next message goes out on a new connection."""
    n = _notification(cast, ["a@example.com", "b@example.com"])
    token = uuid.uuid4()
    first, second = sending.claim(notification_id=n.pk, token=token, now=timezone.now(), size=2)
    # Another worker takes `first` over meanwhile.
    Delivery.objects.filter(pk=first.id).update(claim_token=uuid.uuid4())
    sender = engine.sender_for(n)
    try:
        lost = sender.send(
            first,
            lambda: sending._mark_sent(first.id, token),
            lambda: sending._unmark_sent(first.id, token),
        )
        ok = sender.send(
            second,
            lambda: sending._mark_sent(second.id, token),
            lambda: sending._unmark_sent(second.id, token),
        )
    finally:
        sender.close()
    assert (lost.status, ok.status) == (engine.FENCED, engine.SENT)
    assert [m.rcpts for m in smtp.recorder.messages] == [["b@example.com"]]
    assert Delivery.objects.get(pk=first.id).state == S.SENDING  # the other worker's


def test_a_failed_commit_sends_nothing(cast, smtp) -> None:
    n = _notification(cast, ["a@example.com"])
    [d] = sending.claim(notification_id=n.pk, token=uuid.uuid4(), now=timezone.now(), size=1)
    sender = engine.sender_for(n)

    def commit() -> bool:
        raise ConnectionError("the database went away")

    with pytest.raises(ConnectionError):
        sender.send(d, commit, lambda: None)
    sender.close()
    assert smtp.recorder.count() == 0


def test_temporary_refusals_wait_and_permanent_ones_fail(cast, smtp) -> None:
    n = _notification(cast, ["busy@example.com", "gone@example.com", "ok@example.com"])

    async def rcpt(server, session, envelope, address, options):
        if address.startswith("busy"):
            return "452 4.2.2 Mailbox full"
        if address.startswith("gone"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    smtp.recorder.handle_RCPT = rcpt  # type: ignore[method-assign]
    before = timezone.now()
    result = sending.send_batch(notification_id=n.pk)

    assert (result.sent, result.failed, result.retrying) == (1, 1, 1)
    busy, gone, ok = Delivery.objects.filter(notification=n).order_by("recipient")
    assert busy.state == S.PENDING and busy.attempts == 1
    assert busy.last_error == "452 4.2.2 Mailbox full (refused at RCPT TO)"
    assert before + timedelta(seconds=60) <= busy.next_attempt_at
    assert busy.next_attempt_at <= timezone.now() + timedelta(seconds=75)
    assert (gone.state, gone.last_error) == (
        S.FAILED,
        "550 5.1.1 No such user (refused at RCPT TO)",
    )
    assert ok.state == S.SENT
    # Not due yet: nothing to claim; due (clock injected): tried again.
    assert sending.send_batch(notification_id=n.pk).claimed == 0
    later = sending.send_batch(notification_id=n.pk, now=timezone.now() + timedelta(minutes=2))
    assert later.claimed == 1
    busy.refresh_from_db()
    assert busy.attempts == 2


def test_the_last_attempt_fails_with_the_reason(cast, smtp) -> None:
    n = _notification(cast, ["busy@example.com"])
    Delivery.objects.filter(notification=n).update(attempts=2)
    smtp.recorder.refuse_rcpt = "421 4.7.0 Try again later, closing connection"
    sending.send_batch(notification_id=n.pk)
    d = Delivery.objects.get(notification=n)
    assert d.state == S.FAILED and d.attempts == 3
    assert d.last_error == (
        "Gave up after 3 attempts. Last error: 421 4.7.0 Try again later, closing connection "
        "(refused at RCPT TO)"
    )


def test_a_mail_server_that_is_down_is_tried_later(cast, settings, smtp) -> None:
    settings.EMAIL_PORT = free_port()  # nobody listens there
    n = _notification(cast, ["a@example.com", "b@example.com"])
    result = sending.send_batch(notification_id=n.pk)
    assert (result.claimed, result.retrying) == (2, 2)
    for d in Delivery.objects.filter(notification=n):
        assert d.state == S.PENDING and d.next_attempt_at > timezone.now()
        assert d.last_error.startswith("Cannot connect to the mail server")


def test_one_wake_up_is_scheduled_for_the_next_retry(cast, smtp, monkeypatch) -> None:
    n = _notification(cast, ["a@example.com", "b@example.com"])
    soon = timezone.now() + timedelta(seconds=30)
    Delivery.objects.filter(recipient="a@example.com").update(next_attempt_at=soon)
    Delivery.objects.filter(recipient="b@example.com").update(
        next_attempt_at=soon + timedelta(seconds=5)
    )
    queued: list[float | None] = []
    monkeypatch.setitem(sending.celery_app.conf, "task_always_eager", False)
    monkeypatch.setattr(
        sending, "dispatch", lambda nid, count, countdown=None: queued.append(countdown)
    )
    assert sending.schedule_wake(n.pk) == soon
    assert sending.schedule_wake(n.pk) == soon  # already queued for then
    assert len(queued) == 1 and 29 < queued[0] < 31  # type: ignore[operator]
    # A delivery whose backoff ended while the batch was sent gets a task now.
    Delivery.objects.filter(recipient="b@example.com").update(next_attempt_at=timezone.now())
    sending.schedule_wake(n.pk)
    assert queued[1:] == [None]


def test_backoff_doubles_up_to_its_cap(settings) -> None:
    settings.NOTIFICATIONS_RETRY_BACKOFF = 10
    settings.NOTIFICATIONS_RETRY_BACKOFF_MAX = 35
    for attempts, base in ((1, 10), (2, 20), (3, 35), (8, 35)):
        delay = sending.backoff(attempts).total_seconds()
        assert base <= delay < base * 1.25


def test_the_sweep_releases_dead_claims_and_sends_what_was_left(cast, settings) -> None:
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    n = _notification(cast, ["stuck@example.com", "dead@example.com", "left@example.com"])
    long_ago = timezone.now() - timedelta(hours=1)
    Delivery.objects.filter(recipient="stuck@example.com").update(
        state=S.SENDING, claimed_at=long_ago, claim_token=uuid.uuid4(), attempts=1
    )
    Delivery.objects.filter(recipient="dead@example.com").update(
        state=S.SENDING, claimed_at=long_ago, claim_token=uuid.uuid4(), attempts=3
    )
    Delivery.objects.filter(recipient="left@example.com").update(next_attempt_at=long_ago)
    mail.outbox.clear()

    # Eager Celery and the locmem backend here: dispatching sends at once.
    result = sending.sweep()

    assert (result.released, result.gave_up) == (1, 1)
    assert result.dispatched == {n.pk: 2}
    states = dict(Delivery.objects.filter(notification=n).values_list("recipient", "state"))
    assert states == {
        "stuck@example.com": S.SENT,
        "dead@example.com": S.FAILED,
        "left@example.com": S.SENT,
    }
    assert sorted(m.to[0] for m in mail.outbox) == ["left@example.com", "stuck@example.com"]
    assert "worker stopped" in Delivery.objects.get(recipient="dead@example.com").last_error
    assert sending.sweep().dispatched == {}


def test_the_sweep_leaves_fresh_work_alone(cast) -> None:
    n = _notification(cast, ["a@example.com", "b@example.com"])
    Delivery.objects.filter(recipient="a@example.com").update(
        state=S.SENDING, claimed_at=timezone.now(), claim_token=uuid.uuid4()
    )
    result = sending.sweep(grace=0)  # b is overdue, but a batch of n is being sent
    assert (result.released, result.dispatched) == (0, {})
    assert Delivery.objects.get(recipient="b@example.com").state == S.PENDING
    assert n.pk
