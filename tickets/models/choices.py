"""The enumerations of both workflows: statuses, types, resolutions, kinds."""

from __future__ import annotations

from django.db import models


class TicketStatus(models.TextChoices):
    WAITING_FOR_SUPPORT = "waiting_for_support", "Waiting for support"  # the desk must answer
    WAITING_FOR_CUSTOMER = (
        "waiting_for_customer",
        "Waiting for customer",
    )  # the customer must answer
    TO_DO = "to_do", "To do"  # technical work is needed and not started
    IN_PROGRESS = "in_progress", "In progress"  # someone is working on it
    TO_BE_RELEASED = "to_be_released", "To be released"  # the fix is ready for a change
    IN_TESTING = "in_testing", "In testing"  # released; the customer tests it
    DONE = "done", "Done"  # the customer confirmed it works
    ON_HOLD = "on_hold", "On hold"  # deprioritised, kept in the queue


class TicketType(models.TextChoices):
    BUG = "bug", "Bug"
    FEATURE = "feature", "Feature"
    QUESTION = "question", "Question"
    CHANGE_REQUEST = "change_request", "Change request (upgrade or change a component)"


class Priority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


HOLDABLE = [s for s in TicketStatus.values if s not in (TicketStatus.DONE, TicketStatus.ON_HOLD)]


class ChangeStatus(models.TextChoices):
    DRAFT = "draft", "Draft"  # being written; nothing is promised yet
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"  # QA, Peer, Operations review
    TO_BE_REVIEWED_BY_BUSINESS = (
        "to_be_reviewed_by_business",
        "To be reviewed by business",
    )  # the customer validates a provider-performed change
    TO_BE_RELEASED = "to_be_released", "To be released"  # approved; waiting for its window
    IN_TESTING = "in_testing", "In testing"  # performed; the customer tests on UAT
    ROLLED_BACK = "rolled_back", "Rolled back"  # undone by the rollback procedure
    DONE = "done", "Done"  # closed by the customer with a resolution
    CANCELLED = "cancelled", "Cancelled"  # abandoned before it was performed


# A change holds its window from proposal until it is performed and tested; a cancelled,
# rolled back or done change holds nothing (conflicts, `tickets.scheduling`).
WINDOW_LIVE = [
    ChangeStatus.DRAFT,
    ChangeStatus.AWAITING_APPROVAL,
    ChangeStatus.TO_BE_REVIEWED_BY_BUSINESS,
    ChangeStatus.TO_BE_RELEASED,
    ChangeStatus.IN_TESTING,
]


# A change in flight until it is done or cancelled (the dashboard's "in flight", the
# lists' "open", and the index of a person's changes in flight).
CHANGE_CLOSED = [ChangeStatus.DONE, ChangeStatus.CANCELLED]


class Performer(models.TextChoices):
    PROVIDER = "provider", "Provider"
    CUSTOMER = "customer", "Customer"


# A change the customer carries out, approved and waiting for them to release it: its
# tickets to be released wait on the customer (WORKFLOW.md; `Ticket.waiting_on`), as
# field lookups on the change.
CUSTOMER_RELEASE = {"performer": Performer.CUSTOMER, "status": ChangeStatus.TO_BE_RELEASED}


class Resolution(models.TextChoices):
    SUCCESSFUL = "successful", "Successful (all scenarios passed)"
    ROLLED_BACK = "rolled_back", "Rolled back"
    FOLLOW_UP_RELEASE = "follow_up_release", "Another release on top"


class ScenarioKind(models.TextChoices):
    PROGRESSION = "progression", "Progression"  # the new behaviour works
    REGRESSION = "regression", "Regression"  # the old behaviour still works


class ScenarioResult(models.TextChoices):
    NOT_RUN = "not_run", "Not run"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"


class ChecklistState(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


class StandardCheck(models.TextChoices):
    """The four checks §2.3 item 9 names: every change's checklist has them."""

    UNIT = "unit", "Unit tests"
    REGRESSION = "regression", "Regression testing"
    PROGRESSION = "progression", "Progression testing"
    PERFORMANCE = "performance", "Performance testing"
