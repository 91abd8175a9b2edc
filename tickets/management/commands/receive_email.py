"""`manage.py receive_email < message.eml`: one RFC 822 message from standard input, as a
mail server's pipe delivery hands it over (Postfix: `changeprocess unix - n n - - pipe
user=app argv=/app/manage.py receive_email`).

Exit 0 when the message was posted or deliberately refused (the reason is logged); 75
(EX_TEMPFAIL, "try again later") when it could not be handled now, such as the database
being down, so that the mail server keeps it and retries.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.core.management.base import BaseCommand
from django.db import DatabaseError

from tickets.services.inbound import receive_email

logger = logging.getLogger(__name__)

EX_TEMPFAIL = 75
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class Command(BaseCommand):
    help = "Post one e-mail (RFC 822 on standard input) on its ticket."

    def handle(self, *args: Any, **options: Any) -> None:
        raw = sys.stdin.buffer.read(MAX_MESSAGE_BYTES + 1)
        if len(raw) > MAX_MESSAGE_BYTES:
            logger.warning("Inbound message refused: larger than %s bytes.", MAX_MESSAGE_BYTES)
            self.stdout.write("refused: the message is too large")
            return
        try:
            result = receive_email(raw=raw)
        except DatabaseError:
            logger.exception("Inbound message not handled now; the mail server should retry.")
            sys.exit(EX_TEMPFAIL)
        self.stdout.write(("accepted: " if result.accepted else "refused: ") + result.reason)
