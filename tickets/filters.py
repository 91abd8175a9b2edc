"""What every list of tickets or changes filters the same way, wherever it is shown: the
search (`tickets.selectors.tickets_matching` / `changes_matching`) and who a row waits
on. The staff lists (`tickets.staff.forms`) and the API (`tickets.api.filters`) build
their filtersets on `WorkflowFilterSet`; each names its own parameters and choices."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet


class WorkflowFilterSet(django_filters.FilterSet):
    """The search runs after every other filter, since a ranked search ranks among the
    matches that pass them; and it is ranked unless the list is sorted by `sort_param`
    (then every match, in that order)."""

    matching: Any  # tickets_matching / changes_matching
    search_param = "search"
    sort_param = "ordering"

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        data = self.form.cleaned_data
        last = (self.search_param, self.sort_param)
        for name in [n for n in data if n not in last] + [n for n in last if n in data]:
            queryset = self.filters[name].filter(queryset, data[name])
        return queryset

    def sorted_by_user(self) -> bool:
        if self.sort_param in self.filters:
            return bool(self.form.cleaned_data.get(self.sort_param))
        return bool(self.data.get(self.sort_param))

    def searched(self) -> bool:
        return bool(self.is_bound and (self.data.get(self.search_param) or "").strip())

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if not value.strip():
            return queryset
        return self.matching(queryset, value, ranked=not self.sorted_by_user())

    def filter_waiting_on(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        model = self._meta.model
        if value == "customer":
            return queryset.filter(model.waiting_on_customer_q())
        return queryset.filter(model.waiting_on_provider_q())


class OrganizationFilter(django_filters.CharFilter):
    """An organisation by id or by a part of its name, typed: a list's filter form never
    offers every organisation as a choice."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 200)
        kwargs.setdefault(
            "widget", forms.TextInput(attrs={"placeholder": "Name or id", "type": "search"})
        )
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet, value: Any) -> QuerySet:
        value = (value or "").strip()
        if not value:
            return qs
        if value.isdigit() and len(value) <= 18:
            return qs.filter(organization_id=int(value))
        return qs.filter(organization__name__icontains=value)
