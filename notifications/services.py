"""Communications and action notices (WORKFLOW.md, "Communications").

The domain services call the two hooks below *inside* the transaction of the event that
causes them, with the subject's row locked, so a notification and its deliveries (one
per recipient) are recorded together with the event or not at all. Sending happens after
commit, in Celery (`notifications/sending.py`); a web request never waits on it.

Outage communications go to the organisation's end-user contacts, and only for an
approved change (WORKFLOW.md, "Communications"): one announcement once the change is
approved (TO_BE_RELEASED) and its window agreed, whichever comes last; one correction
when a new window is agreed for an announced change (when it is agreed, not proposed);
one cancellation when an announced change leaves the approved path (cancelled, or its
approvals dismissed by an edit); a reminder NOTIFICATIONS_REMINDER_LEAD before an
announced window starts (beat); a completion notice on perform and roll back.
`_sync_announcement` keeps what end users were told in step with the change after every
transition, so the rule holds whatever sequence of steps led there.

Action notices go to the people a ticket or change now waits on (never to whoever just
acted): approvers when approval is requested, customer users when it waits on the
customer, the author when a round is rejected or dismissed. They are e-mailed and listed
in the app (`selectors.notices_for`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from approvals import rules as approval_rules
from tickets.errors import NotVisible, PermissionRefused
from tickets.models import (
    Change,
    ChangeStatus,
    Contact,
    Performer,
    Ticket,
    TicketStatus,
    TransitionLog,
    User,
)

from . import content, sending
from .models import Delivery, DeliveryState, Notification, NotificationKind
from .selectors import changes_due_for_reminder, notices_for, unread_notices_for
from .webhooks import recording as webhooks

if TYPE_CHECKING:
    from tickets.workflow import Step

Kind = NotificationKind
logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------- hooks


def transition_taken(*, subject: Ticket | Change, step: Step, by: User | None) -> None:
    """Called once per transition taken (ticket or change), after its log row, inside the
    transaction, with the subject's row locked."""
    if isinstance(subject, Change):
        _change_outage_communications(subject, step, by)
        _change_action_notices(subject, step, by)
    elif isinstance(subject, Ticket):
        _ticket_action_notices(subject, step, by)
    webhooks.transition_taken(subject=subject, step=step, by=by)


def ticket_created(*, ticket: Ticket, by: User) -> None:
    """Called when a ticket is raised, inside its transaction."""
    webhooks.ticket_created(ticket=ticket, by=by)


def ticket_commented(*, comment: Any, by: User) -> None:
    """Called when a comment is posted (public or internal), inside its transaction."""
    webhooks.ticket_commented(comment=comment, by=by)


def change_created(*, change: Change, by: User) -> None:
    """Called when a change is written, inside its transaction."""
    webhooks.change_created(change=change, by=by)


def change_edited(*, change: Change, by: User, fields: Iterable[str]) -> None:
    """Called once per save of a change's sections (one edit, or `change_edit`'s batch),
    inside its transaction, with the change's row locked."""
    webhooks.change_updated(change=change, by=by, fields=fields)


def window_proposed(*, change: Change, by: User) -> None:
    """Called when a window is proposed. End users hear nothing yet (a correction goes
    when the new window is agreed); the side that agrees is asked to."""
    webhooks.window_proposed(change=change, by=by)
    # The other side agrees a window (WORKFLOW.md, agree_window).
    agreeing: Iterable[User]
    if by.is_provider:
        agreeing = _customer_users(change)
    else:
        agreeing = [change.author] if change.author.is_provider else []
    window = content.format_window(
        change.window_start, change.window_end, change.organization.timezone
    )
    from tickets.scheduling import conflicts_of_one

    details = f"{_name(by)} proposed: {window}."
    conflicts = conflicts_of_one(change)
    if conflicts:
        details += " Before agreeing, note the conflicts: " + " ".join(
            f"{c.title}: {c.reason}" if c.kind == "freeze" else c.reason for c in conflicts
        )
    _record_notice(
        change,
        agreeing,
        by=by,
        headline="has a deployment window to agree",
        details=details,
        what_to_do="Agree the window on the change, or propose another one.",
    )


