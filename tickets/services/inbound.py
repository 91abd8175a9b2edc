"""E-mail in: one RFC 822 message becomes a comment on its ticket (through
`ticket_comment`, so the automatic moves happen exactly as for a comment in the portal),
or a new ticket of a known customer user, or a logged refusal.

How a message finds its ticket, first match wins: `In-Reply-To` / `References` naming the
Message-ID of one of our notifications (`<cp.<notification>.<delivery>@...>`,
notifications/smtp.py), `+SUP-<n>` in the local part of a recipient (the Reply-To our
notifications carry), `[SUP-<n>]` in the subject. None of these can be trusted more than
the sender: the ticket is fetched *for the sender* (`access_ticket`), so a forged key of
another organisation's ticket is refused like an unknown ticket.

Refused, never posted (and logged): automatic mail (Auto-Submitted other than "no",
Precedence bulk/junk/list/auto_reply, X-Autoreply, bounces from MAILER-DAEMON or with an
empty Return-Path, delivery reports), our own notifications coming back (a loop), senders
who are not an active user allowed to comment on the ticket, and a reply without a ticket
from anyone but a customer user. A message seen before (by Message-ID) is not posted
again.

Database errors are not caught: the command answers "try again" for them.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from mailparser_reply import EmailReplyParser

from ..errors import DomainError
from ..limits import TEXT_MAX, without_forbidden
from ..models import InboundEmail, Ticket, TicketComment, User
from ..selectors import access_ticket
from .attachments import attachment_add
from .support import ticket_comment, ticket_create

logger = logging.getLogger(__name__)

OUR_MESSAGE_ID = re.compile(r"<cp\.(\d{1,18})\.(\d{1,18})@[^>\s]+>")
PLUS_KEY = re.compile(r"\+SUP-(\d{1,18})(?:@|$)", re.IGNORECASE)
SUBJECT_KEY = re.compile(r"\[SUP-(\d{1,18})\]", re.IGNORECASE)
AUTOMATIC_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
DAEMONS = re.compile(r"^(mailer-daemon|postmaster|no-?reply|bounce[s]?)@", re.IGNORECASE)
RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")
TITLE_MAX = 200


@dataclass
class Received:
    """What became of one message: `accepted` (with its ticket and comment) or a refusal
    with its `reason`."""

    accepted: bool
    reason: str
    ticket: Ticket | None = None
    comment: TicketComment | None = None


class _Refused(Exception):
    pass


def receive_email(*, raw: bytes) -> Received:
    """Take one message as the mail server delivers it. Holds its own transaction: the
    comment, its files and the record of the message commit together."""
    msg: EmailMessage = BytesParser(policy=policy.default).parsebytes(raw)  # type: ignore[assignment]
    # Without a Message-ID, the bytes name the message (the same on every retry).
    message_id = (
        _header(msg, "Message-ID").strip()
        or f"<sha256-{hashlib.sha256(raw).hexdigest()}@inbound.invalid>"
    )
    sender = parseaddr(_header(msg, "From"))[1].lower()
    subject = " ".join(_header(msg, "Subject").split())
    with transaction.atomic():
        # One message at a time per Message-ID: a concurrent retry waits, then sees it.
        seen, created = InboundEmail.objects.select_for_update().get_or_create(
            message_id=message_id[:300],
            defaults={
                "sender": sender[:254],
                "subject": subject[:300],
                "outcome": InboundEmail.Outcome.REFUSED,
            },
        )
        if not created:
            logger.info("Inbound %s: seen before (%s), not posted again.", message_id, seen.outcome)
            return Received(False, "seen before", seen.ticket, seen.comment)
        try:
            result = _take(msg, sender, subject)
        except _Refused as refused:
            result = Received(False, str(refused))
        seen.outcome = (
            InboundEmail.Outcome.ACCEPTED if result.accepted else InboundEmail.Outcome.REFUSED
        )
        seen.reason = result.reason[:300]
        seen.ticket = result.ticket
        seen.comment = result.comment
        seen.save()
    if result.accepted:
        logger.info("Inbound %s from %s: %s", message_id, sender, result.reason)
    else:
        logger.warning("Inbound %s from %s refused: %s", message_id, sender, result.reason)
    return result


def _take(msg: EmailMessage, sender: str, subject: str) -> Received:
    _refuse_automatic(msg, sender)
    user = _sender(sender)
    key = _ticket_key(msg, subject)
    body, files = _content(msg)
    if key is None:
        if not user.is_customer:
            raise _Refused("no ticket named (provider staff reply to a ticket's notification)")
        title = _clean(SUBJECT_KEY.sub("", subject)).strip() or "E-mail without a subject"
        try:
            with transaction.atomic():
                ticket = ticket_create(by=user, title=title[:TITLE_MAX], description=body)
                _attach(user, ticket, None, files)
        except DomainError as exc:
            raise _Refused(f"not opened: {exc.message}") from exc
        return Received(True, f"opened {ticket.key}", ticket)
    try:
        with transaction.atomic():
            ticket = access_ticket(user, key)
            text = body or f"(sent {len(files)} file(s) by e-mail)"
            comment = ticket_comment(ticket=ticket.pk, by=user, body=text, public=True)
            _attach(user, ticket, comment, files)
    except DomainError as exc:
        # NotVisible included: another organisation's key is "no such ticket" for them.
        raise _Refused(f"not posted on SUP-{key}: {exc.message}") from exc
    return Received(True, f"commented on {ticket.key}", ticket, comment)


# --------------------------------------------------------------------------- who, which


def _header(msg: EmailMessage, name: str) -> str:
    try:
        return str(msg.get(name, "") or "")
    except (ValueError, TypeError, IndexError):  # a header the parser cannot make sense of
        return ""


def _refuse_automatic(msg: EmailMessage, sender: str) -> None:
    auto = _header(msg, "Auto-Submitted").strip().lower()
    if auto and not auto.startswith("no"):
        raise _Refused(f"automatic message (Auto-Submitted: {auto})")
    precedence = _header(msg, "Precedence").strip().lower()
    if precedence in AUTOMATIC_PRECEDENCE:
        raise _Refused(f"automatic message (Precedence: {precedence})")
    if _header(msg, "X-Autoreply") or _header(msg, "X-Autorespond"):
        raise _Refused("automatic message (an auto-reply header)")
    if _header(msg, "Return-Path").strip() == "<>" or not sender or DAEMONS.match(sender):
        raise _Refused("a bounce or a message from a mail system")
    if msg.get_content_type() == "multipart/report":
        raise _Refused("a delivery or read report")
    if OUR_MESSAGE_ID.fullmatch(_header(msg, "Message-ID").strip()):
        raise _Refused("one of our own notifications came back (a loop)")


def _sender(address: str) -> User:
    users = list(User.objects.filter(email__iexact=address, is_active=True)[:2])
    if len(users) != 1:
        reason = "several users have" if users else "no active user has"
        raise _Refused(f"unknown sender: {reason} the address {address}")
    return users[0]


def _ticket_key(msg: EmailMessage, subject: str) -> int | None:
    threads = f"{_header(msg, 'In-Reply-To')} {_header(msg, 'References')}"
    for notification, delivery in OUR_MESSAGE_ID.findall(threads):
        # Visibility is asked later, of the sender; here only which ticket it names.
        ticket = (
            Ticket.objects.filter(
                notifications__id=int(notification), notifications__deliveries__id=int(delivery)
            )
            .values_list("pk", flat=True)
            .first()
        )
        if ticket is not None:
            return int(ticket)
    recipients = getaddresses([_header(msg, name) for name in RECIPIENT_HEADERS])
    for _, address in recipients:
        if m := PLUS_KEY.search(address):
            return int(m.group(1))
    if m := SUBJECT_KEY.search(subject):
        return int(m.group(1))
    return None


# --------------------------------------------------------------------------- content


def _content(msg: EmailMessage) -> tuple[str, list[tuple[str, bytes]]]:
    """The new text of a reply (quoted history and signature stripped; HTML-only mail as
    text), and the files it carries."""
    part = msg.get_body(preferencelist=("plain", "html"))
    text = ""
    if part is not None:
        try:
            content = part.get_content()
        except (LookupError, ValueError):  # an unknown charset
            content = part.get_payload(decode=True).decode("utf-8", "replace")  # type: ignore[union-attr]
        text = html_to_text(content) if part.get_content_type() == "text/html" else content
    files = []
    for attachment in msg.iter_attachments():
        data = attachment.get_payload(decode=True)
        if isinstance(data, bytes) and data:
            files.append((attachment.get_filename() or "attachment", data))
    return _clean(strip_reply(text))[:TEXT_MAX], files


def _clean(text: str) -> str:
    return without_forbidden(text).replace("\ufffd", "").strip()


_SIGNATURE = re.compile(r"(?m)^-- ?$")


def strip_reply(text: str) -> str:
    """What the person wrote above the quoted history (Gmail's "On ... wrote:", Outlook's
    "From: ... Sent: ...", "> " lines) and the signature ("-- ")."""
    text = text.replace("\r\n", "\n")
    if m := _SIGNATURE.search(text):
        text = text[: m.start()]
    reply = EmailReplyParser(languages=["en", "de", "fr", "nl", "es"]).parse_reply(text=text)
    return str(reply or "").strip()


class _Text(HTMLParser):
    BLOCKS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "blockquote", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.quote = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self.skip += 1
        if tag == "blockquote" or any(
            name == "class" and value and "gmail_quote" in value for name, value in attrs
        ):
            self.quote += 1
        if tag in self.BLOCKS:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self.skip = max(0, self.skip - 1)
        if tag in ("blockquote", "div") and self.quote:
            # A quoted block ends with its blockquote (or the gmail_quote div around it).
            self.quote = max(0, self.quote - 1) if tag == "blockquote" else self.quote
        if tag in self.BLOCKS:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip and not self.quote:
            self.out.append(data)


def html_to_text(html: str) -> str:
    """Readable text of an HTML mail: no markup, scripts or styles, quoted blocks left out,
    paragraphs kept apart."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.out).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _attach(user: User, ticket: Ticket, comment: TicketComment | None, files: list) -> None:
    for name, data in files:
        if len(data) > settings.ATTACHMENTS_MAX_BYTES:
            logger.warning("Inbound file %s on %s not attached: too large.", name, ticket.key)
            continue
        attachment_add(
            by=user,
            ticket=ticket.pk,
            comment=comment.pk if comment is not None else None,
            file=ContentFile(data, name=name),
            name=name,
        )
