"""The guards of the change workflow: conditions that carry the sentence a person can
act on (`tickets.workflow.Guard`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils import timezone

from ..workflow import guard
from .choices import ChecklistState, TicketStatus

if TYPE_CHECKING:
    from .changes import Change


@guard(lambda c: f"The change is not complete: {c.incomplete_message()}.")
def change_complete(change: Change) -> bool:
    """WORKFLOW.md: complete to be submitted, and complete at every step after (each
    forward transition checks it again, so no path around the edit check exists)."""
    return not change.incomplete_sections()


@guard("No deployment window has been proposed yet.")
def window_proposed(change: Change) -> bool:
    return change.window_start is not None and change.window_end is not None


@guard("The proposed deployment window has already started; propose a new one.")
def window_not_started(change: Change) -> bool:
    return change.window_start is None or change.window_start > timezone.now()


@guard(
    lambda c: (
        "Attached tickets are on hold: "
        + ", ".join(t.key for t in c.tickets.all() if t.status == TicketStatus.ON_HOLD)
        + ". Resume them or take them out of the change before performing it."
    )
)
def no_ticket_on_hold(change: Change) -> bool:
    return not any(t.status == TicketStatus.ON_HOLD for t in change.tickets.all())


@guard("The deployment window is already agreed.")
def window_not_yet_agreed(change: Change) -> bool:
    return change.window_agreed_at is None


@guard("The deployment window has not been agreed by both sides.")
def window_is_agreed(change: Change) -> bool:
    return change.window_agreed_at is not None


@guard(
    lambda c: (
        "Checklist items still pending: "
        + ", ".join(i.label for i in c.checklist.all() if i.state == ChecklistState.PENDING)
        + "."
    )
)
def checklist_done(change: Change) -> bool:
    return not any(i.state == ChecklistState.PENDING for i in change.checklist.all())


@guard("The change has no rollback procedure to follow.")
def has_rollback_procedure(change: Change) -> bool:
    return bool(change.rollback_procedure.strip())


def _hard_freezes_now(change: Change) -> list:
    from .freezes import hard_freezes_in_force

    return hard_freezes_in_force(change, timezone.now())


def freeze_sentence(occurrence: Any) -> str:
    f = occurrence.freeze
    until = timezone.localtime(occurrence.end).strftime("%Y-%m-%d %H:%M %Z")
    where = f.environment.name if f.environment_id else "Every environment"
    text = f"{where} is frozen until {until} ({f.title})"
    return text + (f": {f.reason}" if f.reason else "") + "."


@guard(
    lambda c: (
        " ".join(freeze_sentence(o) for o in _hard_freezes_now(c))
        + " Only operations management may perform it now, with a reason for the override."
    )
)
def no_hard_freeze(change: Change) -> bool:
    """API.md: `perform` is refused inside a hard freeze, unless operations management
    overrides it with a reason (the service checks the role and sets `freeze_override`
    on the instance for this one transition, then records it)."""
    return bool(getattr(change, "freeze_override", "")) or not _hard_freezes_now(change)
