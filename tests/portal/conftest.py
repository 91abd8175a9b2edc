"""Fixtures of the portal tests: logged-in clients for the customer users of the cast."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture
def alice_client(cast) -> Client:
    client = Client()
    client.force_login(cast.alice)
    return client


@pytest.fixture
def bob_client(cast) -> Client:
    client = Client()
    client.force_login(cast.bob)
    return client
