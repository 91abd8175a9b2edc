"""The machinery of tickets/workflow.py, tested where it runs at request time.

`Guard`, `guard`, `Role` and `transition_meta` run when tickets.models is imported, so
the flows only ever see them through the tables built then; these tests build their own,
which is what lets mutation testing (`make mutation`) see a change to them. `options` is
the list every front end shows (the buttons, the API's /transitions/)."""

from __future__ import annotations

import functools
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import transaction

from approvals.models import Approval, Decision
from tests.factories import ChangeFactory, TicketFactory, propose_window
from tickets import workflow
from tickets.errors import GuardFailed, InvalidInput, PermissionRefused, StaleObject, WrongState
from tickets.models import Change, Ticket

C = Change.S


def _ready(x: int) -> bool:
    return x > 1


def test_a_guard_checks_and_explains() -> None:
    g = workflow.Guard(_ready, "Not ready yet.")
    assert g.check is _ready
    assert g.message == "Not ready yet."
    assert g.__name__ == "_ready"
    assert g(2) is True
    assert g(1) is False
    assert g.explain(1) == "Not ready yet."
    # A check answering with any truthy value is met, as django-fsm expects a bool.
    assert workflow.Guard(lambda xs: xs, "empty")(["a"]) is True
    assert workflow.Guard(lambda xs: xs, "empty")([]) is False


def test_a_guard_message_may_depend_on_the_instance() -> None:
    g = workflow.Guard(_ready, lambda x: f"{x} is too small.")
    assert g.explain(1) == "1 is too small."


def test_a_guard_without_a_name_is_called_guard() -> None:
    assert workflow.Guard(functools.partial(_ready), "m").__name__ == "guard"


def test_the_guard_decorator_makes_a_guard_of_the_function() -> None:
    @workflow.guard("Needs more than one.")
    def more_than_one(x: int) -> bool:
        return x > 1

    assert isinstance(more_than_one, workflow.Guard)
    assert more_than_one.__name__ == "more_than_one"
    assert more_than_one(2) and not more_than_one(1)
    assert more_than_one.explain(0) == "Needs more than one."


def _person(*, ok: bool = True, active: bool = True, authenticated: bool = True):
    return SimpleNamespace(ok=ok, is_active=active, is_authenticated=authenticated)


def test_a_role_admits_only_active_signed_in_people_who_pass_its_check() -> None:
    role = workflow.Role("tester", lambda i, u: u.ok, "Only testers.")
    assert role.label == "tester"
    assert role(None, _person()) is True
    assert role(None, _person(ok=False)) is False
    assert role(None, _person(active=False)) is False
    assert role(None, _person(authenticated=False)) is False
    assert role(None, None) is False
    assert role(None, AnonymousUser()) is False
    # Any truthy answer admits, and the role answers a bool.
    assert workflow.Role("x", lambda i, u: "yes", "No.")(None, _person()) is True


def test_a_role_refusal_is_a_sentence_or_built_from_what_was_asked() -> None:
    plain = workflow.Role("x", lambda i, u: False, "Only testers.")
    assert plain.refusal("obj", _person()) == "Only testers."
    two = workflow.Role("x", lambda i, u: False, lambda i, u: f"Not on {i} for {u.ok}.")
    assert two.refusal("obj", _person(ok=False), {"role": "qa"}) == "Not on obj for False."
    three = workflow.Role(
        "x", lambda i, u: False, lambda i, u, p: f"Not {p.get('role', 'any')} on {i}."
    )
    assert three.refusal("obj", _person(), {"role": "qa"}) == "Not qa on obj."
    assert three.refusal("obj", _person()) == "Not any on obj."
    assert three.refusal("obj", _person(), None) == "Not any on obj."


def test_nobody_takes_a_system_step() -> None:
    assert workflow.NOBODY(None, _person()) is False
    assert workflow.NOBODY.refusal(None, _person()) == (
        "This step happens automatically; nobody takes it."
    )


