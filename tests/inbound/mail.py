"""Real RFC 822 messages, as mail clients write them."""

from __future__ import annotations

import base64

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def plain(
    sender: str, subject: str, body: str, *, to: str = "support@desk.example", extra: str = ""
) -> bytes:
    return (
        f"From: Someone <{sender}>\r\n"
        f"To: {to}\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: <{abs(hash((sender, subject, body, extra)))}@client.example>\r\n"
        "Date: Mon, 30 Nov 2026 15:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        f"{extra}"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        f"{body}"
    ).encode()


def gmail_reply(sender: str, subject: str, *, in_reply_to: str, text: str) -> bytes:
    """Gmail: multipart/alternative, the quote after "On ... wrote:" and in a gmail_quote."""
    return (
        f"From: Alice <{sender}>\r\n"
        "To: support@desk.example\r\n"
        f"Subject: Re: {subject}\r\n"
        "Message-ID: <CAgmail123@mail.gmail.com>\r\n"
        f"In-Reply-To: {in_reply_to}\r\n"
        f"References: {in_reply_to}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/alternative; boundary="000000000000abc"\r\n'
        "\r\n"
        "--000000000000abc\r\n"
        'Content-Type: text/plain; charset="UTF-8"\r\n'
        "\r\n"
        f"{text}\r\n"
        "\r\n"
        "On Mon, 30 Nov 2026 at 15:00, Support <support@desk.example> wrote:\r\n"
        "\r\n"
        "> Which invoice number?\r\n"
        ">\r\n"
        "\r\n"
        "--000000000000abc\r\n"
        'Content-Type: text/html; charset="UTF-8"\r\n'
        "\r\n"
        f'<div dir="ltr">{text}</div><br><div class="gmail_quote"><div dir="ltr" '
        'class="gmail_attr">On Mon, 30 Nov 2026 at 15:00, Support wrote:<br></div>'
        "<blockquote>Which invoice number?</blockquote></div>\r\n"
        "--000000000000abc--\r\n"
    ).encode()


def outlook_reply(sender: str, *, to: str, text: str) -> bytes:
    return (
        f"From: Alice <{sender}>\r\n"
        f"To: {to}\r\n"
        "Subject: RE: SUP question\r\n"
        "Message-ID: <AM0PR01MB1234@eurprd01.prod.outlook.com>\r\n"
        "Thread-Topic: SUP question\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: text/plain; charset="us-ascii"\r\n'
        "\r\n"
        f"{text}\r\n"
        "\r\n"
        "Regards,\r\nAlice\r\n"
        "\r\n"
        "________________________________\r\n"
        "From: Support <support@desk.example>\r\n"
        "Sent: Monday, November 30, 2026 3:00 PM\r\n"
        f"To: Alice <{sender}>\r\n"
        "Subject: SUP question\r\n"
        "\r\n"
        "Which invoice number?\r\n"
    ).encode()


def html_only(sender: str, subject: str, html: str) -> bytes:
    return (
        f"From: <{sender}>\r\n"
        "To: support@desk.example\r\n"
        f"Subject: {subject}\r\n"
        "Message-ID: <html-only-1@client.example>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/html; charset=utf-8\r\n"
        "\r\n"
        f"{html}\r\n"
    ).encode()


def with_attachment(sender: str, subject: str, text: str) -> bytes:
    data = base64.encodebytes(PNG).decode().replace("\n", "\r\n")
    return (
        f"From: <{sender}>\r\n"
        "To: support@desk.example\r\n"
        f"Subject: {subject}\r\n"
        "Message-ID: <with-file-1@client.example>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="XYZ"\r\n'
        "\r\n"
        "--XYZ\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"{text}\r\n"
        "--XYZ\r\n"
        'Content-Type: image/png; name="screen.png"\r\n'
        'Content-Disposition: attachment; filename="screen.png"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        f"{data}"
        "--XYZ--\r\n"
    ).encode()
