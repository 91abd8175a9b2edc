"""The domain of WORKFLOW.md: organisations, people, components, support tickets and
change tickets, with both state machines declared on the models (django-fsm-2).

Transition methods make database changes only; services (`tickets/services.py`) call
them through `tickets.workflow.run` inside `transaction.atomic()` with the row locked,
write the log row and register side effects after commit.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition

from approvals import rules as approval_rules
from approvals.models import Approval, Decision

from .errors import Conflict, GuardFailed, InvalidInput, PermissionRefused
from .workflow import NOBODY, ON_COMMENT, SYSTEM, Role, guard, transition_meta

TIMEZONE_CHOICES = [(tz, tz) for tz in sorted(zoneinfo.available_timezones())]

# The range any stored deployment window lies in (a database constraint).
WINDOW_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
WINDOW_LATEST = datetime(2200, 1, 1, tzinfo=UTC)


class Organization(models.Model):
    """An enterprise customer of the provider."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", choices=TIMEZONE_CHOICES)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "organisation"

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person with a login: provider staff, or a member of one customer organisation."""

    class Kind(models.TextChoices):
        PROVIDER = "provider", "Provider staff"  # the platform's support team
        CUSTOMER = "customer", "Customer user"  # member of one enterprise customer

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PROVIDER)
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
        help_text="Required for customer users; empty for provider staff.",
    )
    is_support_agent = models.BooleanField("support agent", default=False)
    is_qa = models.BooleanField("QA", default=False)
    is_operations_manager = models.BooleanField("operations management", default=False)
    timezone = models.CharField(max_length=64, default="UTC", choices=TIMEZONE_CHOICES)

    class Meta:
        constraints = [
            # A customer user without an organisation would see nothing (or, worse, be
            # mistaken for staff); a provider user with one would be scoped by mistake.
            models.CheckConstraint(
                condition=(Q(kind="customer", organization__isnull=False))
                | Q(kind="provider", organization__isnull=True),
                name="user_kind_matches_organization",
            ),
            models.CheckConstraint(
                condition=Q(kind="provider")
                | Q(is_support_agent=False, is_qa=False, is_operations_manager=False),
                name="user_provider_roles_only_for_provider",
            ),
        ]

    @property
    def is_provider(self) -> bool:
        return self.kind == self.Kind.PROVIDER

    @property
    def is_customer(self) -> bool:
        return self.kind == self.Kind.CUSTOMER

    @property
    def role_names(self) -> list[str]:
        if self.is_customer:
            return ["customer"]
        roles = []
        if self.is_support_agent:
            roles.append("support agent")
        if self.is_qa:
            roles.append("QA")
        if self.is_operations_manager:
            roles.append("operations management")
        return roles or ["engineer"]


class Environment(models.Model):
    """Where a component runs: UAT (where customers test) or production."""

    code = models.SlugField(max_length=30, unique=True)
    name = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return self.name


class Component(models.Model):
    """A part of a customer's platform that changes release."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="components"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["organization__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="component_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.organization})"


