"""Communications and action notices (WORKFLOW.md, "Communications").

The domain services call these hooks *inside* the transaction of the event that causes
them, with the subject's row locked, so a notification is recorded together with its
event or not at all; sending happens after commit, in Celery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tickets.models import Change, Ticket, User
    from tickets.workflow import Step


def transition_taken(*, subject: Ticket | Change, step: Step, by: User | None) -> None:
    """Called once per transition taken (ticket or change), after its log row."""


def window_proposed(*, change: Change, by: User, previous: dict[str, Any] | None) -> None:
    """Called when a window is proposed; `previous` holds the start/end of the window it
    replaces if that one was agreed (a correction is due), else None."""