def webhook_disabled(*, endpoint: Any) -> None:
    """Called when a webhook endpoint is disabled after repeated failures: its owner is
    e-mailed why and what to do, after commit. (Not a Notification row: those belong to
    a ticket or a change, and an endpoint is neither; the reason also stays on the
    endpoint, shown by the API.)"""
    owner = endpoint.owner
    email = (owner.email or "").strip()
    if not owner.is_active or not email:
        return
    rendered = content.action(
        key=f"Webhook {endpoint.pk}",
        title=endpoint.url,
        headline="was disabled",
        details=endpoint.disabled_reason,
        what_to_do="Fix the receiver, then switch the webhook on again (PATCH "
        '{"active": true}); its delivery log says what it answered.',
    )

    def send() -> None:
        try:
            send_mail(
                rendered.subject,
                rendered.text,
                None,
                [email],
                html_message=rendered.html,
            )
        except Exception:
            logger.warning("Could not tell %s that webhook %s was disabled", email, endpoint.pk)

    transaction.on_commit(send, robust=True)


# --------------------------------------------------------------------------- outage


# The kinds that change what end users believe is coming: the latest of these says it.
_ANNOUNCING = (Kind.ANNOUNCEMENT, Kind.CORRECTION, Kind.CANCELLATION)

# Where an announced change still stands by what it told end users: approved, then
# performed. Leaving these for any other status takes the announcement back.
_APPROVED_PATH = (
    ChangeStatus.TO_BE_RELEASED,
    ChangeStatus.IN_TESTING,
    ChangeStatus.ROLLED_BACK,
    ChangeStatus.DONE,
)


def announced_window(change: Change) -> Notification | None:
    """The announcement or correction end users last heard and was not cancelled since,
    or None. Its window_start/window_end are the window they expect."""
    last = (
        Notification.objects.filter(change=change, kind__in=_ANNOUNCING)
        .order_by("-created", "-id")
        .first()
    )
    return last if last is not None and last.kind != Kind.CANCELLATION else None


def _sync_announcement(change: Change, by: User | None) -> None:
    """Make what end users were told match the change, after any transition: announce an
    approved change with an agreed window, correct a moved one, cancel one that left the
    approved path. At most one message per call. Caller holds the change's row lock."""
    live = announced_window(change)
    due = (
        bool(change.outage_expected)
        and change.status == ChangeStatus.TO_BE_RELEASED
        and change.window_agreed_at is not None
    )
    start, end = change.window_start, change.window_end
    if due and live is None:
        _record_outage(change, Kind.ANNOUNCEMENT, by=by, window_start=start, window_end=end)
    elif due and live is not None and (live.window_start, live.window_end) != (start, end):
        _record_outage(
            change,
            Kind.CORRECTION,
            by=by,
            window_start=start,
            window_end=end,
            previous={"start": live.window_start, "end": live.window_end},
        )
    elif live is not None and change.status not in _APPROVED_PATH:
        _record_outage(
            change,
            Kind.CANCELLATION,
            by=by,
            window_start=live.window_start,
            window_end=live.window_end,
        )


def _change_outage_communications(change: Change, step: Step, by: User | None) -> None:
    if step.name in ("perform", "roll_back") and announced_window(change) is not None:
        _record_outage(
            change,
            Kind.COMPLETION,
            by=by,
            window_start=change.window_start,
            window_end=change.window_end,
            rolled_back=step.name == "roll_back",
        )
    else:
        _sync_announcement(change, by)


def _record_outage(
    change: Change,
    kind: str,
    *,
    by: User | None,
    window_start: datetime | None,
    window_end: datetime | None,
    previous: dict[str, Any] | None = None,
    rolled_back: bool = False,
    dedupe_key: str | None = None,
) -> Notification:
    """Write an outage communication and one delivery per end-user contact of the
    change's organisation; dispatch after commit. Caller holds the transaction."""
    rendered = content.outage(
        kind,
        change,
        window_start=window_start,
        window_end=window_end,
        previous=previous,
        rolled_back=rolled_back,
    )
    notification = Notification.objects.create(
        kind=kind,
        change=change,
        actor=by,
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        window_start=window_start,
        window_end=window_end,
        dedupe_key=dedupe_key,
    )
    count = _deliver_to_contacts(notification, change.organization_id)
    sending.dispatch_on_commit(notification.pk, count)
    webhooks.communication_queued(notification=notification, change=change)
    return notification


def _deliver_to_contacts(notification: Notification, organization_id: int) -> int:
    """One delivery per end-user contact, written by a single INSERT ... SELECT: the
    contacts never leave the database, so 10,000 of them cost one statement in the
    event's transaction (docs/benchmarks.md measures it) and no memory in the web process.
    Two contacts whose addresses differ only in case are one recipient: the unique
    (notification, recipient) constraint keeps the first. Answers how many were written."""
    qn = connection.ops.quote_name
    d, c = Delivery._meta, Contact._meta

    def col(meta: Any, name: str) -> str:
        return qn(meta.get_field(name).column)

    columns = ", ".join(
        col(d, f)
        for f in (
            "notification",
            "recipient",
            "contact",
            "state",
            "attempts",
            "last_error",
            "next_attempt_at",
            "created",
        )
    )
    email, pk = col(c, "email"), col(c, "id")
    sql = (
        f"INSERT INTO {qn(d.db_table)} ({columns}) "  # noqa: S608 (names from _meta only)
        f"SELECT %s, LOWER(TRIM({email})), {pk}, %s, 0, '', %s, %s FROM {qn(c.db_table)} "
        f"WHERE {col(c, 'organization')} = %s AND TRIM({email}) <> '' "
        f"ORDER BY {pk} ON CONFLICT DO NOTHING"
    )
    at = d.get_field("created").get_db_prep_value(notification.created, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, [notification.pk, DeliveryState.PENDING.value, at, at, organization_id])
        return max(cursor.rowcount, 0)


