"""The conversation by e-mail, end to end: the support team answers in the app, the
customer's notice leaves over SMTP (aiosmtpd) threaded and with a Reply-To naming the
ticket, the customer's mail client answers it, the mail server pipes the answer into
`receive_email`, and the answer is a comment on the right ticket, which moved."""

from __future__ import annotations

import io
import sys

from django.core.management import call_command

from tests.factories import TicketFactory
from tests.inbound import mail
from tests.notifications.conftest import smtp_server  # noqa: F401 - a fixture
from tickets import services
from tickets.models import TicketComment, TicketStatus


def test_a_notice_answered_by_mail_lands_on_its_ticket(
    cast,
    settings,
    smtp_server,  # noqa: F811 - the fixture imported above
    monkeypatch,
    django_capture_on_commit_callbacks,
    tmp_path,
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_server.host
    settings.EMAIL_PORT = smtp_server.port
    settings.SUPPORT_REPLY_ADDRESS = "support@desk.example"
    settings.MEDIA_ROOT = str(tmp_path)
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice, title="Invoices")
    other = TicketFactory(organization=cast.acme, reporter=cast.alice, title="Other")

    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_comment(ticket=ticket.pk, by=cast.agent, body="Which invoice number?")

    sent = [m for m in smtp_server.recorder.messages if cast.alice.email in m.rcpts]
    assert len(sent) == 1
    notice = sent[0].parsed()
    assert notice["Reply-To"] == f"support+{ticket.key}@desk.example"
    assert notice["References"] == notice["In-Reply-To"]
    msgid = notice["Message-ID"]

    # Gmail answers: the quote below the answer, threaded by In-Reply-To; the subject has
    # no key, and the Reply-To is not even needed.
    reply = mail.gmail_reply(
        cast.alice.email, notice["Subject"], in_reply_to=msgid, text="INV-2024-0042."
    )
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(reply)))
    call_command("receive_email", stdout=out)
    assert out.getvalue().startswith(f"accepted: commented on {ticket.key}")

    comment = TicketComment.objects.filter(ticket=ticket).last()
    assert (comment.author, comment.body, comment.public) == (cast.alice, "INV-2024-0042.", True)
    assert not TicketComment.objects.filter(ticket=other).exists()
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.WAITING_FOR_SUPPORT
