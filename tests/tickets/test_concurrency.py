"""Two people acting on one change at the same moment, on real PostgreSQL.

Each thread has its own database connection and transaction; the row lock taken by
`access_change(lock=True)` serialises them. Exactly one wins; the other is told why.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from tests.factories import ChangeFactory, UserFactory, complete_checklist, propose_window
from tickets.errors import Conflict, DomainError
from tickets.models import Change, TransitionLog
from tickets.services import change_transition

pytestmark = pytest.mark.django_db(transaction=True)


def _race(*actions: Callable[[], object]) -> list[object]:
    """Run the actions in threads released together; return each result or exception."""
    barrier = threading.Barrier(len(actions))
    results: list[object] = [None] * len(actions)

    def worker(i: int, action: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = action()
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, a)) for i, a in enumerate(actions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def _one_winner(results: list[object]) -> DomainError:
    wins = [r for r in results if isinstance(r, Change)]
    losses = [r for r in results if isinstance(r, DomainError)]
    assert len(wins) == 1, results
    assert len(losses) == 1, results
    return losses[0]


def test_two_qa_approvals_at_once(cast) -> None:
    qa2 = UserFactory(username="qa2", is_qa=True)
    change = ChangeFactory(
        organization=cast.acme, author=cast.agent, status=Change.S.AWAITING_APPROVAL
    )
    loss = _one_winner(
        _race(
            lambda: change_transition(change=change.pk, by=cast.qa, name="approve", role="qa"),
            lambda: change_transition(change=change.pk, by=qa2, name="approve", role="qa"),
        )
    )
    assert isinstance(loss, Conflict)
    assert "QA approval was already given" in loss.message
    assert change.approvals.count() == 1
    assert TransitionLog.objects.filter(change=change).count() == 1


def test_two_performs_at_once(cast) -> None:
    change = ChangeFactory(
        organization=cast.acme, author=cast.agent, status=Change.S.TO_BE_RELEASED
    )
    propose_window(change, cast.agent, agreed_by=cast.alice)
    complete_checklist(change, cast.agent)
    loss = _one_winner(
        _race(
            lambda: change_transition(change=change.pk, by=cast.agent, name="perform"),
            lambda: change_transition(change=change.pk, by=cast.agent2, name="perform"),
        )
    )
    assert isinstance(loss, Conflict)
    assert "not possible while the change is In testing" in loss.message
    assert Change.objects.get(pk=change.pk).status == Change.S.IN_TESTING
    assert TransitionLog.objects.filter(change=change).count() == 1
