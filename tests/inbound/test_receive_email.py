"""`manage.py receive_email` with real messages: which ticket, who may, what is kept of
the text, what is refused (and never posted)."""

from __future__ import annotations

import io
import sys

import pytest
from django.core.management import call_command
from django.db import DatabaseError

from tests.factories import TicketFactory
from tests.inbound import mail
from tickets import services
from tickets.models import Attachment, InboundEmail, Ticket, TicketComment, TicketStatus
from tickets.services.inbound import html_to_text, receive_email


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _ticket(cast, **kwargs):
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice, **kwargs)
    return ticket


def _waiting_for_customer(cast) -> Ticket:
    ticket = _ticket(cast)
    services.ticket_comment(ticket=ticket.pk, by=cast.agent, body="Which invoice number?")
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.WAITING_FOR_CUSTOMER
    return ticket


def run(raw: bytes, monkeypatch) -> tuple[int, str]:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    try:
        call_command("receive_email", stdout=out)
    except SystemExit as exit:
        return int(exit.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_subject_key_plain_reply_moves_the_ticket(cast, monkeypatch):
    ticket = _waiting_for_customer(cast)
    code, out = run(
        mail.plain(cast.alice.email, f"Re: [{ticket.key}] VAT", "INV-0042.\n"), monkeypatch
    )
    assert code == 0 and out.startswith("accepted"), out
    comment = TicketComment.objects.filter(ticket=ticket).last()
    assert comment.author == cast.alice and comment.body == "INV-0042." and comment.public
    ticket.refresh_from_db()
    # As for a comment in the portal: customer_reply.
    assert ticket.status == TicketStatus.WAITING_FOR_SUPPORT
    assert ticket.log.last().transition == "customer_reply"


def test_plus_address_and_outlook_quote(cast, monkeypatch):
    ticket = _waiting_for_customer(cast)
    raw = mail.outlook_reply(
        cast.alice.email, to=f"support+{ticket.key}@desk.example", text="It fails on page 2."
    )
    assert run(raw, monkeypatch)[1].startswith("accepted")
    body = TicketComment.objects.filter(ticket=ticket).last().body
    assert body.startswith("It fails on page 2.")
    assert "Which invoice number?" not in body
    assert "Sent:" not in body


def test_gmail_reply_threads_by_in_reply_to(cast, monkeypatch, django_capture_on_commit_callbacks):
    from notifications.models import Delivery

    with django_capture_on_commit_callbacks(execute=True):
        ticket = _waiting_for_customer(cast)
    delivery = Delivery.objects.filter(notification__ticket=ticket, user=cast.alice).get()
    from notifications.smtp import message_id

    msgid = message_id(delivery.notification_id, delivery.pk)
    raw = mail.gmail_reply(cast.alice.email, "anything", in_reply_to=msgid, text="It is INV-7.")
    assert run(raw, monkeypatch)[1].startswith("accepted")
    assert TicketComment.objects.filter(ticket=ticket).last().body == "It is INV-7."


def test_html_only_mail_becomes_text(cast, monkeypatch):
    ticket = _waiting_for_customer(cast)
    raw = mail.html_only(
        cast.alice.email,
        f"[{ticket.key}]",
        "<html><head><style>p{color:red}</style></head><body><p>First &amp; foremost</p>"
        "<p>second<br>line</p><script>alert(1)</script></body></html>",
    )
    assert run(raw, monkeypatch)[1].startswith("accepted")
    assert TicketComment.objects.filter(ticket=ticket).last().body == (
        "First & foremost\n\nsecond\nline"
    )


def test_attachment_of_the_mail_is_attached(cast, monkeypatch):
    ticket = _waiting_for_customer(cast)
    raw = mail.with_attachment(cast.alice.email, f"[{ticket.key}] screenshot", "See attached.")
    assert run(raw, monkeypatch)[1].startswith("accepted")
    attachment = Attachment.objects.get(ticket=ticket)
    assert attachment.name == "screen.png" and attachment.content_type == "image/png"
    assert attachment.comment == TicketComment.objects.filter(ticket=ticket).last()
    assert attachment.uploaded_by == cast.alice


def test_a_customer_without_a_reference_opens_a_ticket(cast, monkeypatch):
    code, out = run(mail.plain(cast.alice.email, "Login broken", "Since today.\n"), monkeypatch)
    assert code == 0 and out.startswith("accepted: opened SUP-"), out
    ticket = Ticket.objects.get(title="Login broken")
    assert ticket.organization == cast.acme and ticket.reporter == cast.alice
    assert ticket.description == "Since today."


@pytest.mark.parametrize(
    ("extra", "sender", "why"),
    [
        ("Auto-Submitted: auto-replied\r\n", None, "Auto-Submitted"),
        ("Precedence: bulk\r\n", None, "Precedence"),
        ("X-Autoreply: yes\r\n", None, "auto-reply"),
        ("", "MAILER-DAEMON@mx.acme.example", "bounce"),
        ("", "stranger@nowhere.example", "unknown sender"),
    ],
)
def test_refused_and_never_posted(cast, monkeypatch, extra, sender, why):
    ticket = _waiting_for_customer(cast)
    before = TicketComment.objects.count()
    raw = mail.plain(
        sender or cast.alice.email, f"Out of office [{ticket.key}]", "I am away.\n", extra=extra
    )
    code, out = run(raw, monkeypatch)
    assert code == 0 and out.startswith("refused") and why in out, out
    assert TicketComment.objects.count() == before
    assert InboundEmail.objects.get().outcome == "refused"


def test_our_own_notification_coming_back_is_a_loop(cast, monkeypatch):
    ticket = _waiting_for_customer(cast)
    raw = mail.plain(cast.alice.email, f"[{ticket.key}]", "x\n").replace(
        b"Message-ID: <", b"Message-ID: <cp.1.2@desk.example><", 1
    )
    raw = raw.replace(b"<cp.1.2@desk.example><", b"<cp.1.2@desk.example>\r\nX-Old-Id: <", 1)
    code, out = run(raw, monkeypatch)
    assert code == 0 and "loop" in out, out


def test_a_forged_key_of_another_organisation_is_refused(cast, monkeypatch):
    theirs = TicketFactory(organization=cast.globex, reporter=cast.bob)
    code, out = run(
        mail.plain(cast.alice.email, f"[{theirs.key}] hello", "Let me in.\n"), monkeypatch
    )
    assert code == 0 and out.startswith("refused") and "No ticket" in out, out
    assert not TicketComment.objects.filter(ticket=theirs).exists()


def test_the_same_message_twice_is_posted_once(cast, monkeypatch):
    ticket = _waiting_for_customer(cast)
    raw = mail.plain(cast.alice.email, f"[{ticket.key}]", "Once.\n")
    assert run(raw, monkeypatch)[1].startswith("accepted")
    assert run(raw, monkeypatch)[1] == "refused: seen before\n"
    assert TicketComment.objects.filter(ticket=ticket, body="Once.").count() == 1


def test_database_down_asks_the_mail_server_to_retry(cast, monkeypatch):
    def down(**kwargs):
        raise DatabaseError("connection refused")

    monkeypatch.setattr("tickets.management.commands.receive_email.receive_email", down)
    code, _ = run(mail.plain(cast.alice.email, "x", "y"), monkeypatch)
    assert code == 75


def test_provider_staff_reply_by_mail(cast, monkeypatch):
    ticket = _ticket(cast)
    assert receive_email(raw=mail.plain(cast.agent.email, f"[{ticket.key}]", "On it.\n")).accepted
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.WAITING_FOR_CUSTOMER


def test_html_to_text_leaves_quotes_out():
    assert html_to_text("<p>Yes</p><blockquote><p>old</p></blockquote>") == "Yes"


def test_a_message_without_message_id_is_still_posted_once(cast, monkeypatch):
    ticket = _waiting_for_customer(cast)
    raw = mail.plain(cast.alice.email, f"[{ticket.key}]", "No id.\n")
    raw = b"\r\n".join(line for line in raw.split(b"\r\n") if not line.startswith(b"Message-ID"))
    assert run(raw, monkeypatch)[1].startswith("accepted")
    assert run(raw, monkeypatch)[1] == "refused: seen before\n"
