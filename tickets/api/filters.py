"""The list filters of API.md. Each takes exactly the values its schema names; anything
else is a 400 naming the parameter (django-filter validates before the query runs)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field

from tickets import filters
from tickets.models import (
    Change,
    ChangeComponent,
    ChangeStatus,
    Component,
    ComponentVersion,
    Performer,
    Ticket,
    TicketStatus,
)
from tickets.selectors import changes_matching, tickets_matching

from .fields import MAX_ID, parse_id, parse_path_ref

SIDES = Performer.choices


class _IdFormField(forms.CharField):
    default_error_messages = {"invalid": "Give a whole number from 1."}

    def to_python(self, value: Any) -> int | None:  # type: ignore[override]
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        n = parse_id(value)
        if n is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return n


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(django_filters.Filter):
    field_class = _IdFormField


class _RefFormField(forms.CharField):
    prefix = "CHG"

    def to_python(self, value: Any) -> int | None:  # type: ignore[override]
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        n = parse_path_ref(value, self.prefix)
        if n is None:
            raise forms.ValidationError(
                f"Give an id (12) or a key ({self.prefix}-12).", code="invalid"
            )
        return n


@extend_schema_field({"type": "string", "pattern": r"^(?:CHG-)?[0-9]{1,18}$"})
class ChangeRefFilter(django_filters.Filter):
    field_class = _RefFormField


class _UtcDateTimeFormField(django_filters.fields.IsoDateTimeField):
    """ISO 8601, compared in UTC: PostgreSQL refuses offsets beyond ±15:59, which Python
    (and ISO 8601) allow."""

    def to_python(self, value: Any) -> Any:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except OverflowError as exc:
            raise forms.ValidationError("Out of the range of dates.", code="invalid") from exc


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = _UtcDateTimeFormField


class StrictFilterSet(django_filters.FilterSet):
    """An empty `?status=` is refused rather than read as "no filter": it is not one of the
    values the schema names (free-text parameters may be empty); so is an empty item of a
    list (`?ordering=,`)."""

    free_text: tuple[str, ...] = ("search", "environment")

    def is_valid(self) -> bool:
        valid = super().is_valid()
        empty = [
            name
            for name in self.filters
            if name not in self.free_text
            and name in self.data
            and ""
            in [part.strip() for v in self.data.getlist(name) for part in self._items(name, v)]
        ]
        for name in empty:
            self.form.add_error(name, "Give a value, or leave the parameter out.")
        return valid and not empty

    def _items(self, name: str, value: str) -> list[str]:
        """The values one parameter gives: `ordering=,status` gives an empty one too."""
        if isinstance(self.filters[name], django_filters.filters.BaseCSVFilter):
            return value.split(",")
        return [value]


class WorkflowFilterSet(StrictFilterSet, filters.WorkflowFilterSet):
    """Tickets and changes: the staff lists' search and waiting-on (`tickets.filters`),
    with the API's strictness."""


class StableOrderingFilter(django_filters.OrderingFilter):
    """`ordering` with the id as the last key, so that rows of equal status, priority or
    title keep one order and a row is neither repeated nor skipped from page to page."""

    def __init__(
        self, *args: Any, ranks: dict[str, Callable[[], Any]] | None = None, **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        # A field sorted by a rank rather than its stored text: {"priority_rank": ...}, the
        # field named in `fields` as ("priority_rank", "priority").
        self.ranks = ranks or {}

    def filter(self, qs: QuerySet, value: Any) -> QuerySet:
        wanted = {self.get_ordering_value(v).lstrip("-") for v in value or ()}
        ranks = {name: rank() for name, rank in self.ranks.items() if name in wanted}
        qs = super().filter(qs.annotate(**ranks) if ranks else qs, value)
        if not value:
            return qs
        keys = list(qs.query.order_by)
        if not any(str(k).lstrip("-") in ("id", "pk") for k in keys):
            qs = qs.order_by(*keys, "-id" if str(keys[-1]).startswith("-") else "id")
        return qs


class TicketFilter(WorkflowFilterSet):
    matching = staticmethod(tickets_matching)

    status = django_filters.MultipleChoiceFilter(choices=TicketStatus.choices)
    organization = IdFilter(field_name="organization_id")
    waiting_on = django_filters.ChoiceFilter(
        choices=SIDES, method="filter_waiting_on", label="Who the ticket waits on."
    )
    change = ChangeRefFilter(field_name="change_id", label="Attached to this change (id or key).")
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=200,
        label="Words of the title or description (the beginning of a word is enough), "
        "or SUP-12. Ranked by relevance unless `ordering` is given.",
    )
    ordering = StableOrderingFilter(
        fields=(
            "created",
            "updated",
            "id",
            "status",
            ("priority_rank", "priority"),  # low, normal, high, urgent
            "title",
        ),
        ranks={"priority_rank": Ticket.priority_order},
    )

    class Meta:
        model = Ticket
        fields: list[str] = []


class ChangeFilter(WorkflowFilterSet):
    matching = staticmethod(changes_matching)

    status = django_filters.MultipleChoiceFilter(choices=ChangeStatus.choices)
    organization = IdFilter(field_name="organization_id")
    environment = django_filters.CharFilter(
        field_name="environment__code", max_length=30, label="Environment code: uat, production."
    )
    component = IdFilter(method="filter_component", label="Touches this component (id).")
    performer = django_filters.ChoiceFilter(choices=SIDES)
    waiting_on = django_filters.ChoiceFilter(
        choices=SIDES, method="filter_waiting_on", label="Who the change waits on."
    )
    window_after = UtcDateTimeFilter(
        field_name="window_start", lookup_expr="gte", label="Window starts at or after."
    )
    window_before = UtcDateTimeFilter(
        field_name="window_start", lookup_expr="lt", label="Window starts before."
    )
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=200,
        label="Words of the title or summary (the beginning of a word is enough), or CHG-12. "
        "Ranked by relevance unless `ordering` is given.",
    )
    ordering = StableOrderingFilter(
        fields=("created", "updated", "id", "status", "window_start", "title")
    )

    class Meta:
        model = Change
        fields: list[str] = []

    def filter_component(self, queryset: QuerySet, name: str, value: int) -> QuerySet:
        return queryset.filter(
            pk__in=ChangeComponent.objects.filter(component_id=value).values("change_id")
        )


class ComponentFilter(StrictFilterSet):
    organization = IdFilter(field_name="organization_id")
    environment = django_filters.CharFilter(
        method="filter_environment",
        max_length=30,
        label="Only components with a version on this environment (code).",
    )

    class Meta:
        model = Component
        fields: list[str] = []

    def filter_environment(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(
            pk__in=ComponentVersion.objects.filter(environment__code=value).values("component_id")
        )
