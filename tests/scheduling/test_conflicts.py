"""Conflicts (API.md, "Scheduling"): another live change on a shared component and
environment whose window overlaps, and every freeze the window touches that applies to the
change (its organisation, environment, components). Flagged on both changes."""

from __future__ import annotations

import pytest

from tests.factories import ComponentFactory, environment
from tickets.models import Change, ChangeStatus
from tickets.scheduling import conflicts_of, conflicts_of_one

from .support import freeze, windowed

pytestmark = pytest.mark.django_db


def kinds(change: Change) -> list[tuple[str, int]]:
    return [(c.kind, c.id) for c in conflicts_of_one(change)]


def test_overlapping_windows_on_a_shared_component_conflict_both_ways(cast) -> None:
    api = ComponentFactory(organization=cast.acme, name="Billing API")
    a = windowed(cast, 0, 2, components=[api])
    b = windowed(cast, 1, 3, components=[api, ComponentFactory(organization=cast.acme)])
    assert kinds(a) == [("change", b.pk)]
    assert kinds(b) == [("change", a.pk)]
    (item,) = conflicts_of_one(a)
    assert item.key == b.key and item.title == b.title
    assert "overlaps on Billing API" in item.reason and b.key in item.reason


def test_touching_windows_do_not_conflict(cast) -> None:
    api = ComponentFactory(organization=cast.acme)
    a = windowed(cast, 0, 2, components=[api])
    b = windowed(cast, 2, 4, components=[api])
    assert kinds(a) == [] and kinds(b) == []


def test_no_conflict_on_another_environment_or_component_or_when_not_live(cast) -> None:
    api, web = ComponentFactory(organization=cast.acme), ComponentFactory(organization=cast.acme)
    a = windowed(cast, 0, 4, components=[api])
    windowed(cast, 1, 3, components=[web])  # another component
    windowed(cast, 1, 3, components=[api], environment=environment("production"))
    for status in (ChangeStatus.CANCELLED, ChangeStatus.DONE, ChangeStatus.ROLLED_BACK):
        windowed(cast, 1, 3, components=[api], status=status)
    assert kinds(a) == []
    live = windowed(cast, 3, 5, components=[api], status=ChangeStatus.TO_BE_RELEASED)
    assert kinds(a) == [("change", live.pk)]


def test_a_change_without_a_window_has_no_conflicts_and_costs_no_query(
    cast, django_assert_num_queries
) -> None:
    from tests.factories import ChangeFactory

    change = ChangeFactory(organization=cast.acme, author=cast.agent)
    with django_assert_num_queries(0):
        assert conflicts_of_one(change) == []


def test_freezes_that_apply_are_conflicts_and_say_whether_they_are_hard(cast) -> None:
    api = ComponentFactory(organization=cast.acme)
    other = ComponentFactory(organization=cast.acme)
    change = windowed(cast, 0, 2, components=[api])
    everyone = freeze(cast, 1, 5, title="Year end", reason="Books are closing.")
    acme_soft = freeze(cast, -3, 1, title="Acme sale", organization=cast.acme.pk, hard=False)
    on_api = freeze(cast, 1, 2, title="API freeze", components=[api.pk])
    # Not applying: another organisation, another environment, another component, touching.
    freeze(cast, 0, 2, title="Globex", organization=cast.globex.pk)
    freeze(cast, 0, 2, title="Prod", environment=environment("production").pk)
    freeze(cast, 0, 2, title="Other component", components=[other.pk])
    freeze(cast, 2, 3, title="Touching")
    found = conflicts_of_one(change)
    assert [(c.kind, c.id, c.hard) for c in found] == [
        ("freeze", acme_soft.pk, False),
        ("freeze", everyone.pk, True),
        ("freeze", on_api.pk, True),
    ]
    assert "Books are closing." in found[1].reason and "refused" in found[1].reason
    assert "discouraged" in found[0].reason


def test_a_recurring_freeze_conflicts_only_with_a_window_touching_a_period(cast) -> None:
    api = ComponentFactory(organization=cast.acme)
    daily = freeze(cast, 0, 1, title="Nightly batch", rrule="FREQ=DAILY")
    inside = windowed(cast, 48.5, 49.5, components=[api])  # two days later, same hour
    between = windowed(cast, 50, 60, components=[api])
    assert [c.id for c in conflicts_of_one(inside)] == [daily.pk]
    assert [c.kind for c in conflicts_of_one(between)] == []


def test_many_changes_cost_a_fixed_number_of_queries(cast, django_assert_max_num_queries) -> None:
    api = ComponentFactory(organization=cast.acme)
    changes = [windowed(cast, i, i + 1.5, components=[api]) for i in range(40)]
    freeze(cast, 10, 12)
    freeze(cast, 0, 1, rrule="FREQ=DAILY", components=[api.pk])
    with django_assert_max_num_queries(5):
        found = conflicts_of(changes)
    # Each overlaps the one before and the one after.
    assert [len([c for c in found[x.pk] if c.kind == "change"]) for x in changes] == [1] + [
        2
    ] * 38 + [1]
    assert {c.id for c in found[changes[10].pk] if c.kind == "change"} == {
        changes[9].pk,
        changes[11].pk,
    }
