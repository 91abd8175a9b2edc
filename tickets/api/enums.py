"""The enumerations the API publishes that are not a model's TextChoices.

Transition names come from the state machines themselves (the manual ones: the automatic
steps are never taken through the API), so the schema cannot drift from the models.
"""

from __future__ import annotations

from approvals.models import PROVIDER_ROLES
from tickets import workflow
from tickets.models import Change, Ticket


def _manual_transitions(model: type) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for t in workflow.transitions_of(model):
        if t.custom.get("trigger", workflow.MANUAL) == workflow.MANUAL:
            seen.setdefault(t.name, t.custom.get("label", t.name))
    return list(seen.items())


def _needs(model: type) -> dict[str, tuple[str, ...]]:
    return {t.name: tuple(t.custom.get("needs", ())) for t in workflow.transitions_of(model)}


TICKET_TRANSITIONS = _manual_transitions(Ticket)
CHANGE_TRANSITIONS = _manual_transitions(Change)
# What each transition takes besides `comment` (which every transition accepts).
TICKET_NEEDS = _needs(Ticket)
CHANGE_NEEDS = _needs(Change)

PROVIDER_APPROVAL_ROLES = [(r.value, r.label) for r in PROVIDER_ROLES]
TRANSITION_PARAMETERS = [
    ("comment", "comment"),
    ("role", "role"),
    ("resolution", "resolution"),
    ("change", "change"),
]
USER_ROLES = [
    ("support_agent", "Support agent"),
    ("qa", "QA"),
    ("operations_management", "Operations management"),
    ("engineer", "Provider engineer (gives the Peer approval)"),
    ("customer", "Customer user"),
]
USER_KINDS = [("provider", "Provider staff"), ("customer", "Customer user")]
