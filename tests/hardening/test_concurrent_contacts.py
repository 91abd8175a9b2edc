"""Seen 5: twenty people (or one impatient double-clicker) adding the same contact, or
importing the same row, at the same moment, on real PostgreSQL: each answers as a single
duplicate does, and the address is held once."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client

from tickets.models import Contact

pytestmark = pytest.mark.django_db(transaction=True)

RACERS = 20


def _race(action: Callable[[int], object], n: int = RACERS) -> list[object]:
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=20)
            results[i] = action(i)
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def _clients(user, n: int = RACERS) -> list[Client]:
    clients = []
    for _ in range(n):
        client = Client()
        client.force_login(user)
        clients.append(client)
    return clients


def test_twenty_identical_add_contact_posts_at_once(cast) -> None:
    clients = _clients(cast.alice)
    answers = _race(
        lambda i: clients[i].post(
            "/portal/contacts/add/",
            # The same address, in two spellings of its case.
            {"name": "Jane", "email": "jane@acme.example" if i % 2 else "JANE@acme.example"},
        )
    )
    statuses = sorted(getattr(a, "status_code", repr(a)) for a in answers)
    assert statuses == [302] + [400] * (RACERS - 1), statuses
    refused = [a for a in answers if getattr(a, "status_code", 0) == 400]
    assert all(b"already a contact" in a.content for a in refused)
    assert Contact.objects.filter(organization=cast.acme).count() == 1


def test_twenty_imports_of_the_same_row_at_once(cast) -> None:
    clients = _clients(cast.alice)
    data = b"name,email\nJane,jane@acme.example\nJohn,john@acme.example\n"
    answers = _race(
        lambda i: clients[i].post(
            "/portal/contacts/import/",
            {"file": SimpleUploadedFile("c.csv", data, content_type="text/csv")},
        )
    )
    assert [getattr(a, "status_code", repr(a)) for a in answers] == [200] * RACERS
    # From the pages: the test client's `context` is shared between threads.
    accepted = [_count(a, "accepted-count") for a in answers]
    rejected = [_count(a, "rejected-count") for a in answers]
    assert sorted(accepted) == [0] * (RACERS - 1) + [2], accepted
    assert all(r == 2 for a, r in zip(accepted, rejected, strict=True) if a == 0), rejected
    losers = [a.content.decode() for a in answers if _count(a, "accepted-count") == 0]
    assert all(page.count("Duplicate: already a contact") == 2 for page in losers)
    assert Contact.objects.filter(organization=cast.acme).count() == 2


def _count(answer, testid: str) -> int:
    found = re.search(rf'data-testid="{testid}">(\d+)<', answer.content.decode())
    return int(found.group(1)) if found else 0
