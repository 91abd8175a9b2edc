"""Support tickets (§4.2): the ticket workflow declared on the model, and comments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django_fsm import RETURN_VALUE, FSMField, transition

from ..errors import InvalidInput
from ..workflow import NOBODY, ON_COMMENT, SYSTEM, transition_meta
from .choices import (
    CUSTOMER_RELEASE,
    HOLDABLE,
    Priority,
    TicketStatus,
    TicketType,
)
from .fsm import ConcurrentTransitions
from .people import Organization, User
from .roles import CUSTOMER, PROVIDER, PROVIDER_OR_CUSTOMER
from .search import SearchableManager, SearchDocument

if TYPE_CHECKING:
    from .changes import Change

# Who a ticket waits on, by status (WORKFLOW.md, "Support tickets"). TO_BE_RELEASED is in
# neither: it waits on the customer only while its change is customer-performed and itself
# TO_BE_RELEASED, on the provider otherwise; DONE and ON_HOLD wait on nobody.
CUSTOMER_STATUSES = (TicketStatus.WAITING_FOR_CUSTOMER, TicketStatus.IN_TESTING)
PROVIDER_STATUSES = (TicketStatus.WAITING_FOR_SUPPORT, TicketStatus.TO_DO, TicketStatus.IN_PROGRESS)


class Ticket(ConcurrentTransitions, models.Model):
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
    # What `tickets.selectors.tickets_matching` searches (tickets/models/search.py); its
    # GIN index is created by migration 0004, on PostgreSQL only.
    search_document = models.GeneratedField(
        expression=SearchDocument("title", "description"),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    objects = SearchableManager()

    class Meta:
        ordering = ["-updated"]
        indexes = [
            models.Index(fields=["status", "-updated"], name="ticket_status_updated"),
            models.Index(fields=["organization", "status", "-updated"], name="ticket_org_status"),
            models.Index(fields=["assignee", "status"], name="ticket_assignee_status"),
            models.Index(fields=["-updated", "-id"], name="ticket_updated"),
            models.Index(fields=["-created"], name="ticket_created"),
            # The open tickets that may wait on each side, newest first (then by id, as
            # every list sorts): the portal's "Needs your action" per organisation, the
            # dashboard's "waiting on support" per assignee (and unassigned). Status and
            # change are included so that the counts are answered from the index alone
            # (`waiting_on_*_q`).
            models.Index(
                fields=["organization", "-updated", "-id"],
                include=["status", "change"],
                condition=Q(status__in=[*CUSTOMER_STATUSES, TicketStatus.TO_BE_RELEASED]),
                name="ticket_customer_open",
            ),
            models.Index(
                fields=["assignee", "-updated", "-id"],
                include=["status", "change"],
                condition=Q(status__in=[*PROVIDER_STATUSES, TicketStatus.TO_BE_RELEASED]),
                name="ticket_provider_open",
            ),
            # The unassigned among them, newest first (the dashboard's triage panel): an
            # `assignee IS NULL` is no equality, so `ticket_provider_open` does not give
            # them in order, and PostgreSQL read 7,000 tickets for 8 at a million.
            models.Index(
                fields=["-updated", "-id"],
                condition=Q(
                    status__in=[*PROVIDER_STATUSES, TicketStatus.TO_BE_RELEASED],
                    assignee__isnull=True,
                ),
                name="ticket_unassigned_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.title}"

    @property
    def key(self) -> str:
        return self.key_of(self.pk)

    @staticmethod
    def key_of(pk: Any) -> str:
        """The key of ticket `pk`, for a page that holds only its id (a change's source)."""
        return f"SUP-{pk}"

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
        if s != self.S.TO_BE_RELEASED:
            return "provider"
        # Lists annotate it (`with_customer_release`) rather than read each change.
        in_release = self.__dict__.get("in_customer_release")
        if in_release is None:
            in_release = self.change is not None and all(
                getattr(self.change, field) == value for field, value in CUSTOMER_RELEASE.items()
            )
        return "customer" if in_release else "provider"

    @classmethod
    def with_customer_release(cls, qs: models.QuerySet[Ticket]) -> models.QuerySet[Ticket]:
        """`qs` with `in_customer_release` on each row, which `waiting_on` reads instead
        of the ticket's change: one index probe per row, no change row read."""
        releases = cls._change_model().objects.filter(pk=OuterRef("change_id"), **CUSTOMER_RELEASE)
        return qs.annotate(in_customer_release=Exists(releases))

    @classmethod
    def priority_order(cls) -> models.Case:
        """The priority as a number (low 1 ... urgent 4), for sorting by it: the stored
        text sorts high, low, normal, urgent."""
        return models.Case(
            *(
                models.When(priority=value, then=models.Value(rank))
                for rank, value in enumerate(Priority.values, start=1)
            ),
            output_field=models.IntegerField(),
        )

    @classmethod
    def _change_model(cls) -> Any:
        # Change, through the relation: `changes` imports this module, not the reverse.
        return cls._meta.get_field("change").related_model

    @classmethod
    def _in_customer_release_q(cls, prefix: str = "") -> Q:
        """The ticket's change is customer-performed and TO_BE_RELEASED. An uncorrelated
        subquery rather than a join: PostgreSQL reads those few changes once and hashes
        them, where a join (or EXISTS per row) reads the change table for every count."""
        releases = cls._change_model().objects.filter(**CUSTOMER_RELEASE)
        return Q(**{f"{prefix}change_id__in": releases.values("pk")})

    @classmethod
    def waiting_on_customer_q(cls, prefix: str = "") -> Q:
        """Tickets that wait on the customer, as `waiting_on` says of one ticket. The
        statuses of `ticket_customer_open` come first (the same rows, said twice), so that
        PostgreSQL reads that index even for the largest organisation: the portal's
        navigation counted in 0.6 ms instead of 2 (a sequential scan) at 100,000 tickets."""
        p = prefix
        return Q(**{f"{p}status__in": [*CUSTOMER_STATUSES, cls.S.TO_BE_RELEASED]}) & (
            Q(**{f"{p}status__in": CUSTOMER_STATUSES})
            | (Q(**{f"{p}status": cls.S.TO_BE_RELEASED}) & cls._in_customer_release_q(p))
        )

    @classmethod
    def waiting_on_provider_q(cls) -> Q:
        """Tickets that wait on the provider: every status but the customer's, DONE and
        ON_HOLD, with TO_BE_RELEASED unless its change waits on the customer to release it
        (a ticket without a change included). Spelled positively, and with the statuses of
        `ticket_provider_open` first (the same rows, said twice), so that PostgreSQL reads
        that index alone: "assigned to me" counted in 0.6 ms instead of 4 at 100,000
        tickets."""
        return Q(status__in=[*PROVIDER_STATUSES, cls.S.TO_BE_RELEASED]) & (
            Q(status__in=PROVIDER_STATUSES)
            | (
                Q(status=cls.S.TO_BE_RELEASED)
                & (Q(change_id__isnull=True) | ~cls._in_customer_release_q())
            )
        )

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
