"""Sending deliveries: claim, send over one SMTP connection, settle, and the sweep.

The guarantees, and the one place they are weakest:

- **Nothing lost when the broker or a worker is down.** The rows are written with the
  event; Celery only carries "go and look at notification N". A task that never arrives
  (broker down at commit) or dies (worker killed) leaves rows `pending` or `sending`; the
  periodic `sweep` re-dispatches pending ones that are overdue and puts `sending` ones
  whose lease ran out back to `pending`.
- **Claimed atomically.** A batch is claimed with `SELECT ... FOR UPDATE SKIP LOCKED` and
  stamped with a fresh claim token in one transaction; two workers never hold the same
  delivery, and only the holder of the current token can mark it sent.
- **Sent once.** Over SMTP the message is handed over in two phases: envelope, DATA and the
  whole body go first, then the delivery is committed `sent` (fenced by the claim token),
  and only then the final "." that makes the server accept the message. A worker that dies
  before that commit leaves a half-sent message the server discards, so the retry is the
  first copy; a worker whose lease ran out finds its token gone, drops the connection
  without the "." and sends nothing.

  The remaining window: a crash after PostgreSQL committed the row and before the "."
  reaches the socket (the commit's reply on its way back, and a few microseconds of
  Python; well under a tenth of the time a message takes) leaves a delivery marked sent
  that the server never accepted: that one message is lost. A connection that breaks after the "."
  but before the server's reply is ambiguous the other way; the delivery is retried and
  may arrive twice (it carries the same Message-ID, so mail clients that deduplicate drop
  it). Exactly-once is impossible with SMTP; this design moves every crash of a worker,
  a stale lease, a broker outage and a lost task to the safe side, and leaves only those
  two windows.
- **Retried with backoff.** 4xx replies and connection errors put the delivery back to
  `pending` with `next_attempt_at` doubling from NOTIFICATIONS_RETRY_BACKOFF, until
  NOTIFICATIONS_MAX_ATTEMPTS; 5xx replies fail it at once. A failed delivery keeps the
  server's reply in `last_error`, shown on the change's communications.

Backends other than SMTP (console and file in development, locmem in tests) are handed
one message at a time and marked sent after they return (at-least-once).
"""

from __future__ import annotations

import logging
import math
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Min, Q
from django.utils import timezone

from changeprocess.celery import app as celery_app

from .models import Delivery, DeliveryState, Notification
from .smtp import PERMANENT, SENT, TRANSIENT, Claimed, Outcome, sender_for

logger = logging.getLogger(__name__)

# How long a web request waits for the broker after its commit. The rows are safe either
# way; a broker that does not answer quickly is left to the sweep.
PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2}
# The task that sends a notification's deliveries (notifications/tasks.py).
SEND_DELIVERIES_TASK = "notifications.tasks.send_deliveries"
# Seconds added to a retry's countdown so that it finds the deliveries due.
WAKE_MARGIN = 0.05


@dataclass
class BatchResult:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    retry_at: datetime | None = None
    full: bool = False  # a whole batch was claimed: there may be more


@dataclass
class SweepResult:
    released: int = 0  # `sending` past their lease, back to pending
    gave_up: int = 0  # of those, out of attempts: failed
    dispatched: dict[int, int] = field(default_factory=dict)  # notification -> pending


def _setting(name: str) -> Any:
    return getattr(settings, name)


def batch_size() -> int:
    return max(1, int(_setting("NOTIFICATIONS_BATCH_SIZE")))


def backoff(attempts: int) -> timedelta:
    """Delay before attempt `attempts + 1`: doubling, capped, with up to 25% jitter so that
    recipients refused together do not come back together."""
    base = float(_setting("NOTIFICATIONS_RETRY_BACKOFF"))
    cap = float(_setting("NOTIFICATIONS_RETRY_BACKOFF_MAX"))
    seconds = min(cap, base * 2 ** max(0, attempts - 1))
    return timedelta(seconds=seconds * (1 + secrets.randbelow(250) / 1000))


# --------------------------------------------------------------------------- dispatch


def dispatch_on_commit(notification_id: int, count: int) -> None:
    """Tell the workers about a notification once the transaction that wrote it commits
    (never before: they would not see the rows)."""
    if count:
        transaction.on_commit(lambda: dispatch(notification_id, count), robust=True)


