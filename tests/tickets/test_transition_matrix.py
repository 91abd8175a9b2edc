"""Every transition of both tables, for every role.

The oracle is WORKFLOW.md's tables, transcribed below once. The cases are generated
from the state machines on the models (every source of every transition, times every
persona, times both performers for changes); a test also checks that the machines hold
exactly the transcribed tables, so neither side can drift.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from tests.factories import ChangeFactory, TicketFactory, complete_checklist, propose_window
from tickets import workflow
from tickets.errors import NotVisible, PermissionRefused, WrongState
from tickets.models import Change, Ticket, TransitionLog
from tickets.services import change_transition, ticket_transition

T = Ticket.S
C = Change.S
PROVIDERS = {"agent", "agent2", "qa", "peer", "ops"}
PERSONAS = [*sorted(PROVIDERS), "alice", "bob"]

# WORKFLOW.md, "Support tickets": transition -> (sources, target, who, how)
ALL_BUT_DONE = [s for s in T.values if s not in (T.DONE, T.ON_HOLD)]
TICKET_TABLE: dict[str, tuple[list[str], str | None, set[str], str]] = {
    "reply": ([T.WAITING_FOR_SUPPORT], T.WAITING_FOR_CUSTOMER, {"provider"}, "comment"),
    "customer_reply": ([T.WAITING_FOR_CUSTOMER], T.WAITING_FOR_SUPPORT, {"customer"}, "comment"),
    "needs_work": (
        [T.WAITING_FOR_SUPPORT, T.WAITING_FOR_CUSTOMER],
        T.TO_DO,
        {"provider"},
        "manual",
    ),
    "start": ([T.TO_DO], T.IN_PROGRESS, {"provider"}, "manual"),
    "ready_for_release": ([T.IN_PROGRESS], T.TO_BE_RELEASED, {"provider"}, "manual"),
    "attach": ([T.TO_BE_RELEASED], T.TO_BE_RELEASED, {"provider"}, "system"),
    "release": ([T.TO_BE_RELEASED], T.IN_TESTING, set(), "system"),
    "accept": ([T.IN_TESTING], T.DONE, {"customer"}, "manual"),
    "send_back": ([T.IN_TESTING], T.WAITING_FOR_SUPPORT, {"customer"}, "manual"),
    "hold": (ALL_BUT_DONE, T.ON_HOLD, {"provider", "customer"}, "manual"),
    "resume": ([T.ON_HOLD], None, {"provider", "customer"}, "manual"),  # back to held_from
}

BEFORE_TESTING = [C.DRAFT, C.AWAITING_APPROVAL, C.TO_BE_REVIEWED_BY_BUSINESS, C.TO_BE_RELEASED]


def _performer_side(persona: str, performer: str) -> bool:
    return persona == "alice" if performer == "customer" else persona in PROVIDERS


# WORKFLOW.md, "Statuses and transitions": transition -> (sources, targets, who, how).
# In the fixtures `agent` wrote the change and proposed its window.
CHANGE_TABLE: dict[str, tuple[list[str], set[str], Callable[[str, str], bool], str]] = {
    "submit": (
        [C.DRAFT],
        {C.AWAITING_APPROVAL},
        lambda p, perf: p in PROVIDERS or (p == "alice" and perf == "customer"),
        "manual",
    ),
    "approve": (
        [C.AWAITING_APPROVAL],
        {C.AWAITING_APPROVAL, C.TO_BE_REVIEWED_BY_BUSINESS, C.TO_BE_RELEASED},
        # QA, Peer (anyone but the author), Operations.
        lambda p, perf: p in {"qa", "peer", "ops", "agent2"},
        "manual",
    ),
    "reject": (
        [C.AWAITING_APPROVAL, C.TO_BE_REVIEWED_BY_BUSINESS],
        {C.DRAFT},
        lambda p, perf: p in {"qa", "peer", "ops", "agent2", "alice"},
        "manual",
    ),
    "business_approve": (
        [C.TO_BE_REVIEWED_BY_BUSINESS],
        {C.TO_BE_RELEASED},
        lambda p, perf: p == "alice",
        "manual",
    ),
    "agree_window": (
        BEFORE_TESTING,
        set(),  # stays
        lambda p, perf: p == "alice",  # the provider proposed it
        "manual",
    ),
    "perform": ([C.TO_BE_RELEASED], {C.IN_TESTING}, _performer_side, "manual"),
    "roll_back": (
        [C.IN_TESTING],
        {C.ROLLED_BACK},
        lambda p, perf: p in PROVIDERS or (p == "alice" and perf == "customer"),
        "manual",
    ),
    "close": ([C.IN_TESTING, C.ROLLED_BACK], {C.DONE}, lambda p, perf: p == "alice", "manual"),
    "cancel": (BEFORE_TESTING, {C.CANCELLED}, lambda p, perf: p in PROVIDERS | {"alice"}, "manual"),
    "dismiss_approvals": (
        [C.AWAITING_APPROVAL, C.TO_BE_REVIEWED_BY_BUSINESS, C.TO_BE_RELEASED],
        {C.AWAITING_APPROVAL},
        lambda p, perf: False,
        "system",
    ),
}


def _machine(model: type) -> dict[str, tuple[set[str], set[str], str]]:
    table: dict[str, tuple[set[str], set[str], str]] = {}
    for t in workflow.transitions_of(model):
        sources, targets, _trigger = table.setdefault(t.name, (set(), set(), t.custom["trigger"]))
        sources.add(t.source)
        targets.update(workflow.targets_of(t, t.source))
    return table


def test_ticket_machine_is_the_documented_table() -> None:
    machine = _machine(Ticket)
    assert set(machine) == set(TICKET_TABLE)
    for name, (sources, target, _who, how) in TICKET_TABLE.items():
        m_sources, m_targets, m_how = machine[name]
        assert m_sources == set(sources), name
        assert m_how == how, name
        if target is not None:
            assert m_targets == {target}, name
        else:
            assert m_targets == set(ALL_BUT_DONE), name


def test_change_machine_is_the_documented_table() -> None:
    machine = _machine(Change)
    assert set(machine) == set(CHANGE_TABLE)
    for name, (sources, targets, _who, how) in CHANGE_TABLE.items():
        m_sources, m_targets, m_how = machine[name]
        assert m_sources == set(sources), name
        assert m_how == how, name
        assert m_targets == (targets or set(sources)), name


def _ticket_cases() -> list[tuple[str, str, str]]:
    return [
        (t.name, t.source, persona) for t in workflow.transitions_of(Ticket) for persona in PERSONAS
    ]


def _change_cases() -> list[tuple[str, str, str, str]]:
    return [
        (t.name, t.source, performer, persona)
        for t, performer, persona in itertools.product(
            workflow.transitions_of(Change), ["provider", "customer"], PERSONAS
        )
    ]


def _ticket_in(cast, source: str) -> Ticket:
    extra = {"held_from": T.IN_PROGRESS} if source == T.ON_HOLD else {}
    return TicketFactory(organization=cast.acme, status=source, reporter=cast.alice, **extra)


@pytest.mark.parametrize(("name", "source", "persona"), _ticket_cases())
def test_ticket_transition_roles(cast, name: str, source: str, persona: str) -> None:
    _sources, target, who, how = TICKET_TABLE[name]
    ticket = _ticket_in(cast, source)
    user = getattr(cast, persona)
    side = "customer" if persona in ("alice", "bob") else "provider"
    if persona == "bob":
        with pytest.raises(NotVisible):
            ticket_transition(ticket=ticket.pk, by=user, name=name, comment="why")
        return
    if how != "manual":
        # Never taken by hand; the role still matters when the trigger fires.
        with pytest.raises(WrongState, match="automatically"):
            ticket_transition(ticket=ticket.pk, by=user, name=name, comment="why")
        ticket.refresh_from_db()
        params = {"change": ChangeFactory(organization=cast.acme)} if name == "attach" else {}
        if side in who:
            workflow.check(ticket, name, user, params, automatic=True)
        elif who:
            with pytest.raises(PermissionRefused):
                workflow.check(ticket, name, user, params, automatic=True)
        return
    if side in who:
        result = ticket_transition(ticket=ticket.pk, by=user, name=name, comment="why")
        expected = target or T.IN_PROGRESS
        assert result.status == expected
        assert Ticket.objects.get(pk=ticket.pk).status == expected
        log = TransitionLog.objects.get(ticket=ticket)
        assert (log.actor, log.transition, log.source, log.target, log.comment) == (
            user,
            name,
            source,
            expected,
            "why",
        )
    else:
        with pytest.raises(PermissionRefused) as refused:
            ticket_transition(ticket=ticket.pk, by=user, name=name, comment="why")
        assert "may do this" in refused.value.message
        assert Ticket.objects.get(pk=ticket.pk).status == source
        assert not TransitionLog.objects.filter(ticket=ticket).exists()


@pytest.mark.parametrize(("name", "source", "performer", "persona"), _change_cases())
def test_change_transition_roles(
    cast, name: str, source: str, performer: str, persona: str
) -> None:
    _sources, targets, who, how = CHANGE_TABLE[name]
    change = ChangeFactory(
        organization=cast.acme, author=cast.agent, performer=performer, status=source
    )
    propose_window(change, cast.agent, agreed_by=cast.alice if name == "perform" else None)
    complete_checklist(change, cast.agent)
    user = getattr(cast, persona)
    params: dict[str, str] = {"comment": "Because."}
    if name == "approve":
        params["role"] = {"qa": "qa", "ops": "operations"}.get(persona, "peer")
    if name == "close":
        params["resolution"] = "rolled_back" if source == C.ROLLED_BACK else "follow_up_release"
    if persona == "bob":
        with pytest.raises(NotVisible):
            change_transition(change=change.pk, by=user, name=name, **params)
        return
    if how != "manual":
        with pytest.raises(WrongState, match="automatically"):
            change_transition(change=change.pk, by=user, name=name, **params)
        return
    if who(persona, performer):
        result = change_transition(change=change.pk, by=user, name=name, **params)
        stored = Change.objects.get(pk=change.pk)
        assert stored.status == result.status
        assert stored.status in (targets or {source})
        log = TransitionLog.objects.get(change=change)
        assert (log.actor, log.transition, log.source, log.target, log.comment) == (
            user,
            name,
            source,
            stored.status,
            "Because.",
        )
    else:
        with pytest.raises(PermissionRefused) as refused:
            change_transition(change=change.pk, by=user, name=name, **params)
        assert refused.value.message
        assert Change.objects.get(pk=change.pk).status == source
        assert not TransitionLog.objects.filter(change=change).exists()


def test_agree_window_belongs_to_the_side_that_did_not_propose(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    propose_window(change, cast.alice)
    with pytest.raises(PermissionRefused, match="other side"):
        change_transition(change=change.pk, by=cast.alice, name="agree_window")
    change_transition(change=change.pk, by=cast.qa, name="agree_window")
    change.refresh_from_db()
    assert change.window_agreed_by == cast.qa
    assert change.window_agreed
