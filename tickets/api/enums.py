"""The enumerations the API publishes that are not a model's TextChoices.

Transition names come from the state machines themselves (the manual ones: the automatic
steps are never taken through the API), so the schema cannot drift from the models.
"""

from __future__ import annotations

from approvals.models import PROVIDER_ROLES
from tickets import workflow
from tickets.models import Change, Ticket, UserRole


def _manual_transitions(model: type) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for t in workflow.transitions_of(model):
        if t.custom.get("trigger", workflow.MANUAL) == workflow.MANUAL:
            seen.setdefault(t.name, t.custom.get("label", t.name))
    return list(seen.items())


TICKET_TRANSITIONS = _manual_transitions(Ticket)
CHANGE_TRANSITIONS = _manual_transitions(Change)
# What each change transition takes besides `comment` (which every transition accepts).
CHANGE_NEEDS = {
    n: tuple(c.get("needs", ())) for n, c in workflow.transition_customs(Change).items()
}

PROVIDER_APPROVAL_ROLES = [(r.value, r.label) for r in PROVIDER_ROLES]
TRANSITION_PARAMETERS = [
    ("comment", "comment"),
    ("role", "role"),
    ("resolution", "resolution"),
    ("change", "change"),
]
USER_ROLES = UserRole.choices

# What a calendar entry or a conflict is (API.md, "Scheduling").
SCHEDULE_KINDS = [("change", "change"), ("freeze", "freeze")]