def reminders_send_due(*, now: datetime | None = None, limit: int = 100) -> list[Notification]:
    """Write the reminders that are due at `now` (the clock is injectable): for each agreed
    outage window starting within NOTIFICATIONS_REMINDER_LEAD that was announced before
    the lead time began, once per window. Run every minute by beat; idempotent (the
    change's row lock and the reminder's dedupe key make a second run a no-op)."""
    now = now or timezone.now()
    lead = settings.NOTIFICATIONS_REMINDER_LEAD
    written = []
    due = changes_due_for_reminder(now=now, lead=lead).values_list("pk", flat=True)[:limit]
    for change_id in list(due):
        with transaction.atomic():
            change = (
                Change.objects.select_for_update(of=("self",))
                .select_related("organization")
                .get(pk=change_id)
            )
            if not changes_due_for_reminder(now=now, lead=lead).filter(pk=change.pk).exists():
                continue  # agreed anew, moved or cancelled meanwhile
            written.append(
                _record_outage(
                    change,
                    Kind.REMINDER,
                    by=None,
                    window_start=change.window_start,
                    window_end=change.window_end,
                    dedupe_key=f"reminder:{change.pk}:{change.window_start.isoformat()}",
                )
            )
    return written


# --------------------------------------------------------------------------- notices


def _name(user: User | None) -> str:
    if user is None:
        return "The system"
    return user.get_full_name() or user.get_username()


def _customer_users(subject: Ticket | Change) -> QuerySet[User]:
    return User.objects.filter(
        kind=User.Kind.CUSTOMER, organization_id=subject.organization_id, is_active=True
    ).order_by("pk")


def _approvers(change: Change) -> QuerySet[User]:
    """Whom an approval request goes to: whoever holds an approval role on the change
    (`approvals.rules`, the same rule the `approve` transition checks)."""
    return User.objects.filter(approval_rules.could_approve_q(author_id=change.author_id)).order_by(
        "pk"
    )


def _last_comment(change: Change, transition: str) -> str:
    comment = (
        TransitionLog.objects.filter(change=change, transition=transition)
        .order_by("-id")
        .values_list("comment", flat=True)
        .first()
    )
    return comment or ""


def _record_notice(
    subject: Ticket | Change,
    users: Iterable[User],
    *,
    by: User | None,
    headline: str,
    details: str = "",
    what_to_do: str = "",
) -> Notification | None:
    """Write one action notice to `users` (less `by`: whoever acted knows), each user one
    delivery: e-mailed if they have an address, listed in the app either way."""
    recipients: dict[int, User] = {}
    for user in users:
        if user.is_active and (by is None or user.pk != by.pk):
            recipients.setdefault(user.pk, user)
    if not recipients:
        return None
    rendered = content.action(
        key=subject.key,
        title=subject.title,
        headline=headline,
        details=details,
        what_to_do=what_to_do,
    )
    notification = Notification.objects.create(
        kind=Kind.ACTION,
        change=subject if isinstance(subject, Change) else None,
        ticket=subject if isinstance(subject, Ticket) else None,
        actor=by,
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
    )
    rows, emails = [], set()
    for user in recipients.values():
        email = (user.email or "").strip().lower()
        if email in emails:
            email = ""  # two accounts sharing an address: one e-mail, both see the notice
        emails.add(email)
        rows.append(
            Delivery(
                notification=notification,
                user=user,
                recipient=email,
                state=DeliveryState.PENDING if email else DeliveryState.SKIPPED,
                created=notification.created,
                next_attempt_at=notification.created,
            )
        )
    Delivery.objects.bulk_create(rows)
    sending.dispatch_on_commit(notification.pk, sum(1 for r in rows if r.recipient))
    return notification