def dispatch(notification_id: int, count: int, *, countdown: float | None = None) -> bool:
    """Queue enough tasks to send `count` deliveries in parallel batches. Answers whether
    the broker took them; if not, the rows wait for the sweep."""
    # The task is looked up in Celery's registry by name (notifications/apps.py imports
    # the tasks when Django starts): this module is what the tasks call, never the
    # other way round.
    send_deliveries = celery_app.tasks[SEND_DELIVERIES_TASK]
    parallel = max(1, min(int(_setting("NOTIFICATIONS_PARALLEL")), math.ceil(count / batch_size())))
    try:
        for _ in range(parallel):
            send_deliveries.apply_async(
                (notification_id,),
                countdown=countdown,
                retry=True,
                retry_policy=PUBLISH_RETRY_POLICY,
            )
    except Exception:
        # The broker is down or unreachable. Nothing is lost: the deliveries are pending
        # in the database and `sweep` dispatches them when the broker is back.
        logger.warning(
            "Could not queue notification %s; the sweep will send it.",
            notification_id,
            exc_info=True,
        )
        return False
    return True


def schedule_wake(notification_id: int, *, now: datetime | None = None) -> datetime | None:
    """After a batch that was not full: make sure a task comes for the notification's
    pending deliveries. Due ones (their backoff ended while the batch was being sent, or
    the sweep released them) get a task now; otherwise one task is queued for when the
    next backoff ends, unless one is queued for then or earlier already. Without this,
    deliveries whose backoff ends later than their batch's first retry would wait for the
    sweep."""
    now = now or timezone.now()
    target = Delivery.objects.filter(
        notification_id=notification_id, state=DeliveryState.PENDING
    ).aggregate(t=Min("next_attempt_at"))["t"]
    if target is None:
        return None
    if target <= now:
        dispatch(notification_id, 1)
        return target
    if celery_app.conf.task_always_eager:
        return target  # a task run in-process cannot wait: the sweep comes back for it
    # A wake-up due within a second is taken for this very task (timers may fire a little
    # early): it is replaced rather than trusted.
    free = Q(wake_at__isnull=True) | Q(wake_at__lte=now + timedelta(seconds=1))
    if Notification.objects.filter(free | Q(wake_at__gt=target), pk=notification_id).update(
        wake_at=target
    ):
        dispatch(notification_id, 1, countdown=(target - now).total_seconds() + WAKE_MARGIN)
    return target


# --------------------------------------------------------------------------- claim


def claim(*, notification_id: int, token: uuid.UUID, now: datetime, size: int) -> list[Claimed]:
    """Take up to `size` due pending deliveries of a notification for this worker."""
    with transaction.atomic():
        ids = list(
            Delivery.objects.filter(
                notification_id=notification_id,
                state=DeliveryState.PENDING,
                next_attempt_at__lte=now,
            )
            .order_by("id")
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)[:size]
        )
        if not ids:
            return []
        Delivery.objects.filter(id__in=ids).update(
            state=DeliveryState.SENDING,
            claim_token=token,
            claimed_at=now,
            attempts=F("attempts") + 1,
        )
        rows = Delivery.objects.filter(id__in=ids).order_by("id")
        return [Claimed(*row) for row in rows.values_list("id", "recipient", "attempts")]


def _mark_sent(delivery_id: int, token: uuid.UUID) -> bool:
    # Autocommit: the row is durably `sent` when this returns. The token is the fence: a
    # delivery re-claimed by another worker (our lease ran out) is not ours to send. Once
    # per message, so written as the one statement it is rather than built by the ORM.
    fields = Delivery._meta
    params = [
        fields.get_field("sent_at").get_db_prep_value(timezone.now(), connection),
        delivery_id,
        fields.get_field("claim_token").get_db_prep_value(token, connection),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_MARK_SENT_SQL, params)
        return cursor.rowcount == 1


_MARK_SENT_SQL = (
    f"UPDATE {Delivery._meta.db_table} SET state = '{DeliveryState.SENT.value}', "  # noqa: S608
    "sent_at = %s, last_error = '' "
    f"WHERE id = %s AND claim_token = %s AND state = '{DeliveryState.SENDING.value}'"
)


def _unmark_sent(delivery_id: int, token: uuid.UUID) -> None:
    # The server refused the message after all: it is ours again, to settle as a failure.
    Delivery.objects.filter(pk=delivery_id, claim_token=token, state=DeliveryState.SENT).update(
        state=DeliveryState.SENDING, sent_at=None
    )


# --------------------------------------------------------------------------- batches


def send_batch(*, notification_id: int, now: datetime | None = None) -> BatchResult:
    """Claim one batch of a notification's due deliveries, send it over one connection and
    settle every claimed delivery. Safe to run any number of times, concurrently."""
    now = now or timezone.now()
    size = batch_size()
    token = uuid.uuid4()
    claimed = claim(notification_id=notification_id, token=token, now=now, size=size)
    result = BatchResult(claimed=len(claimed), full=len(claimed) == size)
    if not claimed:
        return result
    notification = Notification.objects.get(pk=notification_id)
    outcomes: dict[int, Outcome] = {}
    sender = sender_for(notification)
    try:
        for d in claimed:
            outcome = sender.send(
                d, partial(_mark_sent, d.id, token), partial(_unmark_sent, d.id, token)
            )
            outcomes[d.id] = outcome
            if outcome.connection_down:
                for rest in claimed:
                    outcomes.setdefault(rest.id, Outcome(TRANSIENT, outcome.error))
                break
    finally:
        sender.close()
        _settle(claimed, outcomes, token, result)
    return result


