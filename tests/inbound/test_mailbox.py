"""The optional IMAP poll: unseen messages go through receive_email and are marked seen;
a database error leaves the rest unseen; nothing happens unless a host is configured."""

from __future__ import annotations

import pytest
from django.db import DatabaseError

from tests.factories import TicketFactory
from tests.inbound import mail
from tickets import tasks
from tickets.models import TicketComment


class FakeImap:
    def __init__(self, messages: dict[bytes, bytes]) -> None:
        self.messages = messages
        self.seen: list[bytes] = []
        self.logged_in = False

    def __call__(self, host: str, port: int, timeout: float) -> FakeImap:
        assert (host, port) == ("imap.desk.example", 993)
        return self

    def login(self, user: str, password: str) -> None:
        self.logged_in = (user, password) == ("support", "secret")

    def select(self, folder: str) -> None:
        assert folder == "INBOX"

    def uid(self, command: str, *args: object):
        if command == "SEARCH":
            unseen = [uid for uid in self.messages if uid not in self.seen]
            return "OK", [b" ".join(unseen)]
        if command == "FETCH":
            uid = str(args[0]).encode()
            return "OK", [(b"1 (UID " + uid + b" BODY[] {n}", self.messages[uid]), b")"]
        if command == "STORE":
            self.seen.append(str(args[0]).encode())
            return "OK", [b""]
        raise AssertionError(command)

    def logout(self) -> None:
        pass


@pytest.fixture
def mailbox(settings, monkeypatch, tmp_path):
    settings.INBOUND_IMAP_HOST = "imap.desk.example"
    settings.INBOUND_IMAP_USER = "support"
    settings.INBOUND_IMAP_PASSWORD = "secret"
    settings.MEDIA_ROOT = str(tmp_path)

    def install(messages: dict[bytes, bytes]) -> FakeImap:
        fake = FakeImap(messages)
        monkeypatch.setattr(tasks.imaplib, "IMAP4_SSL", fake)
        return fake

    return install


def test_unseen_messages_are_posted_and_marked_seen(cast, mailbox):
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    fake = mailbox(
        {
            b"7": mail.plain(cast.alice.email, f"[{ticket.key}]", "By IMAP.\n"),
            b"8": mail.plain("stranger@nowhere.example", f"[{ticket.key}]", "Spam.\n"),
        }
    )
    assert tasks.poll_mailbox() == 2
    assert fake.logged_in and fake.seen == [b"7", b"8"]
    assert list(TicketComment.objects.filter(ticket=ticket).values_list("body", flat=True)) == [
        "By IMAP."
    ]
    assert tasks.poll_mailbox() == 0


def test_a_database_error_leaves_the_message_unseen(cast, mailbox, monkeypatch):
    fake = mailbox({b"1": mail.plain(cast.alice.email, "x", "y\n")})

    def down(**kwargs):
        raise DatabaseError("gone")

    monkeypatch.setattr(tasks, "receive_email", down)
    assert tasks.poll_mailbox() == 0
    assert fake.seen == []


def test_off_by_default(settings):
    settings.INBOUND_IMAP_HOST = ""
    assert tasks.poll_mailbox() == 0