# What the customer is asked to do when a change starts waiting on them.
CHANGE_ASKS_CUSTOMER = {
    ChangeStatus.TO_BE_REVIEWED_BY_BUSINESS: (
        "needs your Business review",
        "Review the change and approve it as Business, or reject it with a comment.",
    ),
    ChangeStatus.TO_BE_RELEASED: (
        "is approved and ready for you to release",
        "Carry out the deployment procedure in the agreed window, then mark the change performed.",
    ),
    ChangeStatus.IN_TESTING: (
        "is ready for you to test",
        "Run the test scenarios, record their results, then close the change.",
    ),
    ChangeStatus.ROLLED_BACK: (
        "was rolled back",
        "Check your platform, then close the change as rolled back.",
    ),
}


def _change_action_notices(change: Change, step: Step, by: User | None) -> None:
    name = step.name
    if name in ("submit", "dismiss_approvals"):
        _record_notice(
            change,
            _approvers(change),
            by=by,
            headline="needs your approval",
            details=(
                _last_comment(change, name) + " The approvals given before were dismissed."
                if name == "dismiss_approvals"
                else f"{_name(by)} submitted it for approval."
            ).strip(),
            what_to_do="Give the QA, Peer or Operations approval you hold, or reject it with "
            "a comment.",
        )
    if name in ("reject", "dismiss_approvals"):
        comment = _last_comment(change, name)
        _record_notice(
            change,
            [change.author],
            by=by,
            headline="was rejected" if name == "reject" else "had its approvals dismissed",
            details=f"{_name(by)}: {comment}" if comment else "",
            what_to_do=(
                "Rework the change and submit it again."
                if name == "reject"
                else "It waits for a new round of approvals."
            ),
        )
    if step.source == step.target:
        return
    if change.waiting_on == "customer" and change.status in CHANGE_ASKS_CUSTOMER:
        headline, what_to_do = CHANGE_ASKS_CUSTOMER[ChangeStatus(change.status)]
        _record_notice(
            change, _customer_users(change), by=by, headline=headline, what_to_do=what_to_do
        )
    elif change.status == ChangeStatus.TO_BE_RELEASED and change.performer == Performer.PROVIDER:
        _record_notice(
            change,
            [change.author],
            by=by,
            headline="is approved and ready to release",
            what_to_do="Perform it in the agreed window once the checklist is complete.",
        )


def _ticket_action_notices(ticket: Ticket, step: Step, by: User | None) -> None:
    # `release` moves a change's tickets to testing: the change's own notice says so.
    if step.source == step.target or step.name == "release":
        return
    waiting_on = ticket.waiting_on
    if waiting_on == "customer":
        reporter = ticket.reporter
        users: Iterable[User] = (
            [reporter] if reporter.is_customer and reporter.is_active else _customer_users(ticket)
        )
        headline = {
            TicketStatus.WAITING_FOR_CUSTOMER: "waits for your reply",
            TicketStatus.IN_TESTING: "is ready for you to test",
        }.get(TicketStatus(ticket.status), "waits on you")
        _record_notice(ticket, users, by=by, headline=headline)
    elif waiting_on == "provider" and ticket.assignee_id is not None:
        _record_notice(
            ticket,
            [ticket.assignee],  # type: ignore[list-item]
            by=by,
            headline="waits on support",
            details=f"{_name(by)} moved it to {ticket.get_status_display()}.",
        )


def notice_mark_read(*, user: User, notice: Delivery | int | str) -> Delivery:
    """Mark one of the user's notices read (404 for anyone else's)."""
    try:
        pk = notice.pk if isinstance(notice, Delivery) else int(notice)
    except (TypeError, ValueError) as exc:
        raise NotVisible("No such notification.") from exc
    found = notices_for(user).filter(pk=pk).first()
    if found is None:
        raise NotVisible("No such notification.")
    if found.read_at is None:
        found.read_at = timezone.now()
        found.save(update_fields=["read_at"])
    return found


def notices_mark_all_read(*, user: User) -> int:
    unread = unread_notices_for(user).values("pk")
    return Delivery.objects.filter(pk__in=unread).update(read_at=timezone.now())


# --------------------------------------------------------------------------- operators


@transaction.atomic
def deliveries_retry(*, by: User, deliveries: QuerySet[Delivery]) -> int:
    """Send failed deliveries again (an operator fixed the cause: a mail server setting,
    a mistyped address). Provider staff only."""
    if not by.is_provider:
        raise PermissionRefused("Only provider staff send failed messages again.")
    failed = deliveries.filter(state=DeliveryState.FAILED)
    notifications = set(failed.values_list("notification_id", flat=True))
    count = failed.update(
        state=DeliveryState.PENDING,
        attempts=0,
        next_attempt_at=timezone.now(),
        claim_token=None,
    )
    for notification_id in notifications:
        sending.dispatch_on_commit(notification_id, count)
    return count