def _settle(
    claimed: Iterable[Claimed], outcomes: dict[int, Outcome], token: uuid.UUID, result: BatchResult
) -> None:
    """Record failures and retries; give back what was claimed but not tried (an exception
    stopped the batch). Every write is fenced by the claim token."""
    max_attempts = int(_setting("NOTIFICATIONS_MAX_ATTEMPTS"))
    now = timezone.now()
    untried = []
    for d in claimed:
        outcome = outcomes.get(d.id)
        mine = Delivery.objects.filter(pk=d.id, claim_token=token, state=DeliveryState.SENDING)
        if outcome is None:
            untried.append(d.id)
        elif outcome.status == SENT:
            result.sent += 1
        elif outcome.status == PERMANENT or (
            outcome.status == TRANSIENT and d.attempts >= max_attempts
        ):
            error = outcome.error
            if outcome.status == TRANSIENT:
                error = f"Gave up after {d.attempts} attempts. Last error: {error}"
            mine.update(state=DeliveryState.FAILED, last_error=error[:2000], claim_token=None)
            result.failed += 1
        elif outcome.status == TRANSIENT:
            at = now + backoff(d.attempts)
            mine.update(
                state=DeliveryState.PENDING,
                last_error=outcome.error[:2000],
                next_attempt_at=at,
                claim_token=None,
            )
            result.retrying += 1
            result.retry_at = at if result.retry_at is None else min(result.retry_at, at)
    if untried:
        Delivery.objects.filter(
            pk__in=untried, claim_token=token, state=DeliveryState.SENDING
        ).update(state=DeliveryState.PENDING, claim_token=None)


# --------------------------------------------------------------------------- sweep


def sweep(
    *,
    now: datetime | None = None,
    lease: float | None = None,
    grace: float | None = None,
    limit: int = 500,
) -> SweepResult:
    """Find what was left behind and send it again: `sending` deliveries whose worker
    stopped (lease over) go back to pending, and notifications with pending deliveries
    overdue by `grace` seconds (their task never came: broker down at commit, worker died
    between batches) are dispatched. Run by beat; idempotent."""
    now = now or timezone.now()
    lease_s = float(_setting("NOTIFICATIONS_SENDING_LEASE") if lease is None else lease)
    grace_s = float(_setting("NOTIFICATIONS_SWEEP_GRACE") if grace is None else grace)
    max_attempts = int(_setting("NOTIFICATIONS_MAX_ATTEMPTS"))
    result = SweepResult()

    expired = Delivery.objects.filter(
        state=DeliveryState.SENDING, claimed_at__lt=now - timedelta(seconds=lease_s)
    )
    released_for = set(expired.values_list("notification_id", flat=True).distinct())
    result.gave_up = expired.filter(attempts__gte=max_attempts).update(
        state=DeliveryState.FAILED,
        claim_token=None,
        last_error=(f"Gave up after {max_attempts} attempts: the worker stopped while sending it."),
    )
    # next_attempt_at is left as it was (before the claim), so they are due at once.
    result.released = expired.update(state=DeliveryState.PENDING, claim_token=None)

    busy = Delivery.objects.filter(
        state=DeliveryState.SENDING, claimed_at__gte=now - timedelta(seconds=lease_s)
    ).values("notification_id")
    overdue = (
        Delivery.objects.filter(
            state=DeliveryState.PENDING,
            next_attempt_at__lte=now - timedelta(seconds=grace_s),
        )
        .exclude(notification_id__in=busy)
        .values("notification_id")
        .annotate(oldest=Min("next_attempt_at"))
        .order_by("oldest")
        .values_list("notification_id", flat=True)[:limit]
    )
    pending = (
        Delivery.objects.filter(
            notification_id__in=set(overdue) | released_for, state=DeliveryState.PENDING
        )
        .values("notification_id")
        .annotate(n=Count("id"))
    )
    todo = {row["notification_id"]: row["n"] for row in pending}
    for notification_id, count in todo.items():
        if dispatch(notification_id, count):
            result.dispatched[notification_id] = count
    if result.released or result.dispatched:
        logger.info(
            "Sweep: %s released, %s given up, %s notifications dispatched.",
            result.released,
            result.gave_up,
            len(result.dispatched),
        )
    return result
