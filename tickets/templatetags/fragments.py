"""Parts of pages rendered once and kept (issue 13), keyed by everything they show.

Rows of a list, all looked up at once:

    {% load fragments %}
    {% rows page.object_list as t "staff-queue-row" %}<tr>...</tr>{% empty %}...{% endrows %}

A form's fields, with Django's `{% cache %}`:

    {% cache 3600 "ticket-filters" form|form_fingerprint using="fragments" %}...{% endcache %}

A row's key is everything it can show: every value loaded on the instance (its fields,
read with `.only()`, and annotations), the same of the related instances loaded with it
(`select_related`) and of its prefetched lists, any further values named in the tag, and
the active time zone and language. A row rendered from the same values is the same HTML,
so a kept row is never stale: a change to anything it shows is a new key. The cache is
each process's memory (CACHES["fragments"]); nothing is shared or invalidated. A row reads
nothing else: not the request, not the user (name them in the tag), never
`{% csrf_token %}`, never the time: a row that says how long ago is drawn against a moment
named in the tag (the dashboard's `minute`, with `timesince:minute`)."""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
import uuid
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from functools import wraps
from typing import Any

from django import template
from django.core.cache import caches
from django.db.models import Model, QuerySet
from django.forms import ModelChoiceField
from django.template import Context, NodeList, TemplateSyntaxError
from django.template.base import FilterExpression, Parser, Token
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.safestring import mark_safe

register = template.Library()

_PLAIN = (str, int, float, bool, Decimal, datetime, date, time, type(None))
# Held as they are: pickled without a reduce step.
_ATOMS = frozenset((str, int, float, bool, type(None)))
# Held as their ISO text, which names the instant (a template draws a datetime in the
# reader's time zone, which is in the key): pickling a datetime's tzinfo was half a row
# key's cost.
_STAMPS = frozenset((datetime, date, time))


def _values(
    obj: Any, seen: set[int], depth: int = 0, leave_out: frozenset[str] = frozenset()
) -> Any:
    """`obj` as plain nested tuples of what it holds. An instance met again (a prefetched
    approval's own change) is named, not walked again; the relations of `obj` named in
    `leave_out` are not walked at all."""
    kind = type(obj)
    if kind in _ATOMS:
        return obj
    if kind in _STAMPS:
        return (kind.__name__, obj.isoformat())
    if isinstance(obj, _PLAIN):
        return obj
    if depth > 6:
        raise ValueError(f"fingerprint: {type(obj).__name__} nested too deep")
    if isinstance(obj, Model):
        if id(obj) in seen:
            return ("^", type(obj).__name__, obj.pk)
        seen.add(id(obj))
        held: list[Any] = [type(obj).__name__]
        for name, value in obj.__dict__.items():
            kind = type(value)
            if kind in _ATOMS:
                held += (name, value)
            elif kind in _STAMPS:
                held += (name, (kind.__name__, value.isoformat()))
            elif name != "_state":
                held += (name, _values(value, seen, depth + 1))
        for name, related in obj._state.fields_cache.items():
            if name not in leave_out:
                held += ("@" + name, _values(related, seen, depth + 1))
        return tuple(held)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):  # a timeline's Entry
        return (
            type(obj).__name__,
            tuple(
                (f.name, _values(getattr(obj, f.name), seen, depth + 1))
                for f in dataclasses.fields(obj)
            ),
        )
    if isinstance(obj, Promise):  # a lazy translation: the language is in the key
        return str(obj)
    if isinstance(obj, QuerySet) and obj._result_cache is not None:  # prefetched
        return _values(obj._result_cache, seen, depth)
    if isinstance(obj, list | tuple):
        return tuple(_values(item, seen, depth + 1) for item in obj)
    if isinstance(obj, dict):
        return tuple((k, _values(v, seen, depth + 1)) for k, v in obj.items())
    # Anything else could render differently with the same value: refuse to guess.
    raise TypeError(f"fingerprint: cannot key a {type(obj).__name__}")


def _reader() -> tuple[str, str]:
    """The active time zone and language: what a row's dates and words are drawn in."""
    zone = timezone.get_current_timezone()
    return getattr(zone, "key", None) or str(zone), translation.get_language() or ""


def _digest(held: Any) -> str:
    return hashlib.blake2b(pickle.dumps(held, protocol=5), digest_size=16).hexdigest()


def fingerprint(obj: Any, leave_out: str = "") -> str:
    """The key of a fragment drawn from `obj` (see the module). `leave_out` names, comma
    separated, relations of `obj` that the fragment does not show: `s|fingerprint:"change"`
    for a scenario prefetched with its change, which Django caches on each scenario and
    which would otherwise be walked whole, sections and lists, for each of them."""
    skipped = frozenset(name.strip() for name in leave_out.split(",") if name.strip())
    return _digest((_reader(), leave_out, _values(obj, set(), leave_out=skipped)))


