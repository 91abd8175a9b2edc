"""What every service shares: taking a transition with its log row, and checking
choices and required text."""

from __future__ import annotations

from typing import Any

from .. import workflow
from ..errors import InvalidInput
from ..models import (
    Change,
    Ticket,
    TransitionLog,
    User,
)


def _log(subject: Ticket | Change, step: workflow.Step, by: User | None, comment: str) -> None:
    TransitionLog.objects.create(
        ticket=subject if isinstance(subject, Ticket) else None,
        change=subject if isinstance(subject, Change) else None,
        actor=by,
        transition=step.name,
        source=step.source,
        target=step.target,
        comment=comment,
    )


def _take(
    subject: Ticket | Change,
    name: str,
    *,
    by: User,
    comment: str = "",
    automatic: bool = False,
    **params: Any,
) -> workflow.Step:
    """Run one transition on a row the caller has locked, and log it. Caller holds the
    transaction."""
    from notifications.services import transition_taken

    step = workflow.run(subject, name, by=by, automatic=automatic, comment=comment, **params)
    _log(subject, step, by, comment)
    transition_taken(subject=subject, step=step, by=by)
    return step


def _choice(value: Any, choices: Any, field: str) -> str:
    if value not in choices.values:
        raise InvalidInput(
            f"'{value}' is not a valid {field}; use one of: {', '.join(choices.values)}.",
            fields={field: [f"'{value}' is not a valid choice."]},
        )
    return str(value)


def _required_text(value: Any, field: str) -> str:
    text = str(value or "").strip()
    if not text:
        raise InvalidInput(f"{field.capitalize()} is required.", fields={field: ["Required."]})
    return text