def test_transition_meta_is_what_the_front_ends_read() -> None:
    assert workflow.transition_meta("Go", who="anyone") == {
        "label": "Go",
        "who": "anyone",
        "needs": (),
        "trigger": workflow.MANUAL,
        "describe": "",
    }
    assert workflow.transition_meta(
        "Go", who="system", needs=["comment"], trigger=workflow.SYSTEM, describe="on its own"
    ) == {
        "label": "Go",
        "who": "system",
        "needs": ("comment",),
        "trigger": "system",
        "describe": "on its own",
    }


# --------------------------------------------------------------------------- options


def _names(opts: list[workflow.TransitionOption]) -> list[str]:
    return [o.name for o in opts]


def test_options_are_the_manual_steps_the_role_allows_with_their_reasons(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    submit, agree, cancel = workflow.options(change, cast.agent)
    assert submit == workflow.TransitionOption(
        name="submit",
        label="Submit for approval",
        targets=(C.AWAITING_APPROVAL,),
        needs=(),
        allowed=True,
        reason="",
    )
    assert agree == workflow.TransitionOption(
        name="agree_window",
        label="Agree the window",
        targets=(C.DRAFT,),
        needs=(),
        allowed=False,
        reason="No deployment window has been proposed yet.",
    )
    assert (cancel.name, cancel.needs, cancel.allowed) == ("cancel", ("comment",), True)
    # The customer does not submit a change the provider performs; another organisation
    # is offered nothing.
    assert _names(workflow.options(change, cast.alice)) == ["agree_window", "cancel"]
    assert workflow.options(change, cast.bob) == []


def test_options_carry_every_failing_guard(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.TO_BE_RELEASED)
    perform = next(o for o in workflow.options(change, cast.agent) if o.name == "perform")
    assert not perform.allowed
    assert perform.reason.startswith(
        "The deployment window has not been agreed by both sides. Checklist items still pending: "
    )
    propose_window(change, cast.agent)
    agree = next(o for o in workflow.options(change, cast.alice) if o.name == "agree_window")
    assert agree.allowed and agree.reason == ""
    assert agree.targets == (C.TO_BE_RELEASED,)


def test_options_leave_out_what_happens_automatically(cast) -> None:
    ticket = TicketFactory(organization=cast.acme)
    # `reply` happens on a comment: not a button.
    assert _names(workflow.options(ticket, cast.agent)) == ["needs_work", "hold"]
    waiting = TicketFactory(organization=cast.acme, status=Ticket.S.TO_BE_RELEASED)
    # `attach` and `release` are the system's.
    assert _names(workflow.options(waiting, cast.agent)) == ["hold"]


@pytest.mark.parametrize("name", ["reply", "release", "dismiss_approvals"])
def test_automatic_steps_are_refused_by_hand_but_taken_by_the_system(cast, name) -> None:
    if name == "dismiss_approvals":
        subject = ChangeFactory(organization=cast.acme, status=C.AWAITING_APPROVAL)
    elif name == "release":
        subject = TicketFactory(organization=cast.acme, status=Ticket.S.TO_BE_RELEASED)
    else:
        subject = TicketFactory(organization=cast.acme)
    with pytest.raises(WrongState, match="is not taken by hand: it happens automatically"):
        workflow.check(subject, name, cast.agent)
    assert workflow.check(subject, name, cast.agent, automatic=True).name == name


# --------------------------------------------------------------------------- check


def test_an_unknown_transition_is_invalid_input_naming_it(cast) -> None:
    change = ChangeFactory(organization=cast.acme)
    with pytest.raises(InvalidInput) as refused:
        workflow.check(change, "fly", cast.agent)
    assert refused.value.message == "There is no transition called 'fly' for a change."
    assert refused.value.fields == {"transition": ["Unknown transition 'fly'."]}


def test_a_transition_from_another_status_names_the_status(cast) -> None:
    change = ChangeFactory(organization=cast.acme)
    with pytest.raises(WrongState) as refused:
        workflow.check(change, "perform", cast.agent)
    assert refused.value.message == "'perform' is not possible while the change is Draft."


def test_an_automatic_step_taken_by_hand_says_when_it_happens(cast) -> None:
    ticket = TicketFactory(organization=cast.acme)
    with pytest.raises(WrongState) as refused:
        workflow.check(ticket, "reply", cast.agent)
    assert refused.value.message == (
        "'reply' is not taken by hand: it happens automatically "
        "(when provider staff post a public comment)."
    )


def test_the_role_refusal_sees_what_was_asked(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.AWAITING_APPROVAL)
    Approval.objects.create(
        change=change,
        round=change.approval_round,
        role="qa",
        decision=Decision.APPROVED,
        by=cast.qa,
    )
    # QA gave an approval: refused, and for the role asked the sentence names that role.
    with pytest.raises(PermissionRefused) as refused:
        workflow.check(change, "approve", cast.qa, {"role": "operations"})
    assert refused.value.message == (
        "Only a user with the operations management role gives the Operations approval."
    )
    with pytest.raises(PermissionRefused) as refused:
        workflow.check(change, "approve", cast.qa, {})
    assert refused.value.message.startswith("You already gave the QA approval on this change")


def test_missing_input_names_each_field_and_blank_is_missing(cast) -> None:
    change = ChangeFactory(organization=cast.acme, status=C.AWAITING_APPROVAL)
    for params in (None, {}, {"comment": "   "}, {"comment": None}):
        with pytest.raises(InvalidInput) as refused:
            workflow.check(change, "reject", cast.qa, params)
        assert refused.value.message == "'reject' needs: comment."
        assert refused.value.fields == {"comment": ["This field is required."]}
    assert workflow.check(change, "reject", cast.qa, {"comment": "No."}).name == "reject"


def test_every_failing_guard_is_said_in_one_refusal(cast) -> None:
    change = ChangeFactory(organization=cast.acme, status=C.TO_BE_RELEASED)
    with pytest.raises(GuardFailed) as refused:
        workflow.check(change, "perform", cast.agent)
    # Each failing guard's sentence, and nothing else.
    assert refused.value.message == (
        "The deployment window has not been agreed by both sides. Checklist items still "
        "pending: Unit tests, Regression testing, Progression testing, Performance testing."
    )


def test_run_takes_the_step_saves_and_says_from_where_to_where(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    step = workflow.run(change, "submit", by=cast.agent)
    assert step == workflow.Step(
        name="submit", source=C.DRAFT, target=C.AWAITING_APPROVAL, result=None
    )
    assert Change.objects.get(pk=change.pk).status == C.AWAITING_APPROVAL


@pytest.mark.parametrize("model", [Ticket, Change], ids=lambda m: m.__name__)
def test_every_transition_has_a_role_guards_and_its_meta(model) -> None:
    """The runner's defaults for a transition without a `Role`, with a condition that is
    not a `Guard`, or without `transition_meta` are never used: the tables are written
    this way, and a new transition written otherwise fails here."""
    for t in workflow.transitions_of(model):
        assert isinstance(t.permission, workflow.Role), t.name
        assert all(isinstance(c, workflow.Guard) for c in t.conditions), t.name
        assert set(t.custom) == {"label", "who", "needs", "trigger", "describe"}, t.name


def test_run_takes_no_system_step_unless_told_it_is_automatic(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.AWAITING_APPROVAL)
    with pytest.raises(WrongState, match="is not taken by hand"):
        workflow.run(change, "dismiss_approvals", by=cast.agent)
    assert Change.objects.get(pk=change.pk).approval_round == 1


def test_run_refuses_a_step_taken_on_a_row_someone_else_moved_meanwhile(cast) -> None:
    stale = ChangeFactory(organization=cast.acme, author=cast.agent)
    Change.objects.filter(pk=stale.pk).update(status=C.CANCELLED)
    # The services run it in their transaction; the refusal rolls that back.
    with pytest.raises(StaleObject) as refused, transaction.atomic():
        workflow.run(stale, "submit", by=cast.agent)
    assert refused.value.message == (
        "This change was changed by someone else meanwhile; reload it and try again."
    )
    assert Change.objects.get(pk=stale.pk).status == C.CANCELLED


def test_transition_customs_are_each_transition_s_meta_by_name() -> None:
    changes = workflow.transition_customs(Change)
    assert list(changes) == list(dict.fromkeys(t.name for t in workflow.transitions_of(Change)))
    assert changes["reject"]["needs"] == ("comment",)
    assert changes["dismiss_approvals"]["trigger"] == workflow.SYSTEM
    assert workflow.transition_customs(Ticket)["reply"]["trigger"] == workflow.ON_COMMENT
