"""Editing a change's sections through the services (WORKFLOW.md, §2.3): who edits, until
when, what a section field accepts, that a change past Draft stays complete, what the edit
history keeps, and how a save of several sections at once is judged where it ends."""

from __future__ import annotations

import pytest

from approvals.models import Approval
from tests.factories import ChangeFactory, TicketFactory, UserFactory, environment
from tickets.errors import InvalidInput, NotVisible, PermissionRefused, WrongState
from tickets.models import (
    Change,
    Environment,
    Performer,
    TestScenario,
    TicketStatus,
    TicketType,
    TransitionLog,
)
from tickets.services import (
    ScenarioEdit,
    change_create,
    change_edit,
    change_set_tickets,
    change_transition,
    change_update,
    scenario_add,
    scenario_update,
    transitions_for,
)

C = Change.S


# --------------------------------------------------------------------------- who, when


def test_the_customer_edits_only_the_changes_they_perform(cast) -> None:
    theirs = ChangeFactory(organization=cast.acme, author=cast.alice, performer=Performer.CUSTOMER)
    change_update(change=theirs.pk, by=cast.alice, summary="We upgrade it ourselves.")
    theirs.refresh_from_db()
    assert theirs.summary == "We upgrade it ourselves."

    ours = ChangeFactory(organization=cast.acme, author=cast.agent)
    with pytest.raises(PermissionRefused) as refused:
        change_update(change=ours.pk, by=cast.alice, summary="Please do it on Monday.")
    assert str(refused.value) == (
        "Only provider staff edit this change; the customer edits only changes they perform."
    )


def test_a_change_in_testing_can_no_longer_be_edited(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.IN_TESTING)
    with pytest.raises(WrongState) as refused:
        change_update(change=change.pk, by=cast.agent, summary="Too late.")
    assert str(refused.value) == (
        f"{change.key} is In testing; its sections can no longer be edited."
    )


# --------------------------------------------------------------------------- fields


@pytest.mark.parametrize("title", [None, "", "   "], ids=["none", "empty", "blank"])
def test_a_title_is_required(cast, title) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    with pytest.raises(InvalidInput) as refused:
        change_update(change=change.pk, by=cast.agent, title=title)
    assert str(refused.value) == "Please correct: title."
    assert refused.value.fields == {"title": ["A title is required."]}


