"""Sending webhook deliveries: claim, POST, settle; and the sweep.

- **Claimed once.** Due deliveries are claimed with `SELECT ... FOR UPDATE SKIP LOCKED`
  and stamped with a fresh claim token in one transaction; only the holder of the current
  token settles one (a worker whose lease ran out finds its token gone).
- **In order per object.** A delivery is not claimed while an earlier event of the same
  object (`object_key`) for the same endpoint is pending or being sent: a receiver never
  sees event N+1 of CHG-12 before event N (a failed one, given up, no longer blocks).
- **Retried with backoff.** A timeout, a connection error, an address refused at send
  time (addresses.py) or any non-2xx answer puts the delivery back to pending with
  `next_attempt_at` doubling from WEBHOOKS_RETRY_BACKOFF, until WEBHOOKS_MAX_ATTEMPTS.
- **Disabled after repeated failure.** WEBHOOKS_DISABLE_AFTER failed attempts in a row
  (no success between) disable the endpoint, fail its unsettled deliveries and send its
  owner an action notice saying why.
- **At least once.** A receiver may get an event twice (a worker dying after the POST,
  before its commit); `webhook-id` is the same on every attempt so it can deduplicate.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, Min, OuterRef
from django.utils import timezone

from notifications.services import webhook_disabled
from tickets.errors import InvalidInput

from .addresses import Target, check_url
from .models import WebhookDelivery, WebhookDeliveryState, WebhookEndpoint
from .signing import signed_headers

logger = logging.getLogger(__name__)
State = WebhookDeliveryState
UNSETTLED = (State.PENDING, State.SENDING)
# What is kept of a receiver's answer in the delivery log.
ERROR_MAX = 500


@dataclass
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str = ""
    duration_ms: int = 0


@dataclass
class Result:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    next_due: datetime | None = None


def _earlier_unsettled() -> Exists:
    return Exists(
        WebhookDelivery.objects.filter(
            endpoint_id=OuterRef("endpoint_id"),
            object_key=OuterRef("object_key"),
            event_id__lt=OuterRef("event_id"),
            state__in=UNSETTLED,
        )
    )


def claim(*, now: datetime, limit: int) -> tuple[uuid.UUID, list[WebhookDelivery]]:
    token = uuid.uuid4()
    with transaction.atomic():
        rows = list(
            WebhookDelivery.objects.filter(
                state=State.PENDING, next_attempt_at__lte=now, endpoint__active=True
            )
            .exclude(_earlier_unsettled())
            .order_by("event_id", "id")
            .select_for_update(skip_locked=True, of=("self",))[:limit]
        )
        if rows:
            WebhookDelivery.objects.filter(pk__in=[r.pk for r in rows]).update(
                state=State.SENDING,
                claim_token=token,
                claimed_until=now + timedelta(seconds=settings.WEBHOOKS_LEASE),
                attempts=F("attempts") + 1,
            )
    return token, list(
        WebhookDelivery.objects.filter(pk__in=[r.pk for r in rows], claim_token=token)
        .select_related("endpoint", "event")
        .order_by("event_id", "id")
    )


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address checked, not to a fresh resolution of the host name."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = str(target.addresses[0])

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = str(target.addresses[0])

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # The certificate is checked against the host name, as for any HTTPS request.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post(url: str, body: str, headers: dict[str, str]) -> Outcome:
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = check_url(url)
    except InvalidInput as refused:
        return Outcome(ok=False, error=refused.message, duration_ms=took())
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection_class: Any = (
        _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    )
    connection = connection_class(target, float(settings.WEBHOOKS_TIMEOUT))
    try:
        connection.request(
            "POST",
            path,
            body=body.encode(),
            headers={**headers, "user-agent": "changeprocess-webhooks/1"},
        )
        response = connection.getresponse()
        answer = response.read(ERROR_MAX).decode(errors="replace")
    except TimeoutError:
        return Outcome(
            ok=False, error=f"No answer within {settings.WEBHOOKS_TIMEOUT} s.", duration_ms=took()
        )
    except (OSError, http.client.HTTPException) as e:
        return Outcome(ok=False, error=f"{type(e).__name__}: {e}"[:ERROR_MAX], duration_ms=took())
    finally:
        connection.close()
    if 200 <= response.status < 300:
        return Outcome(ok=True, status_code=response.status, duration_ms=took())
    return Outcome(
        ok=False,
        status_code=response.status,
        error=f"HTTP {response.status}: {answer}"[:ERROR_MAX],
        duration_ms=took(),
    )


def send(delivery: WebhookDelivery, *, now: datetime) -> Outcome:
    event = delivery.event
    body = json.dumps(event.payload, separators=(",", ":"))
    headers = signed_headers(
        secret=delivery.endpoint.secret, message_id=event.message_id, body=body, at=now
    )
    return post(delivery.endpoint.url, body, headers)


def backoff(attempts: int) -> timedelta:
    seconds = settings.WEBHOOKS_RETRY_BACKOFF * 2 ** max(0, attempts - 1)
    return timedelta(seconds=min(seconds, settings.WEBHOOKS_RETRY_BACKOFF_MAX))


def settle(delivery: WebhookDelivery, token: uuid.UUID, outcome: Outcome) -> str | None:
    """Record the attempt, fenced by the claim token; the state it left, or None when the
    claim was lost (the sweep took it back; its next holder records its own attempt)."""
    now = timezone.now()
    fields: dict[str, Any] = {
        "status_code": outcome.status_code,
        "duration_ms": outcome.duration_ms,
        "error": outcome.error,
        "claim_token": None,
        "claimed_until": None,
    }
    if outcome.ok:
        state = State.SENT
        fields.update(sent_at=now)
    elif delivery.attempts >= settings.WEBHOOKS_MAX_ATTEMPTS:
        state = State.FAILED
    else:
        state = State.PENDING
        fields.update(next_attempt_at=now + backoff(delivery.attempts))
    with transaction.atomic():
        if not WebhookDelivery.objects.filter(pk=delivery.pk, claim_token=token).update(
            state=state, **fields
        ):
            return None
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
        if outcome.ok:
            if endpoint.consecutive_failures:
                endpoint.consecutive_failures = 0
                endpoint.save(update_fields=["consecutive_failures"])
        else:
            endpoint.consecutive_failures += 1
            endpoint.save(update_fields=["consecutive_failures"])
            if endpoint.active and endpoint.consecutive_failures >= settings.WEBHOOKS_DISABLE_AFTER:
                disable(endpoint, reason=outcome.error or "The receiver did not answer 2xx.")
    return state


def disable(endpoint: WebhookEndpoint, *, reason: str) -> None:
    """Switch an endpoint off after repeated failure: its unsettled deliveries fail, and its
    owner is told. Caller holds the endpoint's row lock."""
    endpoint.active = False
    endpoint.disabled_at = timezone.now()
    endpoint.disabled_reason = (
        f"Disabled after {endpoint.consecutive_failures} failed deliveries in a row; "
        f"the last: {reason}"
    )
    endpoint.save(update_fields=["active", "disabled_at", "disabled_reason"])
    endpoint.deliveries.filter(state=State.PENDING).update(
        state=State.FAILED, error="Not sent: the endpoint was disabled."
    )
    webhook_disabled(endpoint=endpoint)


