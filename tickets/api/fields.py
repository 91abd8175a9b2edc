"""Serializer fields that accept exactly what the published schema says, nothing looser.

DRF's own fields coerce ("12" into 12, 1 into True, 5 into "5"); integrators then depend on
behaviour the schema does not promise. These refuse anything but the JSON type named.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tickets.limits import TEXT_MAX, YEAR_RANGE_MESSAGE, datetime_in_range
from tickets.models import User

# The largest id PostgreSQL's bigint holds; a larger one is simply not found.
MAX_ID = 2**63 - 1
# A PositiveIntegerField's column (PostgreSQL integer).
MAX_INT = 2**31 - 1


class StrictCharField(serializers.CharField):
    """A JSON string, capped at `limits.TEXT_MAX` characters unless told otherwise (the
    published schema states each field's `maxLength`)."""

    default_error_messages = {"invalid": "Must be a string."}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", TEXT_MAX)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if data is True or data is False:
            return data
        self.fail("invalid")
        raise AssertionError  # unreachable: fail() raises


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"invalid": "Must be an integer."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class IdField(StrictIntegerField):
    """An integer id, within what the database can hold."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


def parse_id(value: str) -> int | None:
    """A whole number from 1 in at most 18 ASCII digits (so within MAX_ID); None if not."""
    if value.isascii() and value.isdigit() and len(value) <= 18 and int(value) >= 1:
        return int(value)
    return None


def ref_pattern(prefix: str) -> str:
    return rf"^(?:{prefix}-)?[0-9]{{1,18}}$"


def parse_path_ref(value: Any, prefix: str) -> int | None:
    """The id in a path segment `12` or `SUP-12`; None when it is not one (a 404)."""
    m = re.fullmatch(rf"(?:{prefix}-)?([0-9]{{1,18}})", str(value))
    if not m:
        return None
    n = int(m.group(1))
    return n if 1 <= n <= MAX_ID else None


def _ref_schema(prefix: str) -> dict[str, Any]:
    return {
        "anyOf": [
            {"type": "integer", "minimum": 1, "maximum": MAX_ID},
            {"type": "string", "pattern": ref_pattern(prefix)},
        ],
        "description": f"An id (12) or a key ({prefix}-12).",
    }


class _RefField(serializers.Field):
    prefix = ""
    default_error_messages = {"invalid": "Give an id (12) or a key ({prefix}-12)."}

    def to_internal_value(self, data: Any) -> int:
        n: int | None = None
        if isinstance(data, int) and not isinstance(data, bool):
            n = data if 1 <= data <= MAX_ID else None
        elif isinstance(data, str):
            n = parse_path_ref(data, self.prefix)
        if n is None:
            self.fail("invalid", prefix=self.prefix)
        return n  # type: ignore[return-value]

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field(_ref_schema("SUP"))
class TicketRefField(_RefField):
    prefix = "SUP"


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with its offset (`2025-03-01T22:00:00+01:00` or `...Z`); a time without an
    offset is refused rather than guessed."""

    default_error_messages = {
        "naive": "Give the time with its offset, e.g. 2025-03-01T22:00:00+01:00 or ...Z.",
        "out_of_range": YEAR_RANGE_MESSAGE,
    }

    def to_internal_value(self, value: Any) -> Any:
        if not isinstance(value, str):
            self.fail("invalid", format="ISO 8601 with an offset")
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is not None and timezone.is_naive(parsed):
            self.fail("naive")
        # As given, before DRF converts it into UTC (where the year 1 at +01:00 overflows).
        if parsed is not None and not datetime_in_range(parsed):
            self.fail("out_of_range")
        try:
            return super().to_internal_value(value)
        except OverflowError:
            self.fail("out_of_range")


class BlankAsNullChoiceField(serializers.ChoiceField):
    """A choice stored as "" when unset, shown as null."""

    def to_representation(self, value: Any) -> Any:
        return value or None


def username_of(field: str) -> Subquery:
    """The username of the user `field` (a foreign key column) names, as a subquery: a list
    annotates it as `api_<field name>` instead of joining the user table (PostgreSQL took
    longer to plan the joins than to run the whole query, docs/benchmarks.md)."""
    return Subquery(User.objects.filter(pk=OuterRef(field)).values("username")[:1])


class UsernameField(serializers.SlugRelatedField):
    """A user shown by username: from the `api_<field name>` annotation when the queryset
    has it (`username_of`), else from the related user."""

    def get_attribute(self, instance: Any) -> Any:
        known = getattr(instance, "__dict__", {})
        key = f"api_{self.field_name}"
        if key in known:
            name = known[key]
            return None if name is None else SimpleNamespace(**{self.slug_field: name})
        return super().get_attribute(instance)
