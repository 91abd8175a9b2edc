"""No selector returns another organisation's objects to a customer user."""

from __future__ import annotations

import pytest

from tests.factories import (
    ChangeFactory,
    ComponentFactory,
    ContactFactory,
    TicketCommentFactory,
    TicketFactory,
)
from tickets import selectors
from tickets.errors import NotVisible
from tickets.models import User

SELECTORS = [
    selectors.organizations_visible_to,
    selectors.components_visible_to,
    selectors.contacts_visible_to,
    selectors.tickets_visible_to,
    selectors.changes_visible_to,
    selectors.comments_visible_to,
    selectors.scenarios_visible_to,
    selectors.checklist_items_visible_to,
]


@pytest.fixture
def world(cast):
    for org, reporter in ((cast.acme, cast.alice), (cast.globex, cast.bob)):
        ComponentFactory.create_batch(2, organization=org)
        ContactFactory.create_batch(2, organization=org)
        ticket = TicketFactory(organization=org, reporter=reporter)
        TicketCommentFactory(ticket=ticket, author=reporter, public=True)
        TicketCommentFactory(ticket=ticket, author=cast.agent, public=False, body="internal")
        ChangeFactory(organization=org, author=cast.agent)
    return cast


def _org_of(obj) -> int:
    for path in ("organization_id", "ticket.organization_id", "change.organization_id"):
        value = obj
        try:
            for part in path.split("."):
                value = getattr(value, part)
        except AttributeError:
            continue
        return value
    return obj.pk  # an organisation


@pytest.mark.parametrize("selector", SELECTORS, ids=lambda s: s.__name__)
def test_customer_sees_only_their_organisation(world, selector) -> None:
    for user, own, other in (
        (world.alice, world.acme, world.globex),
        (world.bob, world.globex, world.acme),
    ):
        rows = list(selector(user))
        assert rows, f"{selector.__name__} shows {user} nothing at all"
        assert {_org_of(r) for r in rows} == {own.pk}
        assert other.pk not in {_org_of(r) for r in rows}


@pytest.mark.parametrize("selector", SELECTORS, ids=lambda s: s.__name__)
def test_provider_sees_every_organisation(world, selector) -> None:
    assert {_org_of(r) for r in selector(world.agent)} == {world.acme.pk, world.globex.pk}


@pytest.mark.parametrize("selector", SELECTORS, ids=lambda s: s.__name__)
def test_inactive_and_anonymous_see_nothing(world, selector) -> None:
    from django.contrib.auth.models import AnonymousUser

    world.alice.is_active = False
    world.alice.save()
    assert not selector(world.alice).exists()
    assert not selector(AnonymousUser()).exists()


def test_customers_never_see_internal_comments(world) -> None:
    bodies = set(selectors.comments_visible_to(world.alice).values_list("body", flat=True))
    assert "internal" not in bodies
    assert "internal" in set(
        selectors.comments_visible_to(world.agent).values_list("body", flat=True)
    )


def test_access_answers_not_visible_for_other_organisations(world) -> None:
    globex_ticket = selectors.tickets_visible_to(world.bob).get()
    globex_change = selectors.changes_visible_to(world.bob).get()
    for ref in (globex_ticket.pk, globex_ticket.key, str(globex_ticket.pk)):
        with pytest.raises(NotVisible):
            selectors.access_ticket(world.alice, ref)
    with pytest.raises(NotVisible):
        selectors.access_change(world.alice, globex_change.key)
    assert selectors.access_change(world.bob, globex_change.key) == globex_change
    assert selectors.access_ticket(world.agent, globex_ticket.key) == globex_ticket


def test_keys_with_the_wrong_prefix_are_not_found(world) -> None:
    change = selectors.changes_visible_to(world.alice).get()
    with pytest.raises(NotVisible):
        selectors.access_change(world.alice, f"SUP-{change.pk}")


def test_a_customer_user_needs_an_organisation(db) -> None:
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="orphan", kind=User.Kind.CUSTOMER)
