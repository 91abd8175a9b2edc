"""Celery tasks of the tickets app: polling a support mailbox over IMAP, for installations
whose mail server cannot pipe into `manage.py receive_email` (off unless INBOUND_IMAP_HOST
is set; beat runs it every INBOUND_IMAP_INTERVAL seconds).

Each unseen message goes through the same `receive_email` as the pipe and is then marked
seen (posted or refused alike: the reason is logged and recorded); a database error
leaves it unseen for the next poll. `receive_email` records Message-IDs, so a message
fetched twice (a worker dying between posting and marking) is posted once.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from .services.inbound import receive_email
from .services.tokens import tokens_purge_expired

logger = logging.getLogger(__name__)

# Per poll: a flood waits for the next polls rather than holding one worker for long.
POLL_BATCH = 100


@shared_task(ignore_result=True)
def poll_mailbox() -> int:
    """Take the unseen messages of the mailbox; how many were handled."""
    if not settings.INBOUND_IMAP_HOST:
        return 0
    imap = imaplib.IMAP4_SSL(settings.INBOUND_IMAP_HOST, settings.INBOUND_IMAP_PORT, timeout=60)
    handled = 0
    try:
        imap.login(settings.INBOUND_IMAP_USER, settings.INBOUND_IMAP_PASSWORD)
        imap.select(settings.INBOUND_IMAP_FOLDER)
        _, found = imap.uid("SEARCH", "UNSEEN")
        for uid in (found[0] or b"").decode().split()[:POLL_BATCH]:
            _, fetched = imap.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((part[1] for part in fetched if isinstance(part, tuple)), None)
            if raw is None:
                continue
            try:
                receive_email(raw=raw)
            except DatabaseError:
                logger.exception("Mailbox poll stopped: the database; the rest waits.")
                break
            imap.uid("STORE", uid, "+FLAGS", "(\\Seen)")
            handled += 1
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            imap.logout()
    return handled


@shared_task(ignore_result=True)
def purge_expired_tokens() -> int:
    """Delete the API tokens that have expired (beat, hourly); how many."""
    return tokens_purge_expired()
