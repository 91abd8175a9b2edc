"""Support tickets (§4.2): the ticket workflow declared on the model, and comments."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition

from ..errors import InvalidInput
from ..workflow import NOBODY, ON_COMMENT, SYSTEM, transition_meta
from .choices import HOLDABLE, ChangeStatus, Performer, Priority, TicketStatus, TicketType
from .people import Organization, User
from .roles import CUSTOMER, PROVIDER, PROVIDER_OR_CUSTOMER

if TYPE_CHECKING:
    from .changes import Change


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
