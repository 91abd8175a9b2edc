"""The deployment gate (API.md, "Deployment gate and webhooks"): may a pipeline deploy this
change now, and if not, every reason why, each a sentence the pipeline prints.

It reads the change and what is prefetched on it (its environment, components, checklist
and attached tickets, through `.all()`) and the freezes in force, takes the time as an
argument, and writes nothing.
The conditions are those of `perform` (the same guards, so one rule) plus the two a
pipeline adds: the time is inside the agreed window, and the environment it deploys to is
the change's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .choices import ChangeStatus
from .guards import checklist_done, no_ticket_on_hold, window_is_agreed, window_proposed

if TYPE_CHECKING:
    from .changes import Change


@dataclass(frozen=True)
class GateAnswer:
    allowed: bool
    reasons: list[str]
    window_start: datetime | None
    window_end: datetime | None


def moment(at: datetime) -> str:
    """A time in a refusal: UTC to the second (a pipeline polls in seconds; its logs are in
    UTC whatever the people's time zones)."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def freeze_reasons(change: Change, *, now: datetime, environment: str) -> list[str]:
    """Hard freezes covering `now` that apply to the change (API.md: "no hard freeze"),
    one sentence each ("Production is frozen until ... (title): reason."). The only part
    of the gate that queries: the freezes of the moment, one query."""
    from .freezes import hard_freezes_in_force
    from .guards import freeze_sentence

    return [freeze_sentence(o) for o in hard_freezes_in_force(change, now)]


def gate_reasons(change: Change, *, now: datetime, environment: str | None = None) -> list[str]:
    """Every unmet condition for deploying `change` to `environment` (an environment code;
    None for the change's own) at `now`; empty when the pipeline may deploy."""
    reasons: list[str] = []
    if change.status != ChangeStatus.TO_BE_RELEASED:
        reasons.append(
            f"The change is {ChangeStatus(change.status).label}: only an approved change, "
            f"To be released, may be deployed."
        )
    target = change.environment
    asked = environment or target.code
    if asked != target.code:
        reasons.append(
            f"The change is for {target.name} ({target.code}), not for {asked}: "
            f"deploy it to {target.code} only."
        )
    if not window_proposed(change):
        reasons.append(window_proposed.explain(change))
    elif not window_is_agreed(change):
        reasons.append(window_is_agreed.explain(change))
    else:
        start, end = change.window_start, change.window_end
        if start is not None and now < start:
            reasons.append(f"The deployment window opens at {moment(start)}.")
        elif end is not None and now >= end:
            reasons.append(
                f"The deployment window closed at {moment(end)}; agree a new one to deploy."
            )
    if not checklist_done(change):
        reasons.append(checklist_done.explain(change))
    if not no_ticket_on_hold(change):
        reasons.append(no_ticket_on_hold.explain(change))
    reasons.extend(freeze_reasons(change, now=now, environment=asked))
    return reasons


def deployment_gate(change: Change, *, now: datetime, environment: str | None = None) -> GateAnswer:
    reasons = gate_reasons(change, now=now, environment=environment)
    return GateAnswer(
        allowed=not reasons,
        reasons=reasons,
        window_start=change.window_start,
        window_end=change.window_end,
    )