class ComponentVersion(models.Model):
    """The version of a component currently running on an environment."""

    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="versions")
    environment = models.ForeignKey(Environment, on_delete=models.PROTECT, related_name="+")
    version = models.CharField(max_length=100)
    updated = models.DateTimeField(default=timezone.now)
    released_by = models.ForeignKey(
        "Change", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["component", "environment__position"]
        constraints = [
            models.UniqueConstraint(
                fields=["component", "environment"], name="component_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.component.name} {self.version} on {self.environment}"


class Contact(models.Model):
    """An end user of the customer's platform: receives outage communications, no login."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="contacts"
    )
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization", "email"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "email"], name="contact_unique_email")
        ]
        verbose_name = "end-user contact"

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


# --------------------------------------------------------------------------- roles


def _is_provider(user: Any) -> bool:
    return bool(getattr(user, "kind", None) == User.Kind.PROVIDER)


def _is_customer_of(instance: Any, user: Any) -> bool:
    return bool(
        getattr(user, "kind", None) == User.Kind.CUSTOMER
        and user.organization_id == instance.organization_id
    )


PROVIDER = Role("provider staff", lambda i, u: _is_provider(u), "Only provider staff may do this.")
CUSTOMER = Role(
    "customer",
    _is_customer_of,
    "Only a user of the customer organisation may do this.",
)
PROVIDER_OR_CUSTOMER = Role(
    "provider staff or the customer",
    lambda i, u: _is_provider(u) or _is_customer_of(i, u),
    "Only provider staff or the customer may do this.",
)


# --------------------------------------------------------------------------- tickets


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


class Ticket(ConcurrentTransitionMixin, models.Model):
    """A support ticket (`SUP-<n>`)."""

    S = TicketStatus

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="tickets")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    type = models.CharField(max_length=20, choices=TicketType.choices, default=TicketType.QUESTION)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    status = FSMField(
        max_length=30, choices=TicketStatus.choices, default=S.WAITING_FOR_SUPPORT, protected=True
    )
    held_from = models.CharField(max_length=30, choices=TicketStatus.choices, blank=True)
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reported_tickets"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
    )
    change = models.ForeignKey(
        "Change", null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated"]
        indexes = [
            models.Index(fields=["status", "-updated"], name="ticket_status_updated"),
            models.Index(fields=["organization", "status", "-updated"], name="ticket_org_status"),
            models.Index(fields=["assignee", "status"], name="ticket_assignee_status"),
            models.Index(fields=["-updated"], name="ticket_updated"),
            models.Index(fields=["-created"], name="ticket_created"),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.title}"

    @property
    def key(self) -> str:
        return f"SUP-{self.pk}"

    @property
    def waiting_on(self) -> str | None:
        """'customer', 'provider' or None (done or on hold). Derived, never stored."""
        s = self.status
        if s in (self.S.DONE, self.S.ON_HOLD):
            return None
        if s in (self.S.WAITING_FOR_CUSTOMER, self.S.IN_TESTING):
            return "customer"
        # WORKFLOW.md: in TO_BE_RELEASED only when its change is performed by the customer
        # and is itself TO_BE_RELEASED (approved, waiting for the customer to carry it out).
        if (
            s == self.S.TO_BE_RELEASED
            and self.change is not None
            and self.change.performer == Performer.CUSTOMER
            and self.change.status == ChangeStatus.TO_BE_RELEASED
        ):
            return "customer"
        return "provider"

    @classmethod
    def waiting_on_customer_q(cls, prefix: str = "") -> Q:
        p = prefix
        return Q(**{f"{p}status__in": [cls.S.WAITING_FOR_CUSTOMER, cls.S.IN_TESTING]}) | Q(
            **{
                f"{p}status": cls.S.TO_BE_RELEASED,
                f"{p}change__performer": Performer.CUSTOMER,
                f"{p}change__status": ChangeStatus.TO_BE_RELEASED,
            }
        )

    @classmethod
    def waiting_on_provider_q(cls) -> Q:
        return ~cls.waiting_on_customer_q() & ~Q(status__in=[cls.S.DONE, cls.S.ON_HOLD])

    # -- transitions (WORKFLOW.md, "Support tickets") ---------------------------------

    @transition(
        field=status,
        source=S.WAITING_FOR_SUPPORT,
        target=S.WAITING_FOR_CUSTOMER,
        permission=PROVIDER,
        custom=transition_meta(
            "Reply",
            who="provider",
            trigger=ON_COMMENT,
            describe="when provider staff post a public comment",
        ),
    )
    def reply(self, *, by: User, comment: str = "") -> None:
        pass

    @transition(
        field=status,
        source=S.WAITING_FOR_CUSTOMER,
        target=S.WAITING_FOR_SUPPORT,
        permission=CUSTOMER,
        custom=transition_meta(
            "Customer reply",
            who="customer",
            trigger=ON_COMMENT,
            describe="when the customer comments",
        ),
    )
    def customer_reply(self, *, by: User, comment: str = "") -> None:
        pass

    @transition(
        field=status,
        source=[S.WAITING_FOR_SUPPORT, S.WAITING_FOR_CUSTOMER],
        target=S.TO_DO,
        permission=PROVIDER,
        custom=transition_meta("Needs technical work", who="provider"),
    )
    def needs_work(self, *, by: User, comment: str = "") -> None:
        pass

    @transition(
        field=status,
        source=S.TO_DO,
        target=S.IN_PROGRESS,
        permission=PROVIDER,
        custom=transition_meta("Start work", who="provider", describe="becomes the assignee"),
    )
    def start(self, *, by: User, comment: str = "") -> None:
        self.assignee = by

    @transition(
        field=status,
        source=S.IN_PROGRESS,
        target=S.TO_BE_RELEASED,
        permission=PROVIDER,
        custom=transition_meta("Ready for release", who="provider"),
    )
    def ready_for_release(self, *, by: User, comment: str = "") -> None:
        pass

    @transition(
        field=status,
        source=S.TO_BE_RELEASED,
        target=None,
        permission=PROVIDER,
        custom=transition_meta(
            "Attach to a change",
            who="provider",
            needs=("change",),
            trigger=SYSTEM,
            describe="when the ticket is attached to a change of its organisation",
        ),
    )
    def attach(self, *, by: User, change: Change, comment: str = "") -> None:
        if change.organization_id != self.organization_id:
            raise InvalidInput(
                f"{self.key} belongs to another organisation than {change.key}.",
                fields={"tickets": [f"{self.key} belongs to another organisation."]},
            )
        self.change = change

    @transition(
        field=status,
        source=S.TO_BE_RELEASED,
        target=S.IN_TESTING,
        permission=NOBODY,
        custom=transition_meta(
            "Release",
            who="system",
            trigger=SYSTEM,
            describe="for every attached ticket when its change is performed",
        ),
    )
    def release(self, *, by: User, comment: str = "") -> None:
        pass

    @transition(
        field=status,
        source=S.IN_TESTING,
        target=S.DONE,
        permission=CUSTOMER,
        custom=transition_meta("Accept", who="customer", describe="tested and it works"),
    )
    def accept(self, *, by: User, comment: str = "") -> None:
        pass

    @transition(
        field=status,
        source=S.IN_TESTING,
        target=S.WAITING_FOR_SUPPORT,
        permission=CUSTOMER,
        custom=transition_meta(
            "Send back", who="customer", needs=("comment",), describe="it does not work"
        ),
    )
    def send_back(self, *, by: User, comment: str = "") -> None:
        pass

    @transition(
        field=status,
        source=HOLDABLE,
        target=S.ON_HOLD,
        permission=PROVIDER_OR_CUSTOMER,
        custom=transition_meta("Put on hold", who="provider or customer", needs=("comment",)),
    )
    def hold(self, *, by: User, comment: str = "") -> None:
        self.held_from = self.status

    @transition(
        field=status,
        source=S.ON_HOLD,
        target=RETURN_VALUE(*HOLDABLE),
        permission=PROVIDER_OR_CUSTOMER,
        custom=transition_meta(
            "Resume", who="provider or customer", describe="back to the status it was held from"
        ),
    )
    def resume(self, *, by: User, comment: str = "") -> str:
        previous = self.held_from or self.S.WAITING_FOR_SUPPORT
        self.held_from = ""
        return previous


class TicketComment(models.Model):
    """A message on a ticket: public (the customer sees it) or internal (staff only)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    public = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created", "id"]
        indexes = [models.Index(fields=["ticket", "created"], name="comment_ticket_created")]

    def __str__(self) -> str:
        return f"Comment by {self.author} on {self.ticket.key}"


# --------------------------------------------------------------------------- changes


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


class Performer(models.TextChoices):
    PROVIDER = "provider", "Provider"
    CUSTOMER = "customer", "Customer"


class Resolution(models.TextChoices):
    SUCCESSFUL = "successful", "Successful (all scenarios passed)"
    ROLLED_BACK = "rolled_back", "Rolled back"
    FOLLOW_UP_RELEASE = "follow_up_release", "Another release on top"


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


def _performer_side(change: Change, user: Any) -> bool:
    if change.performer == Performer.CUSTOMER:
        return _is_customer_of(change, user)
    return _is_provider(user)


def _rollback_side(change: Change, user: Any) -> bool:
    return _is_provider(user) or (
        change.performer == Performer.CUSTOMER and _is_customer_of(change, user)
    )


def _window_agreeing_side(change: Change, user: Any) -> bool:
    proposer = change.window_proposed_by
    if proposer is None:
        return _is_provider(user) or _is_customer_of(change, user)
    if proposer.is_provider:
        return _is_customer_of(change, user)
    return _is_provider(user)


def _given(change: Change) -> list[approval_rules.Given]:
    return Approval.objects.given(change)


def _approver(change: Change, user: Any) -> bool:
    # Whether a role is still free this round is a matter of state (409), not of who the
    # user is (403): the `approve` transition answers that one.
    return approval_rules.may_approve(user, author_id=change.author_id, given=_given(change))


def _approver_refusal(change: Change, user: Any, params: dict[str, Any]) -> str:
    return approval_rules.refusal(
        user, author_id=change.author_id, given=_given(change), role=params.get("role")
    )


def _may_reject(change: Change, user: Any) -> bool:
    return approval_rules.may_reject(
        user, author_id=change.author_id, is_customer_of_change=_is_customer_of(change, user)
    )


def _section_editor(change: Change, user: Any) -> bool:
    return _is_provider(user) or (
        change.performer == Performer.CUSTOMER and _is_customer_of(change, user)
    )


def _result_recorder(change: Change, user: Any) -> bool:
    # The customer tests (§2.2), "+ Maestrano QA if needed"; support agents record what
    # the customer reports on their behalf.
    return _is_customer_of(change, user) or (
        _is_provider(user) and (user.is_qa or user.is_support_agent)
    )


SUBMITTER = Role(
    "provider staff (or the customer, for a customer-performed change)",
    lambda c, u: _is_provider(u) or (c.performer == Performer.CUSTOMER and _is_customer_of(c, u)),
    "Only provider staff may submit this change; the customer submits only changes they perform.",
)
APPROVER = Role("approver (QA, Peer or Operations)", _approver, _approver_refusal)
REJECTER = Role(
    "approver or the customer",
    _may_reject,
    "Only an approver (QA, Peer, Operations) or the customer may reject this change.",
)
PERFORMER_SIDE = Role(
    "performer's side",
    _performer_side,
    lambda c, u: (
        f"This change is performed by the customer; only a user of {c.organization} may perform it."
        if c.performer == Performer.CUSTOMER
        else "This change is performed by the provider; only provider staff may perform it."
    ),
)
ROLLBACK_SIDE = Role(
    "provider (or the customer, for a customer-performed change)",
    _rollback_side,
    "Only provider staff may roll back a change the provider performs.",
)
SECTION_EDITOR = Role(
    "provider staff (or the customer, for a customer-performed change)",
    _section_editor,
    "Only provider staff edit this change; the customer edits only changes they perform.",
)
# The checklist is filled in by whoever may edit the sections: provider staff, and the
# customer for a change they perform themselves.
CHECKLIST_FILLER = Role(
    "side that performs the change",
    _section_editor,
    "Only the side that performs the change (or provider staff) fills in its checklist.",
)
WINDOW_PROPOSER = Role(
    "provider staff or the customer",
    lambda c, u: _is_provider(u) or _is_customer_of(c, u),
    "Only provider staff or the customer propose a window.",
)
RESULT_RECORDER = Role(
    "customer, QA or a support agent",
    _result_recorder,
    "Only the customer, QA or a support agent record test results.",
)
WINDOW_AGREER = Role(
    "side that did not propose the window",
    _window_agreeing_side,
    lambda c, u: (
        "The window must be agreed by the other side than the one that proposed it "
        f"({c.window_proposed_by.get_kind_display() if c.window_proposed_by else 'nobody'})."
    ),
)


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


class Change(ConcurrentTransitionMixin, models.Model):
    """A change ticket (`CHG-<n>`): the nine sections of §2.3 and their approvals."""

    S = ChangeStatus

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="changes")
    environment = models.ForeignKey(Environment, on_delete=models.PROTECT, related_name="changes")
    performer = models.CharField(
        max_length=10, choices=Performer.choices, default=Performer.PROVIDER
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="authored_changes"
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reported_changes"
    )
    source_ticket = models.ForeignKey(
        Ticket,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="raised_changes",
        help_text="The change request this change was raised from.",
    )
    # 1. Summary
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    # 2. Components impacted: ChangeComponent rows.
    # 3. Impact
    outage_expected = models.BooleanField(null=True, blank=True, help_text="Empty: not stated yet.")
    outage_duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    impact = models.TextField(blank=True, help_text="What end users will notice.")
    # 4. Support tickets to test: Ticket.change.
    # 5.-7.
    changelog = models.TextField(blank=True)
    deployment_procedure = models.TextField(blank=True)
    rollback_procedure = models.TextField(blank=True)
    # 8. Test scenarios, 9. Checklist: rows of their own.
    # Communication plan (with an outage).
    # The message goes into every outage communication. Audience and timing are the
    # plan as agreed with the customer, for the people reading the change: sending always
    # goes to every end-user contact of the organisation, announcing once the change is
    # approved and its window agreed and reminding NOTIFICATIONS_REMINDER_LEAD before it.
    communication_audience = models.CharField(
        max_length=300,
        blank=True,
        help_text="Informative: the outage messages go to every end-user contact of the "
        "organisation.",
    )
    communication_message = models.TextField(
        blank=True, help_text="Sent to end users in every outage communication."
    )
    communication_timing = models.CharField(
        max_length=300,
        blank=True,
        help_text="Informative: the announcement goes when the change is approved and its "
        "window agreed, a reminder before the window starts, a notice when it is over.",
    )
    # Deployment window.
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    window_proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    window_proposed_at = models.DateTimeField(null=True, blank=True)
    window_agreed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    window_agreed_at = models.DateTimeField(null=True, blank=True)

    status = FSMField(max_length=30, choices=ChangeStatus.choices, default=S.DRAFT, protected=True)
    resolution = models.CharField(max_length=20, choices=Resolution.choices, blank=True)
    approval_round = models.PositiveIntegerField(default=1)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated"]
        indexes = [
            models.Index(fields=["status", "-updated"], name="change_status_updated"),
            models.Index(fields=["organization", "status", "-updated"], name="change_org_status"),
            models.Index(fields=["window_start"], name="change_window_start"),
            models.Index(fields=["author", "status"], name="change_author_status"),
            models.Index(fields=["-updated"], name="change_updated"),
            models.Index(fields=["-created"], name="change_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(window_start__isnull=True)
                | Q(window_end__isnull=True)
                | Q(window_end__gt=models.F("window_start")),
                name="change_window_ends_after_start",
            ),
            # The services refuse unreasonable windows with a sentence; the database
            # refuses whatever slips past them, so no page ever has to show year 10000.
            models.CheckConstraint(
                condition=Q(window_start__isnull=True)
                | Q(window_start__gte=WINDOW_EARLIEST, window_start__lt=WINDOW_LATEST),
                name="change_window_start_in_range",
            ),
            models.CheckConstraint(
                condition=Q(window_end__isnull=True)
                | Q(window_end__gte=WINDOW_EARLIEST, window_end__lt=WINDOW_LATEST),
                name="change_window_end_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.title}"

    @property
    def key(self) -> str:
        return f"CHG-{self.pk}"

    @property
    def has_communication_plan(self) -> bool:
        return bool(
            self.communication_audience.strip()
            and self.communication_message.strip()
            and self.communication_timing.strip()
        )

    @property
    def window_agreed(self) -> bool:
        return self.window_agreed_at is not None

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE

    @property
    def accepts_test_results(self) -> bool:
        """Scenario results are recorded while the change is in testing, and only then."""
        return self.status == self.S.IN_TESTING

    def edits_dismiss_approvals(self) -> bool:
        """Whether editing a section now would dismiss approvals given to the old text:
        any approval of the current round, or a status only approvals lead to."""
        if self.status == self.S.DRAFT:
            return False
        if self.status != self.S.AWAITING_APPROVAL:
            return True
        return self.approvals.filter(round=self.approval_round, decision="approved").exists()

    @property
    def waiting_on(self) -> str | None:
        """Who must act next: 'customer', 'provider', or None once closed or cancelled."""
        if self.status in (self.S.DONE, self.S.CANCELLED):
            return None
        if self.status in self.customer_waiting_statuses(self.performer):
            return "customer"
        return "provider"

    @classmethod
    def customer_waiting_statuses(cls, performer: str) -> tuple[str, ...]:
        # §2.2: provider-performed changes wait on the customer for the Business review
        # and for testing; customer-performed ones for the release itself and testing.
        # A rolled-back change waits on the customer to close it (§2.2, last paragraph).
        if performer == Performer.CUSTOMER:
            return (cls.S.TO_BE_RELEASED, cls.S.IN_TESTING, cls.S.ROLLED_BACK)
        return (cls.S.TO_BE_REVIEWED_BY_BUSINESS, cls.S.IN_TESTING, cls.S.ROLLED_BACK)

    @classmethod
    def waiting_on_customer_q(cls) -> Q:
        q = Q()
        for performer in Performer.values:
            q |= Q(performer=performer, status__in=cls.customer_waiting_statuses(performer))
        return q

    @classmethod
    def waiting_on_provider_q(cls) -> Q:
        return ~cls.waiting_on_customer_q() & ~Q(status__in=[cls.S.DONE, cls.S.CANCELLED])

    def incomplete_sections(self) -> list[tuple[int, str, str]]:
        """What keeps the change from being complete (WORKFLOW.md, "A change is complete"):
        (section number, section name, what is missing). Reads the components, scenarios
        and checklist through `.all()`, so a prefetched change costs no query."""
        missing: list[tuple[int, str, str]] = []

        def need(n: int, problem: str) -> None:
            missing.append((n, SECTIONS[n][0], problem))

        if not self.title.strip() or not self.summary.strip():
            need(1, "a title and a summary")
        components = list(self.change_components.all()) if self.pk else []
        if not components:
            need(2, "at least one component")
        elif any(not cc.target_version.strip() for cc in components):
            need(2, "the version to be released for every component")
        if self.outage_expected is None or not self.impact.strip():
            need(3, "whether an outage is expected, and what end users will notice")
        if self.outage_expected:
            outage = []
            if not self.outage_duration_minutes:
                outage.append("the outage's expected duration")
            if not self.has_communication_plan:
                outage.append("a communication plan (audience, message and timing)")
            if outage:
                need(3, " and ".join(outage))
        if not self.changelog.strip():
            need(5, "a changelog")
        if not self.deployment_procedure.strip():
            need(6, "a deployment procedure")
        if not self.rollback_procedure.strip():
            need(7, "a rollback procedure")
        kinds = {s.kind for s in self.scenarios.all()} if self.pk else set()
        lacking = [k.label.lower() for k in ScenarioKind if k not in kinds]
        if lacking:
            need(8, "at least one " + " and one ".join(lacking) + " scenario")
        present = {i.standard for i in self.checklist.all()} if self.pk else set()
        absent = [c.label for c in StandardCheck if c not in present]
        if absent:
            need(9, "the checklist items " + ", ".join(absent))
        return missing

    def incomplete_message(self) -> str:
        """`incomplete_sections` as one sentence a person can act on ('' when complete)."""
        return "; ".join(f"{n}. {name}: {what}" for n, name, what in self.incomplete_sections())

    def relevant_customer_user(self) -> User | None:
        """The customer user who becomes reporter of a customer-performed change (§2.1):
        whoever asked for it, else its customer author, else the organisation's first user."""
        for candidate in (getattr(self.source_ticket, "reporter", None), self.author):
            if candidate is not None and _is_customer_of(self, candidate):
                return candidate
        return (
            User.objects.filter(organization_id=self.organization_id, is_active=True)
            .order_by("id")
            .first()
        )

    def _entering_to_be_released(self) -> None:
        if self.performer == Performer.CUSTOMER:
            reporter = self.relevant_customer_user()
            if reporter is not None:
                self.reporter = reporter

    # -- transitions (WORKFLOW.md, "Statuses and transitions") -----------------------

    @transition(
        field=status,
        source=S.DRAFT,
        target=S.AWAITING_APPROVAL,
        permission=SUBMITTER,
        conditions=[change_complete],
        custom=transition_meta(
            "Submit for approval", who="provider (or customer, for a customer-performed change)"
        ),
    )
    def submit(self, *, by: User, comment: str = "") -> None:
        pass

    @transition(
        field=status,
        source=S.AWAITING_APPROVAL,
        target=RETURN_VALUE(S.AWAITING_APPROVAL, S.TO_BE_REVIEWED_BY_BUSINESS, S.TO_BE_RELEASED),
        permission=APPROVER,
        conditions=[change_complete],
        custom=transition_meta(
            "Approve",
            who="QA / Peer / Operations",
            needs=("role",),
            describe="the last provider approval moves the change on",
        ),
    )
    def approve(self, *, by: User, role: str, comment: str = "") -> str:
        if role not in approval_rules.ROUND_ROLES:
            raise InvalidInput(
                f"Unknown approval role '{role}'; use qa, peer or operations.",
                fields={"role": [f"'{role}' is not one of qa, peer, operations."]},
            )
        given = _given(self)
        refusal = approval_rules.role_refusal(
            by, role, author_id=self.author_id
        ) or approval_rules.second_approval_refusal(by, given=given)
        if refusal:
            raise PermissionRefused(refusal)
        taken = approval_rules.role_taken(role, given=given)
        if taken is not None:
            raise Conflict(
                f"The {approval_rules.LABELS[role]} approval was already given by "
                f"{taken.by_name or 'someone else'}."
            )
        Approval.objects.create(
            change=self,
            round=self.approval_round,
            role=role,
            decision=Decision.APPROVED,
            by=by,
            comment=comment,
        )
        if not approval_rules.round_complete([g.role for g in given] + [role]):
            return self.S.AWAITING_APPROVAL
        if approval_rules.needs_business_review(self.performer):
            return self.S.TO_BE_REVIEWED_BY_BUSINESS
        self._entering_to_be_released()
        return self.S.TO_BE_RELEASED

    @transition(
        field=status,
        source=[S.AWAITING_APPROVAL, S.TO_BE_REVIEWED_BY_BUSINESS],
        target=S.DRAFT,
        permission=REJECTER,
        custom=transition_meta(
            "Reject",
            who="any approver, or the customer",
            needs=("comment",),
            describe="all approvals of this round are cleared",
        ),
    )
    def reject(self, *, by: User, comment: str = "") -> None:
        Approval.objects.create(
            change=self,
            round=self.approval_round,
            role=approval_rules.reject_role(
                by, author_id=self.author_id, is_customer=_is_customer_of(self, by)
            ),
            decision=Decision.REJECTED,
            by=by,
            comment=comment,
        )
        Approval.objects.close_round(self, reason=f"Rejected by {by.get_username()}")

    @transition(
        field=status,
        source=S.TO_BE_REVIEWED_BY_BUSINESS,
        target=S.TO_BE_RELEASED,
        permission=CUSTOMER,
        conditions=[change_complete],
        custom=transition_meta("Approve as Business", who="customer"),
    )
    def business_approve(self, *, by: User, comment: str = "") -> None:
        Approval.objects.create(
            change=self,
            round=self.approval_round,
            role=approval_rules.BUSINESS,
            decision=Decision.APPROVED,
            by=by,
            comment=comment,
        )
        self._entering_to_be_released()

    @transition(
        field=status,
        source=[S.DRAFT, S.AWAITING_APPROVAL, S.TO_BE_REVIEWED_BY_BUSINESS, S.TO_BE_RELEASED],
        target=None,
        permission=WINDOW_AGREER,
        conditions=[window_proposed, window_not_yet_agreed, window_not_started],
        custom=transition_meta("Agree the window", who="the side that did not propose it"),
    )
    def agree_window(self, *, by: User, comment: str = "") -> None:
        self.window_agreed_by = by
        self.window_agreed_at = timezone.now()

    @transition(
        field=status,
        source=S.TO_BE_RELEASED,
        target=S.IN_TESTING,
        permission=PERFORMER_SIDE,
        conditions=[change_complete, window_is_agreed, checklist_done, no_ticket_on_hold],
        custom=transition_meta(
            "Perform", who="the performer's side", describe="attached tickets move to testing"
        ),
    )
    def perform(self, *, by: User, comment: str = "") -> None:
        pass

    @transition(
        field=status,
        source=S.IN_TESTING,
        target=S.ROLLED_BACK,
        permission=ROLLBACK_SIDE,
        conditions=[has_rollback_procedure],
        custom=transition_meta(
            "Roll back", who="provider (or customer, when customer-performed)", needs=("comment",)
        ),
    )
    def roll_back(self, *, by: User, comment: str = "") -> None:
        pass

    @transition(
        field=status,
        source=[S.IN_TESTING, S.ROLLED_BACK],
        target=S.DONE,
        permission=CUSTOMER,
        custom=transition_meta("Close", who="customer", needs=("resolution",)),
    )
    def close(self, *, by: User, resolution: str, comment: str = "") -> None:
        if resolution not in Resolution.values:
            raise InvalidInput(
                f"Unknown resolution '{resolution}'; use one of: {', '.join(Resolution.values)}.",
                fields={"resolution": [f"'{resolution}' is not a valid resolution."]},
            )
        if self.status == self.S.ROLLED_BACK and resolution != Resolution.ROLLED_BACK:
            raise GuardFailed("A rolled-back change can only be closed as 'rolled_back'.")
        if self.status == self.S.IN_TESTING and resolution == Resolution.ROLLED_BACK:
            raise GuardFailed("Roll the change back first; then close it as 'rolled_back'.")
        if resolution == Resolution.SUCCESSFUL:
            problems = self.unsuccessful_reasons()
            if problems:
                raise GuardFailed(
                    "A successful close needs every test scenario passed and every ticket "
                    "in scope accepted; "
                    + " ".join(problems)
                    + " Close it as 'follow_up_release' (another release on top), or roll "
                    "it back."
                )
        self.resolution = resolution

    @transition(
        field=status,
        source=[S.DRAFT, S.AWAITING_APPROVAL, S.TO_BE_REVIEWED_BY_BUSINESS, S.TO_BE_RELEASED],
        target=S.CANCELLED,
        permission=PROVIDER_OR_CUSTOMER,
        custom=transition_meta("Cancel", who="provider or customer", needs=("comment",)),
    )
    def cancel(self, *, by: User, comment: str = "") -> None:
        pass

    @transition(
        field=status,
        source=[S.AWAITING_APPROVAL, S.TO_BE_REVIEWED_BY_BUSINESS, S.TO_BE_RELEASED],
        target=S.AWAITING_APPROVAL,
        permission=NOBODY,
        custom=transition_meta(
            "Dismiss approvals",
            who="system",
            trigger=SYSTEM,
            describe="a section was edited after an approval",
        ),
    )
    def dismiss_approvals(self, *, by: User, comment: str = "") -> None:
        Approval.objects.close_round(self, reason=comment or f"Edited by {by.get_username()}")

    def unsuccessful_reasons(self) -> list[str]:
        """Why testing does not allow a `successful` close (§2.2): scenarios not passed,
        and tickets released by this change that were sent back or not (yet) accepted."""
        problems = []
        unpassed = [s for s in self.scenarios.all() if s.result != ScenarioResult.PASSED]
        if unpassed:
            problems.append(
                "scenarios not passed: "
                + "; ".join(f"#{s.position} {s.description[:60]} ({s.result})" for s in unpassed)
                + "."
            )
        released = [r.ticket for r in self.released.select_related("ticket")]
        sent_back = [t for t in released if t.change_id != self.pk or t.status != "done"]
        if sent_back:
            problems.append(
                "tickets not accepted: "
                + ", ".join(f"{t.key} ({t.get_status_display()})" for t in sent_back)
                + "."
            )
        return problems

    # -- who may do what, asked by services and pages alike ----------------------------

    def can_edit(self, user: Any) -> bool:
        return self.is_editable and SECTION_EDITOR(self, user)

    def can_propose_window(self, user: Any) -> bool:
        return self.is_editable and WINDOW_PROPOSER(self, user)

    def can_fill_checklist(self, user: Any) -> bool:
        return self.is_editable and CHECKLIST_FILLER(self, user)

    def can_record_results(self, user: Any) -> bool:
        return self.accepts_test_results and RESULT_RECORDER(self, user)


class ChangeComponent(models.Model):
    """Section 2: a component the change touches, and the version it releases."""

    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="change_components")
    component = models.ForeignKey(Component, on_delete=models.PROTECT, related_name="+")
    target_version = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["change", "component"], name="change_component_unique")
        ]

    def __str__(self) -> str:
        return f"{self.component.name} -> {self.target_version}"


class ScenarioKind(models.TextChoices):
    PROGRESSION = "progression", "Progression"  # the new behaviour works
    REGRESSION = "regression", "Regression"  # the old behaviour still works


class ScenarioResult(models.TextChoices):
    NOT_RUN = "not_run", "Not run"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"


class TestScenario(models.Model):
    """Section 8: a scenario to run after the release, with its recorded result."""

    __test__ = False  # not a pytest test class

    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="scenarios")
    position = models.PositiveIntegerField(default=1)
    kind = models.CharField(max_length=12, choices=ScenarioKind.choices)
    description = models.TextField()
    result = models.CharField(
        max_length=10, choices=ScenarioResult.choices, default=ScenarioResult.NOT_RUN
    )
    result_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    result_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.position}"


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


