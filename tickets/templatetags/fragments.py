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
from django.forms import ModelChoiceField
from django.utils import timezone, translation

register = template.Library()

_PLAIN = (str, int, float, bool, Decimal, datetime, date, time, type(None))
_PLAIN_TYPES = frozenset(_PLAIN)


def _values(obj: Any, seen: set[int], depth: int = 0) -> Any:
    """`obj` as plain nested tuples of what it holds. An instance met again (a prefetched
    approval's own change) is named, not walked again."""
    if type(obj) in _PLAIN_TYPES or isinstance(obj, _PLAIN):
        return obj
    if depth > 6:
        raise ValueError(f"fingerprint: {type(obj).__name__} nested too deep")
    if isinstance(obj, Model):
        if id(obj) in seen:
            return ("^", type(obj).__name__, obj.pk)
        seen.add(id(obj))
        held: list[Any] = [type(obj).__name__]
        for name, value in obj.__dict__.items():
            if type(value) in _PLAIN_TYPES:
                held += (name, value)
            elif name != "_state":
                held += (name, _values(value, seen, depth + 1))
        for name, related in obj._state.fields_cache.items():
            held += ("@" + name, _values(related, seen, depth + 1))
        return tuple(held)
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
    zone = timezone.get_current_timezone()
    held = (
        getattr(zone, "key", None) or str(zone),
        translation.get_language(),
        _values(obj, set()),
    )
    return hashlib.blake2b(pickle.dumps(held, protocol=5), digest_size=16).hexdigest()


@register.filter
def form_fingerprint(form: Any) -> str:
    """A digest of everything a form's fields are drawn from: its class, prefix and ids,
    the data it was given (or its initial values), and each field's label, help, flags,
    widget and choices; with the active time zone and language. What a bound form says is
    wrong follows from those. A model choice field's choices are read once here and kept
    on its widget, so that drawing it does not read them again."""
    fields = []
    for name, field in form.fields.items():
        choices = getattr(field, "choices", None)
        if isinstance(field, ModelChoiceField):
            field.widget.choices = choices = list(field.iterator(field))
        if choices is not None:
            choices = tuple((str(value), str(label)) for value, label in choices)
        widget = field.widget
        fields.append(
            (
                name,
                type(field).__name__,
                str(field.label),
                str(field.help_text),
                field.required,
                field.disabled,
                _values(field.initial, set()),
                type(widget).__name__,
                _values(widget.attrs, set()),
                choices,
            )
        )
    data = (
        tuple(sorted((key, tuple(form.data.getlist(key))) for key in form.data))
        if form.is_bound
        else _values(form.initial, set())
    )
    zone = timezone.get_current_timezone()
    held = (
        getattr(zone, "key", None) or str(zone),
        translation.get_language(),
        type(form).__module__,
        type(form).__qualname__,
        form.prefix,
        str(form.auto_id),
        form.is_bound,
        data,
        tuple(fields),
    )
    return hashlib.blake2b(pickle.dumps(held, protocol=5), digest_size=16).hexdigest()
