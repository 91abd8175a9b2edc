"""Rows of lists rendered once and kept (issue 13): `{% cache %}` over a row, keyed by the
row's `fingerprint`.

    {% load cache fragments %}
    {% for t in page.object_list %}
      {% cache 3600 "queue-row" t|fingerprint using="fragments" %}<tr>...</tr>{% endcache %}
    {% endfor %}

The fingerprint is everything the row can show: every value loaded on the instance (its
fields, read with `.only()`, and annotations), the same of the related instances loaded
with it (`select_related`) and of its prefetched lists, and the active time zone and
language. A row rendered from the same values is the same HTML, so a kept row is never
stale: a change to anything it shows is a new key. The cache is each process's memory
(CACHES["fragments"]); nothing is shared or invalidated. A row template reads nothing else:
not the request, not the user (put them in the key), never `{% csrf_token %}`."""

from __future__ import annotations

import hashlib
import pickle
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from django import template
from django.db.models import Model, QuerySet
from django.utils import timezone, translation

register = template.Library()

_PLAIN = (str, int, float, bool, Decimal, datetime, date, time, type(None))


def _values(obj: Any, seen: set[int], depth: int = 0) -> Any:
    """`obj` as plain nested tuples of what it holds. An instance met again (a prefetched
    approval's own change) is named, not walked again."""
    if isinstance(obj, _PLAIN):
        return obj
    if depth > 6:
        raise ValueError(f"fingerprint: {type(obj).__name__} nested too deep")
    if isinstance(obj, Model):
        if id(obj) in seen:
            return ("^", type(obj).__name__, obj.pk)
        seen.add(id(obj))
        fields = tuple(
            (k, _values(v, seen, depth + 1)) for k, v in obj.__dict__.items() if k != "_state"
        )
        related = tuple(
            (k, _values(v, seen, depth + 1)) for k, v in obj._state.fields_cache.items()
        )
        return (type(obj).__name__, fields, related)
    if isinstance(obj, QuerySet) and obj._result_cache is not None:  # prefetched
        return _values(obj._result_cache, seen, depth)
    if isinstance(obj, list | tuple):
        return tuple(_values(item, seen, depth + 1) for item in obj)
    if isinstance(obj, dict):
        return tuple((k, _values(v, seen, depth + 1)) for k, v in obj.items())
    # Anything else could render differently with the same value: refuse to guess.
    raise TypeError(f"fingerprint: cannot key a {type(obj).__name__}")


@register.filter
def fingerprint(obj: Any) -> str:
    """A digest of everything `obj` holds (see the module), with the active time zone and
    language."""
    held = (timezone.get_current_timezone_name(), translation.get_language(), _values(obj, set()))
    return hashlib.blake2b(pickle.dumps(held, protocol=5), digest_size=16).hexdigest()