class ChecklistTemplateItem(models.Model):
    """An item every new change's checklist starts with: for everyone, or one organisation."""

    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="checklist_items",
        help_text="Empty: added to every organisation's changes.",
    )
    label = models.CharField(max_length=200)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.label


class ChecklistItem(models.Model):
    """Section 9: a pre-release confirmation on one change."""

    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="checklist")
    position = models.PositiveIntegerField(default=0)
    label = models.CharField(max_length=200)
    standard = models.CharField(
        max_length=20,
        choices=StandardCheck.choices,
        blank=True,
        help_text="Which of the four checks of the process document this is; empty for "
        "items an organisation or an admin added.",
    )
    state = models.CharField(
        max_length=20, choices=ChecklistState.choices, default=ChecklistState.PENDING
    )
    reason = models.TextField(blank=True, help_text="Why it does not apply.")
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["change", "standard"],
                condition=~Q(standard=""),
                name="checklist_one_standard_item_each",
            )
        ]

    def __str__(self) -> str:
        return self.label


class ReleasedTicket(models.Model):
    """Section 4 as it was performed: a ticket the change released to testing. Kept when
    the ticket, sent back, moves on to a follow-up change, so the close still knows the
    change's testing did not accept it."""

    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="released")
    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="releases")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["change", "ticket"], name="released_ticket_unique")
        ]

    def __str__(self) -> str:
        return f"{self.ticket.key} released by {self.change.key}"


