"""Change tickets (§2): the nine sections, the change workflow declared on the model
(django-fsm-2) with its guards and roles, and what a change can say of itself. Transition
methods change the row only; services run them (`tickets.workflow.run`) in a transaction
with the row locked, and write the log row and the side effects after commit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import RETURN_VALUE, FSMField, transition

from approvals import rules as approval_rules
from approvals.models import Approval, Decision

from ..errors import Conflict, GuardFailed, InvalidInput, PermissionRefused
from ..workflow import NOBODY, SYSTEM, transition_meta
from .choices import (
    CHANGE_CLOSED,
    CUSTOMER_RELEASE,
    WINDOW_LIVE,
    ChangeStatus,
    Performer,
    Resolution,
    ScenarioKind,
    ScenarioResult,
    StandardCheck,
)
from .fsm import ConcurrentTransitions
from .guards import (
    change_complete,
    checklist_done,
    has_rollback_procedure,
    no_hard_freeze,
    no_ticket_on_hold,
    window_is_agreed,
    window_not_started,
    window_not_yet_agreed,
    window_proposed,
)
from .people import Environment, Organization, User
from .roles import (
    APPROVER,
    CHECKLIST_FILLER,
    CUSTOMER,
    PERFORMER_SIDE,
    PROVIDER_OR_CUSTOMER,
    REJECTER,
    RESULT_RECORDER,
    ROLLBACK_SIDE,
    SECTION_EDITOR,
    SUBMITTER,
    WINDOW_AGREER,
    WINDOW_PROPOSER,
    _given,
    _is_customer_of,
)
from .search import SearchableManager, SearchDocument
from .sections import EDITABLE, SECTIONS
from .support import Ticket

# The range any stored deployment window lies in (a database constraint).
WINDOW_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
WINDOW_LATEST = datetime(2200, 1, 1, tzinfo=UTC)

# Every status in which a change may wait on the customer, whoever performs it
# (`Change.customer_waiting_statuses`); a test holds the two together.
CUSTOMER_WAITING_STATUSES = [
    ChangeStatus.TO_BE_REVIEWED_BY_BUSINESS,
    ChangeStatus.TO_BE_RELEASED,
    ChangeStatus.IN_TESTING,
    ChangeStatus.ROLLED_BACK,
]


class Change(ConcurrentTransitions, models.Model):
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
    # The iCalendar SEQUENCE of its event: raised when the window moves or the change ends.
    schedule_sequence = models.PositiveIntegerField(default=0, editable=False)

    status = FSMField(max_length=30, choices=ChangeStatus.choices, default=S.DRAFT, protected=True)
    resolution = models.CharField(max_length=20, choices=Resolution.choices, blank=True)
    approval_round = models.PositiveIntegerField(default=1)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    # What `tickets.selectors.changes_matching` searches (tickets/models/search.py); its
    # GIN index is created by migration 0004, on PostgreSQL only.
    search_document = models.GeneratedField(
        expression=SearchDocument("title", "summary"),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    objects = SearchableManager()

    class Meta:
        ordering = ["-updated"]
        indexes = [
            models.Index(fields=["status", "-updated"], name="change_status_updated"),
            models.Index(fields=["organization", "status", "-updated"], name="change_org_status"),
            models.Index(fields=["window_start"], name="change_window_start"),
            models.Index(fields=["window_end"], name="change_window_end"),  # windows of a range
            # The windows changes hold, with what a conflict names: the conflicts of a
            # page of changes are read from this index alone (`tickets.scheduling`). Only
            # rows with a window, so that no query without one (a status alone) takes it
            # for a small copy of the table.
            models.Index(
                fields=["window_end"],
                include=["window_start", "environment", "id", "title"],
                condition=Q(status__in=WINDOW_LIVE, window_end__isnull=False),
                name="change_live_windows",
            ),
            # A person's changes still in flight, newest first (the dashboard's panel and
            # its count).
            models.Index(
                fields=["author", "-updated", "-id"],
                condition=~Q(status__in=CHANGE_CLOSED),
                name="change_author_open",
            ),
            models.Index(fields=["-updated", "-id"], name="change_updated"),
            models.Index(fields=["-created"], name="change_created"),
            # The changes that may wait on the customer (`waiting_on_customer_q`) per
            # organisation, newest first, with the performer that decides it.
            models.Index(
                fields=["organization", "-updated"],
                include=["performer"],
                condition=Q(status__in=CUSTOMER_WAITING_STATUSES),
                name="change_customer_open",
            ),
            # The customer's releases, which their tickets to be released wait on
            # (`Ticket._in_customer_release_q`, in every "waiting on" list and count): a
            # few thousand entries at a million tickets, where reading them from the
            # status index and the rows took 3 ms on every dashboard and portal page.
            models.Index(
                fields=["id"],
                condition=Q(**CUSTOMER_RELEASE),
                name="change_customer_release",
            ),
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
        conditions=[
            change_complete,
            window_is_agreed,
            checklist_done,
            no_ticket_on_hold,
            no_hard_freeze,
        ],
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
        self.schedule_sequence += 1

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