def test_every_wrong_field_is_named_at_once(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    with pytest.raises(InvalidInput) as refused:
        change_update(
            change=change.pk,
            by=cast.agent,
            title="",
            outage_expected="yes",
            outage_duration_minutes="soon",
            colour="red",
        )
    assert str(refused.value) == (
        "Please correct: colour, outage_duration_minutes, outage_expected, title."
    )
    assert refused.value.fields == {
        "title": ["A title is required."],
        "outage_expected": ["Must be true, false or empty."],
        "outage_duration_minutes": ["A positive number of minutes."],
        "colour": ["Not a section field."],
    }
    assert Change.objects.get(pk=change.pk).title == change.title


@pytest.mark.parametrize("minutes", [0, -5, "0", "ten", [30]], ids=str)
def test_an_outage_lasts_a_positive_number_of_minutes(cast, minutes) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    with pytest.raises(InvalidInput) as refused:
        change_update(change=change.pk, by=cast.agent, outage_duration_minutes=minutes)
    assert refused.value.fields == {"outage_duration_minutes": ["A positive number of minutes."]}


def test_section_fields_are_kept_as_given(cast) -> None:
    """The title is trimmed; the other texts keep their layout; an emptied text is empty;
    the outage is true, false or not said yet, and its minutes a number or nothing."""
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    change_update(
        change=change.pk,
        by=cast.agent,
        title="  Upgrade billing  ",
        deployment_procedure="  1. Deploy.\n  2. Migrate.\n",
        summary=None,
        impact="",
        outage_expected=True,
        outage_duration_minutes="1",
    )
    change.refresh_from_db()
    assert (change.title, change.deployment_procedure) == (
        "Upgrade billing",
        "  1. Deploy.\n  2. Migrate.\n",
    )
    assert (change.summary, change.impact) == ("", "")
    assert (change.outage_expected, change.outage_duration_minutes) == (True, 1)

    change_update(
        change=change.pk, by=cast.agent, outage_expected=False, outage_duration_minutes=""
    )
    change.refresh_from_db()
    assert (change.outage_expected, change.outage_duration_minutes) == (False, None)
    change_update(change=change.pk, by=cast.agent, outage_expected=None, outage_duration_minutes=90)
    change.refresh_from_db()
    assert (change.outage_expected, change.outage_duration_minutes) == (None, 90)
    change_update(change=change.pk, by=cast.agent, outage_duration_minutes=None)
    change.refresh_from_db()
    assert change.outage_duration_minutes is None


# --------------------------------------------------------------------------- complete


def test_a_change_past_draft_stays_complete(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.AWAITING_APPROVAL)
    with pytest.raises(InvalidInput) as refused:
        change_update(change=change.pk, by=cast.agent, summary="  ")
    missing = "1. Summary: a title and a summary"
    assert str(refused.value) == (
        f"{change.key} is Awaiting approval: a change past Draft stays complete, and this edit "
        f"would leave it incomplete: {missing}."
    )
    assert refused.value.fields == {"summary": [f"{change.key} would be incomplete: {missing}."]}
    assert Change.objects.get(pk=change.pk).summary == change.summary
    assert not change.edits.exists()


def test_a_draft_may_be_left_incomplete(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    change_update(change=change.pk, by=cast.agent, summary="")
    change.refresh_from_db()
    assert change.summary == ""
    assert change.incomplete_message() == "1. Summary: a title and a summary"


def test_the_edit_history_keeps_the_old_and_the_new_text(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    old = change.summary
    change_update(change=change.pk, by=cast.agent, summary="Upgrade billing to 2.5.")
    edit = change.edits.get()
    assert (edit.section, edit.field, edit.actor) == (1, "summary", cast.agent)
    assert (edit.old_value, edit.new_value) == (old, "Upgrade billing to 2.5.")


def test_a_save_of_several_sections_is_judged_where_it_ends(cast) -> None:
    """Replacing the only regression scenario passes through an incomplete change, but
    ends complete: the save is kept, and the approvals given are dismissed once, naming
    every section it touched."""
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.AWAITING_APPROVAL)
    change_transition(change=change.pk, by=cast.qa, name="approve", role="qa")
    regression = change.scenarios.get(kind="regression")
    change_edit(
        change=change.pk,
        by=cast.agent,
        sections={"summary": "Upgrade billing to 2.5 instead."},
        scenarios=[
            ScenarioEdit(id=regression.pk, remove=True),
            ScenarioEdit(kind="regression", description="Last year's invoices still open."),
        ],
    )
    change.refresh_from_db()
    assert change.summary == "Upgrade billing to 2.5 instead."
    assert list(
        change.scenarios.filter(kind="regression").values_list("description", flat=True)
    ) == ["Last year's invoices still open."]
    assert (change.status, change.approval_round) == (C.AWAITING_APPROVAL, 2)
    dismissed = TransitionLog.objects.get(change=change, transition="dismiss_approvals")
    assert dismissed.comment == "Edited after approval: 1. Summary, 8. Test scenarios."
    assert Approval.objects.get(change=change).dismissed_at is not None


# --------------------------------------------------------------------------- choices, text


def test_a_choice_outside_its_list_is_refused_with_the_list(cast) -> None:
    with pytest.raises(InvalidInput) as refused:
        change_create(by=cast.agent, organization=cast.acme, title="Upgrade", performer="robot")
    assert str(refused.value) == (
        "'robot' is not a valid performer; use one of: provider, customer."
    )
    assert refused.value.fields == {"performer": ["'robot' is not a valid choice."]}


@pytest.mark.parametrize("description", [None, "", "  \n "], ids=["none", "empty", "blank"])
def test_a_scenario_needs_a_description(cast, description) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    with pytest.raises(InvalidInput) as refused:
        scenario_add(change=change.pk, by=cast.agent, kind="progression", description=description)
    assert str(refused.value) == "Description is required."
    assert refused.value.fields == {"description": ["Required."]}
    added = scenario_add(
        change=change.pk, by=cast.agent, kind="progression", description="  PDF export works. "
    )
    assert added.description == "PDF export works."


# --------------------------------------------------------------------------- scenarios


def test_a_scenario_is_found_only_under_its_own_change(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    other = ChangeFactory(organization=cast.acme, author=cast.agent)
    mine = change.scenarios.get(kind="progression")
    updated = scenario_update(
        scenario=mine, by=cast.agent, change=change.pk, description="Totals are rounded up."
    )
    assert TestScenario.objects.get(pk=mine.pk).description == updated.description
    assert updated.description == "Totals are rounded up."

    theirs = other.scenarios.get(kind="progression")
    with pytest.raises(NotVisible) as refused:
        scenario_update(scenario=theirs.pk, by=cast.agent, change=change.pk, description="No.")
    assert str(refused.value) == f"No test scenario {theirs.pk}."
    assert TestScenario.objects.get(pk=theirs.pk).description == theirs.description


# --------------------------------------------------------------------------- create


def test_a_new_change_targets_uat_unless_told(cast) -> None:
    Environment.objects.create(code="dev", name="Development", position=0)
    production = environment("production")
    made = [
        change_create(by=cast.agent, organization=cast.acme, title="Default"),
        change_create(
            by=cast.agent, organization=cast.acme, title="By code", environment="production"
        ),
        change_create(
            by=cast.agent, organization=cast.acme, title="By id", environment=production.pk
        ),
        change_create(
            by=cast.agent,
            organization=cast.acme,
            title="By id text",
            environment=str(production.pk),
        ),
    ]
    assert [c.environment.code for c in made] == ["uat", "production", "production", "production"]


@pytest.mark.parametrize("value", ["mars", 999999, "999999"])
def test_an_unknown_environment_is_refused(cast, value) -> None:
    with pytest.raises(InvalidInput) as refused:
        change_create(by=cast.agent, organization=cast.acme, title="Upgrade", environment=value)
    assert str(refused.value) == f"Unknown environment '{value}'."
    assert refused.value.fields == {"environment": ["Unknown environment."]}


# --------------------------------------------------------------------------- tickets


def test_attached_tickets_start_an_empty_changelog(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, changelog="")
    feature, bug, other = (
        TicketFactory(
            organization=cast.acme, status=TicketStatus.TO_BE_RELEASED, type=kind, title=t
        )
        for kind, t in (
            (TicketType.FEATURE, "Export to PDF"),
            (TicketType.BUG, "VAT rounding"),
            (TicketType.QUESTION, "Bulk invoices"),
        )
    )
    change_set_tickets(change=change.pk, by=cast.agent, tickets=[bug.pk, feature.pk, other.pk])
    change.refresh_from_db()
    assert change.changelog == (
        f"Features:\n- {feature.key} Export to PDF\n- {other.key} Bulk invoices\n\n"
        f"Bug fixes:\n- {bug.key} VAT rounding"
    )
    attached = TransitionLog.objects.get(ticket=bug, transition="attach")
    assert (attached.actor, attached.comment) == (cast.agent, "")


def test_only_bug_fixes_make_a_changelog_of_bug_fixes(cast) -> None:
    change = ChangeFactory(organization=cast.acme, author=cast.agent, changelog="")
    bugs = TicketFactory.create_batch(
        2, organization=cast.acme, status=TicketStatus.TO_BE_RELEASED, type=TicketType.BUG
    )
    change_set_tickets(change=change.pk, by=cast.agent, tickets=[t.pk for t in bugs])
    change.refresh_from_db()
    assert change.changelog == "Bug fixes:\n" + "\n".join(f"- {t.key} {t.title}" for t in bugs)


# --------------------------------------------------------------------------- next steps


def _options(change, user):
    return {o.name: o for o in transitions_for(Change.objects.get(pk=change.pk), user)}


def test_the_approve_offer_names_the_roles_still_open(cast) -> None:
    """Someone who may approve but whose roles are all given sees `approve` refused, with
    the reason; the other steps are offered as the workflow says."""
    change = ChangeFactory(organization=cast.acme, author=cast.agent, status=C.AWAITING_APPROVAL)
    change_transition(change=change.pk, by=cast.peer, name="approve", role="peer")

    qa = _options(change, cast.qa)
    assert (qa["approve"].allowed, qa["approve"].reason) == (True, "")
    assert qa["approve"].extra == {"roles": ["qa"]}
    assert qa["reject"].extra == {}

    engineer = UserFactory(username="engineer")
    late = _options(change, engineer)
    assert late["approve"].allowed is False
    assert late["approve"].reason == "The approvals you may give are already given (Peer by peer)."
    assert late["approve"].extra == {"roles": []}
