"""Celery tasks: thin wrappers around `sending` and `services`.

Every task is idempotent, so a message delivered twice by the broker, or run again after
its worker died (`acks_late` with `reject_on_worker_lost`), is harmless: deliveries are
claimed in the database, never taken from the message.
"""

from __future__ import annotations

from celery import shared_task

from . import sending, services
from .webhooks import delivery as webhooks
from .webhooks import recording as webhook_recording


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def send_deliveries(notification_id: int) -> None:
    """Send one batch of a notification's due deliveries. A full batch queues the next
    one; the last batch of a chain makes sure a task comes for what waits for a retry."""
    result = sending.send_batch(notification_id=notification_id)
    if result.full:
        sending.dispatch(notification_id, 1)
    else:
        sending.schedule_wake(notification_id)


@shared_task(ignore_result=True)
def send_due_reminders() -> int:
    return len(services.reminders_send_due())


@shared_task(ignore_result=True)
def sweep() -> int:
    result = sending.sweep()
    return result.released + len(result.dispatched)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def send_webhooks() -> None:
    """Send the webhook deliveries that are due, a batch at a time; then come back when
    the next retry is due (notifications/webhooks/delivery.py)."""
    result = webhooks.send_due()
    if result.sent + result.retrying + result.failed >= webhooks.batch_size():
        webhook_recording.dispatch()
    elif result.next_due is not None and not send_webhooks.app.conf.task_always_eager:
        webhook_recording.dispatch(countdown=webhooks.seconds_until(result.next_due))


@shared_task(ignore_result=True)
def sweep_webhooks() -> int:
    due = webhooks.sweep()
    if due:
        webhook_recording.dispatch()
    return due