# --------------------------------------------------------------------------- history


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise TypeError("The history is append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("The history is append-only.")


class AppendOnly(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("The history is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("The history is append-only.")


class TransitionLog(AppendOnly):
    """One row per transition taken: who, when, from, to, which transition, the comment."""

    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.PROTECT, related_name="log"
    )
    change = models.ForeignKey(
        Change, null=True, blank=True, on_delete=models.PROTECT, related_name="log"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    transition = models.CharField(max_length=40)
    source = models.CharField(max_length=30)
    target = models.CharField(max_length=30)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ticket__isnull=True, change__isnull=False)
                | Q(ticket__isnull=False, change__isnull=True),
                name="log_exactly_one_subject",
            )
        ]
        indexes = [
            models.Index(fields=["ticket", "at"], name="log_ticket_at"),
            models.Index(fields=["change", "at"], name="log_change_at"),
        ]

    def __str__(self) -> str:
        subject = self.ticket or self.change
        return f"{subject}: {self.transition} {self.source} -> {self.target}"


class SectionEdit(AppendOnly):
    """The edit history of the nine sections: who changed which field, when, from what."""

    change = models.ForeignKey(Change, on_delete=models.PROTECT, related_name="edits")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    section = models.PositiveSmallIntegerField()
    field = models.CharField(max_length=60)
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["change", "at"], name="edit_change_at")]

    def __str__(self) -> str:
        return f"{self.change}: section {self.section} {self.field}"

    @property
    def section_name(self) -> str:
        return SECTIONS.get(self.section, ("?", ()))[0]
