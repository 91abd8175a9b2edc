"""The Redis cache (changeprocess/cache.py) against the real Redis: Django's backend, with
one client kept per connection pool instead of one built per operation."""

from __future__ import annotations

import uuid
from urllib.parse import urlparse, urlunparse

from django.conf import settings

from changeprocess.cache import RedisCache


def _cache() -> RedisCache:
    url = urlparse(settings.REDIS_URL)
    return RedisCache(
        urlunparse(url._replace(path="/12")),
        {"KEY_PREFIX": f"cache-test-{uuid.uuid4().hex}", "TIMEOUT": 60},
    )


def test_every_operation_goes_through_one_kept_client() -> None:
    cache = _cache()
    first = cache._cache.get_client()
    assert cache._cache.get_client("any key", write=True) is first

    cache.set("a", {"n": 1})
    assert cache.get("a") == {"n": 1}
    assert cache.add("a", 2) is False
    assert cache.add("b", 0) is True
    assert cache.incr("b", 1) == 1
    cache.set_many({"c": 3, "d": 4})
    assert cache.get_many(["a", "c", "d", "missing"]) == {"a": {"n": 1}, "c": 3, "d": 4}
    cache.delete_many(["a", "c"])
    assert cache.get("a") is None and cache.get("d") == 4
    assert cache._cache.get_client() is first


def test_with_a_replica_reads_and_writes_keep_a_client_each() -> None:
    """Django writes to the first server and reads from the others: one kept client per
    server's pool, each on its own server."""
    url = urlparse(settings.REDIS_URL)
    primary, replica = (urlunparse(url._replace(path=f"/{n}")) for n in (12, 13))
    cache = RedisCache([primary, replica], {"KEY_PREFIX": f"cache-test-{uuid.uuid4().hex}"})
    writer = cache._cache.get_client(write=True)
    reader = cache._cache.get_client()

    assert writer is not reader
    assert writer.connection_pool.connection_kwargs["db"] == 12
    assert reader.connection_pool.connection_kwargs["db"] == 13
    assert cache._cache.get_client(write=True) is writer
    assert cache._cache.get_client() is reader
