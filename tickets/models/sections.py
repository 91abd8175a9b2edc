"""The nine sections of a change (§2.3), and the statuses in which they may be edited."""

from __future__ import annotations

from .choices import ChangeStatus

# Statuses in which the nine sections may still be edited.
EDITABLE = [
    ChangeStatus.DRAFT,
    ChangeStatus.AWAITING_APPROVAL,
    ChangeStatus.TO_BE_REVIEWED_BY_BUSINESS,
    ChangeStatus.TO_BE_RELEASED,
]

# The nine sections of §2.3, by number: the model fields (or related rows) each holds.
SECTIONS: dict[int, tuple[str, tuple[str, ...]]] = {
    1: ("Summary", ("title", "summary")),
    2: ("Components impacted", ("components",)),
    3: (
        "Impact",
        (
            "outage_expected",
            "outage_duration_minutes",
            "impact",
            "communication_audience",
            "communication_message",
            "communication_timing",
        ),
    ),
    4: ("Support tickets to test", ("tickets",)),
    5: ("Changelog", ("changelog",)),
    6: ("Deployment procedure", ("deployment_procedure",)),
    7: ("Rollback procedure", ("rollback_procedure",)),
    8: ("Test scenarios", ("scenarios",)),
    9: ("Checklist", ("checklist",)),
}
FIELD_SECTION = {f: n for n, (_, fields) in SECTIONS.items() for f in fields}
# The sections' fields that are columns of the change itself (the others are rows of
# their own: components, attached tickets, scenarios, checklist items).
SECTION_COLUMNS = tuple(
    f for f in FIELD_SECTION if f not in ("components", "tickets", "scenarios", "checklist")
)
