"""The SMTP sending engine: one message per delivery, built once per batch and sent over
one connection with the two-phase hand-over of `notifications.sending` (everything but
the final "." first, then the caller's `mark_sent`, then the "."). Other mail backends
(console, file, locmem) are handed one message at a time. Knows nothing of claims,
retries or Celery: `sending` hands it claimed deliveries and callbacks, and settles what
it answers."""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import smtplib
import socket
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any, cast

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.core.mail.message import sanitize_address

from .models import Notification, NotificationKind

logger = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class Claimed:
    id: int
    recipient: str
    attempts: int


# --------------------------------------------------------------------------- messages


def message_id(notification_id: int, delivery_id: int, domain: str | None = None) -> str:
    """Stable per delivery: a copy sent again after an ambiguous failure carries the same
    Message-ID, which mail clients and archives use to drop duplicates."""
    if domain is None:
        domain = _domain()
    return f"<cp.{notification_id}.{delivery_id}@{domain or 'changeprocess.invalid'}>"


def _domain() -> str:
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "changeprocess.invalid"


def reply_address(ticket_id: int) -> str:
    """SUPPORT_REPLY_ADDRESS with `+SUP-<n>` in its local part ("" when not set): where a
    reply to a notification about ticket n goes, found again by `receive_email`."""
    local, _, domain = parseaddr(settings.SUPPORT_REPLY_ADDRESS)[1].rpartition("@")
    return f"{local}+SUP-{ticket_id}@{domain}" if local and domain else ""


def thread_id(ticket_id: int) -> str:
    """The root every notification about ticket n refers to, so that mail clients show
    them (and the replies) as one conversation."""
    return f"<sup-{ticket_id}@{_domain()}>"


def build_message(
    notification: Notification, *, to: str, msgid: str, connection: Any = None
) -> EmailMultiAlternatives:
    headers = {
        "Message-ID": msgid,
        # RFC 3834: automatic; out-of-office replies should not answer it.
        "Auto-Submitted": "auto-generated",
        "X-Auto-Response-Suppress": "All",
    }
    if notification.ticket_id:
        headers["References"] = thread_id(notification.ticket_id)
        headers["In-Reply-To"] = thread_id(notification.ticket_id)
        if reply_to := reply_address(notification.ticket_id):
            headers["Reply-To"] = reply_to
    msg = EmailMultiAlternatives(
        subject=notification.subject,
        body=notification.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        connection=connection,
        headers=headers,
    )
    if notification.body_html:
        msg.attach_alternative(notification.body_html, "text/html")
    if ics := _outage_ics(notification):
        msg.attach("outage.ics", ics, "text/calendar")
    return msg


_WITH_ICS = (
    NotificationKind.ANNOUNCEMENT,
    NotificationKind.REMINDER,
    NotificationKind.CORRECTION,
    NotificationKind.CANCELLATION,
)


def _outage_ics(notification: Notification) -> bytes | None:
    """An announcement, reminder, correction or cancellation carries its window as an
    `.ics` (issue 14), so end users' calendars hold it, move it and cancel it."""
    if (
        notification.kind not in _WITH_ICS
        or not notification.change_id
        or notification.window_start is None
        or notification.window_end is None
    ):
        return None
    from tickets.scheduling.ical import outage_ics

    earlier = Notification.objects.filter(
        change_id=notification.change_id, kind__in=_WITH_ICS, id__lt=notification.pk
    )
    return outage_ics(
        change_id=notification.change_id,
        start=notification.window_start,
        end=notification.window_end,
        summary=notification.subject,
        description=notification.body_text,
        decided=notification.created,
        sequence=earlier.count(),
        cancelled=notification.kind == NotificationKind.CANCELLATION,
    )


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


def sender_for(notification: Notification) -> _SmtpSender | _BackendSender:
    backend = get_connection(fail_silently=False)
    if isinstance(backend, SmtpBackend):
        return _SmtpSender(backend, notification)
    return _BackendSender(backend, notification)