def send_due(*, limit: int | None = None) -> Result:
    """Claim what is due, send it, settle it. Result.next_due: when the next pending one
    is due (the task schedules itself for then)."""
    result = Result()
    budget = limit or batch_size()
    while budget > 0:
        # Claimed again after each round: an object's next event becomes claimable once
        # the one before it is settled.
        token, claimed = claim(now=timezone.now(), limit=budget)
        if not claimed:
            break
        budget -= len(claimed)
        for delivery in claimed:
            state = settle(delivery, token, send(delivery, now=timezone.now()))
            if state == State.SENT:
                result.sent += 1
            elif state == State.PENDING:
                result.retrying += 1
            elif state == State.FAILED:
                result.failed += 1
    result.next_due = WebhookDelivery.objects.filter(
        state=State.PENDING, endpoint__active=True
    ).aggregate(t=Min("next_attempt_at"))["t"]
    return result


def sweep(*, now: datetime | None = None) -> int:
    """Put deliveries whose claim's lease ran out (a worker died) back to pending; answers
    how many pending ones are due (the beat then queues the task)."""
    now = now or timezone.now()
    WebhookDelivery.objects.filter(state=State.SENDING, claimed_until__lt=now).update(
        state=State.PENDING, claim_token=None, claimed_until=None, next_attempt_at=now
    )
    return WebhookDelivery.objects.filter(
        state=State.PENDING, next_attempt_at__lte=now, endpoint__active=True
    ).count()


def batch_size() -> int:
    return int(settings.WEBHOOKS_BATCH_SIZE)


def seconds_until(at: datetime) -> float:
    # A little late rather than early: a task that comes before the retry is due finds
    # nothing to send.
    return max(0.0, (at - timezone.now()).total_seconds()) + 0.05