class RowsNode(template.Node):
    def __init__(
        self,
        sequence: FilterExpression,
        names: list[str],
        fragment: str,
        vary_on: list[FilterExpression],
        nodelist: NodeList,
        empty: NodeList,
        timeout: int | None = None,
    ) -> None:
        self.sequence, self.names, self.fragment = sequence, names, fragment
        self.vary_on, self.nodelist, self.empty = vary_on, nodelist, empty
        self.timeout = timeout

    def render(self, context: Context) -> str:
        items = list(self.sequence.resolve(context, ignore_failures=True) or ())
        if not items:
            return self.empty.render(context)
        # What every row of the list shares, digested once.
        shared = _digest(
            (self.fragment, _reader(), _values([v.resolve(context) for v in self.vary_on], set()))
        )
        keys = [self._key(shared, item) for item in items]
        cache = caches["fragments"]
        kept = cache.get_many([k for k in keys if k])
        drawn: dict[str, str] = {}
        out = []
        for key, item in zip(keys, items, strict=True):
            html = (kept.get(key) or drawn.get(key)) if key else None
            if html is None:
                if len(self.names) == 1:
                    bound = {self.names[0]: item}
                else:
                    bound = dict(zip(self.names, item, strict=True))
                with context.push(bound):
                    html = self.nodelist.render(context)
                if key:
                    drawn[key] = html
            out.append(html)
        if drawn:
            if self.timeout is None:
                cache.set_many(drawn)
            else:
                cache.set_many(drawn, timeout=self.timeout)
        return mark_safe("".join(out))  # noqa: S308 - each part is rendered template output

    def _key(self, shared: Any, item: Any) -> str:
        """The row's key; "" for an item holding a value that cannot be keyed, which is
        then drawn every time rather than refused."""
        try:
            return f"row:{self.fragment}:{_digest((shared, _values(item, set())))}"
        except (TypeError, ValueError):
            return ""


@register.tag("rows")
def do_rows(parser: Parser, token: Token) -> RowsNode:
    """{% rows SEQUENCE as NAME[, NAME...] "FRAGMENT" [VALUE ...] [timeout=SECONDS] %} ...
    [{% empty %} ...] {% endrows %}: each item of SEQUENCE drawn once with the body and
    kept (the module); for SECONDS when given (rows keyed by the minute are of no use
    after it), else for the cache's own timeout."""
    bits = token.split_contents()
    try:
        as_at = bits.index("as")
        names_and_rest = " ".join(bits[as_at + 1 :])
        names_part, fragment_and_rest = names_and_rest.split('"', 1)
        fragment, rest = fragment_and_rest.split('"', 1)
    except ValueError as exc:
        raise TemplateSyntaxError(
            '{% rows SEQUENCE as NAME "FRAGMENT" [VALUE ...] %}: ' + token.contents
        ) from exc
    names = [n.strip() for n in names_part.replace(",", " ").split() if n.strip()]
    if as_at != 2 or not names or not fragment:
        raise TemplateSyntaxError('{% rows SEQUENCE as NAME "FRAGMENT" %}: ' + token.contents)
    nodelist = parser.parse(("empty", "endrows"))
    empty = NodeList()
    if parser.next_token().contents == "empty":
        empty = parser.parse(("endrows",))
        parser.delete_first_token()
    values, timeout = [], None
    for value in rest.split():
        if value.startswith("timeout="):
            try:
                timeout = int(value.removeprefix("timeout="))
            except ValueError as exc:
                raise TemplateSyntaxError(f"{{% rows %}}: {value} is not a number") from exc
        else:
            values.append(parser.compile_filter(value))
    sequence = parser.compile_filter(bits[1])
    return RowsNode(sequence, names, fragment, values, nodelist, empty, timeout)


def _all(data: Any, key: str) -> Any:
    """Every value given for `key` (a QueryDict holds several; a dict one)."""
    return data.getlist(key) if hasattr(data, "getlist") else data[key]


def form_fingerprint(form: Any) -> str:
    """A digest of everything a form's fields are drawn from: its class, prefix and ids,
    the data it was given (or its initial values), each field's label, help, flags, widget
    and choices, and what it says is wrong; with the active time zone and language. A
    model choice field's choices are read once here and kept on its widget, so that
    drawing it does not read them again."""
    fields = []
    for name, field in form.fields.items():
        choices = getattr(field, "choices", None)
        if isinstance(field, ModelChoiceField):
            # Iterated, not list()ed: list() asks the iterator's length, a COUNT query.
            field.widget.choices = choices = [choice for choice in field.iterator(field)]  # noqa: C416
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
        tuple(sorted((key, _values(_all(form.data, key), set())) for key in form.data))
        if form.is_bound
        else _values(form.initial, set())
    )
    # What it says is wrong: its own validation, and what a view added after it (a
    # refusal of the domain, `web.add_domain_errors`), which the data alone does not say.
    errors = (
        tuple(sorted((k, tuple(str(e) for e in v)) for k, v in form.errors.items()))
        if form.is_bound
        else ()
    )
    held = (
        _reader(),
        type(form).__module__,
        type(form).__qualname__,
        form.prefix,
        str(form.auto_id),
        form.is_bound,
        data,
        errors,
        tuple(fields),
    )
    return _digest(held)


def _never_kept(digest: Callable[..., str]) -> Callable[..., str]:
    """`digest` as a template filter for `{% cache %}`: a value it cannot key (`_values`
    refuses it) gets a key of its own, used once, so the fragment is drawn every time
    instead of the page answering 500."""

    @wraps(digest)
    def keyed(value: Any, *args: Any) -> str:
        try:
            return digest(value, *args)
        except (TypeError, ValueError):
            return f"unkept-{uuid.uuid4().hex}"

    return keyed


register.filter("fingerprint", _never_kept(fingerprint))
register.filter("form_fingerprint", _never_kept(form_fingerprint))
