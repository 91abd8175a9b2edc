"""Sending deliveries: claim, send over one SMTP connection, settle, and the sweep.

The guarantees, and the one place they are weakest:

- **Nothing lost when the broker or a worker is down.** The rows are written with the
  event; Celery only carries "go and look at notification N". A task that never arrives
  (broker down at commit) or dies (worker killed) leaves rows `pending` or `sending`; the
  periodic `sweep` re-dispatches pending ones that are overdue and puts `sending` ones
  whose lease ran out back to `pending`.
- **Claimed atomically.** A batch is claimed with `SELECT ... FOR UPDATE SKIP LOCKED` and
  stamped with a fresh claim token in one transaction; two workers never hold the same
  delivery, and only the holder of the current token can mark it sent.
- **Sent once.** Over SMTP the message is handed over in two phases: envelope, DATA and the
  whole body go first, then the delivery is committed `sent` (fenced by the claim token),
  and only then the final "." that makes the server accept the message. A worker that dies
  before that commit leaves a half-sent message the server discards, so the retry is the
  first copy; a worker whose lease ran out finds its token gone, drops the connection
  without the "." and sends nothing.

  The remaining window: a crash after PostgreSQL committed the row and before the "."
  reaches the socket (the commit's reply on its way back, and a few microseconds of
  Python; well under a tenth of the time a message takes) leaves a delivery marked sent
  that the server never accepted: that one message is lost. A connection that breaks after the "."
  but before the server's reply is ambiguous the other way; the delivery is retried and
  may arrive twice (it carries the same Message-ID, so mail clients that deduplicate drop
  it). Exactly-once is impossible with SMTP; this design moves every crash of a worker,
  a stale lease, a broker outage and a lost task to the safe side, and leaves only those
  two windows.
- **Retried with backoff.** 4xx replies and connection errors put the delivery back to
  `pending` with `next_attempt_at` doubling from NOTIFICATIONS_RETRY_BACKOFF, until
  NOTIFICATIONS_MAX_ATTEMPTS; 5xx replies fail it at once. A failed delivery keeps the
  server's reply in `last_error`, shown on the change's communications.

Backends other than SMTP (console and file in development, locmem in tests) are handed
one message at a time and marked sent after they return (at-least-once).
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import secrets
import smtplib
import socket
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr
from functools import partial
from typing import Any, cast

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.core.mail.message import sanitize_address
from django.db import connection, transaction
from django.db.models import Count, F, Min, Q
from django.utils import timezone

from changeprocess.celery import app as celery_app

from .models import Delivery, DeliveryState, Notification

logger = logging.getLogger(__name__)

# How long a web request waits for the broker after its commit. The rows are safe either
# way; a broker that does not answer quickly is left to the sweep.
PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2}
# Seconds added to a retry's countdown so that it finds the deliveries due.
WAKE_MARGIN = 0.05

SENT = "sent"
FENCED = "fenced"  # another worker holds the delivery now; this one sent nothing
PERMANENT = "permanent"
TRANSIENT = "transient"


@dataclass(frozen=True)
class Outcome:
    status: str
    error: str = ""
    # The connection cannot be used any more and could not be reopened: the rest of the
    # batch is not tried now.
    connection_down: bool = False


@dataclass
class BatchResult:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    retry_at: datetime | None = None
    full: bool = False  # a whole batch was claimed: there may be more


@dataclass
class SweepResult:
    released: int = 0  # `sending` past their lease, back to pending
    gave_up: int = 0  # of those, out of attempts: failed
    dispatched: dict[int, int] = field(default_factory=dict)  # notification -> pending


def _setting(name: str) -> Any:
    return getattr(settings, name)


def batch_size() -> int:
    return max(1, int(_setting("NOTIFICATIONS_BATCH_SIZE")))


def backoff(attempts: int) -> timedelta:
    """Delay before attempt `attempts + 1`: doubling, capped, with up to 25% jitter so that
    recipients refused together do not come back together."""
    base = float(_setting("NOTIFICATIONS_RETRY_BACKOFF"))
    cap = float(_setting("NOTIFICATIONS_RETRY_BACKOFF_MAX"))
    seconds = min(cap, base * 2 ** max(0, attempts - 1))
    return timedelta(seconds=seconds * (1 + secrets.randbelow(250) / 1000))


# --------------------------------------------------------------------------- dispatch


def dispatch_on_commit(notification_id: int, count: int) -> None:
    """Tell the workers about a notification once the transaction that wrote it commits
    (never before: they would not see the rows)."""
    if count:
        transaction.on_commit(lambda: dispatch(notification_id, count), robust=True)


def dispatch(notification_id: int, count: int, *, countdown: float | None = None) -> bool:
    """Queue enough tasks to send `count` deliveries in parallel batches. Answers whether
    the broker took them; if not, the rows wait for the sweep."""
    from .tasks import send_deliveries

    parallel = max(1, min(int(_setting("NOTIFICATIONS_PARALLEL")), math.ceil(count / batch_size())))
    try:
        for _ in range(parallel):
            send_deliveries.apply_async(
                (notification_id,),
                countdown=countdown,
                retry=True,
                retry_policy=PUBLISH_RETRY_POLICY,
            )
    except Exception:
        # The broker is down or unreachable. Nothing is lost: the deliveries are pending
        # in the database and `sweep` dispatches them when the broker is back.
        logger.warning(
            "Could not queue notification %s; the sweep will send it.",
            notification_id,
            exc_info=True,
        )
        return False
    return True


def schedule_wake(notification_id: int, *, now: datetime | None = None) -> datetime | None:
    """After a batch that was not full: make sure a task comes for the notification's
    pending deliveries. Due ones (their backoff ended while the batch was being sent, or
    the sweep released them) get a task now; otherwise one task is queued for when the
    next backoff ends, unless one is queued for then or earlier already. Without this,
    deliveries whose backoff ends later than their batch's first retry would wait for the
    sweep."""
    now = now or timezone.now()
    target = Delivery.objects.filter(
        notification_id=notification_id, state=DeliveryState.PENDING
    ).aggregate(t=Min("next_attempt_at"))["t"]
    if target is None:
        return None
    if target <= now:
        dispatch(notification_id, 1)
        return target
    if celery_app.conf.task_always_eager:
        return target  # a task run in-process cannot wait: the sweep comes back for it
    # A wake-up due within a second is taken for this very task (timers may fire a little
    # early): it is replaced rather than trusted.
    free = Q(wake_at__isnull=True) | Q(wake_at__lte=now + timedelta(seconds=1))
    if Notification.objects.filter(free | Q(wake_at__gt=target), pk=notification_id).update(
        wake_at=target
    ):
        dispatch(notification_id, 1, countdown=(target - now).total_seconds() + WAKE_MARGIN)
    return target


# --------------------------------------------------------------------------- claim


@dataclass(frozen=True)
class Claimed:
    id: int
    recipient: str
    attempts: int


def claim(*, notification_id: int, token: uuid.UUID, now: datetime, size: int) -> list[Claimed]:
    """Take up to `size` due pending deliveries of a notification for this worker."""
    with transaction.atomic():
        ids = list(
            Delivery.objects.filter(
                notification_id=notification_id,
                state=DeliveryState.PENDING,
                next_attempt_at__lte=now,
            )
            .order_by("id")
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)[:size]
        )
        if not ids:
            return []
        Delivery.objects.filter(id__in=ids).update(
            state=DeliveryState.SENDING,
            claim_token=token,
            claimed_at=now,
            attempts=F("attempts") + 1,
        )
        rows = Delivery.objects.filter(id__in=ids).order_by("id")
        return [Claimed(*row) for row in rows.values_list("id", "recipient", "attempts")]


def _mark_sent(delivery_id: int, token: uuid.UUID) -> bool:
    # Autocommit: the row is durably `sent` when this returns. The token is the fence: a
    # delivery re-claimed by another worker (our lease ran out) is not ours to send. Once
    # per message, so written as the one statement it is rather than built by the ORM.
    fields = Delivery._meta
    params = [
        fields.get_field("sent_at").get_db_prep_value(timezone.now(), connection),
        delivery_id,
        fields.get_field("claim_token").get_db_prep_value(token, connection),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_MARK_SENT_SQL, params)
        return cursor.rowcount == 1


_MARK_SENT_SQL = (
    f"UPDATE {Delivery._meta.db_table} SET state = '{DeliveryState.SENT.value}', "  # noqa: S608
    "sent_at = %s, last_error = '' "
    f"WHERE id = %s AND claim_token = %s AND state = '{DeliveryState.SENDING.value}'"
)


def _unmark_sent(delivery_id: int, token: uuid.UUID) -> None:
    # The server refused the message after all: it is ours again, to settle as a failure.
    Delivery.objects.filter(pk=delivery_id, claim_token=token, state=DeliveryState.SENT).update(
        state=DeliveryState.SENDING, sent_at=None
    )


# --------------------------------------------------------------------------- messages


def message_id(notification_id: int, delivery_id: int, domain: str | None = None) -> str:
    """Stable per delivery: a copy sent again after an ambiguous failure carries the same
    Message-ID, which mail clients and archives use to drop duplicates."""
    if domain is None:
        domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2]
    return f"<cp.{notification_id}.{delivery_id}@{domain or 'changeprocess.invalid'}>"


def build_message(
    notification: Notification, *, to: str, msgid: str, connection: Any = None
) -> EmailMultiAlternatives:
    msg = EmailMultiAlternatives(
        subject=notification.subject,
        body=notification.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        connection=connection,
        headers={
            "Message-ID": msgid,
            # RFC 3834: automatic; out-of-office replies should not answer it.
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "All",
        },
    )
    if notification.body_html:
        msg.attach_alternative(notification.body_html, "text/html")
    return msg


_LEADING_DOT = re.compile(rb"(?m)^\.")


class _WireTemplate:
    """The message as SMTP DATA bytes, built once per batch: every recipient gets the same
    body, so per recipient only the To and Message-ID headers are swapped in. Building
    the MIME tree costs more than the SMTP exchange itself; this keeps it off the loop."""

    def __init__(self, notification: Notification) -> None:
        self.notification = notification
        tag = secrets.token_hex(12)
        self.to_token = f"rcpt-{tag}@placeholder.invalid".encode()
        self.id_token = f"<mid-{tag}@placeholder.invalid>".encode()
        msg = build_message(notification, to=self.to_token.decode(), msgid=self.id_token.decode())
        # Django's MIME classes take `linesep` (typeshed's Message does not know it).
        raw = _LEADING_DOT.sub(b"..", msg.message().as_bytes(linesep="\r\n"))  # type: ignore[call-arg]
        if not raw.endswith(b"\r\n"):
            raw += b"\r\n"
        # Both tokens must sit once each in the headers (never folded, never encoded);
        # otherwise each message is built whole.
        self.raw = raw if raw.count(self.to_token) == raw.count(self.id_token) == 1 else None

    def data(self, address: str, msgid: str) -> bytes:
        """The DATA payload without the terminating '.'."""
        if self.raw is not None and address.isascii():
            return self.raw.replace(self.to_token, address.encode()).replace(
                self.id_token, msgid.encode()
            )
        msg = build_message(self.notification, to=address, msgid=msgid)
        raw = _LEADING_DOT.sub(b"..", msg.message().as_bytes(linesep="\r\n"))  # type: ignore[call-arg]
        return raw if raw.endswith(b"\r\n") else raw + b"\r\n"


# --------------------------------------------------------------------------- senders


def _reply_text(resp: bytes | str) -> str:
    text = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)
    return " ".join(text.split())


class _SmtpSender:
    """One SMTP connection for a batch, with the two-phase hand-over described above."""

    def __init__(self, backend: SmtpBackend, notification: Notification) -> None:
        self.backend = backend
        self.notification = notification
        self.encoding = settings.DEFAULT_CHARSET
        self.from_addr = sanitize_address(settings.DEFAULT_FROM_EMAIL, self.encoding)
        self.template = _WireTemplate(notification)
        self.domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2]
        self.down_error = ""

    def close(self) -> None:
        try:
            self.backend.close()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        # Close the socket without QUIT. In the middle of DATA this is the only way to
        # abort: the server discards a message whose final "." never came.
        smtp = self.backend.connection
        self.backend.connection = None
        if smtp is not None:
            with contextlib.suppress(OSError):
                smtp.close()

    def _open(self) -> smtplib.SMTP | None:
        if self.backend.connection is None:
            if self.down_error:
                return None
            try:
                self.backend.open()
                smtp = cast(smtplib.SMTP, self.backend.connection)
                # The final "." is a write of its own after the body's: with Nagle's
                # algorithm it would wait for the server's delayed ACK (40 ms on Linux).
                sock = smtp.sock
                if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                smtp.ehlo_or_helo_if_needed()
            except (smtplib.SMTPException, OSError) as exc:
                self._drop()
                self.down_error = f"Cannot connect to the mail server: {exc or type(exc).__name__}"
                return None
        return self.backend.connection

    def _refused(self, smtp: smtplib.SMTP, stage: str, code: int, resp: bytes) -> Outcome:
        error = f"{code} {_reply_text(resp)} (refused at {stage})"
        if code == 421 or code < 0:
            self._drop()  # the server is closing this connection
        else:
            try:
                smtp.rset()
            except (smtplib.SMTPException, OSError):
                self._drop()
        return Outcome(PERMANENT if 500 <= code < 600 else TRANSIENT, error)

    def send(
        self, d: Claimed, mark_sent: Callable[[], bool], unmark: Callable[[], None]
    ) -> Outcome:
        smtp = self._open()
        if smtp is None:
            return Outcome(TRANSIENT, self.down_error, connection_down=True)
        try:
            address = sanitize_address(d.recipient, self.encoding)
        except ValueError as exc:
            return Outcome(PERMANENT, f"Invalid address: {exc}")
        payload = self.template.data(address, message_id(self.notification.pk, d.id, self.domain))
        try:
            code, resp = smtp.mail(self.from_addr)
            if code != 250:
                return self._refused(smtp, "MAIL FROM", code, resp)
            code, resp = smtp.rcpt(address)
            if code not in (250, 251):
                return self._refused(smtp, "RCPT TO", code, resp)
            smtp.putcmd("data")
            code, resp = smtp.getreply()
            if code != 354:
                return self._refused(smtp, "DATA", code, resp)
            smtp.send(payload)
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            return Outcome(TRANSIENT, f"Connection to the mail server lost: {exc}")
        # The commit point: from here on the delivery is `sent` in the database.
        try:
            ours = mark_sent()
        except BaseException:
            self._drop()
            raise
        if not ours:
            self._drop()
            return Outcome(FENCED)
        try:
            smtp.send(b".\r\n")
            code, resp = smtp.getreply()
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            unmark()
            return Outcome(
                TRANSIENT,
                f"Connection lost before the server confirmed the message (it is sent again "
                f"and may arrive twice): {exc}",
            )
        if code != 250:
            unmark()
            return self._refused(smtp, "end of data", code, resp)
        return Outcome(SENT)


class _BackendSender:
    """Any other e-mail backend: one message per call, marked sent once it returned."""

    def __init__(self, backend: Any, notification: Notification) -> None:
        self.backend = backend
        self.notification = notification
        self.opened = False

    def close(self) -> None:
        if self.opened:
            self.backend.close()

    def send(
        self, d: Claimed, mark_sent: Callable[[], bool], unmark: Callable[[], None]
    ) -> Outcome:
        msg = build_message(
            self.notification,
            to=d.recipient,
            msgid=message_id(self.notification.pk, d.id),
            connection=self.backend,
        )
        try:
            if not self.opened:
                self.backend.open()
                self.opened = True
            self.backend.send_messages([msg])
        except Exception as exc:
            return Outcome(TRANSIENT, f"{type(exc).__name__}: {exc}")
        if not mark_sent():
            logger.warning("Delivery %s was re-claimed while it was being sent.", d.id)
            return Outcome(FENCED)
        return Outcome(SENT)


def _sender(notification: Notification) -> _SmtpSender | _BackendSender:
    backend = get_connection(fail_silently=False)
    if isinstance(backend, SmtpBackend):
        return _SmtpSender(backend, notification)
    return _BackendSender(backend, notification)


# --------------------------------------------------------------------------- batches


def send_batch(*, notification_id: int, now: datetime | None = None) -> BatchResult:
    """Claim one batch of a notification's due deliveries, send it over one connection and
    settle every claimed delivery. Safe to run any number of times, concurrently."""
    now = now or timezone.now()
    size = batch_size()
    token = uuid.uuid4()
    claimed = claim(notification_id=notification_id, token=token, now=now, size=size)
    result = BatchResult(claimed=len(claimed), full=len(claimed) == size)
    if not claimed:
        return result
    notification = Notification.objects.get(pk=notification_id)
    outcomes: dict[int, Outcome] = {}
    sender = _sender(notification)
    try:
        for d in claimed:
            outcome = sender.send(
                d, partial(_mark_sent, d.id, token), partial(_unmark_sent, d.id, token)
            )
            outcomes[d.id] = outcome
            if outcome.connection_down:
                for rest in claimed:
                    outcomes.setdefault(rest.id, Outcome(TRANSIENT, outcome.error))
                break
    finally:
        sender.close()
        _settle(claimed, outcomes, token, result)
    return result


def _settle(
    claimed: Iterable[Claimed], outcomes: dict[int, Outcome], token: uuid.UUID, result: BatchResult
) -> None:
    """Record failures and retries; give back what was claimed but not tried (an exception
    stopped the batch). Every write is fenced by the claim token."""
    max_attempts = int(_setting("NOTIFICATIONS_MAX_ATTEMPTS"))
    now = timezone.now()
    untried = []
    for d in claimed:
        outcome = outcomes.get(d.id)
        mine = Delivery.objects.filter(pk=d.id, claim_token=token, state=DeliveryState.SENDING)
        if outcome is None:
            untried.append(d.id)
        elif outcome.status == SENT:
            result.sent += 1
        elif outcome.status == PERMANENT or (
            outcome.status == TRANSIENT and d.attempts >= max_attempts
        ):
            error = outcome.error
            if outcome.status == TRANSIENT:
                error = f"Gave up after {d.attempts} attempts. Last error: {error}"
            mine.update(state=DeliveryState.FAILED, last_error=error[:2000], claim_token=None)
            result.failed += 1
        elif outcome.status == TRANSIENT:
            at = now + backoff(d.attempts)
            mine.update(
                state=DeliveryState.PENDING,
                last_error=outcome.error[:2000],
                next_attempt_at=at,
                claim_token=None,
            )
            result.retrying += 1
            result.retry_at = at if result.retry_at is None else min(result.retry_at, at)
    if untried:
        Delivery.objects.filter(
            pk__in=untried, claim_token=token, state=DeliveryState.SENDING
        ).update(state=DeliveryState.PENDING, claim_token=None)


# --------------------------------------------------------------------------- sweep


def sweep(
    *,
    now: datetime | None = None,
    lease: float | None = None,
    grace: float | None = None,
    limit: int = 500,
) -> SweepResult:
    """Find what was left behind and send it again: `sending` deliveries whose worker
    stopped (lease over) go back to pending, and notifications with pending deliveries
    overdue by `grace` seconds (their task never came: broker down at commit, worker died
    between batches) are dispatched. Run by beat; idempotent."""
    now = now or timezone.now()
    lease_s = float(_setting("NOTIFICATIONS_SENDING_LEASE") if lease is None else lease)
    grace_s = float(_setting("NOTIFICATIONS_SWEEP_GRACE") if grace is None else grace)
    max_attempts = int(_setting("NOTIFICATIONS_MAX_ATTEMPTS"))
    result = SweepResult()

    expired = Delivery.objects.filter(
        state=DeliveryState.SENDING, claimed_at__lt=now - timedelta(seconds=lease_s)
    )
    released_for = set(expired.values_list("notification_id", flat=True).distinct())
    result.gave_up = expired.filter(attempts__gte=max_attempts).update(
        state=DeliveryState.FAILED,
        claim_token=None,
        last_error=(f"Gave up after {max_attempts} attempts: the worker stopped while sending it."),
    )
    # next_attempt_at is left as it was (before the claim), so they are due at once.
    result.released = expired.update(state=DeliveryState.PENDING, claim_token=None)

    busy = Delivery.objects.filter(
        state=DeliveryState.SENDING, claimed_at__gte=now - timedelta(seconds=lease_s)
    ).values("notification_id")
    overdue = (
        Delivery.objects.filter(
            state=DeliveryState.PENDING,
            next_attempt_at__lte=now - timedelta(seconds=grace_s),
        )
        .exclude(notification_id__in=busy)
        .values("notification_id")
        .annotate(oldest=Min("next_attempt_at"))
        .order_by("oldest")
        .values_list("notification_id", flat=True)[:limit]
    )
    pending = (
        Delivery.objects.filter(
            notification_id__in=set(overdue) | released_for, state=DeliveryState.PENDING
        )
        .values("notification_id")
        .annotate(n=Count("id"))
    )
    todo = {row["notification_id"]: row["n"] for row in pending}
    for notification_id, count in todo.items():
        if dispatch(notification_id, count):
            result.dispatched[notification_id] = count
    if result.released or result.dispatched:
        logger.info(
            "Sweep: %s released, %s given up, %s notifications dispatched.",
            result.released,
            result.gave_up,
            len(result.dispatched),
        )
    return result
