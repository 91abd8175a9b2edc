"""Standard Webhooks signatures (https://www.standardwebhooks.com/): the headers
`webhook-id`, `webhook-timestamp` and `webhook-signature` (`v1,<base64 HMAC-SHA256 of
"id.timestamp.body">`, keyed with the base64-decoded part of the secret after `whsec_`),
made with the `standardwebhooks` package so that a receiver verifying with any of its
implementations agrees with us byte for byte."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
# 32 random bytes: the HMAC-SHA256 key length (the specification asks for 24 to 64).
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signed_headers(*, secret: str, message_id: str, body: str, at: datetime) -> dict[str, str]:
    """The headers of one request carrying `body` (the exact JSON text sent), as of `at`.
    A retry of the same event keeps `message_id` (receivers deduplicate on it) and is
    signed again with the time of the attempt (receivers refuse stale timestamps)."""
    at = at.astimezone(UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        # standardwebhooks reads the datetime's wall clock as UTC: give it UTC.
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
        "content-type": "application/json",
    }
