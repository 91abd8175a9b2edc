"""The process holds whatever sequence of steps anyone takes (issue 10).

A hypothesis state machine drives one change (and two tickets in its scope) through random
sequences of section edits, scenario and checklist changes, window proposals and
agreements, comments, ticket moves and change transitions, by random personas: the
agent who wrote it, QA, a peer, operations management, one person holding both QA and
operations, the customer, and another organisation's customer. A "next natural step" rule
pushes it forward so that sequences reach testing and the close, and the other rules
perturb it on the way. After every step the invariants of WORKFLOW.md are checked on
what the database holds:

- past Draft (and not cancelled), the change is complete;
- end users hear of an outage only for an approved change with an agreed window: every
  announcement or correction was written while the change was approved (To be released)
  with its window agreed, never two for the same window in a row, a cancellation only
  after one of them, and an announcement that stands belongs to a change on the approved
  path; a reminder only for an approved change with an agreed window;
- a successful close has every scenario passed and every ticket it released accepted;
- perform leaves no attached ticket on hold or waiting to be released;
- every status change has exactly one log row (each row starts where the one before
  ended, and the last ends in the current status), for the change and its tickets;
- the approvals of a round come from distinct people, each holding the role they gave,
  and a change past its approvals holds the full round;
- another organisation's customer is answered "not found" to everything.

Runs on PostgreSQL, each example in its own savepoint-wrapped objects; PROCESS_EXAMPLES
sets how many sequences (200 by default, 30 steps at most each).
"""

from __future__ import annotations

import itertools
import os
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from approvals import rules as approval_rules
from approvals.models import Approval, Decision
from notifications.models import Notification, NotificationKind
from notifications.services import reminders_send_due
from tests.factories import (
    ComponentFactory,
    ContactFactory,
    CustomerUserFactory,
    OrganizationFactory,
    TicketFactory,
    UserFactory,
    environment,
)
from tickets import services
from tickets.errors import DomainError, NotVisible
from tickets.models import (
    EDITABLE,
    Change,
    ChangeStatus,
    ChecklistState,
    Freeze,
    FreezeOverride,
    ScenarioResult,
    Ticket,
    TicketStatus,
    TransitionLog,
    hard_freezes_in_force,
)
from tickets.services import schedule

pytestmark = pytest.mark.django_db(transaction=False)

C = ChangeStatus
T = TicketStatus
Kind = NotificationKind
_serial = itertools.count()
# The statuses the sequences went through, across all examples: the test also proves that the
# machine explores the whole process, not only its first steps.
REACHED: Counter[str] = Counter()

PERSONAS = ("agent", "qa", "peer", "ops", "qaops", "alice", "bob")
APPROVED_PATH = (C.TO_BE_RELEASED, C.IN_TESTING, C.ROLLED_BACK, C.DONE)
PAST_APPROVALS = (C.TO_BE_REVIEWED_BY_BUSINESS, *APPROVED_PATH)
ANNOUNCING = (Kind.ANNOUNCEMENT, Kind.CORRECTION, Kind.CANCELLATION)

personas = st.sampled_from(PERSONAS)
texts = st.sampled_from(["", "   ", "Deploy the image.", "Redeploy 2.3.", "Rounds VAT."])
section_fields = st.sampled_from(services.CHANGE_TEXT_FIELDS)
comments = st.sampled_from(["", "Looks good.", "Not now."])


class ProcessMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.change: Change | None = None

    # ------------------------------------------------------------------ the world

    @initialize(performer=st.sampled_from(["provider", "customer"]), outage=st.booleans())
    def world(self, performer: str, outage: bool) -> None:
        n = next(_serial)
        org = OrganizationFactory(name=f"Prop org {n}", slug=f"prop-{n}")
        other = OrganizationFactory(name=f"Prop other {n}", slug=f"prop-other-{n}")
        self.people = {
            "agent": UserFactory(username=f"p{n}-agent", is_support_agent=True),
            "qa": UserFactory(username=f"p{n}-qa", is_qa=True),
            "peer": UserFactory(username=f"p{n}-peer"),
            "ops": UserFactory(username=f"p{n}-ops", is_operations_manager=True),
            "qaops": UserFactory(username=f"p{n}-qaops", is_qa=True, is_operations_manager=True),
            "alice": CustomerUserFactory(username=f"p{n}-alice", organization=org),
            "bob": CustomerUserFactory(username=f"p{n}-bob", organization=other),
        }
        for _ in range(2):
            ContactFactory(organization=org)
        self.component = ComponentFactory(organization=org)
        environment("uat")
        agent = self.people["agent"]
        fields: dict[str, Any] = {
            "summary": "Upgrade billing.",
            "impact": "Invoices pause.",
            "outage_expected": outage,
            "changelog": "Bug fixes.",
            "deployment_procedure": "Deploy.",
            "rollback_procedure": "Redeploy.",
        }
        if outage:
            fields.update(
                outage_duration_minutes=30,
                communication_audience="All end users",
                communication_message="Billing pauses.",
                communication_timing="When agreed",
            )
        self.change = services.change_create(
            by=agent, organization=org, title="Billing 2.4", performer=performer, **fields
        )
        services.change_set_components(
            change=self.change.pk, by=agent, components=[(self.component, "2.4.0")]
        )
        for kind in ("progression", "regression"):
            services.scenario_add(change=self.change.pk, by=agent, kind=kind, description=kind)
        self.tickets = [
            TicketFactory(organization=org, reporter=self.people["alice"], status=T.TO_BE_RELEASED)
            for _ in range(2)
        ]
        self.seen_outages = 0

    # ------------------------------------------------------------------ helpers

    def _reload(self) -> Change:
        assert self.change is not None
        self.change = Change.objects.get(pk=self.change.pk)
        return self.change

    def _try(self, who: str, action: Any, **kwargs: Any) -> bool:
        """Run one service call as `who`; a refusal must leave no trace (its savepoint
        rolls back) and another organisation's customer must be told 'not found'."""
        before = self._snapshot()
        try:
            with transaction.atomic():
                action(by=self.people[who], **kwargs)
        except DomainError as exc:
            if who == "bob":
                assert isinstance(exc, NotVisible), f"bob was told {type(exc).__name__}: {exc}"
            assert self._snapshot() == before, f"a refused {action.__name__} left a trace"
            return False
        assert who != "bob", f"bob could {action.__name__}"
        self._after_step()
        return True

    def _snapshot(self) -> tuple[Any, ...]:
        change = self._reload()
        return (
            change.status,
            change.updated,
            change.approval_round,
            TransitionLog.objects.filter(change=change).count(),
            TransitionLog.objects.filter(ticket__in=self.tickets).count(),
            Notification.objects.filter(change=change).count(),
            Approval.objects.filter(change=change).count(),
        )

    def _after_step(self) -> None:
        """Checks that need to know what this step wrote: every new announcement or
        correction was written while the change was approved with its window agreed."""
        change = self._reload()
        REACHED[change.status] += 1  # every status passed through, inside a rule too
        outages = list(
            Notification.objects.filter(change=change, kind__in=[*ANNOUNCING, Kind.REMINDER])
            .order_by("id")
            .values_list("kind", flat=True)
        )
        new = outages[self.seen_outages :]
        self.seen_outages = len(outages)
        assert len(new) <= 1, f"one step said {new} to end users"
        if new and new[0] in (Kind.ANNOUNCEMENT, Kind.CORRECTION, Kind.REMINDER):
            assert change.outage_expected
            assert change.status == C.TO_BE_RELEASED, f"{new[0]} while {change.status}"
            assert change.window_agreed_at is not None, f"{new[0]} for an unagreed window"

    def _scenario(self, index: int) -> int | None:
        ids = list(self._reload().scenarios.values_list("pk", flat=True))
        return ids[index % len(ids)] if ids else None

    # ------------------------------------------------------------------ rules

    @rule(who=personas, field=section_fields, value=texts)
    def edit_section(self, who: str, field: str, value: str) -> None:
        self._try(who, services.change_update, change=self.change.pk, **{field: value})

    @rule(
        who=personas,
        outage=st.sampled_from([True, False, None]),
        minutes=st.sampled_from([None, 45]),
    )
    def edit_impact(self, who: str, outage: bool | None, minutes: int | None) -> None:
        self._try(
            who,
            services.change_update,
            change=self.change.pk,
            outage_expected=outage,
            outage_duration_minutes=minutes,
        )

    @rule(
        who=personas,
        summary=texts,
        version=st.sampled_from(["", "2.6.0"]),
        swap=st.sampled_from(["progression", "regression", None]),
    )
    def edit_several_at_once(self, who: str, summary: str, version: str, swap: str | None) -> None:
        """One save of several sections (the editor's, the API's PATCH): a summary, a
        component's version, and one scenario of a kind replaced by another of that kind."""
        change = self._reload()
        scenarios: list[services.ScenarioEdit] = []
        if swap is not None:
            old = change.scenarios.filter(kind=swap).values_list("pk", flat=True).first()
            if old is not None:
                scenarios.append(services.ScenarioEdit(id=old, remove=True))
            scenarios.append(services.ScenarioEdit(kind=swap, description=f"New {swap}."))
        self._try(
            who,
            services.change_edit,
            change=change.pk,
            sections={"summary": summary},
            components=[(self.component, version)],
            scenarios=scenarios,
        )

    @rule(who=personas, version=st.sampled_from(["", "2.5.0"]), keep=st.booleans())
    def set_components(self, who: str, version: str, keep: bool) -> None:
        wanted = [(self.component, version)] if keep else []
        self._try(who, services.change_set_components, change=self.change.pk, components=wanted)

    @rule(who=personas, kind=st.sampled_from(["progression", "regression"]))
    def add_scenario(self, who: str, kind: str) -> None:
        self._try(who, services.scenario_add, change=self.change.pk, kind=kind, description="More.")

    @rule(who=personas, index=st.integers(0, 5))
    def remove_scenario(self, who: str, index: int) -> None:
        if (pk := self._scenario(index)) is not None:
            self._try(who, services.scenario_remove, scenario=pk)

    @rule(
        who=personas, index=st.integers(0, 5), kind=st.sampled_from(["progression", "regression"])
    )
    def change_scenario_kind(self, who: str, index: int, kind: str) -> None:
        if (pk := self._scenario(index)) is not None:
            self._try(who, services.scenario_update, scenario=pk, kind=kind)

    @rule(
        who=personas,
        index=st.integers(0, 5),
        result=st.sampled_from(ScenarioResult.values),
    )
    def record_result(self, who: str, index: int, result: str) -> None:
        if (pk := self._scenario(index)) is not None:
            self._try(who, services.scenario_record_result, scenario=pk, result=result)

    @rule(
        who=personas,
        index=st.integers(0, 5),
        state=st.sampled_from(ChecklistState.values),
        reason=st.sampled_from(["", "No load change."]),
    )
    def checklist(self, who: str, index: int, state: str, reason: str) -> None:
        ids = list(self._reload().checklist.values_list("pk", flat=True))
        self._try(
            who,
            services.checklist_item_update,
            item=ids[index % len(ids)],
            state=state,
            reason=reason,
        )

    @rule(who=personas, days=st.sampled_from([-1, 2, 3, 5000]), hours=st.sampled_from([-1, 2]))
    def propose_window(self, who: str, days: int, hours: int) -> None:
        start = timezone.now() + timedelta(days=days)
        self._try(
            who,
            services.change_propose_window,
            change=self.change.pk,
            start=start,
            end=start + timedelta(hours=hours),
        )

    @rule(who=personas, subset=st.sampled_from([(), (0,), (1,), (0, 1)]))
    def attach(self, who: str, subset: tuple[int, ...]) -> None:
        self._try(
            who,
            services.change_set_tickets,
            change=self.change.pk,
            tickets=[self.tickets[i].pk for i in subset],
        )

    @rule(
        who=personas,
        index=st.integers(0, 1),
        name=st.sampled_from(["hold", "resume", "accept", "send_back"]),
        comment=comments,
    )
    def ticket_step(self, who: str, index: int, name: str, comment: str) -> None:
        self._try(
            who,
            services.ticket_transition,
            ticket=self.tickets[index].pk,
            name=name,
            comment=comment,
        )

    @rule(who=personas, index=st.integers(0, 1), body=st.sampled_from(["Still broken.", "Thanks"]))
    def ticket_comment(self, who: str, index: int, body: str) -> None:
        self._try(who, services.ticket_comment, ticket=self.tickets[index].pk, body=body)

    @rule(
        who=personas,
        name=st.sampled_from(
            [
                "submit",
                "approve",
                "reject",
                "business_approve",
                "agree_window",
                "perform",
                "roll_back",
                "close",
                "cancel",
            ]
        ),
        role=st.sampled_from(["qa", "peer", "operations", "business"]),
        comment=comments,
        resolution=st.sampled_from(["successful", "rolled_back", "follow_up_release"]),
    )
    def transition(self, who: str, name: str, role: str, comment: str, resolution: str) -> None:
        params: dict[str, Any] = {"comment": comment}
        if name == "approve":
            params["role"] = role
        if name == "close":
            params["resolution"] = resolution
        self._transition(who, name, **params)

    def _transition(self, who: str, name: str, **params: Any) -> bool:
        frozen = bool(hard_freezes_in_force(self._reload(), timezone.now()))
        overrides = FreezeOverride.objects.filter(change=self.change).count()
        done = self._try(
            who, services.change_transition, change=self.change.pk, name=name, **params
        )
        if done and name == "perform" and frozen:
            # Inside a hard freeze only operations management performs, with a reason,
            # and the override is on record.
            assert self.people[who].is_operations_manager, f"{who} performed in a freeze"
            assert params.get("override_reason"), "performed in a hard freeze without a reason"
            assert FreezeOverride.objects.filter(change=self.change).count() > overrides
        if done and name == "perform":
            left = Ticket.objects.filter(
                change=self.change, status__in=[T.ON_HOLD, T.TO_BE_RELEASED]
            )
            assert not left.exists(), "perform left attached tickets behind"
        return done

    @rule(
        who=personas,
        action=st.sampled_from(["declare", "declare", "lift", "perform", "elsewhere"]),
        hard=st.booleans(),
        scope=st.sampled_from(["everyone", "organisation", "other", "component"]),
        reason=st.sampled_from(["", "Payments are down."]),
    )
    def freezes(self, who: str, action: str, hard: bool, scope: str, reason: str) -> None:
        """One rule for freezes (so they do not crowd out the process's own steps):
        declare one in force now, lift them all, perform with an override reason, or give
        one to another step (always refused, whoever asks)."""
        if action == "declare":
            self._declare_freeze(who, hard, scope)
        elif action == "lift":
            self.lift_freezes()
        elif action == "perform":
            self._transition(who, "perform", override_reason=reason)
        else:
            name = ["cancel", "submit", "agree_window"][len(reason) % 3]
            done = self._transition(who, name, comment="Now.", override_reason="Urgent.")
            assert not done, f"{name} took an override reason"

    def _declare_freeze(self, who: str, hard: bool, scope: str) -> None:
        """A freeze in force now (hard: perform is refused), in one of its scopes."""
        now = timezone.now()
        data: dict[str, Any] = {"title": f"Freeze {scope}", "hard": hard}
        if scope == "organisation":
            data["organization"] = self.change.organization_id
        elif scope == "other":
            data["organization"] = self.people["bob"].organization_id
        elif scope == "component":
            data["components"] = [self.component.pk]
        before = Freeze.objects.count()
        try:
            schedule.freeze_create(
                by=self.people[who],
                start=now - timedelta(hours=1),
                end=now + timedelta(days=30),
                **data,
            )
        except DomainError:
            assert not self.people[who].is_operations_manager
            assert Freeze.objects.count() == before
        else:
            assert self.people[who].is_operations_manager, f"{who} declared a freeze"

    def lift_freezes(self) -> None:
        for freeze in Freeze.objects.all():
            schedule.freeze_delete(freeze=freeze.pk, by=self.people["ops"])

    @rule()
    def the_clock_reaches_the_reminder(self) -> None:
        change = self._reload()
        if change.window_start is not None:
            reminders_send_due(now=change.window_start - timedelta(hours=1))
            self._after_step()

    @rule(pick=st.integers(0, 10), steps=st.integers(1, 12))
    def next_natural_steps(self, pick: int, steps: int) -> None:
        """What the right people would do next, a few steps of it, so that sequences
        reach testing and the close while the other rules perturb them."""
        for i in range(steps):
            self._natural_step(pick + i)

    def _natural_step(self, pick: int) -> None:
        change = self._reload()
        customer_side = "alice" if change.performer == "customer" else "agent"
        if change.status == C.DRAFT and change.incomplete_sections():
            self._repair(change)
        elif change.status == C.DRAFT:
            self._transition("agent", "submit")
        elif change.status == C.AWAITING_APPROVAL:
            given = {a.role for a in Approval.objects.current(change)}
            for role, who in (("qa", "qa"), ("peer", "peer"), ("operations", "ops")):
                if role not in given:
                    self._transition(who, "approve", role=role)
                    break
        elif change.status == C.TO_BE_REVIEWED_BY_BUSINESS:
            self._transition("alice", "business_approve")
        elif change.status == C.TO_BE_RELEASED:
            if change.window_start is None or change.window_start <= timezone.now():
                self.propose_window("agent", 3, 2)
            elif change.window_agreed_at is None:
                agreer = "alice" if change.window_proposed_by.is_provider else "agent"
                self._transition(agreer, "agree_window")
            elif change.checklist.filter(state=ChecklistState.PENDING).exists():
                for item in change.checklist.filter(state=ChecklistState.PENDING):
                    self._try(
                        customer_side, services.checklist_item_update, item=item.pk, state="done"
                    )
            elif hard_freezes_in_force(change, timezone.now()):
                if pick % 2 and change.performer == "provider":
                    self._transition("ops", "perform", override_reason="Urgent fix.")
                else:
                    self.lift_freezes()
            else:
                self._transition(customer_side, "perform")
        elif change.status == C.IN_TESTING:
            pending = change.scenarios.exclude(result=ScenarioResult.PASSED)
            testing = Ticket.objects.filter(change=change, status=T.IN_TESTING)
            if pending.exists() and pick % 3:
                self.record_result("alice", 0, ScenarioResult.PASSED)
                for s in pending:
                    self._try(
                        "alice", services.scenario_record_result, scenario=s.pk, result="passed"
                    )
            elif testing.exists():
                self._try("alice", services.ticket_transition, ticket=testing[0].pk, name="accept")
            else:
                resolution = "successful" if pick % 2 else "follow_up_release"
                self._transition("alice", "close", resolution=resolution)
        elif change.status == C.ROLLED_BACK:
            self._transition("alice", "close", resolution="rolled_back")

    def _repair(self, change: Change) -> None:
        """Fill in whatever a draft lacks, as its author would."""
        agent = "agent"
        fields = {
            f: "Written again."
            for f in services.CHANGE_TEXT_FIELDS
            if not getattr(change, f).strip()
        }
        if change.outage_expected is None:
            fields["outage_expected"] = False
        if change.outage_expected and not change.outage_duration_minutes:
            fields["outage_duration_minutes"] = 30
        if fields:
            self._try(agent, services.change_update, change=change.pk, **fields)
        self._try(
            agent,
            services.change_set_components,
            change=change.pk,
            components=[(self.component, "2.4.0")],
        )
        kinds = set(change.scenarios.values_list("kind", flat=True))
        for kind in {"progression", "regression"} - kinds:
            self._try(agent, services.scenario_add, change=change.pk, kind=kind, description=kind)

    # ------------------------------------------------------------------ invariants

    @invariant()
    def complete_when_live(self) -> None:
        if self.change is None:
            return
        change = self._reload()
        REACHED[change.status] += 1
        if change.status not in (C.DRAFT, C.CANCELLED):
            assert change.incomplete_sections() == [], (change.status, change.incomplete_message())

    @invariant()
    def end_users_hear_only_of_approved_changes(self) -> None:
        if self.change is None:
            return
        change = self.change
        said = list(
            Notification.objects.filter(change=change, kind__in=ANNOUNCING)
            .order_by("id")
            .values_list("kind", "window_start", "window_end")
        )
        live = None
        for kind, start, end in said:
            if kind == Kind.ANNOUNCEMENT:
                assert live is None, "announced twice without a cancellation between"
                live = (start, end)
            elif kind == Kind.CORRECTION:
                assert live is not None and live != (start, end), "a correction to nothing"
                live = (start, end)
            else:
                assert live is not None, "a cancellation of nothing announced"
                live = None
        if live is not None:
            assert change.status in APPROVED_PATH, f"announced, and {change.status}"
        reminders = Notification.objects.filter(change=change, kind=Kind.REMINDER)
        assert reminders.count() <= len(said) or not reminders.exists()

    @invariant()
    def testing_decides_the_close(self) -> None:
        if self.change is None:
            return
        change = self.change
        if change.resolution == "successful":
            assert not change.scenarios.exclude(result=ScenarioResult.PASSED).exists()
            for released in change.released.select_related("ticket"):
                assert released.ticket.status == T.DONE
                assert released.ticket.change_id == change.pk

    @invariant()
    def every_status_change_has_one_log_row(self) -> None:
        if self.change is None:
            return
        subjects: list[tuple[Any, str, str]] = [
            (TransitionLog.objects.filter(change=self.change), C.DRAFT, self.change.status)
        ]
        for ticket in Ticket.objects.filter(pk__in=[t.pk for t in self.tickets]):
            subjects.append(
                (TransitionLog.objects.filter(ticket=ticket), T.TO_BE_RELEASED, ticket.status)
            )
        for rows, start, now in subjects:
            state = start
            for row in rows.order_by("id"):
                assert row.source == state, f"{row.transition} from {row.source}, was {state}"
                state = row.target
            assert state == now, f"the log ends in {state}, the status is {now}"

    @invariant()
    def approvals_come_from_distinct_role_holders(self) -> None:
        if self.change is None:
            return
        change = self.change
        approved = Approval.objects.filter(change=change, decision=Decision.APPROVED)
        for _round, group in itertools.groupby(
            approved.select_related("by").order_by("round", "id"), key=lambda a: a.round
        ):
            group = list(group)
            assert len({a.by_id for a in group}) == len(group), "one person, two approvals"
            assert len({a.role for a in group}) == len(group), "one role, two approvals"
            for a in group:
                if a.role == approval_rules.BUSINESS:
                    assert a.by.is_customer and a.by.organization_id == change.organization_id
                else:
                    assert approval_rules.holds(a.by, a.role, author_id=change.author_id)
        if change.status in PAST_APPROVALS:
            current = {a.role for a in Approval.objects.current(change)}
            assert approval_rules.round_complete(current), (change.status, current)
            if change.performer == "provider" and change.status in APPROVED_PATH:
                assert approval_rules.BUSINESS in current

    @invariant()
    def sections_frozen_after_perform(self) -> None:
        if self.change is None:
            return
        if self.change.status not in EDITABLE:
            assert not self.change.can_edit(self.people["agent"])


def test_the_process_holds_whatever_anyone_does(db) -> None:
    run_state_machine_as_test(
        ProcessMachine,
        settings=settings(
            max_examples=int(os.environ.get("PROCESS_EXAMPLES", "200")),
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    print(f"statuses reached: {dict(REACHED)}")
    # The sequences went all the way: approved, performed, closed.
    assert {C.TO_BE_RELEASED, C.IN_TESTING, C.DONE} <= set(REACHED), dict(REACHED)
